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
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// ReachOptions gives each cluster's mesh settings, by cluster name, and where the
// decoded files are cached.
type ReachOptions struct {
	// Clusters are the clusters' mesh settings; their Focus is ReachChanges' own.
	Clusters map[string]reach.Options
	// Whole evaluates every changed cluster in full, without a focus: what the
	// focused evaluation must agree with.
	Whole bool
	// Changed are the paths whose blob ids differ between the trees (ChangedFiles),
	// when the caller has them; nil: ReachChanges lists them.
	Changed []string
	// CacheDir keeps each decoded file and each cluster's facts (empty: no cache).
	CacheDir string
	// Logger hears of a cache entry that could not be written (nil: discarded).
	Logger *slog.Logger
}

// ReachChanges evaluates the reachability of each named cluster at the base and the
// head (generator/reach, from the rendered objects) and keeps what changed.
//
// It reads as little as it can. Only the teams whose files changed for reachability
// can gain or lose a flow, so they are a cluster's focus, unless a platform file
// changed for reachability (its policies may apply to every namespace: the cluster
// is evaluated whole). A changed file that holds the same for reachability (a
// Falco rules shard, a Deployment's image) widens nothing. A cluster with a focus
// is evaluated on the namespaces that flows from or to the focus can involve
// (reach.Neighbours, from each file's facts, cached by blob id per cluster) and the
// platform's files; the rest is not read. Each distinct file (by blob id) is
// decoded once, into reachability's types, for both sides and every cluster, on
// every core, and only the documents of the kinds reachability reads; a file
// decoded by an earlier report is taken from the cache, and a base file the head
// holds unchanged is never read from the base. A cluster whose changed files hold
// the same for reachability (unchanged) is not evaluated; the others' two sides
// are evaluated on every core, sharing the decoded files.
func ReachChanges(ctx context.Context, base, head Tree, clusters []string, opts ReachOptions) ([]ClusterReach, error) {
	d := &decoder{
		decoded: map[string]*reach.File{},
		cache:   openReachCache(subdir(opts.CacheDir, "reach")),
		dir:     subdir(opts.CacheDir, "reach-facts"),
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
	}
	differ := opts.Changed
	if differ == nil {
		differ = ChangedFiles(base, head)
	}
	differs := objectFilesByCluster(differ)
	out := make([]ClusterReach, len(clusters))
	// changed are the clusters whose change reachability reads; ros the clusters'
	// options, with their focus.
	var changed []int
	ros := make([]reach.Options, len(clusters))
	for i, name := range clusters {
		out[i] = ClusterReach{Cluster: name}
		differ, err := d.differing(ctx, base, head, differs[name])
		if err != nil {
			return nil, fmt.Errorf("reading the changed files of cluster %q: %w", name, err)
		}
		ros[i] = opts.Clusters[name]
		ros[i].Focus = nil
		if len(differ) > 0 {
			changed = append(changed, i)
			if !opts.Whole {
				ros[i].Focus = teamsOf(differ)
			}
		}
	}
	// The clusters' neighbourhoods, on every core.
	hps, bps := make([][]string, len(clusters)), make([][]string, len(clusters))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range changed {
		g.Go(func() error {
			name, o := clusters[i], ros[i]
			hps[i], bps[i] = clusterFiles(head, name), clusterFiles(base, name)
			files := len(hps[i])
			if len(o.Focus) > 0 {
				var err error
				if hps[i], bps[i], err = d.neighbourhood(ctx, base, head, name, hps[i], bps[i], o); err != nil {
					return fmt.Errorf("reading the facts of cluster %q: %w", name, err)
				}
			}
			d.log.Debug("reachability to evaluate", "cluster", name, "focus", o.Focus, "files", len(hps[i]), "of", files)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The head first: a render in memory holds most of the base's files.
	if err := d.decode(ctx, head, slices.Concat(hps...)); err != nil {
		return nil, fmt.Errorf("reading the render: %w", err)
	}
	if err := d.decode(ctx, base, slices.Concat(bps...)); err != nil {
		return nil, fmt.Errorf("reading the base: %w", err)
	}
	// A cluster's two revisions are compared source by source (reach.CompareFiles):
	// a cluster evaluated whole has millions of flows, which must not be held, let
	// alone pile up across the clusters.
	g = errgroup.Group{}
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range changed {
		name, o := clusters[i], ros[i]
		g.Go(func() error {
			cr := ClusterReach{Cluster: name}
			b, h, err := reach.CompareFiles(ctx, name, d.files(base, bps[i]), d.files(head, hps[i]), o, func(_ string, b, h []reach.Flow) {
				cr.compareFlows(b, h)
			})
			if err != nil {
				return fmt.Errorf("comparing the reachability of cluster %q: %w", name, err)
			}
			cr.compareOutside(b, h)
			out[i] = cr
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// differing are those of a cluster's paths that differ between the base and the
// head (by blob id) whose files differ for the comparison (reach.File.SameNow):
// decoded, one holds what its counterpart does not, or, where it has no
// counterpart, anything the comparison reads. None: both evaluations would compare
// the same, and nothing changed (a change to images, resources or environment, or
// to the policies a team audits, needs no evaluation). Only these files are read.
func (d *decoder) differing(ctx context.Context, base, head Tree, differ []string) ([]string, error) {
	hb, bb := head.Blobs(), base.Blobs()
	var hp, bp []string
	for _, p := range differ {
		if _, ok := hb[p]; ok {
			hp = append(hp, p)
		}
		if _, ok := bb[p]; ok {
			bp = append(bp, p)
		}
	}
	if err := d.decode(ctx, head, hp); err != nil {
		return nil, err
	}
	if err := d.decode(ctx, base, bp); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range hp {
		var was *reach.File // none: the file is new
		if id, ok := bb[p]; ok {
			was = d.decoded[id]
		}
		if !d.decoded[hb[p]].SameNow(was) {
			out = append(out, p)
		}
	}
	for _, p := range bp {
		if _, ok := hb[p]; !ok && !d.decoded[bb[p]].SameNow(nil) {
			out = append(out, p)
		}
	}
	return out, nil
}

// teamsOf are the teams whose files are among paths, sorted: a focus, or nil when
// a platform file is among them.
func teamsOf(paths []string) []string {
	var teams []string
	for _, p := range paths {
		_, team := manifest.Classify(p)
		if team == "" {
			return nil
		}
		teams = append(teams, team)
	}
	return slices.Compact(slices.Sorted(slices.Values(teams)))
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
	// mu is held by a neighbourhood that decodes (the clusters' run at once).
	mu      sync.Mutex
	decoded map[string]*reach.File
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
	files := make([]*reach.File, len(todo))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range todo {
		g.Go(func() error {
			// An entry reachability cannot read is decoded again from the file,
			// which says what is wrong if anything is.
			if objs, ok := d.cache.get(blobs[p]); ok {
				files[i], _ = reach.DecodeFileJSON(p, objs)
			}
			return nil
		})
	}
	_ = g.Wait()
	var miss []string
	for i, p := range todo {
		if files[i] == nil {
			miss = append(miss, p)
		}
	}
	if len(miss) > 0 {
		content, err := t.Read(ctx, miss)
		if err != nil {
			return err
		}
		for i, p := range todo {
			if files[i] != nil {
				continue
			}
			g.Go(func() error {
				objs, err := decodeReach(content[p])
				if err != nil {
					return fmt.Errorf("decoding %s: %w", p, err)
				}
				if files[i], err = reach.DecodeFile(p, objs); err != nil {
					return err
				}
				if err := d.cache.put(blobs[p], objs); err != nil {
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
		d.decoded[blobs[p]] = files[i]
	}
	return nil
}

// files are the paths of t, decoded.
func (d *decoder) files(t Tree, paths []string) []*reach.File {
	blobs := t.Blobs()
	out := make([]*reach.File, len(paths))
	for i, p := range paths {
		out[i] = d.decoded[blobs[p]]
	}
	return out
}

// neighbourhood narrows a focused cluster's paths at the head (hp) and the base (bp)
// to the platform's files and those of the namespaces reach.Neighbours keeps; all of
// them when it keeps every namespace. Facts come from the cluster's facts file, and
// the files it lacks are decoded and added to it.
func (d *decoder) neighbourhood(ctx context.Context, base, head Tree, cluster string, hp, bp []string, o reach.Options) ([]string, []string, error) {
	known := readFacts(d.dir, cluster) // blob id → facts
	added := false
	revision := func(t Tree, paths []string) ([]reach.Facts, error) {
		blobs := t.Blobs()
		out := make([]reach.Facts, len(paths))
		var miss []string
		var at []int
		for i, p := range paths {
			f, ok := known[blobs[p]]
			if !ok {
				miss, at = append(miss, p), append(at, i)
			}
			out[i] = f
		}
		got, err := d.facts(ctx, t, miss, o)
		if err != nil {
			return nil, err
		}
		for j, p := range miss {
			known[blobs[p]], out[at[j]] = got[j], got[j]
			added = true
		}
		return out, nil
	}
	hf, err := revision(head, hp)
	if err != nil {
		return nil, nil, err
	}
	bf, err := revision(base, bp)
	if err != nil {
		return nil, nil, err
	}
	// The file is written when it gained facts, or holds more than both revisions'
	// files can: it keeps the facts of the cluster's files now, so it never grows
	// beyond twice the cluster.
	if added || len(known) > len(hp)+len(bp) {
		now := make(map[string]reach.Facts, len(hp))
		for _, side := range []struct {
			t     Tree
			paths []string
		}{{head, hp}, {base, bp}} {
			for _, p := range side.paths {
				id := side.t.Blobs()[p]
				now[id] = known[id]
			}
		}
		if err := writeFacts(d.dir, cluster, now); err != nil {
			d.log.Warn("reachability facts not written", "cluster", cluster, "error", err)
		}
	}
	keep, all := reach.Neighbours(o.Focus, [][]reach.Facts{hf, bf}, o)
	if all {
		return hp, bp, nil
	}
	kept := make(map[string]bool, len(keep))
	for _, ns := range keep {
		kept[ns] = true
	}
	narrow := func(paths []string, facts []reach.Facts) []string {
		var out []string
		for i, p := range paths {
			if _, team := manifest.Classify(p); team == "" {
				out = append(out, p) // the platform's files, always
				continue
			}
			for ns := range facts[i] {
				if kept[ns] {
					out = append(out, p)
					break
				}
			}
		}
		return out
	}
	return narrow(hp, hf), narrow(bp, bf), nil
}

// facts are the facts of the paths of t, decoded for them. A file decoded here only
// for its facts is dropped again: a large cluster's would fill the memory, and the
// time of every garbage collection; the evaluation decodes those it reads again,
// from the cache.
func (d *decoder) facts(ctx context.Context, t Tree, paths []string, o reach.Options) ([]reach.Facts, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	blobs := t.Blobs()
	var fresh []string
	for _, p := range paths {
		if d.decoded[blobs[p]] == nil {
			fresh = append(fresh, blobs[p])
		}
	}
	if err := d.decode(ctx, t, paths); err != nil {
		return nil, err
	}
	got := make([]reach.Facts, len(paths))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range paths {
		g.Go(func() error {
			got[i] = reach.FileFacts(d.decoded[blobs[p]], o)
			return nil
		})
	}
	_ = g.Wait()
	for _, id := range fresh {
		delete(d.decoded, id)
	}
	return got, nil
}
