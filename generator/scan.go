package generator

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/scan"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// ScanReport is what the supply-chain stage found, for the reports.
type ScanReport struct {
	// Images are every image referenced, resolved, by reference as written.
	Images map[string]scan.Resolved `json:"images"`
	// Results are the scan results by digest.
	Results map[string]*scan.Result `json:"results"`
	// Verdicts are the gate's decisions, one per team on each cluster.
	Verdicts []TeamVerdict `json:"verdicts"`
	// DBVersion identifies the vulnerability database used.
	DBVersion string `json:"dbVersion"`
	// Skipped says the scan was skipped (--skip-scan): the output is unscanned.
	Skipped bool `json:"skipped,omitempty"`
}

// TeamVerdict is the gate's decision for one team on one cluster.
type TeamVerdict struct {
	Cluster string       `json:"cluster"`
	Team    string       `json:"team"`
	File    string       `json:"file"`
	Verdict scan.Verdict `json:"verdict"`
}

// Failed lists the team verdicts that did not pass.
func (r *ScanReport) Failed() []TeamVerdict {
	if r == nil {
		return nil
	}
	var out []TeamVerdict
	for _, v := range r.Verdicts {
		if !v.Verdict.Passed() {
			out = append(out, v)
		}
	}
	return out
}

// podImages walks the containers of every pod template in an object and calls fn
// with each image field, which fn may rewrite.
func podImages(o *unstructured.Unstructured, fn func(image string) string) {
	var specPath []string
	switch o.GetKind() {
	case "Pod":
		specPath = []string{"spec"}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		specPath = []string{"spec", "template", "spec"}
	case "CronJob":
		specPath = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return
	}
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, found, err := unstructured.NestedSlice(o.Object, append(slices.Clone(specPath), field)...)
		if err != nil || !found {
			continue
		}
		for _, c := range list {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if img, ok := m["image"].(string); ok {
				m["image"] = fn(img)
			}
		}
		_ = unstructured.SetNestedSlice(o.Object, list, append(slices.Clone(specPath), field)...)
	}
}

// teamImages lists the images each team's rendered objects reference on a cluster.
func teamImages(c *manifest.Cluster) map[string][]string {
	byTeam := map[string]map[string]bool{}
	for _, f := range c.Files {
		if f.Team == "" {
			continue
		}
		for _, o := range f.Objects {
			podImages(o, func(img string) string {
				if byTeam[f.Team] == nil {
					byTeam[f.Team] = map[string]bool{}
				}
				byTeam[f.Team][img] = true
				return img
			})
		}
	}
	out := map[string][]string{}
	for team, set := range byTeam {
		out[team] = slices.Sorted(maps.Keys(set))
	}
	return out
}

// defaultThreshold is the cluster's scan threshold when cluster.yaml sets none.
func defaultThreshold(c *spec.Cluster) scan.Severity {
	if c.Spec.Scan.SeverityThreshold != "" {
		return scan.Severity(c.Spec.Scan.SeverityThreshold)
	}
	if c.Spec.Environment == spec.Production {
		return scan.Severity(spec.SeverityHigh)
	}
	return scan.Severity(spec.SeverityCritical)
}

// policyFor is a team's gate policy on a cluster.
func policyFor(c *load.Cluster, t *load.Team) scan.Policy {
	p := scan.Policy{Threshold: defaultThreshold(c.Cluster), IgnoreUnfixed: c.Spec.Scan.IgnoreUnfixed}
	for i, x := range t.Spec.Exceptions.Vulnerabilities {
		field := fmt.Sprintf("spec.exceptions.vulnerabilities[%d]", i)
		line, col := t.Pos.Lookup(field)
		p.Exceptions = append(p.Exceptions, scan.Exception{
			ID: x.ID, Images: x.Images, Reason: x.Reason, Expires: string(x.Expires),
			Source: fmt.Sprintf("%s:%d:%d", t.File, line, col),
		})
	}
	return p
}

