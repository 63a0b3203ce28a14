package report_test

import (
	"bytes"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/rampart-gitops/rampart/generator/scan"
	"github.com/rampart-gitops/rampart/generator/scan/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	apiDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	webDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// input is a run with a covered HIGH, a blocking CRITICAL, an expired and an unused
// exception, and an image that failed to resolve.
func input(shuffle bool) report.Input {
	api := scan.Resolved{Ref: "registry.example.com/payments/api:1.4.2", Repository: "registry.example.com/payments/api",
		Digest: apiDigest, Pinned: "registry.example.com/payments/api:1.4.2@" + apiDigest}
	web := scan.Resolved{Ref: "registry.example.com/storefront/web:2.0.0", Repository: "registry.example.com/storefront/web",
		Digest: webDigest, Pinned: "registry.example.com/storefront/web:2.0.0@" + webDigest}
	results := map[string]*scan.Result{
		apiDigest: {Digest: apiDigest, OS: "alpine 3.22.2", Packages: 14, Findings: []scan.Finding{
			{ID: "CVE-2026-10001", Package: "libcrypto3", Installed: "3.5.0-r0", Fixed: "3.5.1-r0", Severity: scan.SeverityHigh,
				Title: "openssl: X.509 | name over-read", Type: "alpine", Target: "alpine 3.22.2", URL: "https://avd.aquasec.com/nvd/cve-2026-10001"},
			{ID: "CVE-2026-10005", Package: "busybox", Installed: "1.37.0-r19", Severity: scan.SeverityLow, Title: "busybox: minor", Type: "alpine", Target: "alpine 3.22.2"},
		}},
		webDigest: {Digest: webDigest, OS: "alpine 3.22.2", Packages: 20, Findings: []scan.Finding{
			{ID: "CVE-2026-10002", Package: "lodash", Installed: "4.17.20", Fixed: "4.17.21", Severity: scan.SeverityCritical,
				Title: "lodash: prototype pollution", Type: "node-pkg", Target: "Node.js", PkgPath: "app/node_modules/lodash/package.json",
				URL: "https://avd.aquasec.com/nvd/cve-2026-10002"},
		}},
	}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	payments := scan.Gate([]scan.Resolved{api}, results, scan.Policy{Threshold: scan.SeverityHigh, Exceptions: []scan.Exception{
		{ID: "CVE-2026-10001", Images: []string{"registry.example.com/payments/api"}, Reason: "libcrypto3 X.509 printing is not reachable", Expires: "2027-03-31", Source: "teams/payments.yaml:40:9"},
		{ID: "CVE-2026-10009", Reason: "old", Expires: "2027-03-31", Source: "teams/payments.yaml:45:9"},
	}}, now)
	storefront := scan.Gate([]scan.Resolved{web}, results, scan.Policy{Threshold: scan.SeverityCritical, Exceptions: []scan.Exception{
		{ID: "CVE-2026-10002", Reason: "waiting for upstream", Expires: "2026-10-01", Source: "teams/storefront.yaml:30:9"},
	}}, now)
	in := report.Input{
		DBVersion:     "v2-2026-11-20T00:00:00Z",
		Images:        []scan.Resolved{api, web},
		Results:       results,
		ResolveErrors: map[string]error{"registry.example.com/ledger/core:9.9.9": errors.New(`asking registry.example.com for the digest: MANIFEST_UNKNOWN`)},
		Sources: map[string][]report.Source{
			api.Ref: {{File: "teams/payments.yaml", Line: 12, Column: 14}},
			web.Ref: {{File: "teams/storefront.yaml", Line: 9, Column: 14}, {File: "teams/payments.yaml", Line: 20, Column: 14}},
		},
		Gates: []report.Gate{
			{Team: "storefront", Cluster: "prod-weu", Spec: "teams/storefront.yaml", Verdict: storefront},
			{Team: "payments", Cluster: "prod-weu", Spec: "teams/payments.yaml", Verdict: payments},
		},
	}
	if shuffle {
		rand.Shuffle(len(in.Images), func(i, j int) { in.Images[i], in.Images[j] = in.Images[j], in.Images[i] })
		rand.Shuffle(len(in.Gates), func(i, j int) { in.Gates[i], in.Gates[j] = in.Gates[j], in.Gates[i] })
	}
	return in
}

func TestGolden(t *testing.T) {
	for _, f := range report.Formats {
		t.Run(string(f), func(t *testing.T) {
			var first []byte
			for i := range 10 {
				var b bytes.Buffer
				if err := report.Write(&b, report.New(input(i > 0)), f); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = b.Bytes()
				} else if !bytes.Equal(first, b.Bytes()) {
					t.Fatalf("run %d differs from run 0 (order leaks into output)", i)
				}
			}
			golden := filepath.Join("testdata", "run."+string(f)+".golden")
			if *update {
				if err := os.WriteFile(golden, first, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, want) {
				t.Errorf("%s differs; run with -update and review the diff.\n%s", golden, first)
			}
		})
	}
}

func TestSARIFIsValid210(t *testing.T) {
	var b bytes.Buffer
	if err := report.SARIF(&b, report.New(input(false))); err != nil {
		t.Fatal(err)
	}
	rep, err := sarif.FromBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Version != "2.1.0" || len(rep.Runs) != 1 || len(rep.Runs[0].Tool.Driver.Rules) != 3 || len(rep.Runs[0].Results) != 3 {
		t.Errorf("version %s, %d runs", rep.Version, len(rep.Runs))
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := report.Write(&bytes.Buffer{}, report.New(input(false)), "xml"); err == nil {
		t.Error("want an error")
	}
}
