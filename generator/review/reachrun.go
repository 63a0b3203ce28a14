package review

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// ReachOptions gives each cluster's mesh settings and focus, by cluster name, and
// where the decoded files are cached.
type ReachOptions struct {
	Clusters map[string]reach.Options
	// CacheDir keeps each decoded file and each cluster's facts (empty: no cache).
	CacheDir string
	// Logger hears of a cache entry that could not be written (nil: discarded).
	Logger *slog.Logger
}

// ReachChanges evaluates the reachability of each named cluster at the base and the
// head (generator/reach, from the rendered objects) and keeps what changed.
//
// It reads as little as it can. A cluster with a focus (the teams that changed) is
// evaluated on the namespaces that flows from or to the focus can involve
// (reach.Neighbours, from each file's facts, cached by blob id per cluster) and the
// platform's files; the rest is not read. Each distinct file (by blob id) is
// decoded once for both sides, on every core, and only the documents of the kinds
// reachability reads; a file decoded by an earlier report is taken from the cache,
// and a base file the head holds unchanged is never read from the base. The two
// sides are evaluated concurrently.
func ReachChanges(ctx context.Context, base, head Tree, clusters []string, opts ReachOptions) ([]ClusterReach, error) {
	var out []ClusterReach
	d := &decoder{
		decoded: map[string][]*unstructured.Unstructured{},
		cache:   openReachCache(subdir(opts.CacheDir, "reach")),
		dir:     subdir(opts.CacheDir, "reach-facts"),
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
	}
	for _, name := range clusters {
		o := opts.Clusters[name]
		hp, bp := clusterFiles(head, name), clusterFiles(base, name)
		if len(o.Focus) > 0 {
			var err error
			if hp, bp, err = d.neighbourhood(ctx, base, head, name, hp, bp, o); err != nil {
				return nil, fmt.Errorf("reading the facts of cluster %q: %w", name, err)
			}
		}
		// The head first: a render in memory holds most of the base's files.
		if err := d.decode(ctx, head, hp); err != nil {
			return nil, fmt.Errorf("reading the render of cluster %q: %w", name, err)
		}
		if err := d.decode(ctx, base, bp); err != nil {
			return nil, fmt.Errorf("reading cluster %q at the base: %w", name, err)
		}
		var b, h *reach.Report
		var g errgroup.Group
		g.Go(func() (err error) {
			if b, err = reach.Evaluate(d.cluster(base, name, bp), o); err != nil {
				return fmt.Errorf("evaluating the reachability of cluster %q at the base: %w", name, err)
			}
			return nil
		})
		g.Go(func() (err error) {
			if h, err = reach.Evaluate(d.cluster(head, name, hp), o); err != nil {
				return fmt.Errorf("evaluating the reachability of cluster %q: %w", name, err)
			}
			return nil
		})
		if err := g.Wait(); err != nil {
			return nil, err
		}
		out = append(out, compareReach(name, b, h))
	}
	return out, nil
}

