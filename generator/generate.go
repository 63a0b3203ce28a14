// Package generator is Rampart's pipeline. Generate reads as its stages:
//
//	load → plan → evaluate → transform → verify → scan → write
//
// Each stage is a package of its own under generator/. The plan splits the fleet into
// units, one team on one cluster, with the cross-team intent graph resolved once per
// cluster; units are evaluated, transformed and verified in parallel on every core,
// and a unit whose inputs did not change is taken from the render cache (package
// cache) instead. Bad input stops the run before anything is written, with every
// diagnostic at once. Images are resolved and pinned by each unit after it verifies,
// and scanned once all units verified, so the gate sees exactly the images the output
// runs, including those a team's image overrides or charts bring in.
package generator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/cache"
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/evaluate"
	"github.com/rampart-gitops/rampart/generator/internal/progress"
	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/plan"
	"github.com/rampart-gitops/rampart/generator/scan"
	"github.com/rampart-gitops/rampart/generator/verify"
	"github.com/rampart-gitops/rampart/generator/write"
)

// Mode is how far a run goes.
type Mode string

// Modes.
const (
	// Validate loads, renders and verifies in memory; it neither scans nor writes.
	Validate Mode = "validate"
	// Check scans and renders in memory and lists the files on disk that differ.
	Check Mode = "check"
	// Render is Check plus writing the changes.
	Render Mode = "render"
	// Memory scans and renders in memory and compares nothing with the disk: a
	// report compares the render with a git revision instead. Cached files are read
	// only when asked for.
	Memory Mode = "memory"
)

// Options configure a run.
type Options struct {
	// Dir is the repository root (teams/, clusters/, lib/), where output is written.
	Dir string
	// FS reads the inputs; nil means the directory Dir. Tests inject other orders here.
	FS fs.FS
	// Mode says how far to go.
	Mode Mode
	// Logger receives diagnostics of the run itself; nil discards them.
	Logger *slog.Logger
	// Now is the clock, for exception expiry; nil is time.Now.
	Now func() time.Time
	// Scan configures the supply-chain stage (Check and Render modes).
	Scan ScanOptions
	// Clusters restricts the run to the clusters named (a CI matrix renders one
	// shard per job); empty is every cluster. Other clusters' files are not touched.
	Clusters []string
	// NoCache renders every unit afresh, neither reading nor writing the render cache.
	NoCache bool
	// Progress receives a progress bar of the units rendered when it is a terminal.
	Progress io.Writer
	// Workers bounds how many units render at once; zero is one per core.
	Workers int
}

// ScanOptions are the run's supply-chain settings; rampart.yaml provides the rest.
type ScanOptions struct {
	// Skip renders without scanning (loud, and marked in the result): the output is
	// unscanned and images stay as written.
	Skip bool
	// Refresh ignores cached results and tag resolutions.
	Refresh bool
	// FailFast stops the run at the first team that fails the gate.
	FailFast bool
	// Progress receives a progress bar when it is a terminal.
	Progress io.Writer
}

// Result is what a run found and did.
type Result struct {
	// Inventory is the loaded input.
	Inventory *load.Inventory `json:"-"`
	// Clusters are the rendered clusters, each with its inventory, encoded.
	Clusters []*Cluster `json:"-"`
	// Changes are the files that differ from the disk (written, in Render mode).
	Changes []write.Change `json:"changes"`
	// Warnings are diagnostics that do not fail the run.
	Warnings diag.List `json:"warnings,omitempty"`
	// Scan is what the supply-chain stage found; nil in Validate mode.
	Scan *scan.Report `json:"scan,omitempty"`
	// Units counts the units (teams × clusters) of the run: rendered, and reused
	// from the render cache.
	Units UnitCounts `json:"units"`
	// Platforms counts the clusters' platform layers: evaluated, and reused from
	// the render cache.
	Platforms UnitCounts `json:"platforms"`
}

// UnitCounts counts a run's units.
type UnitCounts struct {
	Rendered int `json:"rendered"`
	Cached   int `json:"cached"`
}

// Cluster is one rendered cluster: its encoded files and the inventory it was
// rendered from.
type Cluster struct {
	*write.Cluster
	Inventory *load.Cluster
}

// Decode reads the cluster's files back into objects.
func (c *Cluster) Decode() (*manifest.Cluster, error) {
	files, err := c.Contents()
	if err != nil {
		return nil, err
	}
	return manifest.DecodeCluster(c.Name, files)
}

// Cluster decodes the rendered cluster of that name, objects and all.
func (r *Result) Cluster(name string) (*manifest.Cluster, error) {
	for _, c := range r.Clusters {
		if c.Name == name {
			return c.Decode()
		}
	}
	return nil, fmt.Errorf("cluster %q was not rendered", name)
}

