package review

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/scan"
)

// Finding is a vulnerability at or above a cluster's threshold in one team's image.
type Finding struct {
	Cluster  string        `json:"cluster"`
	Team     string        `json:"team"`
	Image    string        `json:"image"`
	ID       string        `json:"id"`
	Severity scan.Severity `json:"severity"`
	Package  string        `json:"package"`
	Fixed    string        `json:"fixed,omitempty"`
	Title    string        `json:"title,omitempty"`
	// Exception is the spec location of the exception that accepts it; empty when
	// the finding blocks.
	Exception string `json:"exception,omitempty"`
}

func (f Finding) key() string {
	return f.Cluster + "\x00" + f.Team + "\x00" + repository(f.Image) + "\x00" + f.ID
}

// Expiring is an exception (a vulnerability or an admission policy waiver) whose
// last day is within the warning window.
type Expiring struct {
	Cluster  string `json:"cluster"`
	Team     string `json:"team"`
	Kind     string `json:"kind"` // vulnerability, policy or runtime
	ID       string `json:"id"`
	Expires  string `json:"expires"`
	DaysLeft int    `json:"daysLeft"`
	Source   string `json:"source,omitempty"`
}

// Gate is the scan gate of a change.
type Gate struct {
	// Scanned is false when the render did not scan (--skip-scan).
	Scanned bool `json:"scanned"`
	Passed  bool `json:"passed"`
	// Failed are the teams (team on cluster) that fail the gate.
	Failed []string `json:"failed"`
	// Blocking are every finding that fails the gate, new or not.
	Blocking []Finding `json:"blocking"`
	// New are findings at or above the threshold (blocking or accepted) the base's
	// images of the same team did not have; Fixed the other way round.
	New   []Finding `json:"new"`
	Fixed []Finding `json:"fixed"`
	// Expiring are exceptions that expire within ExpiryWindow.
	Expiring  []Expiring `json:"expiring"`
	DBVersion string     `json:"dbVersion,omitempty"`
}

// ExpiryWindow is how far ahead an expiring exception is reported.
const ExpiryWindow = 14 * 24 * time.Hour

// BaseScanner scans the images the base ran, for the findings a change fixes or
// brings. generator/scan's Scanner is one.
type BaseScanner interface {
	Resolve(ctx context.Context, refs []string) (map[string]scan.Resolved, error)
	Scan(ctx context.Context, images []scan.Resolved) (map[string]*scan.Result, error)
}

// GateInput is what BuildGate reads.
type GateInput struct {
	// Head is the scan of the new render.
	Head *scan.Report
	// Inventory gives each team's policy on each cluster.
	Inventory *load.Inventory
	// Base is the base tree, Diff the change; only teams the diff touches whose
	// images differ are scanned at the base.
	Base, HeadTree Tree
	Diff           *Diff
	// Scanner scans the base's images; nil skips new/fixed (every finding is new).
	Scanner BaseScanner
	Now     time.Time
}

// BuildGate computes the gate section: blocking findings, the findings new and fixed
// against the base's images, and exceptions expiring soon.
func BuildGate(ctx context.Context, in GateInput) (Gate, error) {
	g := Gate{Blocking: []Finding{}, New: []Finding{}, Fixed: []Finding{}, Expiring: []Expiring{}, Failed: []string{}, Passed: true}
	if in.Head == nil || in.Head.Skipped {
		g.Expiring = append(g.Expiring, ExpiringExceptions(in.Inventory, in.Now)...)
		return g, nil
	}
	g.Scanned, g.DBVersion = true, in.Head.DBVersion
	touched := map[string]bool{}
	if in.Diff != nil {
		for _, c := range in.Diff.Clusters {
			for _, t := range c.Teams {
				touched[c.Cluster+"\x00"+t.Team] = true
			}
		}
	}
	// A team's images are in its own files: a change to the platform's files (a
	// Falco rules shard that holds every team's rules) changes no team's images.
	changed := func(v scan.TeamVerdict) bool {
		return touched[v.Cluster+"\x00"+v.Team] || !v.Verdict.Passed()
	}
	images, err := readTeamImages(ctx, in, slices.DeleteFunc(slices.Clone(in.Head.Verdicts), func(v scan.TeamVerdict) bool { return !changed(v) }))
	if err != nil {
		return g, err
	}
	for _, v := range in.Head.Verdicts {
		head := findings(v.Cluster, v.Team, v.Verdict)
		if !v.Verdict.Passed() {
			g.Passed = false
			g.Failed = append(g.Failed, v.Team+" on "+v.Cluster)
		}
		for _, f := range head {
			if f.Exception == "" {
				g.Blocking = append(g.Blocking, f)
			}
		}
		if !changed(v) {
			continue
		}
		base, err := baseFindings(ctx, in, v, images)
		if err != nil {
			return g, err
		}
		if base == nil {
			continue // same images as the base: nothing new, nothing fixed
		}
		bk := map[string]bool{}
		for _, f := range base {
			bk[f.key()] = true
		}
		hk := map[string]bool{}
		for _, f := range head {
			hk[f.key()] = true
			if !bk[f.key()] {
				g.New = append(g.New, f)
			}
		}
		for _, f := range base {
			if !hk[f.key()] {
				g.Fixed = append(g.Fixed, f)
			}
		}
	}
	g.Expiring = append(g.Expiring, ExpiringExceptions(in.Inventory, in.Now)...)
	slices.SortFunc(g.Expiring, func(a, b Expiring) int {
		return cmp.Or(cmp.Compare(a.Expires, b.Expires), cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Team, b.Team), cmp.Compare(a.ID, b.ID))
	})
	g.Expiring = slices.CompactFunc(g.Expiring, func(a, b Expiring) bool { return a == b })
	for _, l := range [][]Finding{g.Blocking, g.New, g.Fixed} {
		sortFindings(l)
	}
	return g, nil
}

