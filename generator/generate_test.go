package generator_test

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

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
