package scan_test

import (
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/scan"
)

func TestGateMatchesRepositoriesHoweverWritten(t *testing.T) {
	d := "sha256:" + "ab"
	img := scan.Resolved{Ref: "nginx:1.27", Repository: "index.docker.io/library/nginx", Digest: d, Pinned: "nginx:1.27@" + d}
	results := map[string]*scan.Result{d: {Digest: d, Findings: []scan.Finding{{ID: "CVE-1", Package: "p", Installed: "1", Severity: scan.SeverityHigh}}}}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, repo := range []string{"nginx", "docker.io/library/nginx", "index.docker.io/library/nginx", "nginx:1.27"} {
		v := scan.Gate([]scan.Resolved{img}, results, scan.Policy{Threshold: scan.SeverityHigh,
			Exceptions: []scan.Exception{{ID: "CVE-1", Images: []string{repo}, Expires: "2026-12-01"}}}, now)
		if !v.Passed() || len(v.Unused) != 0 {
			t.Errorf("exception for %q: %+v", repo, v)
		}
	}
	// A date that is not a date fails closed.
	v := scan.Gate([]scan.Resolved{img}, results, scan.Policy{Threshold: scan.SeverityHigh,
		Exceptions: []scan.Exception{{ID: "CVE-1", Expires: "31.12.2026", Source: "teams/t.yaml:3:5"}}}, now)
	if v.Passed() || len(v.Expired) != 1 || v.Expired[0].Message != `exception CVE-1 (teams/t.yaml:3:5) has expiry "31.12.2026", not a YYYY-MM-DD date; it is treated as expired` {
		t.Errorf("verdict = %+v", v)
	}
	// Severity below the threshold passes; an unknown severity counts as lowest.
	if v := scan.Gate([]scan.Resolved{img}, results, scan.Policy{Threshold: scan.SeverityCritical}, now); !v.Passed() {
		t.Errorf("HIGH under a CRITICAL threshold: %+v", v)
	}
}
