package scan

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// Report is what the supply-chain stage found, for the reports.
type Report struct {
	// Images are every image referenced, resolved, by reference as written.
	Images map[string]Resolved `json:"images"`
	// Results are the scan results by digest.
	Results map[string]*Result `json:"results"`
	// Verdicts are the gate's decisions, one per team on each cluster.
	Verdicts []TeamVerdict `json:"verdicts"`
	// DBVersion identifies the vulnerability database used.
	DBVersion string `json:"dbVersion"`
	// Skipped says the scan was skipped (--skip-scan): the output is unscanned.
	Skipped bool `json:"skipped,omitempty"`
}

// TeamVerdict is the gate's decision for one team on one cluster.
type TeamVerdict struct {
	Cluster string  `json:"cluster"`
	Team    string  `json:"team"`
	File    string  `json:"file"`
	Verdict Verdict `json:"verdict"`
}

// Failed lists the team verdicts that did not pass.
func (r *Report) Failed() []TeamVerdict {
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

// Unit is one team on one cluster as the gate sees it: the images its rendered
// output runs and the policy they are judged by.
type Unit struct {
	Cluster, Team, File string
	Images              []string
	Policy              Policy
}

// Stage scans every image the units run (each distinct digest once; the resolver
// already resolved them while the units rendered) and gates each unit. An image that
// did not resolve or scan fails the gate of the units that run it (fail closed), and
// every other unit passes or fails on its own.
func Stage(ctx context.Context, scanner *Scanner, resolver *Resolver, units []Unit, now time.Time, log *slog.Logger) (*Report, error) {
	for _, u := range units {
		for _, img := range u.Images {
			_, _ = resolver.Resolve(img) // a no-op for what the render resolved
		}
	}
	report := &Report{DBVersion: scanner.DBVersion()}
	resolved, resolveErr := resolver.Resolved()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if resolveErr != nil {
		log.Error("resolving images", "error", resolveErr)
	}
	report.Images = resolved
	images := slices.SortedFunc(maps.Values(resolved), func(a, b Resolved) int { return cmp.Compare(a.Ref, b.Ref) })
	results, scanErr := scanner.Scan(ctx, images)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if scanErr != nil {
		log.Error("scanning images", "error", scanErr)
	}
	report.Results = results
	// Gating is per unit and reads only what is above: on every core, in the units'
	// order (a fleet has ten thousand units, each locating its exceptions).
	report.Verdicts = make([]TeamVerdict, len(units))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, u := range units {
		g.Go(func() error {
			imgs := make([]Resolved, 0, len(u.Images))
			for _, ref := range u.Images {
				if r, ok := resolved[ref]; ok {
					imgs = append(imgs, r)
				} else {
					imgs = append(imgs, Resolved{Ref: ref})
				}
			}
			v := Gate(imgs, results, u.Policy, now)
			report.Verdicts[i] = TeamVerdict{Cluster: u.Cluster, Team: u.Team, File: u.File, Verdict: v}
			return nil
		})
	}
	_ = g.Wait()
	return report, nil
}

// Threshold is a cluster's scan threshold: cluster.yaml's, else HIGH on production
// and CRITICAL elsewhere.
func Threshold(c *spec.Cluster) Severity {
	if c.Spec.Scan.SeverityThreshold != "" {
		return c.Spec.Scan.SeverityThreshold
	}
	if c.Spec.Environment == spec.Production {
		return SeverityHigh
	}
	return SeverityCritical
}

// PolicyFor is a team's gate policy on a cluster, its exceptions located in its file.
func PolicyFor(c *load.Cluster, t *load.Team) Policy {
	p := Policy{Threshold: Threshold(c.Cluster), IgnoreUnfixed: c.Spec.Scan.IgnoreUnfixed}
	for i, x := range t.Spec.Exceptions.Vulnerabilities {
		p.Exceptions = append(p.Exceptions, Exception{
			ID: x.ID, Images: x.Images, Reason: x.Reason, Expires: string(x.Expires),
			locate: func() string {
				line, col := t.Pos.Lookup(fmt.Sprintf("spec.exceptions.vulnerabilities[%d]", i))
				return fmt.Sprintf("%s:%d:%d", t.File, line, col)
			},
		})
	}
	return p
}

// DefaultMaxDBAge is how old the vulnerability database may be when rampart.yaml
// does not say: Trivy's database is rebuilt every few hours, so three days old
// means the download step stopped working.
const DefaultMaxDBAge = 72 * time.Hour

// OptionsFromConfig turns rampart.yaml's scan section into scanner options; relative
// paths are relative to the repository root dir.
func OptionsFromConfig(dir string, cfg spec.ScanConfig) (Options, error) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, filepath.FromSlash(p))
	}
	o := Options{
		DBDir:    abs(cfg.DBDir),
		CacheDir: abs(cfg.CacheDir),
		Registry: RegistryOptions{
			DockerConfig: abs(cfg.DockerConfig),
			Mirrors:      cfg.Mirrors,
			Insecure:     cfg.InsecureRegistries,
			OCILayout:    abs(cfg.OCILayout),
		},
	}
	server, err := ServerFromConfig(cfg.Server, os.Getenv)
	if err != nil {
		return o, err
	}
	o.Server = server
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
