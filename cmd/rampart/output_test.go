package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOutputGitHub: validate and check print workflow commands the runner turns into
// annotations on the pull request's files.
func TestOutputGitHub(t *testing.T) {
	dir := copyRepo(t)
	if r := runCLI(t, "render", "-C", dir); r.code != exitOK {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	// Stale output: check annotates the files it would rewrite.
	replaceIn(t, filepath.Join(dir, "teams", "storefront.yaml"), "replicas: 2", "replicas: 4")
	r := runCLI(t, "check", "-C", dir, "--output", "github")
	if r.code != exitFindings || !strings.Contains(r.stdout, "::error file=clusters/prod-weu/teams/storefront/web.yaml,title=rendered output is stale::") {
		t.Errorf("check --output github: exit %d\n%s", r.code, r.stdout)
	}
	// A spec mistake: validate annotates its line and column.
	replaceIn(t, filepath.Join(dir, "teams", "ledger.yaml"), "port: 9090", "port: 90")
	r = runCLI(t, "validate", "-C", dir, "-o", "github")
	if r.code != exitBadInput {
		t.Fatalf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^::error file=teams/ledger\.yaml,line=\d+,col=\d+,title=spec\.apps\[0\]\.port::`).MatchString(r.stdout) {
		t.Errorf("validate --output github printed no annotation for the port:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "teams/ledger.yaml:") {
		t.Errorf("the human-readable errors should still go to stderr:\n%s", r.stderr)
	}
	if r := runCLI(t, "render", "-C", dir, "--output", "github"); r.code != exitBadInput || !strings.Contains(r.stderr, `want text or json, got "github"`) {
		t.Errorf("render takes no github output: exit %d\n%s", r.code, r.stderr)
	}
}

// TestScanFormatIsADeprecatedAlias: scan's old --format keeps working and says to use --output.
func TestScanFormatIsADeprecatedAlias(t *testing.T) {
	dir := copyRepo(t)
	old := runCLI(t, "scan", "-C", dir, "--format", "json")
	cur := runCLI(t, "scan", "-C", dir, "--output", "json")
	if old.code != cur.code || old.stdout != cur.stdout || !strings.HasPrefix(cur.stdout, "{") {
		t.Fatalf("--format json (exit %d) and --output json (exit %d) differ:\n%.300s\n%.300s", old.code, cur.code, old.stdout, cur.stdout)
	}
	if !strings.Contains(old.stderr, "Flag --format has been deprecated, use --output instead") {
		t.Errorf("no deprecation notice:\n%s", old.stderr)
	}
	if r := runCLI(t, "scan", "--help"); strings.Contains(r.stdout, "--format") || !strings.Contains(r.stdout, "--output") {
		t.Errorf("scan --help should show --output and hide --format:\n%s", r.stdout)
	}
}
