// Package write puts rendered clusters on disk. It takes the encoded files of each
// cluster and gives the list of changes against what is there, then applies them.
//
// Applying is all or nothing, and costs what changed, not what is there: the new
// files are written into a staging directory under clusters/ first; only when every
// one is written does a journal, renamed into place in one step, commit the run; the
// journal's renames and removals then move them in. A run that fails before the
// commit leaves the disk as it was; one that stops after it (a crash, a kill) is
// finished by the next run's Recover. A render that changes nothing writes nothing,
// and files that did not change keep their modification times.
//
// Diff does not read what it need not: State remembers, per file it wrote or
// compared, its size, times and inode and the digest of its content, so a file whose
// stat still matches is known unchanged without reading it (the way git's index
// knows a clean work tree).
package write

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// File is one encoded file: the digest of its content, and the content itself, held
// or read each time it is asked for (a file known to be on disk as it is is never
// read, and one read to be written is not kept after).
type File struct {
	// Sum is the SHA-256 of the content.
	Sum  [sha256.Size]byte
	data []byte
	load func() ([]byte, error)
}

// Bytes is a file with content b.
func Bytes(b []byte) *File {
	return &File{Sum: sha256.Sum256(b), data: b}
}

// Lazy is a file whose content, of digest sum, load reads whenever it is needed; load
// must give the same bytes each time, and may be called concurrently.
func Lazy(sum [sha256.Size]byte, load func() ([]byte, error)) *File {
	return &File{Sum: sum, load: load}
}

// Data is the file's content.
func (f *File) Data() ([]byte, error) {
	if f.load == nil {
		return f.data, nil
	}
	return f.load()
}

// Cluster is one cluster's encoded render: its files by path relative to the
// repository root.
type Cluster struct {
	Name  string
	Files map[string]*File
}

// NewCluster is a cluster of the given contents.
func NewCluster(name string, files map[string][]byte) *Cluster {
	c := &Cluster{Name: name, Files: make(map[string]*File, len(files))}
	for p, b := range files {
		c.Files[p] = Bytes(b)
	}
	return c
}

// Contents reads every file of the cluster: its contents by path.
func (c *Cluster) Contents() (map[string][]byte, error) {
	out := make(map[string][]byte, len(c.Files))
	for p, f := range c.Files {
		b, err := f.Data()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out[p] = b
	}
	return out, nil
}

// Encode encodes a rendered cluster's files.
func Encode(c *manifest.Cluster) (*Cluster, error) {
	out := &Cluster{Name: c.Name, Files: map[string]*File{}}
	for _, f := range c.Files {
		b, err := f.Encode()
		if err != nil {
			return nil, err
		}
		out.Files[f.Path] = Bytes(b)
	}
	return out, nil
}

