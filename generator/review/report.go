package review

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/reach"
	"github.com/rampart-gitops/rampart/generator/scan"
)

// MaxComment is GitHub's limit on an issue comment or pull request body, in
// characters; a longer one is refused with 422.
const MaxComment = 65536

// Report is the pull request's review of a render.
type Report struct {
	Diff  *Diff          `json:"diff"`
	Reach []ClusterReach `json:"reachability"`
	Gate  Gate           `json:"gate"`
	// Enforcement are the teams that move between audit and enforce, with the flows
	// the move denies.
	Enforcement []EnforcementChange `json:"enforcement,omitempty"`
	// Warnings are the specs' warnings (expiring exceptions, audited registries, …).
	Warnings diag.List `json:"warnings"`
	// FullReport is where the complete report was written when the markdown had to
	// be shortened; set by WriteMarkdown.
	FullReport string `json:"fullReport,omitempty"`
}

// BuildInput is what Build reads: the two trees, the render's scan and warnings, and
// a scanner for the base's images.
type BuildInput struct {
	Base     Tree
	BaseName string
	// BaseCommit is the base's commit id.
	BaseCommit string
	Head       Tree
	HeadName   string
	Inventory  *load.Inventory
	Scan       *scan.Report
	Warnings   diag.List
	Scanner    BaseScanner
	Now        time.Time
	// CacheDir is the render's cache directory, where decoded files and their facts
	// are kept between reports (empty: nowhere).
	CacheDir string
	// Logger hears of what did not stop the report (nil: discarded).
	Logger *slog.Logger
}