func subdir(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

// clusterFiles are the paths of the cluster's rendered files in t that reachability
// reads, sorted.
func clusterFiles(t Tree, cluster string) []string {
	var paths []string
	for _, p := range t.Paths(cluster) {
		if path.Base(p) != "kustomization.yaml" {
			paths = append(paths, p)
		}
	}
	return paths
}

// decoder holds the files decoded so far, by blob id.
type decoder struct {
	decoded map[string][]*unstructured.Unstructured
	cache   *reachCache
	// dir keeps each cluster's facts (empty: nowhere).
	dir string
	log *slog.Logger
}

// decode decodes the paths of t not decoded yet: from the cache, else read from t
// and decoded in parallel (and cached).
func (d *decoder) decode(ctx context.Context, t Tree, paths []string) error {
	blobs := t.Blobs()
	var todo []string
	seen := map[string]bool{}
	for _, p := range paths {
		if id := blobs[p]; d.decoded[id] == nil && !seen[id] {
			seen[id] = true
			todo = append(todo, p)
		}
	}
	objs := make([][]*unstructured.Unstructured, len(todo))
	hit := make([]bool, len(todo))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range todo {
		g.Go(func() error {
			objs[i], hit[i] = d.cache.get(blobs[p])
			return nil
		})
	}
	_ = g.Wait()
	var miss []string
	for i, p := range todo {
		if !hit[i] {
			miss = append(miss, p)
		}
	}
	if len(miss) > 0 {
		files, err := t.Read(ctx, miss)
		if err != nil {
			return err
		}
		for i, p := range todo {
			if hit[i] {
				continue
			}
			g.Go(func() (err error) {
				if objs[i], err = decodeReach(files[p]); err != nil {
					return fmt.Errorf("decoding %s: %w", p, err)
				}
				if err := d.cache.put(blobs[p], objs[i]); err != nil {
					d.log.Warn("reachability cache not written", "file", p, "error", err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	for i, p := range todo {
		if objs[i] == nil { // a file with nothing reachability reads: empty, not absent
			objs[i] = []*unstructured.Unstructured{}
		}
		d.decoded[blobs[p]] = objs[i]
	}
	return nil
}

// cluster is the cluster's paths in t, decoded.
func (d *decoder) cluster(t Tree, cluster string, paths []string) *manifest.Cluster {
	blobs := t.Blobs()
	c := &manifest.Cluster{Name: cluster}
	for _, p := range paths {
		layer, team := manifest.Classify(p)
		c.Files = append(c.Files, &manifest.File{Path: p, Layer: layer, Team: team, Objects: d.decoded[blobs[p]]})
	}
	return c
}

// neighbourhood narrows a focused cluster's paths at the head (hp) and the base (bp)
// to the platform's files and those of the namespaces reach.Neighbours keeps; all of
// them when it keeps every namespace. Facts come from the cluster's facts file, and
// the files it lacks are decoded and added to it.
func (d *decoder) neighbourhood(ctx context.Context, base, head Tree, cluster string, hp, bp []string, o reach.Options) ([]string, []string, error) {
	known := readFacts(d.dir, cluster)
	facts := map[string]reach.Facts{} // blob id → facts, of this cluster's files now
	for _, side := range []struct {
		t     Tree
		paths []string
	}{{head, hp}, {base, bp}} {
		blobs := side.t.Blobs()
		var miss []string
		for _, p := range side.paths {
			id := blobs[p]
			if _, ok := facts[id]; ok {
				continue
			}
			if f, ok := known[id]; ok {
				facts[id] = f
				continue
			}
			miss = append(miss, p)
			facts[id] = nil
		}
		if err := d.decode(ctx, side.t, miss); err != nil {
			return nil, nil, err
		}
		got := make([]reach.Facts, len(miss))
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i, p := range miss {
			g.Go(func() (err error) {
				if got[i], err = reach.FileFacts(d.decoded[blobs[p]], o); err != nil {
					return fmt.Errorf("reading %s: %w", p, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, nil, err
		}
		for i, p := range miss {
			facts[blobs[p]] = got[i]
		}
	}
	if len(facts) != len(known) || !sameKeys(facts, known) {
		if err := writeFacts(d.dir, cluster, facts); err != nil {
			d.log.Warn("reachability facts not written", "cluster", cluster, "error", err)
		}
	}
	revision := func(t Tree, paths []string) []reach.Facts {
		out := make([]reach.Facts, len(paths))
		for i, p := range paths {
			out[i] = facts[t.Blobs()[p]]
		}
		return out
	}
	keep, all := reach.Neighbours(o.Focus, [][]reach.Facts{revision(head, hp), revision(base, bp)}, o)
	if all {
		return hp, bp, nil
	}
	narrow := func(t Tree, paths []string) []string {
		var out []string
		for _, p := range paths {
			if _, team := manifest.Classify(p); team == "" {
				out = append(out, p) // the platform's files, always
				continue
			}
			for ns := range facts[t.Blobs()[p]] {
				if _, ok := slices.BinarySearch(keep, ns); ok {
					out = append(out, p)
					break
				}
			}
		}
		return out
	}
	return narrow(head, hp), narrow(base, bp), nil
}

func sameKeys[V any](a, b map[string]V) bool {
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
