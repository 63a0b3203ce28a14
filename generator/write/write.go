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
	"io"
	"io/fs"
	"maps"
	"path"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

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

// Diff compares the rendered clusters with the disk and returns the changes, sorted
// by path. Files under a cluster's directory that are not rendered are deletions when
// they carry the generated header; other files are left alone.
func Diff(disk FS, clusters []*Cluster) ([]Change, error) {
	per := make([][]Change, len(clusters))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, c := range clusters {
		g.Go(func() (err error) {
			per[i], err = diffCluster(disk, c)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var changes []Change
	for _, cc := range per {
		changes = append(changes, cc...)
	}
	slices.SortFunc(changes, func(a, b Change) int { return cmp.Compare(a.Path, b.Path) })
	return changes, nil
}

func diffCluster(disk FS, c *Cluster) ([]Change, error) {
	var changes []Change
	onDisk, _, err := clusterFiles(disk, c.Name, c.Files)
	if err != nil {
		return nil, err
	}
	for p, want := range c.Files {
		got, err := fs.ReadFile(disk, p)
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
// the generated header).
func Rendered(disk FS, name string) ([]string, error) {
	rendered, _, err := clusterFiles(disk, name, nil)
	return rendered, err
}

// clusterFiles lists the regular files under clusters/<name>/, split into those
// Rampart rendered (they start with the generated header) and those it keeps:
// cluster.yaml and anything hand-written. A path the render writes (in rendering) is
// Rampart's without looking: its content is compared or replaced anyway.
func clusterFiles(disk FS, name string, rendering map[string][]byte) (rendered, kept []string, err error) {
	dir := path.Join("clusters", name)
	err = fs.WalkDir(disk, dir, func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		_, generated := rendering[rel]
		if !generated && rel != path.Join("clusters", name, InputFile) {
			if generated, err = hasHeader(disk, rel); err != nil {
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

func hasHeader(disk FS, p string) (bool, error) {
	f, err := disk.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, len(manifest.Header))
	n, _ := io.ReadFull(f, buf)
	return string(buf[:n]) == manifest.Header, nil
}

// Apply writes the changes of each cluster that has any, atomically per cluster:
// each is rendered into a staging directory beside it and swapped in one step, so a
// failure leaves the cluster's directory as it was.
func Apply(disk FS, clusters []*Cluster, changes []Change) error {
	if err := disk.MkdirAll("clusters"); err != nil {
		return err
	}
	changed := map[string]map[string]bool{} // cluster → changed paths
	for _, ch := range changes {
		parts := strings.SplitN(ch.Path, "/", 3)
		if len(parts) >= 2 {
			if changed[parts[1]] == nil {
				changed[parts[1]] = map[string]bool{}
			}
			changed[parts[1]][ch.Path] = true
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, c := range clusters {
		if changed[c.Name] == nil {
			continue
		}
		g.Go(func() error {
			if err := applyCluster(disk, c, changed[c.Name]); err != nil {
				return fmt.Errorf("writing cluster %q: %w", c.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// applyCluster writes one cluster into a staging directory, the files in changed
// anew and every other file as a link to the one on disk, and swaps it in.
func applyCluster(disk FS, c *Cluster, changed map[string]bool) (err error) {
	dir := path.Join("clusters", c.Name)
	staging, err := disk.MkdirTemp("clusters", "."+c.Name+".staging-")
	if err != nil {
		return err
	}
	defer func() {
		// After a successful swap, staging holds the old tree.
		if rmErr := disk.RemoveAll(staging); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	_, kept, err := clusterFiles(disk, c.Name, c.Files)
	if err != nil {
		return err
	}
	made := map[string]bool{}
	place := func(rel string) (string, error) {
		dst := path.Join(staging, rel)
		if dir := path.Dir(dst); !made[dir] {
			if err := disk.MkdirAll(dir); err != nil {
				return "", err
			}
			made[dir] = true
		}
		return dst, nil
	}
	for _, p := range kept {
		dst, err := place(strings.TrimPrefix(p, dir+"/"))
		if err != nil {
			return err
		}
		if err := disk.Link(p, dst); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(c.Files)) {
		want := c.Files[p]
		dst, err := place(strings.TrimPrefix(p, dir+"/"))
		if err != nil {
			return err
		}
		if !changed[p] {
			if err := disk.Link(p, dst); err != nil {
				return err
			}
			continue
		}
		if err := disk.WriteFile(dst, want); err != nil {
			return err
		}
	}
	return disk.Swap(staging, dir)
}

// Held returns a team's previously rendered files on a cluster, from the disk: its
// tenant file and its directory, as they are. A team that fails the scan gate keeps
// them (or has none, if it never rendered) while the other teams move on.
func Held(disk FS, cluster, team string) (map[string][]byte, error) {
	out := map[string][]byte{}
	keep := func(p string) error {
		generated, err := hasHeader(disk, p)
		if err != nil || !generated {
			return err
		}
		b, err := fs.ReadFile(disk, p)
		if err != nil {
			return err
		}
		out[p] = b
		return nil
	}
	tenantFile := path.Join("clusters", cluster, "tenants", team+".yaml")
	err := keep(tenantFile)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err == nil {
		err = fs.WalkDir(disk, path.Join("clusters", cluster, "teams", team), func(p string, d fs.DirEntry, err error) error {
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil
			case err != nil:
				return err
			case d.Type().IsRegular():
				return keep(p)
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("keeping the previous output of team %q: %w", team, err)
	}
	return out, nil
}