func (r *Result) encoded() []*write.Cluster {
	out := make([]*write.Cluster, len(r.Clusters))
	for i, c := range r.Clusters {
		out[i] = c.Cluster
	}
	return out
}

// BadInputError wraps the diagnostics of input the run refuses: invalid specs, a
// template error, or rendered output that fails verification.
type BadInputError struct {
	Diagnostics diag.List
}

func (e *BadInputError) Error() string { return e.Diagnostics.Error() }

// ErrGateFailed is returned (wrapped) by a FailFast run when a team fails the gate.
var ErrGateFailed = errors.New("image scan gate failed")

// Generate runs the pipeline.
func Generate(ctx context.Context, opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	start := time.Now()
	root := opts.FS
	if root == nil {
		root = os.DirFS(opts.Dir)
	}

	// load
	lo := load.Options{Engine: cache.EngineID(), Now: now()}
	if !opts.NoCache {
		lo.Dir = opts.Dir
	}
	inv, err := load.LoadWith(root, lo)
	if err != nil {
		return nil, asBadInput(err)
	}
	res := &Result{Inventory: inv}
	log.Debug("loaded", "clusters", len(inv.Clusters), "teams", len(inv.Teams), "elapsed", time.Since(start))

	// plan
	clusters, err := plan.Make(inv, opts.Clusters)
	if err != nil {
		return nil, &BadInputError{Diagnostics: diag.List{{Field: "--cluster", Message: err.Error(), Severity: diag.Error}}}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The scanner opens before the units render: each unit resolves and pins its
	// images as soon as it has verified.
	r, err := newRun(ctx, opts, root, inv, log, now)
	if err != nil {
		return nil, err
	}
	defer r.close()

	// evaluate → transform → verify, unit by unit, in parallel and from the cache
	rendered, err := r.renderAll(ctx, clusters)
	if err != nil {
		return nil, err
	}
	res.Units = r.counts()
	for _, c := range rendered {
		if c.platformCached {
			res.Platforms.Cached++
		} else {
			res.Platforms.Rendered++
		}
	}
	var problems diag.List
	for _, c := range rendered {
		problems = append(problems, c.diags...)
	}
	res.Warnings = append(slices.Clone(inv.Warnings), problems.Warnings()...).Sort()
	if err := problems.Err(); err != nil {
		return nil, &BadInputError{Diagnostics: problems.Errors().Sort()}
	}
	log.Debug("rendered and verified", "units", len(r.units), "rendered", res.Units.Rendered, "cached", res.Units.Cached, "elapsed", time.Since(start))

	// scan: a failing team keeps its previous output.
	held := map[*plan.Unit]bool{}
	if opts.Mode != Validate {
		res.Scan, err = r.scan(ctx, now())
		if err != nil {
			return nil, err
		}
		for _, failed := range res.Scan.Failed() {
			if opts.Scan.FailFast {
				return res, fmt.Errorf("%w for team %q on cluster %q (%s)", ErrGateFailed, failed.Team, failed.Cluster, failed.File)
			}
		}
		held = r.failed(res.Scan)
		log.Debug("scanned", "elapsed", time.Since(start))
	}

	// write: each cluster's files on every core (its Falco shards read every unit's
	// rules back from the cache), kept in plan order, with every cluster's problems.
	res.Clusters = make([]*Cluster, len(rendered))
	errs := make([]error, len(rendered))
	var g errgroup.Group
	g.SetLimit(r.workers())
	for i, c := range rendered {
		g.Go(func() error {
			if errs[i] = ctx.Err(); errs[i] != nil {
				return nil
			}
			var wc *write.Cluster
			if wc, errs[i] = c.encode(r, held); errs[i] == nil {
				res.Clusters[i] = &Cluster{Cluster: wc, Inventory: c.plan.Cluster}
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := mergeErrors(errs); err != nil {
		return nil, err
	}
	if err := inv.SaveCache(); err != nil {
		log.Warn("load cache not saved", "error", err)
	}
	if opts.Mode == Validate || opts.Mode == Memory {
		return res, nil
	}
	if opts.Mode == Render {
		if err := write.Recover(r.disk); err != nil {
			return nil, err
		}
	}
	res.Changes, err = write.Diff(r.disk, res.encoded(), r.state)
	if err != nil {
		return nil, err
	}
	if opts.Mode == Render && len(res.Changes) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := write.Apply(r.disk, res.encoded(), res.Changes, r.state); err != nil {
			return nil, err
		}
	}
	if err := r.state.Save(); err != nil {
		log.Warn("disk state not saved; the next render compares every file", "error", err)
	}
	log.Debug("done", "changes", len(res.Changes), "elapsed", time.Since(start))
	return res, nil
}

// run is one Generate call's shared state: the evaluator, the render cache and the
// scanner, with the units it rendered.
type run struct {
	opts     Options
	root     fs.FS
	inv      *load.Inventory
	log      *slog.Logger
	ev       *evaluate.Evaluator
	cache    *cache.Cache
	disk     write.FS     // the repository, where the output is written
	state    *write.State // what is on disk, so unchanged files are not read
	inputs   *inputs
	scanner  *scan.Scanner
	resolver *scan.Resolver
	units    []*unitResult
	// memo shares the verdicts on team files among the clusters' Checkers.
	memo *verify.Memo
	// runtimeFields gives the cluster fields lib/runtime.jsonnet's rules read, or
	// false when lib/ has no runtime.jsonnet (team.jsonnet's runtime is the rules);
	// evaluated when a unit first renders, so a render that takes every unit from the
	// cache does not parse lib/.
	runtimeFields func() ([]string, bool, error)
}

// CacheDir is the directory of the render's caches (scan.cacheDir, relative to the
// repository), or empty when the run caches nothing.
func CacheDir(opts Options, inv *load.Inventory) string {
	dir := inv.Config.Scan.CacheDir
	if opts.NoCache || dir == "" || opts.Dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(opts.Dir, filepath.FromSlash(dir))
	}
	return dir
}

func newRun(ctx context.Context, opts Options, root fs.FS, inv *load.Inventory, log *slog.Logger, now func() time.Time) (*run, error) {
	lib, err := fs.Sub(root, "lib")
	if err != nil {
		return nil, fmt.Errorf("opening lib/: %w", err)
	}
	r := &run{opts: opts, root: root, inv: inv, log: log, ev: evaluate.New(lib, "lib"), memo: verify.NewMemo()}
	if r.inputs, err = newInputs(root, inv); err != nil {
		return nil, err
	}
	var (
		once   sync.Once
		fields []string
		entry  bool
		lerr   error
	)
	r.runtimeFields = func() ([]string, bool, error) {
		once.Do(func() { fields, entry, lerr = r.ev.RuntimeFields() })
		return fields, entry, lerr
	}
	if dir := CacheDir(opts, inv); dir != "" {
		r.cache = cache.Open(filepath.Join(dir, "units"))
		if opts.Mode == Check || opts.Mode == Render {
			r.state = write.OpenState(filepath.Join(dir, "disk"))
		}
	}
	r.disk = write.OS(opts.Dir)
	if opts.Mode == Validate {
		return r, nil
	}
	if opts.Scan.Skip {
		log.Warn("SKIPPING THE IMAGE SCAN (--skip-scan): the rendered output is unscanned and images are not pinned to digests")
		return r, nil
	}
	so, err := scan.OptionsFromConfig(opts.Dir, inv.Config.Scan)
	if err != nil {
		return nil, &BadInputError{Diagnostics: diag.List{{File: "rampart.yaml", Field: "scan", Message: err.Error(), Severity: diag.Error}}}
	}
	so.Now = now
	so.Logger = log
	so.Progress = opts.Scan.Progress
	so.Refresh = opts.Scan.Refresh
	if r.scanner, err = scan.New(so); err != nil {
		return nil, fmt.Errorf("opening the image scanner: %w", err)
	}
	r.resolver = r.scanner.Resolver(ctx)
	return r, nil
}

func (r *run) close() {
	if r.scanner != nil {
		_ = r.scanner.Close()
	}
}

func (r *run) counts() UnitCounts {
	var n UnitCounts
	for _, u := range r.units {
		if u.cached {
			n.Cached++
		} else {
			n.Rendered++
		}
	}
	return n
}

// workers is how many units (or clusters) are worked on at once.
func (r *run) workers() int {
	if r.opts.Workers > 0 {
		return r.opts.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// renderAll renders every cluster's platform layer, then every unit of every cluster
// on a bounded pool of workers. Results are merged in plan order, so the output does
// not depend on which worker finished first.
func (r *run) renderAll(ctx context.Context, clusters []*plan.Cluster) ([]*clusterRender, error) {
	workers := r.workers()
	out := make([]*clusterRender, len(clusters))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, pc := range clusters {
		g.Go(func() error {
			out[i] = r.renderPlatform(pc)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	total := 0
	for _, c := range out {
		total += len(c.units)
	}
	bar := progress.New(r.opts.Progress, total, "units")
	defer bar.Finish()
	// Units go team by team, each team on every cluster in a row, so a team's parsed
	// spec is released as soon as its last unit is done.
	type job struct {
		c *clusterRender
		u *unitResult
	}
	var jobs []job
	for _, c := range out {
		if c.checker == nil {
			continue // the platform layer failed; its diagnostics say why
		}
		for _, u := range c.units {
			jobs = append(jobs, job{c, u})
		}
	}
	slices.SortStableFunc(jobs, func(a, b job) int {
		return strings.Compare(a.u.unit.Team.Metadata.Name, b.u.unit.Team.Metadata.Name)
	})
	for _, j := range jobs {
		r.inputs.hold(j.u.unit.Team.Metadata.Name)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, j := range jobs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			bar.Start(j.u.unit.Name())
			r.renderUnit(j.c, j.u)
			if r.inputs.release(j.u.unit.Team.Metadata.Name) {
				r.memo.Forget(j.u.unit.Team.Metadata.Name) // no other unit of the team is left
			}
			bar.Done()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Off a terminal, a line per cluster says how the render went.
	level := slog.LevelInfo
	if bar.Drawing() {
		level = slog.LevelDebug
	}
	g, _ = errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, c := range out {
		g.Go(func() error { c.finish(); return nil })
	}
	_ = g.Wait()
	for _, c := range out {
		r.units = append(r.units, c.units...)
		r.log.Log(ctx, level, "cluster rendered", "cluster", c.plan.Name(), "teams", len(c.units), "rendered", c.count(false), "cached", c.count(true))
	}
	return out, nil
}

// failed returns the units that failed the scan gate.
func (r *run) failed(report *scan.Report) map[*plan.Unit]bool {
	failed := map[string]bool{}
	for _, v := range report.Failed() {
		failed[v.Cluster+"/"+v.Team] = true
	}
	held := map[*plan.Unit]bool{}
	for _, u := range r.units {
		if failed[u.unit.Name()] {
			held[u.unit] = true
		}
	}
	return held
}

// scan gates every unit on the images its output runs.
func (r *run) scan(ctx context.Context, now time.Time) (*scan.Report, error) {
	if r.scanner == nil {
		return &scan.Report{Skipped: true}, nil
	}
	units := make([]scan.Unit, 0, len(r.units))
	for _, u := range r.units {
		units = append(units, scan.Unit{
			Cluster: u.unit.Cluster.Metadata.Name, Team: u.unit.Team.Metadata.Name, File: u.unit.Team.File,
			Images: u.images, Policy: scan.PolicyFor(u.unit.Cluster, u.unit.Team),
		})
	}
	return scan.Stage(ctx, r.scanner, r.resolver, units, now, r.log)
}

// encode gives the cluster's files, with the teams in held replaced by what is on
// disk, and the tenants' kustomization.yaml listing the tenant files that
// remain.
func (c *clusterRender) encode(r *run, held map[*plan.Unit]bool) (*write.Cluster, error) {
	disk := r.disk
	name := c.plan.Name()
	wc := &write.Cluster{Name: name, Files: map[string]*write.File{}}
	var tenants []string
	for _, u := range c.units {
		team := u.unit.Team.Metadata.Name
		if held[u.unit] {
			prev, err := write.Held(disk, name, team)
			if err != nil {
				return nil, err
			}
			for p, b := range prev {
				wc.Files[p] = write.Bytes(b)
			}
			if _, ok := prev[path.Join("clusters", name, "tenants", team+".yaml")]; ok {
				tenants = append(tenants, team)
			}
			continue
		}
		for i := range u.files {
			f := &u.files[i]
			if f.Layer == manifest.LayerRuntime {
				continue // in the cluster's Falco rules ConfigMaps, below
			}
			if f.Data != nil || u.loadFile == nil {
				wc.Files[f.Path] = write.Lazy(f.Sum, func() ([]byte, error) { return f.Data, nil })
				continue
			}
			// Read from the cache when written or compared, and not kept: a cold
			// render of a large fleet would otherwise hold all of it at once.
			wc.Files[f.Path] = write.Lazy(f.Sum, u.loadFile(i))
		}
		tenants = append(tenants, team)
	}
	shards, err := r.falcoShards(c, held)
	if err != nil {
		return nil, err
	}
	for _, f := range c.clusterFiles(tenants) {
		if sf, ok := shards[f.Path]; ok {
			wc.Files[f.Path] = sf
			continue
		}
		b, err := f.Encode()
		if err != nil {
			return nil, err
		}
		wc.Files[f.Path] = write.Bytes(b)
	}
	return wc, nil
}

// mergeErrors is the diagnostics of every BadInputError in errs together, or else
// the first other error.
func mergeErrors(errs []error) error {
	var bad diag.List
	for _, err := range errs {
		var b *BadInputError
		switch {
		case err == nil:
		case errors.As(err, &b):
			bad = append(bad, b.Diagnostics...)
		default:
			return err
		}
	}
	if len(bad) > 0 {
		return &BadInputError{Diagnostics: bad.Sort()}
	}
	return nil
}

func asBadInput(err error) error {
	var list diag.List
	if errors.As(err, &list) {
		return &BadInputError{Diagnostics: list}
	}
	return err
}
