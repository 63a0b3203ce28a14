// Package write puts rendered clusters on disk. It takes the encoded files of each
// cluster and gives the list of changes against what is there. Applying them renders
// into a staging directory beside the cluster's directory, links unchanged files
// (so their modification times stay as they were), then swaps the two directories in
// one step. A render that changes nothing writes nothing, and a failed render leaves
// the cluster's directory untouched.
package write

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-gitops/rampart/generator/manifest"
)

// InputFile is the hand-written file in every cluster directory; it is never pruned.
const InputFile = "cluster.yaml"

// Action is what a change does to a file.
type Action string

// Actions.
const (
	Add    Action = "add"
	Update Action = "update"
	Delete Action = "delete"
)

// Change is one file that differs between the render and the disk.
type Change struct {
	// Path is relative to the repository root, with forward slashes.
	Path   string `json:"path"`
	Action Action `json:"action"`
}

// Cluster is one cluster's encoded render: file contents by path relative to the
// repository root.
type Cluster struct {
	Name  string
	Files map[string][]byte
}

// Encode encodes a rendered cluster's files.
func Encode(c *manifest.Cluster) (*Cluster, error) {
	out := &Cluster{Name: c.Name, Files: map[string][]byte{}}
	for _, f := range c.Files {
		b, err := f.Encode()
		if err != nil {
			return nil, err
		}
		out.Files[f.Path] = b
	}
	return out, nil
}

// Diff compares the rendered clusters with the disk under root and returns the
// changes, sorted by path. Files under a cluster's directory that are not rendered are
// deletions when they carry the generated header; other files are left alone.
func Diff(root string, clusters []*Cluster) ([]Change, error) {
	var changes []Change
	for _, c := range clusters {
		cc, err := diffCluster(root, c)
		if err != nil {
			return nil, err
		}
		changes = append(changes, cc...)
	}
	slices.SortFunc(changes, func(a, b Change) int { return cmp.Compare(a.Path, b.Path) })
	return changes, nil
}

func diffCluster(root string, c *Cluster) ([]Change, error) {
	var changes []Change
	onDisk, _, err := clusterFiles(root, c.Name)
	if err != nil {
		return nil, err
	}
	for p, want := range c.Files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			changes = append(changes, Change{Path: p, Action: Add})
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", p, err)
		case !bytes.Equal(got, want):
			changes = append(changes, Change{Path: p, Action: Update})
		}
	}
	for _, p := range onDisk {
		if _, ok := c.Files[p]; !ok {
			changes = append(changes, Change{Path: p, Action: Delete})
		}
	}
	return changes, nil
}

// Rendered lists the files Rampart rendered under clusters/<name>/ (they start with
// the generated header), relative to root with forward slashes.
func Rendered(root, name string) ([]string, error) {
	rendered, _, err := clusterFiles(root, name)
	return rendered, err
}

// clusterFiles lists the regular files under clusters/<name>/, relative to root with
// forward slashes, split into those Rampart rendered (they start with the generated
// header) and those it keeps: cluster.yaml and anything hand-written.
func clusterFiles(root, name string) (rendered, kept []string, err error) {
	dir := filepath.Join(root, "clusters", name)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		generated := false
		if rel != path.Join("clusters", name, InputFile) {
			if generated, err = hasHeader(p); err != nil {
				return err
			}
		}
		if generated {
			rendered = append(rendered, rel)
		} else {
			kept = append(kept, rel)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing the files of cluster %q: %w", name, err)
	}
	return rendered, kept, nil
}

func hasHeader(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, len(manifest.Header))
	n, _ := f.Read(buf)
	return string(buf[:n]) == manifest.Header, nil
}

// Apply writes the changes of each cluster that has any, atomically per cluster.
func Apply(root string, clusters []*Cluster, changes []Change) error {
	changed := map[string]bool{}
	for _, ch := range changes {
		parts := strings.SplitN(ch.Path, "/", 3)
		if len(parts) >= 2 {
			changed[parts[1]] = true
		}
	}
	for _, c := range clusters {
		if !changed[c.Name] {
			continue
		}
		if err := applyCluster(root, c); err != nil {
			return fmt.Errorf("writing cluster %q: %w", c.Name, err)
		}
	}
	return nil
}

func applyCluster(root string, c *Cluster) (err error) {
	clustersDir := filepath.Join(root, "clusters")
	dir := filepath.Join(clustersDir, c.Name)
	staging, err := os.MkdirTemp(clustersDir, "."+c.Name+".staging-")
	if err != nil {
		return err
	}
	defer func() {
		// After a successful swap, staging holds the old tree.
		if rmErr := os.RemoveAll(staging); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	if err := os.Chmod(staging, 0o755); err != nil {
		return err
	}
	_, kept, err := clusterFiles(root, c.Name)
	if err != nil {
		return err
	}
	for _, rel := range kept {
		src := filepath.Join(root, filepath.FromSlash(rel))
		if err := link(src, filepath.Join(staging, mustRel(dir, src))); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(c.Files)) {
		want := c.Files[p]
		rel := strings.TrimPrefix(p, path.Join("clusters", c.Name)+"/")
		dst := filepath.Join(staging, filepath.FromSlash(rel))
		old := filepath.Join(dir, filepath.FromSlash(rel))
		if got, err := os.ReadFile(old); err == nil && bytes.Equal(got, want) {
			if err := link(old, dst); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, want, 0o644); err != nil {
			return err
		}
	}
	return swap(staging, dir)
}

// swap exchanges the staging and cluster directories: in one step where the kernel
// supports it (renameat2 RENAME_EXCHANGE), else with two renames.
func swap(staging, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(staging, dir); err != nil {
			return err
		}
		return os.Mkdir(staging, 0o755) // so the deferred RemoveAll has something to remove
	}
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if err == nil {
		return nil
	}
	old := staging + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(staging, dir); err != nil {
		_ = os.Rename(old, dir)
		return err
	}
	return os.Rename(old, staging)
}

// link hard-links src to dst (copying where links are not possible), so an unchanged
// file keeps its inode and modification time.
func link(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

func mustRel(base, p string) string {
	rel, err := filepath.Rel(base, p)
	if err != nil {
		return filepath.Base(p)
	}
	return rel
}

// Held returns a team's previously rendered files on a cluster, from the disk under
// root: its tenant file and its directory, as they are. A team that fails the scan
// gate keeps them (or has none, if it never rendered) while the other teams move on.
func Held(root, cluster, team string) (map[string][]byte, error) {
	rendered, err := Rendered(root, cluster)
	if err != nil {
		return nil, err
	}
	tenantFile := path.Join("clusters", cluster, "tenants", team+".yaml")
	teamDir := path.Join("clusters", cluster, "teams", team) + "/"
	out := map[string][]byte{}
	for _, p := range rendered {
		if p != tenantFile && !strings.HasPrefix(p, teamDir) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return nil, fmt.Errorf("keeping the previous output of team %q: %w", team, err)
		}
		out[p] = b
	}
	return out, nil
}
