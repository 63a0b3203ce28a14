// Package report renders a scan run — the images, their findings and each team's gate
// verdict — as a text table for terminals, JSON for tools, SARIF 2.1.0 for GitHub code
// scanning and markdown for the bot's pull request. Every format is sorted and free of
// timestamps, so the same run gives the same bytes.
package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/scan"
)

// Format is an output format.
type Format string

// Formats.
const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatSARIF    Format = "sarif"
	FormatMarkdown Format = "markdown"
)

// Formats lists the formats, for flag help.
var Formats = []Format{FormatText, FormatJSON, FormatSARIF, FormatMarkdown}

// Source is where a spec refers to an image (or declares an exception).
type Source struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func (s Source) String() string {
	switch {
	case s.Line == 0:
		return s.File
	case s.Column == 0:
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", s.File, s.Line, s.Column)
	}
}

// Input is what a scan run produced.
type Input struct {
	// DBVersion is Scanner.DBVersion.
	DBVersion string
	// Images are the resolved images; an image that failed to resolve may be given with
	// only Ref set.
	Images []scan.Resolved
	// Results are Scanner.Scan's results by digest.
	Results map[string]*scan.Result
	// ResolveErrors are the references that failed to resolve, with why.
	ResolveErrors map[string]error
	// Sources says where each reference (by Ref) is written in the specs.
	Sources map[string][]Source
	// Gates are the verdicts, one per team and cluster.
	Gates []Gate
}

// Gate is one team's verdict on one cluster.
type Gate struct {
	Team    string       `json:"team"`
	Cluster string       `json:"cluster,omitempty"`
	Spec    string       `json:"spec,omitempty"` // the team's spec file
	Verdict scan.Verdict `json:"verdict"`
}

// Run is a scan run ready to render.
type Run struct {
	DBVersion string  `json:"dbVersion"`
	Passed    bool    `json:"passed"`
	Images    []Image `json:"images"`
	Gates     []Gate  `json:"gates"`
}

// Image is one reference with its scan.
type Image struct {
	Ref      string         `json:"ref"`
	Pinned   string         `json:"pinned,omitempty"`
	Digest   string         `json:"digest,omitempty"`
	OS       string         `json:"os,omitempty"`
	Packages int            `json:"packages"`
	Findings []scan.Finding `json:"findings"`
	Sources  []Source       `json:"sources,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// New assembles a Run, sorted: images by reference, gates by team then cluster.
func New(in Input) *Run {
	r := &Run{DBVersion: in.DBVersion, Passed: true, Images: []Image{}, Gates: slices.Clone(in.Gates)}
	if r.Gates == nil {
		r.Gates = []Gate{}
	}
	seen := map[string]bool{}
	add := func(img Image) {
		if seen[img.Ref] {
			return
		}
		seen[img.Ref] = true
		img.Sources = slices.Clone(in.Sources[img.Ref])
		slices.SortFunc(img.Sources, func(a, b Source) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		if img.Findings == nil {
			img.Findings = []scan.Finding{}
		}
		if img.Error != "" {
			r.Passed = false
		}
		r.Images = append(r.Images, img)
	}
	for _, res := range in.Images {
		img := Image{Ref: res.Ref, Pinned: res.Pinned, Digest: res.Digest}
		sr := in.Results[res.Digest]
		switch {
		case res.Digest == "":
			img.Error = "not resolved to a digest"
			if err := in.ResolveErrors[res.Ref]; err != nil {
				img.Error = err.Error()
			}
		case sr == nil:
			img.Error = "not scanned"
		case sr.Err != nil:
			img.Error = sr.Err.Error()
		default:
			img.OS, img.Packages = sr.OS, sr.Packages
			img.Findings = slices.Clone(sr.Findings)
			scan.SortFindings(img.Findings)
		}
		add(img)
	}
	for ref, err := range in.ResolveErrors {
		add(Image{Ref: ref, Error: err.Error()})
	}
	slices.SortFunc(r.Images, func(a, b Image) int { return cmp.Compare(a.Ref, b.Ref) })
	slices.SortStableFunc(r.Gates, func(a, b Gate) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(a.Cluster, b.Cluster))
	})
	for _, g := range r.Gates {
		if !g.Verdict.Passed() {
			r.Passed = false
		}
	}
	return r
}

// Write renders run in format f.
func Write(w io.Writer, run *Run, f Format) error {
	switch f {
	case FormatText, "":
		return Text(w, run)
	case FormatJSON:
		return JSON(w, run)
	case FormatSARIF:
		return SARIF(w, run)
	case FormatMarkdown:
		return Markdown(w, run)
	default:
		return fmt.Errorf("unknown report format %q (want one of %s)", f, joinFormats())
	}
}

func joinFormats() string {
	s := make([]string, len(Formats))
	for i, f := range Formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// name of a gate for headings: "payments on prod-weu".
func (g Gate) name() string {
	if g.Cluster == "" {
		return g.Team
	}
	return g.Team + " on " + g.Cluster
}

func orDash(s string) string { return cmp.Or(s, "-") }

// counts returns the number of findings per severity, highest first, as "1 CRITICAL, 2 HIGH".
func counts(fs []scan.Finding) string {
	n := map[scan.Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	var parts []string
	for i := len(scan.Severities) - 1; i >= 0; i-- {
		if c := n[scan.Severities[i]]; c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, scan.Severities[i]))
		}
	}
	if len(parts) == 0 {
		return "no findings"
	}
	return strings.Join(parts, ", ")
}
