package review

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-gitops/rampart/generator/gitcli"
	"github.com/rampart-gitops/rampart/generator/write"
)

// Tree is a rendered tree: the files under clusters/ with their git blob ids, and a
// way to read some of them.
type Tree interface {
	// Blobs maps each file's path (relative to the repository root) to its blob id.
	Blobs() map[string]string
	// Read returns the content of the paths asked for.
	Read(ctx context.Context, paths []string) (map[string][]byte, error)
	// Paths are the tree's paths under clusters/<cluster>/, sorted.
	Paths(cluster string) []string
}

// pathIndex lists a tree's paths by cluster, once: a report on a large fleet asks
// for one cluster's files many times, of trees with every cluster's.
type pathIndex struct {
	once      sync.Once
	byCluster map[string][]string
}

func (x *pathIndex) paths(blobs map[string]string, cluster string) []string {
	x.once.Do(func() {
		x.byCluster = map[string][]string{}
		for p := range blobs {
			c := clusterOf(p)
			x.byCluster[c] = append(x.byCluster[c], p)
		}
		for _, l := range x.byCluster {
			slices.Sort(l)
		}
	})
	return x.byCluster[cluster]
}

// rendered says whether a path under clusters/ is rendered output: not a cluster's
// hand-written cluster.yaml or Flux's own flux-system/ files.
func rendered(p string) bool {
	rest, ok := strings.CutPrefix(p, "clusters/")
	if !ok {
		return false
	}
	if _, rest, ok = strings.Cut(rest, "/"); !ok { // past the cluster's name
		return false
	}
	top, _, nested := strings.Cut(rest, "/")
	if !nested && top == "cluster.yaml" {
		return false
	}
	return top != "flux-system" && strings.HasSuffix(p, ".yaml")
}

// GitTree is the rendered tree committed at a revision.
type GitTree struct {
	pathIndex
	repo  *gitcli.Repo
	blobs map[string]string
	// Commit is the revision's commit id.
	Commit string
}

// OpenGitTree lists clusters/ at rev in the repository at dir (one `git ls-tree`).
func OpenGitTree(ctx context.Context, dir, rev string) (*GitTree, error) {
	repo := &gitcli.Repo{Dir: dir}
	commit, err := repo.RevParse(ctx, rev)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: not a commit in %s: %w", rev, dir, err)
	}
	all, err := repo.Tree(ctx, commit, "clusters")
	if err != nil {
		return nil, fmt.Errorf("listing clusters/ at %s: %w", rev, err)
	}
	blobs := map[string]string{}
	for p, id := range all {
		if rendered(p) {
			blobs[p] = id
		}
	}
	return &GitTree{repo: repo, blobs: blobs, Commit: commit}, nil
}

// Blobs implements Tree.
func (t *GitTree) Blobs() map[string]string { return t.blobs }

// Paths implements Tree.
func (t *GitTree) Paths(cluster string) []string { return t.paths(t.blobs, cluster) }

// Read implements Tree with one `git cat-file --batch`.
func (t *GitTree) Read(ctx context.Context, paths []string) (map[string][]byte, error) {
	ids := make([]string, 0, len(paths))
	for _, p := range paths {
		id, ok := t.blobs[p]
		if !ok {
			return nil, fmt.Errorf("reading %s at %s: not in the tree", p, short(t.Commit))
		}
		ids = append(ids, id)
	}
	byID, err := t.repo.Blobs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("reading clusters/ at %s: %w", short(t.Commit), err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		out[p] = byID[t.blobs[p]]
	}
	return out, nil
}

// MemTree is a tree held in memory: a render that was not written. Its files'
// contents are read only when asked for (a render's cached files stay in the cache).
type MemTree struct {
	pathIndex
	// files are the files by cluster, then path: a render's own maps, not copied.
	files map[string]map[string]*write.File
	blobs map[string]string
}