// scanStage resolves and scans every image of every rendered cluster, gates each team
// on each cluster, and pins the images of the teams that pass to their digests.
func scanStage(ctx context.Context, scanner *scan.Scanner, inv *load.Inventory, clusters []*manifest.Cluster, now time.Time, log *slog.Logger) (*ScanReport, error) {
	perCluster := map[string]map[string][]string{}
	all := map[string]bool{}
	for _, c := range clusters {
		perCluster[c.Name] = teamImages(c)
		for _, imgs := range perCluster[c.Name] {
			for _, img := range imgs {
				all[img] = true
			}
		}
	}
	refs := slices.Sorted(maps.Keys(all))
	report := &ScanReport{DBVersion: scanner.DBVersion(), Images: map[string]scan.Resolved{}}
	// Resolve and Scan return what they could with a joined error for the rest; an
	// image without a result fails the gate of the teams that run it (fail closed),
	// and every other team still renders.
	resolved, resolveErr := scanner.Resolve(ctx, refs)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if resolveErr != nil {
		log.Error("resolving images", "error", resolveErr)
	}
	report.Images = resolved
	images := slices.SortedFunc(maps.Values(resolved), func(a, b scan.Resolved) int { return cmp.Compare(a.Ref, b.Ref) })
	results, scanErr := scanner.Scan(ctx, images)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if scanErr != nil {
		log.Error("scanning images", "error", scanErr)
	}
	report.Results = results
	for _, c := range clusters {
		lc := inv.Cluster(c.Name)
		for _, team := range slices.Sorted(maps.Keys(perCluster[c.Name])) {
			t := inv.Team(team)
			var images []scan.Resolved
			for _, ref := range perCluster[c.Name][team] {
				if r, ok := resolved[ref]; ok {
					images = append(images, r)
				} else {
					images = append(images, scan.Resolved{Ref: ref})
				}
			}
			v := scan.Gate(images, report.Results, policyFor(lc, t), now)
			report.Verdicts = append(report.Verdicts, TeamVerdict{Cluster: c.Name, Team: team, File: t.File, Verdict: v})
		}
		pin(c, resolved)
	}
	return report, nil
}

// pin rewrites every image in the cluster's pod templates to its pinned reference.
func pin(c *manifest.Cluster, resolved map[string]scan.Resolved) {
	for _, f := range c.Files {
		for _, o := range f.Objects {
			podImages(o, func(img string) string {
				if r, ok := resolved[img]; ok && r.Pinned != "" {
					return r.Pinned
				}
				return img
			})
		}
	}
}

// DefaultMaxDBAge is how old the vulnerability database may be when rampart.yaml
// does not say: Trivy's database is rebuilt every few hours, so three days old
// means the download step stopped working.
const DefaultMaxDBAge = 72 * time.Hour

// runScan opens the scanner configured in rampart.yaml and runs the supply-chain stage.
func runScan(ctx context.Context, opts Options, inv *load.Inventory, clusters []*manifest.Cluster, now time.Time, log *slog.Logger) (*ScanReport, error) {
	if opts.Scan.Skip {
		log.Warn("SKIPPING THE IMAGE SCAN (--skip-scan): the rendered output is unscanned and images are not pinned to digests")
		return &ScanReport{Skipped: true}, nil
	}
	so, err := scanOptions(opts.Dir, inv.Config.Scan)
	if err != nil {
		return nil, &BadInputError{Diagnostics: diag.List{{File: "rampart.yaml", Field: "scan", Message: err.Error(), Severity: diag.Error}}}
	}
	so.Now = func() time.Time { return now }
	so.Logger = log
	so.Progress = opts.Scan.Progress
	so.Refresh = opts.Scan.Refresh
	scanner, err := scan.New(so)
	if err != nil {
		return nil, fmt.Errorf("opening the image scanner: %w", err)
	}
	defer scanner.Close()
	return scanStage(ctx, scanner, inv, clusters, now, log)
}

// scanOptions turns rampart.yaml's scan section into scanner options; relative paths
// are relative to the repository root.
func scanOptions(dir string, cfg spec.ScanConfig) (scan.Options, error) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, filepath.FromSlash(p))
	}
	o := scan.Options{
		DBDir:    abs(cfg.DBDir),
		CacheDir: abs(cfg.CacheDir),
		Registry: scan.RegistryOptions{
			DockerConfig: abs(cfg.DockerConfig),
			Mirrors:      cfg.Mirrors,
			Insecure:     cfg.InsecureRegistries,
			OCILayout:    abs(cfg.OCILayout),
		},
	}
	o.MaxDBAge = DefaultMaxDBAge
	if cfg.MaxDBAge != "" {
		d, err := time.ParseDuration(cfg.MaxDBAge)
		if err != nil {
			return o, fmt.Errorf("maxDBAge: %w", err)
		}
		o.MaxDBAge = d
	}
	return o, nil
}
