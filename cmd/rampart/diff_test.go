package main

import (
	"encoding/json"
	"github.com/rampart-gitops/rampart/generator/forge/forgetest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// git runs git in dir with a fixed identity and clock.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return forgetest.Git(t, dir, args...)
}

// renderedRepo is a copy of the repository's inputs, rendered and committed on main.
func renderedRepo(t *testing.T) string {
	t.Helper()
	dir := copyRepo(t)
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(".rampart/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "render", "-C", dir); r.code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "render")
	return dir
}

func TestDiffAfterASpecChange(t *testing.T) {
	dir := renderedRepo(t)
	if r := runCLI(t, "diff", "-C", dir, "--base", "main"); r.code != exitOK || !strings.HasPrefix(r.stdout, "0 clusters, 0 teams") {
		t.Fatalf("diff of a fresh render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	replaceIn(t, filepath.Join(dir, "teams", "storefront.yaml"), "replicas: 2", "replicas: 4")
	if r := runCLI(t, "render", "-C", dir); r.code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, "diff", "-C", dir, "--base", "main", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("diff: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var d struct {
		Counts   struct{ Changed int }
		Clusters []struct {
			Cluster string
			Teams   []struct {
				Team    string
				Objects []struct {
					Kind, Name string
					Summary    []string
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if d.Counts.Changed != 3 || len(d.Clusters) != 3 {
		t.Fatalf("diff = %s", r.stdout)
	}
	for _, c := range d.Clusters {
		o := c.Teams[0].Objects
		if c.Teams[0].Team != "storefront" || len(o) != 1 || o[0].Kind != "Deployment" || strings.Join(o[0].Summary, ";") != "replicas 2 → 4" {
			t.Errorf("cluster %s: %+v", c.Cluster, c.Teams)
		}
	}
	if r := runCLI(t, "diff", "-C", dir, "--base", "no-such-branch"); r.code != exitBadInput || !strings.Contains(r.stderr, `resolving the base "no-such-branch"`) {
		t.Errorf("diff with a bad base: exit %d\n%s", r.code, r.stderr)
	}
}

func TestReportWritesTheFullReportBesideAShortenedOne(t *testing.T) {
	dir := renderedRepo(t)
	replaceIn(t, filepath.Join(dir, "teams", "storefront.yaml"), "replicas: 2", "replicas: 4")
	out := filepath.Join(dir, "report.md")
	r := runCLI(t, "report", "-C", dir, "--base", "main", "--output-file", out, "--max-chars", "900")
	if r.code != exitOK {
		t.Fatalf("report: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(filepath.Join(dir, "report.full.md"))
	if err != nil {
		t.Fatalf("no full report beside the shortened one: %v", err)
	}
	if len([]rune(string(md))) > 900 || !strings.Contains(string(md), "report.full.md") || !strings.Contains(string(full), "replicas 2 → 4") {
		t.Errorf("shortened report (%d chars):\n%s\nfull:\n%s", len([]rune(string(md))), md, full)
	}
	r = runCLI(t, "report", "-C", dir, "--base", "main", "-o", "json")
	var rep struct {
		Diff struct{ Counts struct{ Changed int } }
		Gate struct{ Passed bool }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Diff.Counts.Changed != 3 || !rep.Gate.Passed {
		t.Errorf("report -o json: %v %+v\n%s", err, rep, r.stdout)
	}
	// The spelling, --format, works as a deprecated alias; the notice stays
	// out of the JSON.
	old := runCLI(t, "report", "-C", dir, "--base", "main", "--format", "json")
	if old.code != exitOK || old.stdout != r.stdout || !strings.Contains(old.stderr, "Flag --format has been deprecated") {
		t.Errorf("report --format json: exit %d, same output %v\n%s", old.code, old.stdout == r.stdout, old.stderr)
	}
}