func sortFindings(l []Finding) {
	slices.SortFunc(l, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Team, b.Team), cmp.Compare(a.Image, b.Image), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package))
	})
}

func findings(cluster, team string, v scan.Verdict) []Finding {
	out := []Finding{} // never nil: nil means "not scanned" to BuildGate
	for _, f := range v.Blocking {
		out = append(out, Finding{Cluster: cluster, Team: team, Image: f.Image, ID: f.ID, Severity: f.Severity, Package: f.Package, Fixed: f.Fixed, Title: f.Title})
	}
	for _, f := range v.Covered {
		out = append(out, Finding{Cluster: cluster, Team: team, Image: f.Image, ID: f.ID, Severity: f.Severity, Package: f.Package, Fixed: f.Fixed, Title: f.Title, Exception: cmp.Or(f.Exception.Source, f.Exception.ID)})
	}
	return out
}

// baseFindings scans the images the team ran at the base on that cluster, judged by
// the head's policy; nil when they are the images the head runs.
func baseFindings(ctx context.Context, in GateInput, v scan.TeamVerdict, images fileImages) ([]Finding, error) {
	if !comparesImages(in) {
		return nil, nil
	}
	baseImages := images.team(in.Base, v.Cluster, v.Team)
	// The head's images: what its tree runs, and the images its findings name (a
	// team that fails the gate keeps its previous output, so its new images are only
	// in the verdict).
	headSet := images.team(in.HeadTree, v.Cluster, v.Team)
	for _, f := range findings(v.Cluster, v.Team, v.Verdict) {
		headSet = append(headSet, f.Image)
	}
	headSet = dedupe(headSet)
	if slices.Equal(baseImages, headSet) {
		return nil, nil
	}
	c, t := in.Inventory.Cluster(v.Cluster), in.Inventory.Team(v.Team)
	if c == nil || t == nil {
		return nil, nil
	}
	if len(baseImages) == 0 {
		return []Finding{}, nil
	}
	resolved, err := in.Scanner.Resolve(ctx, baseImages)
	if err != nil {
		return nil, fmt.Errorf("resolving the base's images of team %q on cluster %q: %w", v.Team, v.Cluster, err)
	}
	imgs := slices.Collect(maps.Values(resolved))
	slices.SortFunc(imgs, func(a, b scan.Resolved) int { return cmp.Compare(a.Pinned, b.Pinned) })
	results, err := in.Scanner.Scan(ctx, imgs)
	if err != nil {
		return nil, fmt.Errorf("scanning the base's images of team %q on cluster %q: %w", v.Team, v.Cluster, err)
	}
	verdict := scan.Gate(imgs, results, scan.PolicyFor(c, t), in.Now)
	return findings(v.Cluster, v.Team, verdict), nil
}

// fileImages are the pinned images each rendered file runs, by blob id.
type fileImages map[string][]string

// readTeamImages reads the images the teams of the verdicts run on their clusters,
// at the base and the head, when baseFindings compares them: every file at most
// once, and a base file the head holds unchanged not at all.
func readTeamImages(ctx context.Context, in GateInput, verdicts []scan.TeamVerdict) (fileImages, error) {
	images := fileImages{}
	if !comparesImages(in) {
		return images, nil
	}
	for _, t := range []Tree{in.HeadTree, in.Base} {
		var paths []string
		for _, v := range verdicts {
			paths = append(paths, teamFiles(t, v.Cluster, v.Team)...)
		}
		if err := images.add(ctx, t, paths); err != nil {
			return nil, err
		}
	}
	return images, nil
}

