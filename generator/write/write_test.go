package write_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
	changes, err := write.Diff(write.OS(root), []*write.Cluster{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := write.Apply(write.OS(root), []*write.Cluster{c}, changes, nil); err != nil {
		t.Fatal(err)
	}
	return changes
}

func TestApplyWritesPrunesAndKeepsUnchangedFiles(t *testing.T) {
	root := t.TempDir()
	h := manifest.Header
	mustWrite(t, filepath.Join(root, "clusters/dev/cluster.yaml"), "kind: Cluster\n")
	mustWrite(t, filepath.Join(root, "clusters/dev/NOTES.md"), "hand-written, not ours\n")
	c := write.NewCluster("dev", map[string][]byte{
		"clusters/dev/kustomization.yaml":     []byte(h + "a\n"),
		"clusters/dev/teams/pay/api.yaml":     []byte(h + "b\n"),
		"clusters/dev/teams/pay/old-app.yaml": []byte(h + "c\n"),
		"clusters/dev/tenants/pay.yaml":       []byte(h + "d\n"),
	})
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
	c.Files["clusters/dev/tenants/pay.yaml"] = write.Bytes([]byte(h + "d2\n"))
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
	mu sync.Mutex
	n  int
}

func (d *failingDisk) WriteFile(name string, data []byte) error {
	d.mu.Lock()
	d.n--
	full := d.n < 0
	d.mu.Unlock()
	if full {
		return errors.New("disk full")
	}
	return d.FS.WriteFile(name, data)
}

// TestFailedWriteLeavesTheOldOutput: a disk that fails midway leaves the cluster's
// directory exactly as it was, with no staging directory behind.
func TestFailedWriteLeavesTheOldOutput(t *testing.T) {
	root := t.TempDir()
	h := manifest.Header
	render(t, root, write.NewCluster("dev", map[string][]byte{
		"clusters/dev/a.yaml": []byte(h + "a: 1\n"),
		"clusters/dev/b.yaml": []byte(h + "b: 1\n"),
	}))
	next := write.NewCluster("dev", map[string][]byte{
		"clusters/dev/a.yaml": []byte(h + "a: 2\n"),
		"clusters/dev/b.yaml": []byte(h + "b: 2\n"),
		"clusters/dev/c.yaml": []byte(h + "c: 2\n"),
	})
	changes, err := write.Diff(write.OS(root), []*write.Cluster{next}, nil)
	if err != nil || len(changes) != 3 {
		t.Fatalf("changes = %v, %v", changes, err)
	}
	if err := write.Apply(&failingDisk{FS: write.OS(root), n: 1}, []*write.Cluster{next}, changes, nil); err == nil {
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

// countingDisk counts the files opened under clusters/ (for reading).
type countingDisk struct {
	write.FS
	opened map[string]int
}

// Stat is not counted: it does not read the file.
func (d *countingDisk) Stat(name string) (fs.FileInfo, error) { return fs.Stat(d.FS, name) }

func (d *countingDisk) Open(name string) (fs.File, error) {
	d.opened[name]++
	return d.FS.Open(name)
}

// TestStateVouchesForUnchangedFiles: with the disk state, a file that is on disk as
// it was written is not read again, one that was touched since is, and a damaged
// state file is no state at all.
func TestStateVouchesForUnchangedFiles(t *testing.T) {
	root, stateDir := t.TempDir(), t.TempDir()
	h := manifest.Header
	c := write.NewCluster("dev", map[string][]byte{
		"clusters/dev/teams/pay/api.yaml": []byte(h + "a\n"),
		"clusters/dev/tenants/pay.yaml":   []byte(h + "b\n"),
	})
	state := write.OpenState(stateDir)
	changes, err := write.Diff(write.OS(root), []*write.Cluster{c}, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := write.Apply(write.OS(root), []*write.Cluster{c}, changes, state); err != nil {
		t.Fatal(err)
	}
	if err := state.Save(); err != nil {
		t.Fatal(err)
	}
	// A stamp taken just after the write is not trusted (the file could change again
	// within the clock's granularity): age the files and the state is re-learned.
	past := time.Now().Add(-time.Hour)
	for p := range c.Files {
		if err := os.Chtimes(filepath.Join(root, p), past, past); err != nil {
			t.Fatal(err)
		}
	}
	diff := func() (map[string]int, []write.Change) {
		t.Helper()
		disk := &countingDisk{FS: write.OS(root), opened: map[string]int{}}
		st := write.OpenState(stateDir)
		changes, err := write.Diff(disk, []*write.Cluster{c}, st)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
		return disk.opened, changes
	}
	diff() // learns the aged stamps (chtimes changed them)
	if opened, changes := diff(); len(changes) != 0 || opened["clusters/dev/teams/pay/api.yaml"] != 0 || opened["clusters/dev/tenants/pay.yaml"] != 0 {
		t.Errorf("unchanged files: opened %v, changes %v; want neither read nor changed", opened, changes)
	}

	// Edited behind Rampart's back, same size: read, and found changed.
	mustWrite(t, filepath.Join(root, "clusters/dev/tenants/pay.yaml"), h+"x\n")
	if opened, changes := diff(); len(changes) != 1 || changes[0].Action != write.Update || opened["clusters/dev/tenants/pay.yaml"] == 0 {
		t.Errorf("edited file: opened %v, changes %v; want it read and updated", opened, changes)
	}

	// A damaged state file vouches for nothing.
	mustWrite(t, filepath.Join(root, "clusters/dev/tenants/pay.yaml"), h+"b\n")
	entries, _ := os.ReadDir(stateDir)
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(stateDir, e.Name()), []byte("rampart-disk-state-v1\ngarbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if opened, changes := diff(); len(changes) != 0 || opened["clusters/dev/teams/pay/api.yaml"] == 0 {
		t.Errorf("damaged state: opened %v, changes %v; want every file read, none changed", opened, changes)
	}
}

// TestRecoverFinishesACommittedWrite: a write stopped after its journal was committed
// is finished by the next run; one stopped before it is undone.
func TestRecoverFinishesACommittedWrite(t *testing.T) {
	root := t.TempDir()
	h := manifest.Header
	render(t, root, write.NewCluster("dev", map[string][]byte{
		"clusters/dev/a.yaml":           []byte(h + "a: 1\n"),
		"clusters/dev/teams/old/x.yaml": []byte(h + "x: 1\n"),
	}))
	// A committed write that stopped before moving anything in.
	committed := filepath.Join(root, "clusters", ".rampart-write-1")
	// Its files are staged in buckets; an earlier Rampart staged them flat.
	mustWrite(t, filepath.Join(committed, "1", "0"), h+"a: 2\n")
	mustWrite(t, filepath.Join(committed, "7"), h+"c: 1\n")
	mustWrite(t, filepath.Join(committed, "journal"), "put\t1/0\tclusters/dev/a.yaml\nput\t7\tclusters/dev/c.yaml\ndelete\tclusters/dev/teams/old/x.yaml\n")
	// An uncommitted one: its staged file must never appear.
	uncommitted := filepath.Join(root, "clusters", ".rampart-write-2")
	mustWrite(t, filepath.Join(uncommitted, "0"), h+"b: 1\n")
	mustWrite(t, filepath.Join(uncommitted, "journal.tmp"), "put\t0\tclusters/dev/b.yaml\n")

	if err := write.Recover(write.OS(root)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "clusters/dev/a.yaml")); string(b) != h+"a: 2\n" {
		t.Errorf("a.yaml = %q, want the committed content", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "clusters/dev/c.yaml")); string(b) != h+"c: 1\n" {
		t.Errorf("c.yaml = %q, want the committed content", b)
	}
	for _, gone := range []string{"clusters/dev/teams/old", "clusters/dev/b.yaml", "clusters/.rampart-write-1", "clusters/.rampart-write-2"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there (err %v)", gone, err)
		}
	}
	// A journal that names a path outside clusters/ is refused.
	hostile := filepath.Join(root, "clusters", ".rampart-write-3")
	mustWrite(t, filepath.Join(hostile, "0"), "x")
	mustWrite(t, filepath.Join(hostile, "journal"), "put\t0\t../../etc/passwd\n")
	if err := write.Recover(write.OS(root)); err == nil {
		t.Error("a journal writing outside clusters/ was replayed")
	}
	// So is one that moves in a file from outside its staging directory.
	if err := os.RemoveAll(hostile); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../x", "0/../../x", "/etc/passwd", "0/", "a/1"} {
		mustWrite(t, filepath.Join(hostile, "journal"), "put\t"+name+"\tclusters/dev/d.yaml\n")
		if err := write.Recover(write.OS(root)); err == nil {
			t.Errorf("a journal staging %q was replayed", name)
		}
	}
}
