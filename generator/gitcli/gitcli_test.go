package gitcli

import (
	"context"
	"github.com/rampart-gitops/rampart/generator/forge/forgetest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return forgetest.Git(t, dir, args...)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTreeBlobsAndTreeWith(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	write(t, dir, "clusters/a/x.yaml", "x: 1\n")
	write(t, dir, "clusters/a/tab\tname.yaml", "tab: true\n")
	write(t, dir, "clusters/b/y.yaml", "")
	write(t, dir, "teams/t.yaml", "t: 1\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "one")
	r := &Repo{Dir: dir}
	tree, err := r.Tree(ctx, "HEAD", "clusters")
	if err != nil {
		t.Fatal(err)
	}
	if len(tree) != 3 || tree["clusters/a/x.yaml"] != BlobID([]byte("x: 1\n")) || tree["clusters/b/y.yaml"] != BlobID(nil) {
		t.Fatalf("tree = %v", tree)
	}
	blobs, err := r.Blobs(ctx, []string{tree["clusters/a/x.yaml"], tree["clusters/b/y.yaml"], tree["clusters/a/tab\tname.yaml"]})
	if err != nil {
		t.Fatal(err)
	}
	if string(blobs[tree["clusters/a/x.yaml"]]) != "x: 1\n" || len(blobs[tree["clusters/b/y.yaml"]]) != 0 || string(blobs[tree["clusters/a/tab\tname.yaml"]]) != "tab: true\n" {
		t.Errorf("blobs = %q", blobs)
	}
	if _, err := r.Blobs(ctx, []string{strings.Repeat("0", 40)}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing blob: %v", err)
	}

	// TreeWith replaces clusters/ only, and leaves the index alone.
	write(t, dir, "clusters/a/x.yaml", "x: 2\n")
	write(t, dir, "teams/t.yaml", "t: 2\n")
	before := git(t, dir, "status", "--porcelain")
	nt, err := r.TreeWith(ctx, "HEAD", "clusters", filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "diff", "--name-only", "HEAD", nt); got != "clusters/a/x.yaml" {
		t.Errorf("TreeWith changed %q, want only clusters/a/x.yaml", got)
	}
	if git(t, dir, "status", "--porcelain") != before {
		t.Errorf("TreeWith touched the index")
	}
	c, err := (&Repo{Dir: dir, Env: []string{"GIT_AUTHOR_NAME=bot", "GIT_AUTHOR_EMAIL=bot@example.com", "GIT_COMMITTER_NAME=bot", "GIT_COMMITTER_EMAIL=bot@example.com"}}).CommitTree(ctx, nt, "HEAD", "render\n\nbody\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "log", "-1", "--format=%an|%s|%T", c); got != "bot|render|"+nt {
		t.Errorf("commit = %q", got)
	}
}