// comparesImages says whether baseFindings compares images: with a scanner, both
// trees and the inventory.
func comparesImages(in GateInput) bool {
	return in.Scanner != nil && in.Base != nil && in.HeadTree != nil && in.Inventory != nil
}

// add reads and decodes the paths of t whose images are not known yet.
func (fi fileImages) add(ctx context.Context, t Tree, paths []string) error {
	var todo []string
	for _, p := range paths {
		if _, ok := fi[t.Blobs()[p]]; !ok {
			fi[t.Blobs()[p]] = nil
			todo = append(todo, p)
		}
	}
	files, err := t.Read(ctx, todo)
	if err != nil {
		return err
	}
	got := make([][]string, len(todo))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range todo {
		g.Go(func() error {
			objs, err := decodeKinds(files[p], func(kind string) bool { return manifest.PodSpecPath(kind) != nil })
			if err != nil {
				return fmt.Errorf("decoding %s: %w", p, err)
			}
			for _, o := range objs {
				manifest.Images(o, func(img string) string {
					if strings.Contains(img, "@") {
						got[i] = append(got[i], img)
					}
					return img
				})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, p := range todo {
		fi[t.Blobs()[p]] = got[i]
	}
	return nil
}

// team are the pinned images a team's rendered objects run on a cluster in t.
func (fi fileImages) team(t Tree, cluster, team string) []string {
	set := map[string]bool{}
	for _, p := range teamFiles(t, cluster, team) {
		for _, img := range fi[t.Blobs()[p]] {
			set[img] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// teamFiles are the paths of a team's rendered files on a cluster in t: of those
// under teams/<team>/ and tenants/<team>, found in the cluster's sorted paths, the
// ones manifest.Classify gives the team.
func teamFiles(t Tree, cluster, team string) []string {
	all := t.Paths(cluster)
	var out []string
	for _, prefix := range []string{"clusters/" + cluster + "/teams/" + team + "/", "clusters/" + cluster + "/tenants/" + team} {
		i, _ := slices.BinarySearch(all, prefix)
		for ; i < len(all) && strings.HasPrefix(all[i], prefix); i++ {
			if _, tm := manifest.Classify(all[i]); tm == team && path.Base(all[i]) != "kustomization.yaml" {
				out = append(out, all[i])
			}
		}
	}
	return out
}

// ExpiringExceptions are the specs' exceptions (vulnerabilities and admission
// policies) whose last day is within ExpiryWindow of now, from the loaded specs (no
// rendered file is read). Cluster lists the team's clusters.
func ExpiringExceptions(inv *load.Inventory, now time.Time) []Expiring {
	if inv == nil {
		return nil
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	daysLeft := func(d string) (int, bool) {
		last, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return 0, false
		}
		left := int(last.Sub(today).Hours() / 24)
		return left, left >= 0 && time.Duration(left)*24*time.Hour <= ExpiryWindow
	}
	var out []Expiring
	for _, t := range inv.Teams {
		clusters := strings.Join(t.Spec.Clusters, ", ")
		for i, x := range t.Spec.Exceptions.Vulnerabilities {
			if left, soon := daysLeft(string(x.Expires)); soon {
				line, _ := t.Pos.Lookup(fmt.Sprintf("spec.exceptions.vulnerabilities[%d]", i))
				out = append(out, Expiring{Cluster: clusters, Team: t.Metadata.Name, Kind: "vulnerability", ID: x.ID, Expires: string(x.Expires), DaysLeft: left, Source: fmt.Sprintf("%s:%d", t.File, line)})
			}
		}
		for _, p := range t.Spec.Exceptions.Policies {
			if left, soon := daysLeft(string(p.Expires)); soon && !p.Expired {
				id := p.Policy
				if len(p.Rules) > 0 {
					id += " (" + strings.Join(p.Rules, ", ") + ")"
				}
				out = append(out, Expiring{Cluster: clusters, Team: t.Metadata.Name, Kind: "policy", ID: id, Expires: string(p.Expires), DaysLeft: left, Source: p.Source})
			}
		}
		for _, r := range t.Spec.Exceptions.Runtime {
			if left, soon := daysLeft(string(r.Expires)); soon && !r.Expired {
				id := string(r.Rule) + " (" + strings.Join(r.Apps, ", ") + ")"
				out = append(out, Expiring{Cluster: clusters, Team: t.Metadata.Name, Kind: "runtime", ID: id, Expires: string(r.Expires), DaysLeft: left, Source: r.Source})
			}
		}
	}
	return out
}
