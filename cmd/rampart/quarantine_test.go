package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuarantineCommand quarantines an example app, checks that the edited spec
// loads and that reach shows the app quarantined, then lifts it: the spec comes back
// byte for byte.
func TestQuarantineCommand(t *testing.T) {
	dir := copyRepo(t)
	specPath := filepath.Join(dir, "teams", "payments.yaml")
	before, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-C", dir, "quarantine", "payments/api", "--reason", "Falco: a reverse shell from api pods", "--ticket", "INC-4711")
	if r.code != 0 {
		t.Fatalf("quarantine: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "quarantined payments/api in teams/payments.yaml") {
		t.Errorf("stdout: %q", r.stdout)
	}
	after, _ := os.ReadFile(specPath)
	if !strings.Contains(string(after), "      quarantine:\n        reason: \"Falco: a reverse shell from api pods\"\n        ticket: \"INC-4711\"\n") {
		t.Errorf("the spec does not carry the quarantine:\n%s", after)
	}
	if st, _ := os.Stat(specPath); st.Mode().Perm() != 0o644 {
		t.Errorf("the spec's mode changed to %v", st.Mode().Perm())
	}
	if r := runCLI(t, "-C", dir, "validate"); r.code != 0 {
		t.Fatalf("validate after quarantine: exit %d: %s", r.code, r.stderr)
	}
	r = runCLI(t, "-C", dir, "reach", "--cluster", "prod-weu")
	if r.code != 0 {
		t.Fatalf("reach: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Quarantined") || !strings.Contains(r.stdout, "Falco: a reverse shell from api pods (INC-4711)") {
		t.Errorf("reach does not show payments/api quarantined:\n%s", r.stdout)
	}
	// The examples' only allowed flows on prod-weu are to and from payments/api.
	if !strings.Contains(r.stdout, "Allowed flows\nnone\n") {
		t.Errorf("flows to or from the quarantined payments/api are still allowed:\n%s", r.stdout)
	}
	if r := runCLI(t, "-C", dir, "quarantine", "payments/api", "--lift"); r.code != 0 {
		t.Fatalf("lift: exit %d: %s", r.code, r.stderr)
	}
	lifted, _ := os.ReadFile(specPath)
	if string(lifted) != string(before) {
		t.Errorf("lifting did not give back the spec byte for byte")
	}
}

func TestQuarantineCommandRefuses(t *testing.T) {
	dir := copyRepo(t)
	if err := os.Symlink(filepath.Join(dir, "teams", "payments.yaml"), filepath.Join(dir, "teams", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, filepath.Join(dir, "teams"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no app", []string{"payments", "--reason", "a reverse shell from pods"}, "TEAM/APP"},
		{"path in the team", []string{"../etc/api", "--reason", "a reverse shell from pods"}, "TEAM/APP"},
		{"path in the app", []string{"payments/api/x", "--reason", "a reverse shell from pods"}, "TEAM/APP"},
		{"no reason", []string{"payments/api"}, "--reason"},
		{"short reason", []string{"payments/api", "--reason", "shell"}, "at least 10 characters"},
		{"multi-line reason", []string{"payments/api", "--reason", "a reverse shell\n  ticket: x"}, "one line"},
		{"lift with a reason", []string{"payments/api", "--lift", "--reason", "a reverse shell from pods"}, "--lift takes no"},
		{"lift what is not quarantined", []string{"payments/api", "--lift"}, "not quarantined"},
		{"unknown team", []string{"nobody/api", "--reason", "a reverse shell from pods"}, `editing team "nobody"`},
		{"unknown app", []string{"payments/worker", "--reason", "a reverse shell from pods"}, `no app "worker"`},
		{"symlinked spec", []string{"link/api", "--reason", "a reverse shell from pods"}, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"-C", dir, "quarantine"}, tc.args...)...)
			if r.code != exitBadInput || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitBadInput, tc.want)
			}
		})
	}
	after := snapshot(t, filepath.Join(dir, "teams"))
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s changed", p)
		}
	}
}
