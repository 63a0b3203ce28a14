package review

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/internal/fleet"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const repoRoot = "../.."

// run runs a command in dir and fails the test when it fails.
func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE=2026-11-30T12:00:00Z", "GIT_COMMITTER_DATE=2026-11-30T12:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// copyTree copies the repository's directories into dst.
func copyTree(t testing.TB, dst string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		src := filepath.Join(repoRoot, d)
		err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, p)
			if e.IsDir() {
				if e.Name() == ".rampart" {
					return fs.SkipDir
				}
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// newRepo makes a git repository holding a copy of the repository's clusters/ (and
// the other directories named), committed on main.
func newRepo(t testing.TB, dirs ...string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, dir, append([]string{"clusters"}, dirs...)...)
	run(t, dir, "git", "init", "-q", "-b", "main")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "-m", "base")
	return dir
}

// edit replaces old with new in a file of dir, failing when old is not there.
func edit(t testing.TB, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

var ctx = context.Background()

// committedFleet writes a synthetic fleet into a new directory, renders it and
// commits it on main (.rampart/ ignored): the base of a report on a fleet.
func committedFleet(t *testing.T, o fleet.Options) string {
	t.Helper()
	dir := t.TempDir()
	o.Repo = repoRoot
	if err := fleet.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	if _, err := generator.Generate(ctx, generator.Options{Dir: dir, Mode: generator.Render}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(".rampart/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "git", "init", "-q", "-b", "main")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "-m", "fleet")
	return dir
}
