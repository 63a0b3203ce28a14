package write_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/write"
)

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func render(t *testing.T, root string, c *write.Cluster) []write.Change {
	t.Helper()
	changes, err := write.Diff(write.OS(root), []*write.Cluster{c})
	if err != nil {
		t.Fatal(err)
	}
	if err := write.Apply(write.OS(root), []*write.Cluster{c}, changes); err != nil {
		t.Fatal(err)
	}
	return changes
}

func TestApplyWritesPrunesAndKeepsUnchangedFiles(t *testing.T) {
	root := t.TempDir()
	h := manifest.Header
	mustWrite(t, filepath.Join(root, "clusters/dev/cluster.yaml"), "kind: Cluster\n")
	mustWrite(t, filepath.Join(root, "clusters/dev/NOTES.md"), "hand-written, not ours\n")
	c := &write.Cluster{Name: "dev", Files: map[string][]byte{
		"clusters/dev/kustomization.yaml":     []byte(h + "a\n"),
		"clusters/dev/teams/pay/api.yaml":     []byte(h + "b\n"),
		"clusters/dev/teams/pay/old-app.yaml": []byte(h + "c\n"),
		"clusters/dev/tenants/pay.yaml":       []byte(h + "d\n"),
	}}
	changes := render(t, root, c)
	if len(changes) != 4 {
		t.Fatalf("first render: %d changes, want 4: %v", len(changes), changes)
	}

	// Age the files, so an untouched file is recognisable by its mtime.
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for p := range c.Files {
		if err := os.Chtimes(filepath.Join(root, p), past, past); err != nil {
			t.Fatal(err)
		}
	}

	// Second render, identical: nothing is written.
	if changes := render(t, root, c); len(changes) != 0 {
		t.Fatalf("identical render: changes %v, want none", changes)
	}
	for p := range c.Files {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if !st.ModTime().Equal(past) {
			t.Errorf("%s was rewritten by a render that changed nothing", p)
		}
	}

	// Third render: one app removed, one file changed.
	delete(c.Files, "clusters/dev/teams/pay/old-app.yaml")
	c.Files["clusters/dev/tenants/pay.yaml"] = []byte(h + "d2\n")
	changes = render(t, root, c)
	want := []write.Change{
		{Path: "clusters/dev/teams/pay/old-app.yaml", Action: write.Delete},
		{Path: "clusters/dev/tenants/pay.yaml", Action: write.Update},
	}
	if len(changes) != len(want) || changes[0] != want[0] || changes[1] != want[1] {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	if _, err := os.Stat(filepath.Join(root, "clusters/dev/teams/pay/old-app.yaml")); !os.IsNotExist(err) {
		t.Errorf("removed app's file is still there (err %v)", err)
	}
	for _, keep := range []string{"cluster.yaml", "NOTES.md"} {
		if _, err := os.Stat(filepath.Join(root, "clusters/dev", keep)); err != nil {
			t.Errorf("hand-written %s was not kept: %v", keep, err)
		}
	}
	st, err := os.Stat(filepath.Join(root, "clusters/dev/teams/pay/api.yaml"))
	if err != nil || !st.ModTime().Equal(past) {
		t.Errorf("unchanged api.yaml was rewritten when another file changed (err %v)", err)
	}
	got, _ := os.ReadFile(filepath.Join(root, "clusters/dev/tenants/pay.yaml"))
	if string(got) != h+"d2\n" {
		t.Errorf("tenants/pay.yaml = %q", got)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "clusters"))
	if len(entries) != 1 {
		t.Errorf("staging directories left behind: %v", entries)
	}
}

// failingDisk fails every write after the first n.
type failingDisk struct {
	write.FS
	n int
}

func (d *failingDisk) WriteFile(name string, data []byte) error {
	if d.n--; d.n < 0 {
		return errors.New("disk full")
	}
	return d.FS.WriteFile(name, data)
}

// TestFailedWriteLeavesTheOldOutput: a disk that fails midway leaves the cluster's
// directory exactly as it was, with no staging directory behind.
func TestFailedWriteLeavesTheOldOutput(t *testing.T) {
	root := t.TempDir()
	h := manifest.Header
	render(t, root, &write.Cluster{Name: "dev", Files: map[string][]byte{
		"clusters/dev/a.yaml": []byte(h + "a: 1\n"),
		"clusters/dev/b.yaml": []byte(h + "b: 1\n"),
	}})
	next := &write.Cluster{Name: "dev", Files: map[string][]byte{
		"clusters/dev/a.yaml": []byte(h + "a: 2\n"),
		"clusters/dev/b.yaml": []byte(h + "b: 2\n"),
		"clusters/dev/c.yaml": []byte(h + "c: 2\n"),
	}}
	changes, err := write.Diff(write.OS(root), []*write.Cluster{next})
	if err != nil || len(changes) != 3 {
		t.Fatalf("changes = %v, %v", changes, err)
	}
	if err := write.Apply(&failingDisk{FS: write.OS(root), n: 1}, []*write.Cluster{next}, changes); err == nil {
		t.Fatal("a failing disk wrote without an error")
	}
	for name, want := range map[string]string{"a.yaml": h + "a: 1\n", "b.yaml": h + "b: 1\n"} {
		b, err := os.ReadFile(filepath.Join(root, "clusters", "dev", name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want it as it was", name, b, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "clusters"))
	if len(entries) != 1 {
		t.Errorf("clusters/ holds %v, want only dev", entries)
	}
	if _, err := os.Stat(filepath.Join(root, "clusters", "dev", "c.yaml")); !os.IsNotExist(err) {
		t.Errorf("c.yaml was half-written: %v", err)
	}
}
