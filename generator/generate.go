// Package generator is Rampart's pipeline. Generate reads as its stages:
//
//	load → plan → evaluate → transform → scan → verify → write
//
// Each stage is a package of its own under generator/. Bad input stops the run before
// anything is written, with every diagnostic at once. Images are scanned after
// transform, so the gate sees exactly the images the output will run, including those
// a team's image overrides or charts bring in.
package generator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/chart"
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/evaluate"
	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/plan"
	"github.com/rampart-gitops/rampart/generator/transform"
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
	// Clusters are the rendered clusters.
	Clusters []*manifest.Cluster `json:"-"`
	// Changes are the files that differ from the disk (written, in Render mode).
	Changes []write.Change `json:"changes"`
	// Warnings are diagnostics that do not fail the run.
	Warnings diag.List `json:"warnings,omitempty"`
	// Scan is what the supply-chain stage found; nil in Validate mode.
	Scan *ScanReport `json:"scan,omitempty"`
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
	inv, err := load.Load(root)
	if err != nil {
		return nil, asBadInput(err)
	}
	res := &Result{Inventory: inv}
	log.Debug("loaded", "clusters", len(inv.Clusters), "teams", len(inv.Teams), "elapsed", time.Since(start))

	// plan
	matrix := plan.Make(inv)

	// evaluate + transform
	lib, err := fs.Sub(root, "lib")
	if err != nil {
		return nil, fmt.Errorf("opening lib/: %w", err)
	}
	ev := evaluate.New(lib, "lib")
	var problems diag.List
	for _, pc := range matrix {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, diags := renderCluster(root, ev, pc)
		problems = append(problems, diags...)
		if c != nil {
			res.Clusters = append(res.Clusters, c)
		}
	}
	if err := problems.Err(); err != nil {
		return nil, &BadInputError{Diagnostics: problems.Errors().Sort()}
	}
	log.Debug("rendered", "clusters", len(res.Clusters), "elapsed", time.Since(start))

	// scan: resolve, scan, gate, pin; a failing team keeps its previous output.
	if opts.Mode != Validate {
		res.Scan, err = runScan(ctx, opts, inv, res.Clusters, now(), log)
		if err != nil {
			return nil, err
		}
		for _, failed := range res.Scan.Failed() {
			if opts.Scan.FailFast {
				return res, fmt.Errorf("%w for team %q on cluster %q (%s)", ErrGateFailed, failed.Team, failed.Cluster, failed.File)
			}
			for _, c := range res.Clusters {
				if c.Name == failed.Cluster {
					if err := holdTeam(opts.Dir, c, failed.Team); err != nil {
						return nil, fmt.Errorf("keeping the previous output of team %q: %w", failed.Team, err)
					}
				}
			}
		}
		log.Debug("scanned", "elapsed", time.Since(start))
	}

	// verify
	for _, c := range res.Clusters {
		version := inv.Cluster(c.Name).Spec.KubernetesVersion
		problems = append(problems, verify.Cluster(c, verify.Options{KubernetesVersion: version})...)
	}
	res.Warnings = append(slices.Clone(inv.Warnings), problems.Warnings()...).Sort()
	if err := problems.Err(); err != nil {
		return nil, &BadInputError{Diagnostics: problems.Errors().Sort()}
	}
	log.Debug("verified", "elapsed", time.Since(start))
	if opts.Mode == Validate {
		return res, nil
	}

	// write
	encoded := make([]*write.Cluster, 0, len(res.Clusters))
	for _, c := range res.Clusters {
		e, err := write.Encode(c)
		if err != nil {
			return nil, err
		}
		encoded = append(encoded, e)
	}
	res.Changes, err = write.Diff(opts.Dir, encoded)
	if err != nil {
		return nil, err
	}
	if opts.Mode == Render && len(res.Changes) > 0 {
		if err := write.Apply(opts.Dir, encoded, res.Changes); err != nil {
			return nil, err
		}
	}
	log.Debug("done", "changes", len(res.Changes), "elapsed", time.Since(start))
	return res, nil
}

// renderCluster evaluates the platform layer and every team on one cluster, renders
// the teams' charts, applies the teams' patches and lays the files out.
func renderCluster(root fs.FS, ev *evaluate.Evaluator, pc plan.Cluster) (*manifest.Cluster, diag.List) {
	var diags diag.List
	cluster := pc.Cluster
	name := cluster.Metadata.Name
	peers := map[string]any{}
	for _, t := range pc.Teams {
		peers[t.Metadata.Name] = t.Team
	}
	platform, err := ev.Platform(cluster.Cluster, peers)
	if err != nil {
		diags = append(diags, diag.Diagnostic{File: cluster.File, Message: fmt.Sprintf("rendering the platform layer of cluster %q: %v", name, err), Severity: diag.Error})
	}
	var teams []*transform.Team
	for _, t := range pc.Teams {
		out, err := ev.Team(cluster.Cluster, t.Team, peers)
		if err != nil {
			diags = append(diags, diag.Diagnostic{File: t.File, Message: fmt.Sprintf("rendering team %q for cluster %q: %v", t.Metadata.Name, name, err), Severity: diag.Error})
			continue
		}
		if diags = append(diags, renderCharts(root, cluster, t, out)...); len(diags) > 0 {
			continue
		}
		tt := &transform.Team{Name: t.Metadata.Name, Tenant: out.Tenant, Files: out.Files, Patches: t.Spec.Patches, Images: t.Spec.Images}
		if err := transform.Customize(tt); err != nil {
			line, col := t.Pos.Lookup("spec.patches")
			diags = append(diags, diag.Diagnostic{File: t.File, Line: line, Column: col, Field: "spec.patches", Message: err.Error(), Severity: diag.Error})
			continue
		}
		teams = append(teams, tt)
	}
	if len(diags) > 0 {
		return nil, diags
	}
	var platformFiles map[string][]*unstructured.Unstructured
	if platform != nil {
		platformFiles = platform.Files
	}
	return transform.Layout(name, platformFiles, teams), nil
}

// renderCharts renders a team's Helm charts into its directory, chart-<name>.yaml each.
func renderCharts(root fs.FS, cluster *load.Cluster, t *load.Team, out *evaluate.Output) diag.List {
	var diags diag.List
	for i, c := range t.Spec.Charts {
		objs, err := chart.Render(root, chart.Release{
			Dir: c.Path, Name: c.Name, Namespace: t.Metadata.Name, Values: c.Values,
			KubeVersion: cluster.Spec.KubernetesVersion, Namespaced: verify.Namespaced,
		})
		field := fmt.Sprintf("spec.charts[%d]", i)
		if err != nil {
			line, col := t.Pos.Lookup(field)
			diags = append(diags, diag.Diagnostic{File: t.File, Line: line, Column: col, Field: field, Message: err.Error(), Severity: diag.Error})
			continue
		}
		file := "chart-" + c.Name + ".yaml"
		if _, clash := out.Files[file]; clash {
			line, col := t.Pos.Lookup(field + ".name")
			diags = append(diags, diag.Diagnostic{File: t.File, Line: line, Column: col, Field: field + ".name", Message: fmt.Sprintf("%s is already rendered by an app; rename the chart", file), Severity: diag.Error})
			continue
		}
		out.Files[file] = objs
	}
	return diags
}

func asBadInput(err error) error {
	var list diag.List
	if errors.As(err, &list) {
		return &BadInputError{Diagnostics: list}
	}
	return err
}
