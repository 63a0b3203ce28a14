package generator_test

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rampart-gitops/rampart/generator"
)

// TestCancelledRunWritesNothing: a cancelled run (Ctrl-C) stops and leaves the output
// as it was.
func TestCancelledRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := generator.Generate(ctx, generator.Options{Dir: dir, FS: os.DirFS(".."), Mode: generator.Render, Scan: generator.ScanOptions{Skip: true}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a cancelled run wrote %d entries", len(entries))
	}
}

// TestParallelRenderIsDeterministic: one worker or many, the same bytes.
func TestParallelRenderIsDeterministic(t *testing.T) {
	var first map[string][]byte
	for _, workers := range []int{1, 2, 8} {
		res, err := generator.Generate(context.Background(), generator.Options{FS: os.DirFS(".."), Mode: generator.Validate, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, c := range res.Clusters {
			contents, err := c.Contents()
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(files, contents)
		}
		if first == nil {
			first = files
			continue
		}
		if !equalFiles(first, files) {
			t.Fatalf("%d workers render other bytes than 1", workers)
		}
	}
}

// TestMemoryModeLeavesTheDiskAlone: an in-memory run (what a report renders) scans and
// renders the same bytes as a check, lists no change and writes nothing, even where
// the disk differs.
func TestMemoryModeLeavesTheDiskAlone(t *testing.T) {
	dir := t.TempDir()
	opts := generator.Options{Dir: dir, FS: os.DirFS(".."), Scan: generator.ScanOptions{Skip: true}}
	opts.Mode = generator.Check
	check, err := generator.Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Changes) == 0 {
		t.Fatal("a check against an empty directory lists no change")
	}
	opts.Mode = generator.Memory
	mem, err := generator.Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(mem.Changes) != 0 {
		t.Errorf("an in-memory run listed %d changes", len(mem.Changes))
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an in-memory run wrote clusters/ (%v)", err)
	}
	contents := func(r *generator.Result) map[string][]byte {
		files := map[string][]byte{}
		for _, c := range r.Clusters {
			cf, err := c.Contents()
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(files, cf)
		}
		return files
	}
	if !equalFiles(contents(check), contents(mem)) {
		t.Error("an in-memory run renders other bytes than a check")
	}
}

// TestRuntimeEntryRendersWhatTeamEntryDid: the Falco rules from lib/runtime.jsonnet
// (evaluated once per distinct projection of the cluster) are byte for byte those
// team.jsonnet renders when it returns the rules itself for every cluster; a lib/ that
// does both is refused, naming both files.
func TestRuntimeEntryRendersWhatTeamEntryDid(t *testing.T) {
	render := func(fsys fs.FS) (map[string][]byte, error) {
		res, err := generator.Generate(context.Background(), generator.Options{FS: fsys, Mode: generator.Validate})
		if err != nil {
			return nil, err
		}
		files := map[string][]byte{}
		for _, c := range res.Clusters {
			contents, err := c.Contents()
			if err != nil {
				return nil, err
			}
			maps.Copy(files, contents)
		}
		return files, nil
	}
	shared, err := render(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	team, err := os.ReadFile("../lib/team.jsonnet")
	if err != nil {
		t.Fatal(err)
	}
	// team.jsonnet returning the rules for each unit, as before runtime.jsonnet.
	withRules := strings.Replace(string(team), "  {\n    tenant:", "  {\n    runtime: (import 'runtime.libsonnet').rules(team, cluster, intents),\n    tenant:", 1)
	if withRules == string(team) {
		t.Fatal("lib/team.jsonnet changed shape; update the test's edit")
	}
	perUnit := overlay{FS: os.DirFS(".."), files: map[string][]byte{"lib/team.jsonnet": []byte(withRules)}, hidden: "lib/runtime.jsonnet"}
	got, err := render(perUnit)
	if err != nil {
		t.Fatal(err)
	}
	if !equalFiles(shared, got) {
		t.Errorf("the rules per unit differ from runtime.jsonnet's: %v", union(shared, got))
	}
	both := overlay{FS: os.DirFS(".."), files: perUnit.files}
	if _, err := render(both); err == nil || !strings.Contains(err.Error(), "lib/team.jsonnet returns runtime") || !strings.Contains(err.Error(), "lib/runtime.jsonnet") {
		t.Errorf("team.jsonnet and runtime.jsonnet both rendering the rules: error %v", err)
	}
}

// overlay is a file system with some files replaced and one hidden.
type overlay struct {
	fs.FS
	files  map[string][]byte
	hidden string
}

func (o overlay) Open(name string) (fs.File, error) {
	if name == o.hidden {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if b, ok := o.files[name]; ok {
		return fstest.MapFS{name: {Data: b}}.Open(name)
	}
	f, err := o.FS.Open(name)
	if err != nil || o.hidden == "" || path.Dir(o.hidden) != name {
		return f, err
	}
	return hidingDir{File: f, hidden: path.Base(o.hidden)}, nil
}

// hidingDir is a directory that does not list one of its entries.
type hidingDir struct {
	fs.File
	hidden string
}

func (d hidingDir) ReadDir(n int) ([]fs.DirEntry, error) {
	entries, err := d.File.(fs.ReadDirFile).ReadDir(n)
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == d.hidden }), err
}
