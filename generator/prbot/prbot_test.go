package prbot

import (
	"context"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/forge"
	"github.com/rampart-gitops/rampart/generator/forge/forgetest"
	"github.com/rampart-gitops/rampart/generator/gitcli"
	"github.com/rampart-gitops/rampart/generator/review"
)

const repoRoot = "../.."

var (
	ctx = context.Background()
	now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
)

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return forgetest.Git(t, dir, args...)
}

func gitServer(t *testing.T) (string, string) { return forgetest.GitServer(t) }

func copyInputs(t *testing.T, dst string) {
	t.Helper()
	copyDir := func(rel string) {
		err := filepath.WalkDir(filepath.Join(repoRoot, rel), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(repoRoot, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, r), 0o755)
			}
			if strings.HasPrefix(r, "clusters") && d.Name() != "cluster.yaml" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, r), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"teams", "lib", "clusters", "generator/internal/exampledata", "rampart.yaml"} {
		copyDir(d)
	}
	if err := os.WriteFile(filepath.Join(dst, ".gitignore"), []byte(".rampart/\n*.full.md\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkout is a clone of the served repository whose main holds the examples,
// rendered and pushed: what actions/checkout leaves after a merge.
func checkout(t *testing.T, url string) string {
	t.Helper()
	seed := t.TempDir()
	copyInputs(t, seed)
	if _, err := generator.Generate(ctx, generator.Options{Dir: seed, Mode: generator.Render, Now: func() time.Time { return now }}); err != nil {
		t.Fatalf("rendering the examples: %v", err)
	}
	git(t, seed, "init", "-q", "-b", "main")
	git(t, seed, "add", "-A")
	git(t, seed, "commit", "-q", "-m", "examples, rendered")
	git(t, seed, "push", "-q", url, "main")
	work := filepath.Join(t.TempDir(), "work")
	git(t, filepath.Dir(work), "clone", "-q", url, work)
	return work
}

// fresh drops what a run rendered into the working tree, as a new job's checkout.
func fresh(t *testing.T, work string) {
	git(t, work, "reset", "-q", "--hard")
	git(t, work, "clean", "-fdq", "--", "clusters")
}

// merge commits a spec change on main and pushes it, as merging a team's pull
// request does (without its render).
func merge(t *testing.T, work, file, old, new string) {
	t.Helper()
	fresh(t, work)
	p := filepath.Join(work, file)
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q (%v)", file, old, err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, work, "commit", "-q", "-am", "change "+file)
	git(t, work, "push", "-q", "origin", "main")
}

type bot struct {
	apiURL string
	fake   *forgetest.GitHub
	client *forge.Client
	sleeps []time.Duration
	opts   Options
}

func newBot(t *testing.T, work, bare string) *bot {
	t.Helper()
	fake := forgetest.NewGitHub(bare)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	b := &bot{fake: fake, apiURL: api.URL}
	c, err := forge.New(forge.Options{APIURL: api.URL, Token: fake.Token, Repository: "example/platform",
		Sleep: func(_ context.Context, d time.Duration) error { b.sleeps = append(b.sleeps, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	b.client = c
	b.opts = Options{
		Dir: work, Labels: []string{"rampart", "render"}, AuthorName: "rampart[bot]", AuthorEmail: "rampart@example.com",
		TitlePrefix: "render: ", Forge: c, FullReport: filepath.Join(work, "report.full.md"),
		Render: func(ctx context.Context, base string) (*review.Reviewed, error) {
			return review.Run(ctx, generator.Options{Dir: work, Mode: generator.Render, Now: func() time.Time { return now }}, base)
		},
	}
	return b
}

func (b *bot) run(t *testing.T) *Result {
	t.Helper()
	fresh(t, b.opts.Dir)
	git(t, b.opts.Dir, "pull", "-q", "--ff-only", "origin", "main")
	res, err := Run(ctx, b.opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPullRequestIdempotent is the "done when": run twice against the test
// remote and the fake forge, one pull request is opened and then nothing changes;
// then a later render with nothing to change closes it.
func TestPullRequestIdempotent(t *testing.T) {
	url, bare := gitServer(t)
	work := checkout(t, url)
	b := newBot(t, work, bare)
	merge(t, work, "teams/payments.yaml", "          methods: [POST]\n", "          methods: [POST, GET]\n")
	main := git(t, bare, "rev-parse", "refs/heads/main")

	first := b.run(t)
	if first.Action != Created || !first.Pushed || first.PullRequest != 1 {
		t.Fatalf("first run = %+v", first)
	}
	branch := git(t, bare, "rev-parse", "refs/heads/rampart/render")
	if branch != first.Commit || git(t, bare, "rev-parse", branch+"^") != main {
		t.Errorf("rampart/render = %s (parent %s), want the render commit on main %s", branch, git(t, bare, "rev-parse", branch+"^"), main)
	}
	if got := git(t, bare, "log", "-1", "--format=%an <%ae>%n%s", branch); !strings.HasPrefix(got, "rampart[bot] <rampart@example.com>\nrender: ledger (+0 ~2 -0 objects)") {
		t.Errorf("commit author and subject = %q", got)
	}
	files := git(t, bare, "diff", "--name-only", main, branch)
	if files != "clusters/prod-weu/tenants/ledger.yaml\nclusters/stage-neu/tenants/ledger.yaml" {
		t.Errorf("the render commit changes %q, want only ledger's authorization policies (Istio on prod-weu, Linkerd on stage-neu)", files)
	}
	pr := b.fake.Pulls[0]
	if !strings.HasPrefix(pr.Body, review.Marker) || !strings.Contains(pr.Body, "```mermaid") || pr.Title != first.Report.Title("render: ") ||
		strings.Join(pr.Labels, ",") != "rampart,render" || pr.Head != "rampart/render" || pr.Base != "main" {
		t.Errorf("pull request = %+v", pr)
	}
	afterFirst := b.fake.Requests()
	t.Logf("first run: %d requests %v", b.fake.Total(), afterFirst)

	writes, total := b.fake.Writes(), b.fake.Total()
	second := b.run(t)
	if second.Action != Unchanged || second.Pushed || second.Commit != branch {
		t.Errorf("second run = %+v, want unchanged, nothing pushed", second)
	}
	if got := git(t, bare, "rev-parse", "refs/heads/rampart/render"); got != branch {
		t.Errorf("the second run moved the branch to %s", got)
	}
	if w := b.fake.Writes() - writes; w != 0 {
		t.Errorf("the second run made %d API writes: %v", w, b.fake.Requests())
	}
	t.Logf("second run: %d requests, %d writes", b.fake.Total()-total, b.fake.Writes()-writes)

	// main moves on (another team's change): the branch is rebuilt on it and the
	// pull request's body follows, with a lease on the old branch commit.
	merge(t, work, "teams/storefront.yaml", "replicas: 2", "replicas: 3")
	third := b.run(t)
	if third.Action != Updated || !third.Pushed || third.PullRequest != 1 || len(b.fake.Pulls) != 1 {
		t.Errorf("third run = %+v", third)
	}
	if !strings.Contains(b.fake.Pulls[0].Body, "storefront") {
		t.Errorf("the updated body does not mention storefront")
	}

	// The render lands on main (the pull request merged by hand here as a push of its
	// commit): the next run has nothing to render; the PR is closed with a note.
	fresh(t, work)
	git(t, work, "fetch", "-q", "origin")
	git(t, work, "merge", "-q", "--ff-only", "origin/rampart/render")
	git(t, work, "push", "-q", "origin", "main")
	fourth := b.run(t)
	if fourth.Action != Closed || b.fake.Pulls[0].State != "closed" || len(b.fake.Comments[1]) != 1 {
		t.Errorf("fourth run = %+v, pull request %+v", fourth, b.fake.Pulls[0])
	}
	writes = b.fake.Writes()
	if fifth := b.run(t); fifth.Action != Nothing || b.fake.Writes() != writes {
		t.Errorf("fifth run = %+v with %d writes", fifth, b.fake.Writes()-writes)
	}
}

// TestForceWithLease: the push never overwrites a branch commit the bot has not
// read; one it has read (a fix pushed by hand before the run) it replaces.
func TestForceWithLease(t *testing.T) {
	url, bare := gitServer(t)
	work := checkout(t, url)
	b := newBot(t, work, bare)
	merge(t, work, "teams/storefront.yaml", "replicas: 2", "replicas: 3")
	first := b.run(t)
	// Someone pushes to the bot's branch.
	other := filepath.Join(t.TempDir(), "other")
	git(t, filepath.Dir(other), "clone", "-q", "-b", "rampart/render", url, other)
	if err := os.WriteFile(filepath.Join(other, "NOTE"), []byte("by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, other, "add", "NOTE")
	git(t, other, "commit", "-q", "-m", "by hand")
	git(t, other, "push", "-q", "origin", "rampart/render")
	theirs := git(t, other, "rev-parse", "HEAD")

	repo := &gitcli.Repo{Dir: work}
	c := git(t, work, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "stale")
	for _, lease := range []string{first.Commit, ""} {
		err := repo.PushWithLease(ctx, "origin", c, "rampart/render", lease)
		if err == nil || !strings.Contains(err.Error(), "stale info") {
			t.Errorf("push with the lease %q: %v, want git's refusal", lease, err)
		}
		if got := git(t, bare, "rev-parse", "refs/heads/rampart/render"); got != theirs {
			t.Fatalf("a refused push moved the branch to %s", got)
		}
	}
	// The next run reads the branch as it is now and replaces it, on purpose.
	merge(t, work, "teams/storefront.yaml", "replicas: 3", "replicas: 4")
	next := b.run(t)
	if !next.Pushed || git(t, bare, "rev-parse", "refs/heads/rampart/render") != next.Commit {
		t.Errorf("run after a push by hand = %+v", next)
	}
}

func TestForgeErrors(t *testing.T) {
	url, bare := gitServer(t)
	work := checkout(t, url)
	merge(t, work, "teams/storefront.yaml", "replicas: 2", "replicas: 3")
	tests := []struct {
		name   string
		setup  func(f *forgetest.GitHub)
		want   error
		hint   string
		sleeps int
	}{
		{"token without pull-requests: write", func(f *forgetest.GitHub) { f.ReadOnly = true }, forge.ErrPermission, "pull-requests: write", 0},
		{"repository forbids Actions from creating pull requests", func(f *forgetest.GitHub) { f.ForbidActions = true }, forge.ErrActionsForbidden, "Allow GitHub Actions to create and approve pull requests", 0},
		{"secondary rate limit, 403 with Retry-After", func(f *forgetest.GitHub) { f.Limited, f.LimitStatus, f.RetryAfter = 2, 403, "7" }, nil, "", 2},
		{"secondary rate limit, 429 without Retry-After", func(f *forgetest.GitHub) { f.Limited, f.LimitStatus = 1, 429 }, nil, "", 1},
		{"rate limited beyond the retries", func(f *forgetest.GitHub) { f.Limited, f.LimitStatus, f.RetryAfter = 10, 429, "1" }, forge.ErrRateLimited, "after 3 retries", 3},
		{"Retry-After longer than the job waits", func(f *forgetest.GitHub) { f.Limited, f.LimitStatus, f.RetryAfter = 1, 403, "3600" }, forge.ErrRateLimited, "longer than", 0},
		{"already exists, not yet listed", func(f *forgetest.GitHub) {
			f.Pulls = append(f.Pulls, &forgetest.Pull{Number: 1, State: "open", Title: "old", Body: "old", Head: "rampart/render", Base: "main"})
			f.HideFromList = 1
		}, nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			git(t, bare, "update-ref", "-d", "refs/heads/rampart/render")
			b := newBot(t, work, bare)
			tt.setup(b.fake)
			_, err := Run(ctx, b.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.hint) {
				t.Fatalf("error = %v, want %v saying %q", err, tt.want, tt.hint)
			}
			if len(b.sleeps) != tt.sleeps {
				t.Errorf("waited %v, want %d waits", b.sleeps, tt.sleeps)
			}
			if tt.name == "secondary rate limit, 403 with Retry-After" && b.sleeps[0] != 7*time.Second {
				t.Errorf("waited %v, want Retry-After's 7s", b.sleeps[0])
			}
			if tt.name == "secondary rate limit, 429 without Retry-After" && b.sleeps[0] != time.Minute {
				t.Errorf("waited %v, want the documented minute", b.sleeps[0])
			}
			if tt.name == "already exists, not yet listed" && (len(b.fake.Pulls) != 1 || b.fake.Pulls[0].Title == "old") {
				t.Errorf("the existing pull request was not updated: %+v", b.fake.Pulls[0])
			}
		})
	}
}

// TestForgeValidation: GitHub's 422s come back as errors that say what happened.
func TestForgeValidation(t *testing.T) {
	url, bare := gitServer(t)
	work := checkout(t, url)
	b := newBot(t, work, bare)
	git(t, work, "push", "-q", "origin", "main:refs/heads/same")
	_, err := b.client.CreatePullRequest(ctx, "same", "main", "t", "b")
	if !errors.Is(err, forge.ErrNoCommits) || !strings.Contains(err.Error(), "No commits between main and same") {
		t.Errorf("no commits: %v", err)
	}
	merge(t, work, "teams/storefront.yaml", "replicas: 2", "replicas: 3")
	git(t, work, "push", "-q", "origin", "main:refs/heads/feature")
	git(t, work, "push", "-q", "origin", "HEAD~1:refs/heads/main", "--force")
	_, err = b.client.CreatePullRequest(ctx, "feature", "main", "t", strings.Repeat("x", 65537))
	if !errors.Is(err, forge.ErrBodyTooLong) || !strings.Contains(err.Error(), "body is too long (maximum is 65536 characters)") {
		t.Errorf("body too long: %v", err)
	}
	if _, err := b.client.CreatePullRequest(ctx, "feature", "main", "t", "b"); err != nil {
		t.Fatal(err)
	}
	_, err = b.client.CreatePullRequest(ctx, "feature", "main", "t", "b")
	if !errors.Is(err, forge.ErrAlreadyExists) || !strings.Contains(err.Error(), "A pull request already exists for example:feature.") {
		t.Errorf("already exists: %v", err)
	}
	bad, _ := forge.New(forge.Options{APIURL: b.apiURL, Token: "wrong", Repository: "example/platform"})
	if _, err := bad.DefaultBranch(ctx); err == nil || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("bad token: %v", err)
	}
}
