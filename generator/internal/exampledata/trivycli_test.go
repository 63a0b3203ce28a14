package exampledata_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/internal/exampledata"
	"github.com/rampart-gitops/rampart/generator/scan"
)

// TestTrivyCLIAgrees scans every example image with the Trivy CLI (the same OCI
// layout, the same database) and compares its findings with the in-process scanner's.
// It needs a trivy v0.74.0 binary: set TRIVY_CLI to its path (building it takes about
// 20 minutes here, so the test skips without it).
func TestTrivyCLIAgrees(t *testing.T) {
	cli := os.Getenv("TRIVY_CLI")
	if cli == "" {
		t.Skip("set TRIVY_CLI to a trivy v0.74.0 binary to compare with the Trivy CLI")
	}
	cache := t.TempDir()
	dbDir := filepath.Join(exampledata.Dir(), "db")
	if err := os.MkdirAll(filepath.Join(cache, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"trivy.db", "metadata.json"} {
		b, err := os.ReadFile(filepath.Join(dbDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cache, "db", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layout := filepath.Join(exampledata.Dir(), "images")
	s, err := scan.New(scan.Options{DBDir: dbDir, Registry: scan.RegistryOptions{OCILayout: layout}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refs := []string{exampledata.PaymentsAPI, exampledata.StorefrontOld, exampledata.Storefront, exampledata.LedgerCore, exampledata.PlatformEcho}
	res, err := s.Resolve(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []scan.Resolved
	for _, r := range refs {
		imgs = append(imgs, res[r])
	}
	results, err := s.Scan(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		var lib []string
		for _, f := range results[img.Digest].Findings {
			lib = append(lib, strings.Join([]string{f.ID, f.Package, f.Installed, f.Fixed, string(f.Severity)}, " "))
		}
		out, err := exec.Command(cli, "image", "--cache-dir", cache, "--skip-db-update", "--skip-java-db-update",
			"--offline-scan", "--scanners", "vuln", "--format", "json", "--quiet", "--input", layout+"@"+img.Digest).Output()
		if err != nil {
			t.Fatalf("%s: trivy: %v", img.Ref, err)
		}
		var rep struct {
			Results []struct {
				Vulnerabilities []struct {
					VulnerabilityID, PkgName, InstalledVersion, FixedVersion, Severity string
				}
			}
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatal(err)
		}
		var cliFindings []string
		for _, r := range rep.Results {
			for _, v := range r.Vulnerabilities {
				cliFindings = append(cliFindings, strings.Join([]string{v.VulnerabilityID, v.PkgName, v.InstalledVersion, v.FixedVersion, v.Severity}, " "))
			}
		}
		slices.Sort(lib)
		slices.Sort(cliFindings)
		if !slices.Equal(lib, cliFindings) {
			t.Errorf("%s:\nlibrary %q\n    CLI %q", img.Ref, lib, cliFindings)
		}
	}
}
