package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/forge/forgetest"
)

// TestPRTwiceOpensOneAndThenChangesNothing runs `rampart pr` as the render workflow
// does, against a real git remote (git http-backend) and the fake GitHub: the first
// run opens one pull request, the second makes no commit and no API write; the
// nightly run (--refresh) opens its own, titled as nightly.
func TestPRTwiceOpensOneAndThenChangesNothing(t *testing.T) {
	url, bare := forgetest.GitServer(t)
	fake := forgetest.NewGitHub(bare)
	api := httptest.NewServer(fake)
	defer api.Close()
	t.Setenv("GITHUB_TOKEN", fake.Token)
	t.Setenv("GITHUB_REPOSITORY", "example/platform")
	t.Setenv("GITHUB_API_URL", api.URL)

	seed := renderedRepo(t)
	git(t, seed, "push", "-q", url, "main")
	work := filepath.Join(t.TempDir(), "work")
	git(t, filepath.Dir(work), "clone", "-q", url, work)
	replaceIn(t, filepath.Join(work, "teams", "storefront.yaml"), "replicas: 2", "replicas: 3")
	git(t, work, "commit", "-q", "-am", "storefront: three replicas")
	git(t, work, "push", "-q", "origin", "main")

	type out struct {
		Action      string
		Pushed      bool
		Commit      string
		PullRequest int
	}
	pr := func(args ...string) out {
		t.Helper()
		git(t, work, "reset", "-q", "--hard")
		git(t, work, "clean", "-fdq", "--", "clusters")
		r := runCLI(t, append([]string{"pr", "-C", work, "--label", "rampart", "-o", "json"}, args...)...)
		if r.code != exitOK {
			t.Fatalf("rampart pr %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		var o out
		if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		return o
	}
	first := pr()
	requests, writes := fake.Total(), fake.Writes()
	second := pr()
	if first.Action != "created" || !first.Pushed || first.PullRequest != 1 {
		t.Errorf("first run = %+v", first)
	}
	if second.Action != "unchanged" || second.Pushed || second.Commit != first.Commit {
		t.Errorf("second run = %+v", second)
	}
	if w := fake.Writes() - writes; w != 0 {
		t.Errorf("the second run made %d API writes: %v", w, fake.Requests())
	}
	t.Logf("first run: %d requests (%d writes); second run: %d requests (%d writes)", requests, writes, fake.Total()-requests, fake.Writes()-writes)
	if got := git(t, bare, "rev-parse", "refs/heads/rampart/render"); got != first.Commit {
		t.Errorf("rampart/render = %s, want %s", got, first.Commit)
	}
	p := fake.Pulls[0]
	if p.Title != "render: storefront (+0 ~3 -0 objects)" || strings.Join(p.Labels, ",") != "rampart" || !strings.Contains(p.Body, "replicas 2 → 3") {
		t.Errorf("pull request = %+v", p)
	}

	nightly := pr("--refresh")
	if nightly.Action != "created" || nightly.PullRequest != 2 || fake.Pulls[1].Head != "rampart/nightly" || !strings.HasPrefix(fake.Pulls[1].Title, "nightly: ") {
		t.Errorf("nightly run = %+v, pull request %+v", nightly, fake.Pulls[1])
	}
	if _, err := os.Stat(filepath.Join(work, "rampart-report.full.md")); err == nil {
		t.Errorf("a report that fits was written to a file too")
	}
}