// Diff compares the rendered clusters with the disk and returns the changes, sorted
// by path. Files under a cluster's directory that are not rendered are deletions when
// they carry the generated header; other files are left alone. state (nil: none)
// vouches for files on disk as they were, and learns the files Diff read.
func Diff(disk FS, clusters []*Cluster, state *State) ([]Change, error) {
	per := make([][]Change, len(clusters))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, c := range clusters {
		g.Go(func() (err error) {
			per[i], err = diffCluster(disk, c, state)
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

func diffCluster(disk FS, c *Cluster, state *State) ([]Change, error) {
	var changes []Change
	onDisk, _, err := clusterFiles(disk, c.Name, c.Files)
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(onDisk))
	for _, p := range onDisk {
		present[p] = true
	}
	for p, f := range c.Files {
		if !present[p] {
			changes = append(changes, Change{Path: p, Action: Add})
			continue
		}
		if state.Unchanged(disk, p, f.Sum) {
			continue
		}
		want, err := f.Data()
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", p, err)
		}
		got, err := fs.ReadFile(disk, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if !bytes.Equal(got, want) {
			changes = append(changes, Change{Path: p, Action: Update})
			continue
		}
		state.record(disk, p, f.Sum)
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
func clusterFiles(disk FS, name string, rendering map[string]*File) (rendered, kept []string, err error) {
	files, err := regularFiles(disk, path.Join("clusters", name))
	if err != nil {
		return nil, nil, fmt.Errorf("listing the files of cluster %q: %w", name, err)
	}
	input := path.Join("clusters", name, InputFile)
	for _, rel := range files {
		_, generated := rendering[rel]
		if !generated && rel != input {
			if generated, err = hasHeader(disk, rel); err != nil {
				return nil, nil, fmt.Errorf("listing the files of cluster %q: %w", name, err)
			}
		}
		if generated {
			rendered = append(rendered, rel)
		} else {
			kept = append(kept, rel)
		}
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

// stagingPrefix names the staging directories under clusters/.
const stagingPrefix = ".rampart-write-"

// stagingBuckets is how many directories a write stages its files in.
const stagingBuckets = 64

// stagedName reports whether a journal names a staged file as Apply does: a bucket
// and a number ("3/67"), or a number alone (as an earlier Rampart did).
func stagedName(s string) bool {
	bucket, n, ok := strings.Cut(s, "/")
	if !ok {
		bucket, n = "0", s
	}
	return decimal(bucket) && decimal(n)
}

// decimal reports whether s is a non-empty string of ASCII digits.
func decimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// journalName is the file whose arrival in a staging directory commits its run.
const journalName = "journal"

// Apply writes the changes: every new file into a staging directory, then the
// journal that commits them, then the journal's renames and removals. A failure
// before the commit leaves the disk as it was (and removes the staging directory); a
// run stopped after it is finished by Recover. state (nil: none) learns the files
// written.
func Apply(disk FS, clusters []*Cluster, changes []Change, state *State) (err error) {
	if len(changes) == 0 {
		return nil
	}
	if err := disk.MkdirAll("clusters"); err != nil {
		return err
	}
	files := map[string]*File{}
	for _, c := range clusters {
		for p, f := range c.Files {
			files[p] = f
		}
	}
	staging, err := disk.MkdirTemp("clusters", stagingPrefix)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			if rmErr := disk.RemoveAll(staging); rmErr != nil && err == nil {
				err = rmErr
			}
		}
	}()
	for _, ch := range changes {
		if !strings.HasPrefix(ch.Path, "clusters/") || strings.ContainsAny(ch.Path, "\t\n") {
			return fmt.Errorf("refusing to write %q: not a file under clusters/", ch.Path)
		}
		if _, ok := files[ch.Path]; !ok && ch.Action != Delete {
			return fmt.Errorf("writing %s: the render has no such file", ch.Path)
		}
	}
	// The files are staged in buckets, consecutive files in different ones: creating
	// a file locks its directory, and with one directory the writers queued on it
	// (the kernel spins on the lock: a third of a large cold write's system time).
	buckets := min(stagingBuckets, len(changes))
	for b := range buckets {
		if err := disk.MkdirAll(path.Join(staging, strconv.Itoa(b))); err != nil {
			return err
		}
	}
	var journal strings.Builder
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, ch := range changes {
		if ch.Action == Delete {
			fmt.Fprintf(&journal, "delete\t%s\n", ch.Path)
			continue
		}
		f := files[ch.Path]
		name := strconv.Itoa(i%buckets) + "/" + strconv.Itoa(i)
		fmt.Fprintf(&journal, "put\t%s\t%s\n", name, ch.Path)
		g.Go(func() error {
			b, err := f.Data()
			if err != nil {
				return fmt.Errorf("rendering %s: %w", ch.Path, err)
			}
			return disk.WriteFile(path.Join(staging, name), b)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// The commit: the journal appears whole, in one rename, or not at all.
	if err := disk.WriteFile(path.Join(staging, journalName+".tmp"), []byte(journal.String())); err != nil {
		return err
	}
	if err := disk.Rename(path.Join(staging, journalName+".tmp"), path.Join(staging, journalName)); err != nil {
		return err
	}
	committed = true
	if err := replay(disk, staging); err != nil {
		return fmt.Errorf("finishing the write (the next render finishes it): %w", err)
	}
	for _, ch := range changes {
		if ch.Action == Delete {
			state.forget(ch.Path)
		} else {
			state.record(disk, ch.Path, files[ch.Path].Sum)
		}
	}
	return nil
}

// Recover finishes a write that was committed but stopped before it was done, and
// removes what an uncommitted one left. Run it before Diff.
func Recover(disk FS) error {
	entries, err := fs.ReadDir(disk, "clusters")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		staging := path.Join("clusters", e.Name())
		if _, err := fs.Stat(disk, path.Join(staging, journalName)); err == nil {
			if err := replay(disk, staging); err != nil {
				return fmt.Errorf("finishing an interrupted write: %w", err)
			}
			continue
		}
		if err := disk.RemoveAll(staging); err != nil {
			return err
		}
	}
	return nil
}

// replay carries out a committed staging directory's journal — each step can be
// done again without harm — and removes the directory.
func replay(disk FS, staging string) error {
	b, err := fs.ReadFile(disk, path.Join(staging, journalName))
	if err != nil {
		return err
	}
	type put struct{ from, to string }
	var puts []put
	var deletes []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case len(f) == 3 && f[0] == "put" && stagedName(f[1]) && strings.HasPrefix(f[2], "clusters/"):
			puts = append(puts, put{path.Join(staging, f[1]), f[2]})
		case len(f) == 2 && f[0] == "delete" && strings.HasPrefix(f[1], "clusters/"):
			deletes = append(deletes, f[1])
		default:
			return fmt.Errorf("%s: malformed journal line %q", staging, line)
		}
	}
	var mu sync.Mutex
	made := map[string]bool{}
	mkdir := func(dir string) error {
		mu.Lock()
		done := made[dir]
		mu.Unlock()
		if done {
			return nil
		}
		if err := disk.MkdirAll(dir); err != nil {
			return err
		}
		mu.Lock()
		made[dir] = true
		mu.Unlock()
		return nil
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, p := range puts {
		g.Go(func() error {
			if _, err := fs.Stat(disk, p.from); errors.Is(err, fs.ErrNotExist) {
				return nil // moved in before the stop
			}
			if err := mkdir(path.Dir(p.to)); err != nil {
				return err
			}
			return disk.Rename(p.from, p.to)
		})
	}
	for _, p := range deletes {
		g.Go(func() error {
			if err := disk.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// A pruned team leaves its directory empty: remove empty directories up to the
	// cluster's own.
	for _, p := range deletes {
		for dir := path.Dir(p); strings.Count(dir, "/") >= 2; dir = path.Dir(dir) {
			if entries, err := fs.ReadDir(disk, dir); err != nil || len(entries) > 0 {
				break
			}
			if err := disk.Remove(dir); err != nil {
				break
			}
		}
	}
	return disk.RemoveAll(staging)
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