// Build computes the report: the diff, the reachability change of every cluster the
// diff touches, and the scan gate. The diff and the reachability read the same
// changed files and nothing of each other's, so they run side by side.
func Build(ctx context.Context, in BuildInput) (*Report, error) {
	log := cmp.Or(in.Logger, slog.New(slog.DiscardHandler))
	changed := ChangedFiles(in.Base, in.Head)
	// Every cluster with a changed file, of which the diff keeps those whose
	// objects changed.
	ro := ReachOptions{Clusters: map[string]reach.Options{}, Changed: changed, CacheDir: in.CacheDir, Logger: in.Logger}
	clusters := slices.Sorted(maps.Keys(objectFilesByCluster(changed)))
	for _, c := range clusters {
		o := reach.Options{}
		if in.Inventory != nil {
			if inv := in.Inventory.Cluster(c); inv != nil {
				o = reach.Options{TrustDomain: inv.Spec.Mesh.TrustDomain, RootNamespace: inv.Spec.Mesh.RootNamespace}
			}
		}
		ro.Clusters[c] = o
	}
	var (
		d  *Diff
		rc []ClusterReach
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		start := time.Now()
		var err error
		if d, err = compareFiles(gctx, in.Base, in.Head, changed); err != nil {
			return err
		}
		log.Debug("rendered files compared", "files", len(changed), "elapsed", time.Since(start))
		return nil
	})
	g.Go(func() error {
		start := time.Now()
		var err error
		if rc, err = ReachChanges(gctx, in.Base, in.Head, clusters, ro); err != nil {
			return err
		}
		log.Debug("reachability compared", "clusters", len(clusters), "elapsed", time.Since(start))
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	d.Base, d.BaseCommit, d.Head = in.BaseName, in.BaseCommit, in.HeadName
	rc = slices.DeleteFunc(rc, func(c ClusterReach) bool {
		return !slices.ContainsFunc(d.Clusters, func(cd ClusterDiff) bool { return cd.Cluster == c.Cluster })
	})
	start := time.Now()
	gate, err := BuildGate(ctx, GateInput{Head: in.Scan, Inventory: in.Inventory, Base: in.Base, HeadTree: in.Head, Diff: d, Scanner: in.Scanner, Now: in.Now})
	if err != nil {
		return nil, err
	}
	log.Debug("scan gate compared", "elapsed", time.Since(start))
	return &Report{Diff: d, Reach: rc, Gate: gate, Enforcement: enforcementChanges(d, rc), Warnings: nonNil(in.Warnings.Warnings())}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// reach returns the cluster's reachability change, or nil.
func (r *Report) reach(cluster string) *ClusterReach {
	for i := range r.Reach {
		if r.Reach[i].Cluster == cluster {
			return &r.Reach[i]
		}
	}
	return nil
}

// Title is a pull request title saying what changed, most urgent first: teams the
// gate blocks, new findings, exceptions expiring, else the teams touched.
func (r *Report) Title(prefix string) string {
	var parts []string
	if n := len(r.Gate.Failed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s blocked by the scan gate", n, plural(n, "team", "teams")))
	}
	if n := len(r.Gate.New); n > 0 {
		parts = append(parts, fmt.Sprintf("%d new %s", n, plural(n, "finding", "findings")))
	}
	if n := len(r.Gate.Expiring); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s expiring", n, plural(n, "exception", "exceptions")))
	}
	if len(parts) == 0 {
		teams := r.Diff.Teams()
		switch {
		case len(teams) == 0 && len(r.Diff.Clusters) > 0:
			parts = append(parts, "platform changes")
		case len(teams) == 0:
			parts = append(parts, "no changes")
		case len(teams) <= 3:
			parts = append(parts, strings.Join(teams, ", "))
		default:
			parts = append(parts, fmt.Sprintf("%d teams", len(teams)))
		}
		parts[0] += fmt.Sprintf(" (+%d ~%d -%d objects)", r.Diff.Counts.Added, r.Diff.Counts.Changed, r.Diff.Counts.Removed)
	}
	return prefix + strings.Join(parts, ", ")
}

// Summary is the report's first line.
func (r *Report) Summary() string {
	var flows Counts
	for _, c := range r.Reach {
		flows.plus(c.Counts())
	}
	gate := "not scanned"
	switch {
	case r.Gate.Scanned && r.Gate.Passed:
		gate = "passed"
	case r.Gate.Scanned:
		gate = fmt.Sprintf("**failed** (%s)", strings.Join(r.Gate.Failed, ", "))
	}
	return fmt.Sprintf("%s · flows +%d ~%d -%d · scan gate %s: %d new, %d fixed · %d %s expiring within 14 days · %d spec %s",
		r.Diff.Summary(), flows.Added, flows.Changed, flows.Removed, gate, len(r.Gate.New), len(r.Gate.Fixed),
		len(r.Gate.Expiring), plural(len(r.Gate.Expiring), "exception", "exceptions"),
		len(r.Warnings), plural(len(r.Warnings), "warning", "warnings"))
}

// WriteJSON writes the whole report.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Marker starts every report, so a workflow finds its own comment to update.
const Marker = "<!-- rampart-report -->"

// Markdown renders the report at a level of detail; full is where the complete
// report is, named when detail is not the full one.
func (r *Report) markdown(level detail, full string) string {
	var b strings.Builder
	b.WriteString(Marker + "\n## Rampart render report\n\n")
	b.WriteString(r.Summary() + "\n\n")
	fmt.Fprintf(&b, "Base: `%s`. Head: %s.\n", r.Diff.baseName(), r.Diff.Head)
	writeEnforcement(&b, r.Enforcement)
	if full != "" {
		fmt.Fprintf(&b, "\n> [!NOTE]\n> This report was shortened to fit GitHub's %d-character limit (%s). The full report is in `%s` (the workflow uploads it as an artifact).\n",
			MaxComment, levelName[level], full)
	}
	for i := range r.Diff.Clusters {
		c := &r.Diff.Clusters[i]
		n := c.Counts()
		rc := r.reach(c.Cluster)
		var fn Counts
		if rc != nil {
			fn = rc.Counts()
		}
		fmt.Fprintf(&b, "\n<details><summary><b>%s</b>: objects +%d ~%d -%d, flows +%d ~%d -%d</summary>\n\n", c.Cluster, n.Added, n.Changed, n.Removed, fn.Added, fn.Changed, fn.Removed)
		writeClusterObjects(&b, c, level, "Objects")
		if rc != nil && fn.Total() > 0 {
			writeReach(&b, rc, level)
		}
		b.WriteString("\n</details>\n")
	}
	writeGate(&b, &r.Gate, level)
	if len(r.Warnings) > 0 {
		b.WriteString("\n### Spec warnings\n\n")
		if level == detailCounts {
			fmt.Fprintf(&b, "%d %s; see the full report.\n", len(r.Warnings), plural(len(r.Warnings), "warning", "warnings"))
		} else {
			for _, d := range r.Warnings {
				fmt.Fprintf(&b, "- %s\n", mdCode(d.String()))
			}
		}
	}
	return b.String()
}

var levelName = map[detail]string{
	detailObjects: "full detail",
	detailRefs:    "summaries collapsed per object",
	detailTeams:   "collapsed per team",
	detailCounts:  "counts only",
}

func writeReach(b *strings.Builder, rc *ClusterReach, level detail) {
	n := rc.Counts()
	fmt.Fprintf(b, "\n#### Reachability change: +%d ~%d -%d\n\n", n.Added, n.Changed, n.Removed)
	if level >= detailTeams {
		return
	}
	b.WriteString(rc.Mermaid())
	if len(rc.Flows) > 0 {
		b.WriteString("\n| | layer | from | to | port | before | after |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, f := range rc.Flows {
			fmt.Fprintf(b, "| %s | %s | `%s` | `%s` | %s | %s | %s |\n", sign[f.Change], f.Layer, f.From, f.To, f.Port, cell(f.Before), cell(f.After))
		}
	}
	if len(rc.Outside) > 0 {
		b.WriteString("\n| | workload | direction | layer | peer | ports | policy |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, o := range rc.Outside {
			fmt.Fprintf(b, "| %s | `%s` | %s | %s | %s | %s | %s |\n", sign[o.Change], o.Workload, o.Direction, o.Layer, cell(o.Peer), cell(o.Ports), cell(o.Policy))
		}
	}
}

func cell(s string) string { return strings.ReplaceAll(cmp.Or(s, "-"), "|", `\|`) }

func writeGate(b *strings.Builder, g *Gate, level detail) {
	b.WriteString("\n### Scan gate\n\n")
	if !g.Scanned {
		b.WriteString("Images were not scanned.\n")
	} else if g.Passed {
		fmt.Fprintf(b, "Every team passes (database %s).\n", g.DBVersion)
	} else {
		fmt.Fprintf(b, "**Failed** for %s: their rendered output is left as it was until the findings are fixed or accepted.\n", strings.Join(g.Failed, ", "))
	}
	table := func(title string, fs []Finding) {
		if len(fs) == 0 {
			return
		}
		fmt.Fprintf(b, "\n**%s** (%d)\n\n", title, len(fs))
		if level >= detailTeams {
			return
		}
		b.WriteString("| cluster | team | image | vulnerability | severity | package | fixed in | accepted by |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, f := range fs {
			fmt.Fprintf(b, "| %s | %s | `%s` | %s | %s | %s | %s | %s |\n", f.Cluster, f.Team, imageShort(f.Image), f.ID, f.Severity, f.Package, cell(f.Fixed), cell(f.Exception))
		}
	}
	table("New findings", g.New)
	table("Fixed findings", g.Fixed)
	table("Blocking findings", g.Blocking)
	if len(g.Expiring) > 0 {
		fmt.Fprintf(b, "\n**Exceptions expiring within 14 days** (%d)\n\n", len(g.Expiring))
		if level < detailTeams {
			b.WriteString("| team | clusters | exception | expires | days left | spec |\n| --- | --- | --- | --- | --- | --- |\n")
			for _, x := range g.Expiring {
				fmt.Fprintf(b, "| %s | %s | %s %s | %s | %d | %s |\n", x.Team, x.Cluster, x.Kind, x.ID, x.Expires, x.DaysLeft, cell(x.Source))
			}
		}
	}
}

// imageShort drops the digest's tail from a pinned reference.
func imageShort(ref string) string {
	tag, digest := tagAndDigest(ref)
	s := repository(ref)
	if tag != "" {
		s += ":" + tag
	}
	if digest != "" {
		s += "@" + shortDigest(digest)
	}
	return s
}

// Markdown is the report as a pull request comment of at most limit characters
// (MaxComment when zero). When the full report is longer it degrades — summaries
// collapsed per object, then per team, then counts only — and full(markdown) is
// called to store the complete report, returning where it went.
func (r *Report) Markdown(limit int, full func(complete string) (string, error)) (string, error) {
	if limit <= 0 {
		limit = MaxComment
	}
	complete := r.markdown(detailObjects, "")
	if utf8.RuneCountInString(complete) <= limit {
		return complete, nil
	}
	where := "(not stored)"
	if full != nil {
		w, err := full(complete)
		if err != nil {
			return "", fmt.Errorf("writing the full report: %w", err)
		}
		where = w
		r.FullReport = w
	}
	for _, level := range []detail{detailRefs, detailTeams, detailCounts} {
		if s := r.markdown(level, where); utf8.RuneCountInString(s) <= limit {
			return s, nil
		}
	}
	// Even the counts do not fit (thousands of clusters): cut at a line.
	s := r.markdown(detailCounts, where)
	cut := []rune(s)[:limit-200]
	t := string(cut)
	if i := strings.LastIndex(t, "\n"); i > 0 {
		t = t[:i+1]
	}
	return closeOpen(t) + fmt.Sprintf("\n… cut at GitHub's limit; the full report is in `%s`.\n", where), nil
}

// closeOpen closes what a cut left open, a code fence and <details> sections, so
// the rest of the comment renders as markdown.
func closeOpen(s string) string {
	fences := 0
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "```") {
			fences++
		}
	}
	if fences%2 == 1 {
		s += "```\n"
	}
	for range strings.Count(s, "<details>") - strings.Count(s, "</details>") {
		s += "</details>\n"
	}
	return s
}
