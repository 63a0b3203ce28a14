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

func TestPRSaysWhatItNeeds(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("GITHUB_REPOSITORY", "")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no repository", nil, nil, "GITHUB_REPOSITORY or --repo"},
		{"no token", map[string]string{"GITHUB_REPOSITORY": "example/platform"}, nil, "set GITHUB_TOKEN"},
		{"bad author", map[string]string{"GITHUB_TOKEN": "t"}, []string{"--repo", "example/platform", "--author", "bot"}, `want "Name <email>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := runCLI(t, append([]string{"pr"}, tt.args...)...)
			if r.code != exitBadInput || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, tt.want)
			}
		})
	}
	if r := runCLI(t, "pr", "--help"); !strings.Contains(r.stdout, "force") && !strings.Contains(r.stdout, "lease") {
		t.Errorf("pr --help does not explain the push:\n%s", r.stdout)
	}
}
