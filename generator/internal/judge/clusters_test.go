package judge_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/judge"
)

// TestRenderedClusters judges every rendered cluster directory: the example
// clusters/ and every golden case's want/clusters/. A new layer is judged by
// the real API server the day it is rendered.
func TestRenderedClusters(t *testing.T) {
	root := repoRoot(t)
	fsys := os.DirFS(root)

	var dirs []string
	for _, pattern := range []string{
		"clusters/*",
		"generator/testdata/golden/*/want/clusters/*",
	} {
		matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if info, err := os.Stat(m); err == nil && info.IsDir() {
				rel, err := filepath.Rel(root, m)
				if err != nil {
					t.Fatal(err)
				}
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
	}

	objects := map[string][]judge.Object{}
	total := 0
	for _, dir := range dirs {
		objs, err := judge.ReadTree(fsys, dir)
		if err != nil {
			t.Fatal(err)
		}
		objects[dir] = objs
		total += len(objs)
	}
	if total == 0 {
		t.Logf("nothing to judge: no rendered objects under clusters/*/ or generator/testdata/golden/*/want/clusters/ (looked in %d directories)", len(dirs))
		return
	}

	srv := server(t)
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			if len(objects[dir]) == 0 {
				t.Skipf("no rendered objects in %s", dir)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			begin := time.Now()
			if err := srv.EnsureNamespaces(ctx, judge.PlatformNamespaces(objects[dir])); err != nil {
				t.Fatal(err)
			}
			results, err := srv.Judge(ctx, objects[dir])
			if err != nil {
				t.Fatal(err)
			}
			report(t, results)
			t.Logf("judged %d objects in %s", len(objects[dir]), time.Since(begin).Round(time.Millisecond))
		})
	}
}
