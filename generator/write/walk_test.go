package write

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestRegularFilesIsWalkDir shows the system-call listing of the real disk gives what
// fs.WalkDir gives: the regular files in lexical order, nothing behind a symbolic
// link, no directories, FIFOs or sockets, and nothing for a directory that is not
// there.
func TestRegularFilesIsWalkDir(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"clusters/a/cluster.yaml", "clusters/a/kustomization.yaml",
		"clusters/a/teams/zeta/web.yaml", "clusters/a/teams/alpha/api.yaml", "clusters/a/teams/alpha/Api.yaml",
		"clusters/a/teams/alpha/deep/er/x.yaml", "clusters/a/tenants/alpha.yaml", "clusters/b/only.yaml",
	} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "clusters/a/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../b/only.yaml", filepath.Join(root, "clusters/a/link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../b", filepath.Join(root, "clusters/a/linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "clusters/a/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	disk := OS(root)
	for _, dir := range []string{"clusters/a", "clusters/b", "clusters/missing", "clusters"} {
		got, err := disk.(osFS).RegularFiles(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		// The same disk without the fast path: fs.WalkDir.
		want, err := regularFiles(struct{ FS }{disk}, dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: RegularFiles gives\n%q\nfs.WalkDir gives\n%q", dir, got, want)
		}
	}
	got, _ := disk.(osFS).RegularFiles("clusters/a")
	want := []string{"clusters/a/cluster.yaml", "clusters/a/kustomization.yaml", "clusters/a/teams/alpha/Api.yaml",
		"clusters/a/teams/alpha/api.yaml", "clusters/a/teams/alpha/deep/er/x.yaml", "clusters/a/teams/zeta/web.yaml",
		"clusters/a/tenants/alpha.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("clusters/a: got %q, want %q", got, want)
	}
	if _, err := disk.(osFS).RegularFiles("../etc"); err == nil {
		t.Error("a path outside the root was listed")
	}
}
