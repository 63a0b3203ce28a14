package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository this test lives in.
const repoRoot = "../.."

// copyRepo copies the repository's inputs (teams, lib, cluster inventories, config and
// example data) into a temporary directory, leaving rendered output behind.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, dir := range []string{"teams", "lib", "clusters", "generator/internal/exampledata"} {
		src := filepath.Join(repoRoot, dir)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			if dir == "clusters" && d.Name() != "cluster.yaml" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(repoRoot, "rampart.yaml")); err == nil {
		if err := os.WriteFile(filepath.Join(dst, "rampart.yaml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// snapshot maps every file under dir to its content and modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		m[p] = st.ModTime().Format(time.RFC3339Nano) + "\n" + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRenderThenCheckThenDrift(t *testing.T) {
	dir := copyRepo(t)
	r := runCLI(t, "render", "-C", dir)
	if r.code != exitOK {
		t.Fatalf("render: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "wrote add clusters/prod-weu/teams/payments/api.yaml") {
		t.Errorf("render did not report writing the payments api:\n%s", r.stdout)
	}

	before := snapshot(t, filepath.Join(dir, "clusters"))
	r = runCLI(t, "render", "-C", dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("second render: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !sameSnapshot(before, snapshot(t, filepath.Join(dir, "clusters"))) {
		t.Fatal("a render that changed nothing touched clusters/")
	}

	if r = runCLI(t, "check", "-C", dir); r.code != exitOK {
		t.Fatalf("check after render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A spec change makes clusters/ stale.
	team := filepath.Join(dir, "teams", "storefront.yaml")
	b, _ := os.ReadFile(team)
	if err := os.WriteFile(team, bytes.Replace(b, []byte("replicas: 2"), []byte("replicas: 4"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "check", "-C", dir, "--output", "json")
	if r.code != exitFindings {
		t.Fatalf("check after a spec change: exit %d, want %d\n%s%s", r.code, exitFindings, r.stdout, r.stderr)
	}
	var got struct {
		Changes []struct{ Path, Action string } `json:"changes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("check --output json: %v\n%s", err, r.stdout)
	}
	var paths []string
	for _, c := range got.Changes {
		paths = append(paths, c.Action+" "+c.Path)
	}
	want := []string{"update clusters/dev-weu/teams/storefront/web.yaml", "update clusters/prod-weu/teams/storefront/web.yaml", "update clusters/stage-neu/teams/storefront/web.yaml"}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("stale files = %v, want %v", paths, want)
	}
}

func TestBadInputExitsTwoAndWritesNothing(t *testing.T) {
	dir := copyRepo(t)
	if r := runCLI(t, "render", "-C", dir); r.code != exitOK {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	before := snapshot(t, filepath.Join(dir, "clusters"))
	team := filepath.Join(dir, "teams", "ledger.yaml")
	b, _ := os.ReadFile(team)
	b = bytes.Replace(b, []byte("port: 9090"), []byte("port: 90"), 1)
	b = bytes.Replace(b, []byte("memory: 512Mi"), []byte("memroy: 512Mi"), 1)
	if err := os.WriteFile(team, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "render", "check"} {
		r := runCLI(t, cmd, "-C", dir)
		if r.code != exitBadInput {
			t.Errorf("%s: exit %d, want %d", cmd, r.code, exitBadInput)
		}
		for _, w := range []string{"teams/ledger.yaml:", "spec.apps[0].port", "memroy", "nothing was written"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr does not mention %q:\n%s", cmd, w, r.stderr)
			}
		}
	}
	if !sameSnapshot(before, snapshot(t, filepath.Join(dir, "clusters"))) {
		t.Fatal("a render with bad input changed clusters/")
	}
	r := runCLI(t, "validate", "-C", dir, "--output", "json")
	var got struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("validate --output json: %v\n%s", err, r.stdout)
	}
	if got.Valid || len(got.Diagnostics) < 2 || got.Diagnostics[0].File != "teams/ledger.yaml" || got.Diagnostics[0].Line == 0 {
		t.Errorf("validate --output json = %+v", got)
	}
}

func TestHelpSchemaVersionAndCompletion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"root help teaches", []string{"--help"}, exitOK, []string{"Exit codes", "rampart render", "rampart check --output json"}},
		{"render help", []string{"render", "--help"}, exitOK, []string{"clusters/<cluster>/tenants/<team>.yaml", "Examples:"}},
		{"version", []string{"version"}, exitOK, []string{"rampart "}},
		{"completion", []string{"completion", "bash"}, exitOK, []string{"bash completion"}},
		{"unknown command", []string{"rendr"}, exitBadInput, nil},
		{"bad output flag", []string{"check", "--output", "yaml"}, exitBadInput, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout does not contain %q", w)
				}
			}
		})
	}
	r := runCLI(t, "schema", "team")
	want, err := os.ReadFile(filepath.Join(repoRoot, "schemas", "team.schema.json"))
	if err != nil || r.stdout != string(want) {
		t.Errorf("`rampart schema team` differs from schemas/team.schema.json (err %v)", err)
	}
}

func replaceIn(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanGateHoldsFailingTeamsOnly(t *testing.T) {
	dir := copyRepo(t)
	if r := runCLI(t, "render", "-C", dir); r.code != exitOK {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	clusters := filepath.Join(dir, "clusters")
	webFile := filepath.Join(clusters, "prod-weu", "teams", "storefront", "web.yaml")
	apiFile := filepath.Join(clusters, "prod-weu", "teams", "payments", "api.yaml")
	webBefore, _ := os.ReadFile(webFile)

	// storefront goes back to the tag with a CRITICAL finding; payments changes too.
	replaceIn(t, filepath.Join(dir, "teams", "storefront.yaml"), "web:2.0.1", "web:2.0.0")
	replaceIn(t, filepath.Join(dir, "teams", "payments.yaml"), "replicas: 3", "replicas: 4")

	t.Run("fail-fast writes nothing", func(t *testing.T) {
		before := snapshot(t, clusters)
		r := runCLI(t, "render", "-C", dir, "--fail-fast")
		if r.code != exitFindings {
			t.Fatalf("exit %d, want %d\n%s", r.code, exitFindings, r.stderr)
		}
		if !sameSnapshot(before, snapshot(t, clusters)) {
			t.Error("--fail-fast wrote files")
		}
	})

	r := runCLI(t, "render", "-C", dir)
	if r.code != exitFindings {
		t.Fatalf("render with a CRITICAL image: exit %d, want %d\n%s%s", r.code, exitFindings, r.stdout, r.stderr)
	}
	for _, w := range []string{"teams/storefront.yaml", "CVE-2026-10002", "lodash", "4.17.20", "4.17.21", "CRITICAL"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("gate failure does not mention %q:\n%s", w, r.stderr)
		}
	}
	if webAfter, _ := os.ReadFile(webFile); !bytes.Equal(webBefore, webAfter) {
		t.Error("the failing team's output changed")
	}
	if api, _ := os.ReadFile(apiFile); !bytes.Contains(api, []byte("replicas: 4")) {
		t.Error("the passing team's change was not written")
	}
	if !strings.Contains(r.stdout, "wrote update clusters/prod-weu/teams/payments/api.yaml") {
		t.Errorf("render did not report the payments update:\n%s", r.stdout)
	}
}

func TestExpiredExceptionNoLongerApplies(t *testing.T) {
	dir := copyRepo(t)
	replaceIn(t, filepath.Join(dir, "teams", "payments.yaml"), `expires: "2027-01-31"`, `expires: "2026-10-01"`)
	r := runCLI(t, "check", "-C", dir)
	if r.code != exitFindings {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitFindings, r.stderr)
	}
	for _, w := range []string{"expired on 2026-10-01", "CVE-2026-10001", `team "payments" on cluster "prod-weu"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
	// On the development cluster HIGH is below the threshold: payments passes there.
	if strings.Contains(r.stderr, `team "payments" on cluster "dev-weu"`) {
		t.Errorf("payments failed on dev-weu, where HIGH is below the CRITICAL threshold:\n%s", r.stderr)
	}
}

func TestSkipScanIsLoud(t *testing.T) {
	dir := copyRepo(t)
	r := runCLI(t, "render", "-C", dir, "--skip-scan")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "not scanned") {
		t.Errorf("--skip-scan did not warn:\n%s", r.stderr)
	}
	api, _ := os.ReadFile(filepath.Join(dir, "clusters", "prod-weu", "teams", "payments", "api.yaml"))
	if bytes.Contains(api, []byte("@sha256:")) {
		t.Error("--skip-scan pinned images, so it scanned")
	}
}