// NewRenderTree makes a tree of a render's clusters, each cluster on a core. A
// file's blob id is taken from ids (by its SHA-256) when known there; the others
// are read, hashed and added to ids.
func NewRenderTree(clusters []*write.Cluster, ids *BlobIDs) (*MemTree, error) {
	type listed struct {
		paths, ids []string // the cluster's rendered files, sorted, and their blob ids
		own        bool     // every path is under clusters/<the cluster's name>/
	}
	lists := make([]listed, len(clusters))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, c := range clusters {
		g.Go(func() error {
			l := listed{own: true}
			for p := range c.Files {
				if rendered(p) {
					l.paths = append(l.paths, p)
					l.own = l.own && clusterOf(p) == c.Name
				}
			}
			slices.Sort(l.paths)
			l.ids = make([]string, len(l.paths))
			for j, p := range l.paths {
				f := c.Files[p]
				id, ok := ids.get(f.Sum)
				if !ok {
					b, err := f.Data()
					if err != nil {
						return fmt.Errorf("reading the render of %s: %w", p, err)
					}
					id = gitcli.BlobID(b)
					ids.put(f.Sum, id)
				}
				l.ids[j] = id
			}
			lists[i] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	n := 0
	for _, l := range lists {
		n += len(l.paths)
	}
	t := &MemTree{files: make(map[string]map[string]*write.File, len(clusters)), blobs: make(map[string]string, n)}
	index := map[string][]string{}
	for i, c := range clusters {
		l := lists[i]
		for j, p := range l.paths {
			t.blobs[p] = l.ids[j]
		}
		if t.files[c.Name] != nil {
			t.files[fmt.Sprintf("%s\x00%d", c.Name, i)] = c.Files // a name given twice
		} else {
			t.files[c.Name] = c.Files
		}
		if !l.own || index[c.Name] != nil {
			index = nil // not a render's layout: the index is made when asked
		}
		if index != nil && len(l.paths) > 0 {
			index[c.Name] = l.paths
		}
	}
	if index != nil {
		t.once.Do(func() { t.byCluster = index })
	}
	return t, nil
}

// Blobs implements Tree.
func (t *MemTree) Blobs() map[string]string { return t.blobs }

// Paths implements Tree.
func (t *MemTree) Paths(cluster string) []string { return t.paths(t.blobs, cluster) }

// Read implements Tree.
func (t *MemTree) Read(_ context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		f, ok := t.file(p)
		if !ok {
			return nil, fmt.Errorf("reading %s: not in the render", p)
		}
		b, err := f.Data()
		if err != nil {
			return nil, fmt.Errorf("reading the render of %s: %w", p, err)
		}
		out[p] = b
	}
	return out, nil
}

// WorkTree is clusters/ on disk (what `rampart render` wrote, committed or not),
// known by what git says differs from a base: only those files are read and
// hashed, the others are the base's blobs, read from disk when asked.
type WorkTree struct {
	pathIndex
	dir     string
	blobs   map[string]string
	changed map[string][]byte
}

// OpenWorkTree opens clusters/ on disk in the repository at dir against base (a
// tree listed at a commit). Files git ignores are not the working tree's: they
// cannot be committed.
func OpenWorkTree(ctx context.Context, dir string, base *GitTree) (*WorkTree, error) {
	paths, err := workChanges(ctx, dir, base.Commit)
	if err != nil {
		return nil, err
	}
	return newWorkTree(dir, base, paths)
}

// workChanges are the paths under clusters/ in the repository at dir that may
// differ on disk from the commit.
func workChanges(ctx context.Context, dir, commit string) ([]string, error) {
	paths, err := (&gitcli.Repo{Dir: dir}).WorkChanges(ctx, commit, "clusters")
	if err != nil {
		return nil, fmt.Errorf("listing the changes to clusters/ on disk: %w", err)
	}
	return paths, nil
}

// newWorkTree is the work tree whose paths that may differ from base are paths.
func newWorkTree(dir string, base *GitTree, paths []string) (*WorkTree, error) {
	t := &WorkTree{dir: dir, blobs: maps.Clone(base.blobs), changed: map[string][]byte{}}
	for _, p := range paths {
		if !rendered(p) || hidden(p) {
			continue
		}
		b, err := t.readDisk(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			delete(t.blobs, p)
		case err != nil:
			return nil, fmt.Errorf("reading clusters/: %w", err)
		default:
			t.blobs[p], t.changed[p] = gitcli.BlobID(b), b
		}
	}
	return t, nil
}

// hidden says whether a path under clusters/ is in a directory whose name starts
// with a dot, which a render never writes.
func hidden(p string) bool {
	dir, _ := path.Split(strings.TrimPrefix(p, "clusters/"))
	return strings.HasPrefix(dir, ".") || strings.Contains(dir, "/.")
}

// Blobs implements Tree.
func (t *WorkTree) Blobs() map[string]string { return t.blobs }

// Paths implements Tree.
func (t *WorkTree) Paths(cluster string) []string { return t.paths(t.blobs, cluster) }

// Read implements Tree.
func (t *WorkTree) Read(_ context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		if _, ok := t.blobs[p]; !ok {
			return nil, fmt.Errorf("reading %s: not in the working tree", p)
		}
		if b, ok := t.changed[p]; ok {
			out[p] = b
			continue
		}
		b, err := t.readDisk(p)
		if err != nil {
			return nil, fmt.Errorf("reading clusters/: %w", err)
		}
		out[p] = b
	}
	return out, nil
}

// readDisk reads the file at p (relative to the repository root) from disk.
func (t *WorkTree) readDisk(p string) ([]byte, error) {
	return os.ReadFile(filepath.Join(t.dir, filepath.FromSlash(p)))
}

// file is the rendered file at p.
func (t *MemTree) file(p string) (*write.File, bool) {
	if _, ok := t.blobs[p]; !ok {
		return nil, false // not rendered output
	}
	if f, ok := t.files[clusterOf(p)][p]; ok {
		return f, true
	}
	for _, files := range t.files { // a cluster named otherwise than its paths
		if f, ok := files[p]; ok {
			return f, true
		}
	}
	return nil, false
}

// clusterOf is the cluster a rendered path belongs to.
func clusterOf(p string) string {
	_, rest, ok := strings.Cut(p, "/")
	if !ok {
		return ""
	}
	c, _, _ := strings.Cut(rest, "/")
	return c
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// onlyClusters is a tree restricted to some clusters.
type onlyClusters struct {
	Tree
	pathIndex
	blobs map[string]string
}

// Only restricts a tree to the named clusters (all of them when none are named), for
// a run that renders one shard.
func Only(t Tree, clusters []string) Tree {
	if len(clusters) == 0 {
		return t
	}
	keep := map[string]bool{}
	for _, c := range clusters {
		keep[c] = true
	}
	blobs := map[string]string{}
	for c := range keep {
		for _, p := range t.Paths(c) {
			blobs[p] = t.Blobs()[p]
		}
	}
	return &onlyClusters{Tree: t, blobs: blobs}
}

func (t *onlyClusters) Blobs() map[string]string { return t.blobs }

// Paths implements Tree.
func (t *onlyClusters) Paths(cluster string) []string { return t.paths(t.blobs, cluster) }
