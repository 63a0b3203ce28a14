package review

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/write"
)

// newMemTree makes a tree of files (path → content), hashing each file.
func newMemTree(files map[string][]byte) *MemTree {
	byCluster := map[string]*write.Cluster{}
	for p, b := range files {
		c := byCluster[clusterOf(p)]
		if c == nil {
			c = &write.Cluster{Name: clusterOf(p), Files: map[string]*write.File{}}
			byCluster[c.Name] = c
		}
		c.Files[p] = write.Bytes(b)
	}
	t, _ := NewRenderTree(slices.Collect(maps.Values(byCluster)), nil) // contents in memory: no error to read
	return t
}

// readDirTree reads every rendered file of clusters/ under the repository root dir
// from disk: what a work tree must hold, read without git.
func readDirTree(dir string) (*MemTree, error) {
	files := map[string][]byte{}
	root := filepath.Join(dir, "clusters")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && p != root {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !rendered(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading clusters/: %w", err)
	}
	return newMemTree(files), nil
}
