package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/rampart-gitops/rampart/generator/scan"
)

// Text writes an aligned table per image, then each gate's verdict.
func Text(w io.Writer, run *Run) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Vulnerability database %s, %d image(s)\n", run.DBVersion, len(run.Images))
	for _, img := range run.Images {
		fmt.Fprintf(&b, "\n%s\n", cmp.Or(img.Pinned, img.Ref))
		if img.Error != "" {
			fmt.Fprintf(&b, "  ERROR: %s\n", img.Error)
			continue
		}
		fmt.Fprintf(&b, "  %s, %d packages: %s\n", orDash(img.OS), img.Packages, counts(img.Findings))
		if len(img.Findings) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  PACKAGE\tINSTALLED\tFIXED\tID\tSEVERITY\tTITLE")
		for _, f := range img.Findings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", f.Package, f.Installed, orDash(f.Fixed), f.ID, f.Severity, f.Title)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, g := range run.Gates {
		v := g.Verdict
		status := "PASS"
		if !v.Passed() {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "\nGate %s (threshold %s): %s\n", g.name(), v.Threshold, status)
		if !v.Passed() {
			fmt.Fprintf(&b, "%s\n", indent(v.Err().Error(), "  "))
		} else {
			for _, x := range v.Expired {
				fmt.Fprintf(&b, "  %s\n", x.Message)
			}
		}
		for _, c := range v.Covered {
			fmt.Fprintf(&b, "  covered: %s %s %s in %s by the exception at %s (until %s): %s\n",
				c.ID, c.Package, c.Installed, c.Image, orDash(c.Exception.Source), c.Exception.Expires, c.Exception.Reason)
		}
		for _, x := range v.Unused {
			fmt.Fprintf(&b, "  unused exception %s (%s) matches no finding; remove it\n", x.ID, orDash(x.Source))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// JSON writes the run as indented JSON with stable field names.
func JSON(w io.Writer, run *Run) error {
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// sarifLevel maps a severity to a SARIF result level.
func sarifLevel(s scan.Severity) string {
	switch s {
	case scan.SeverityCritical, scan.SeverityHigh:
		return "error"
	case scan.SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is the number GitHub code scanning ranks vulnerabilities by (it
// maps >= 9.0 to critical, >= 7.0 high, >= 4.0 medium, else low).
func securitySeverity(s scan.Severity) string {
	switch s {
	case scan.SeverityCritical:
		return "9.5"
	case scan.SeverityHigh:
		return "8.0"
	case scan.SeverityMedium:
		return "5.5"
	case scan.SeverityLow:
		return "2.0"
	default:
		return "0.0"
	}
}

// SARIF writes a SARIF 2.1.0 log: one rule per vulnerability ID, one result per
// finding per image, located at the spec lines that reference the image; findings an
// exception covers carry a suppression with the exception's reason.
func SARIF(w io.Writer, run *Run) error {
	rep, err := sarif.New(sarif.Version210)
	if err != nil {
		return fmt.Errorf("creating SARIF report: %w", err)
	}
	sr := sarif.NewRunWithInformationURI("rampart", "https://github.com/rampart-gitops/rampart")

	type coverKey struct{ image, id, pkg, installed string }
	covered := map[coverKey]scan.Exception{}
	for _, g := range run.Gates {
		for _, c := range g.Verdict.Covered {
			covered[coverKey{c.Image, c.ID, c.Package, c.Installed}] = c.Exception
		}
	}

	rules := map[string]scan.Finding{}
	for _, img := range run.Images {
		for _, f := range img.Findings {
			if _, ok := rules[f.ID]; !ok {
				rules[f.ID] = f
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(rules)) {
		f := rules[id]
		{
			help := fmt.Sprintf("Vulnerability %s\nSeverity: %s\nPackage: %s\nFixed version: %s\nLink: %s", f.ID, f.Severity, f.Package, orDash(f.Fixed), orDash(f.URL))
			rule := sr.AddRule(f.ID).
				WithName("VulnerabilityInImage").
				WithShortDescription(sarif.NewMultiformatMessageString(orDash(f.Title))).
				WithFullDescription(sarif.NewMultiformatMessageString(orDash(f.Title))).
				WithHelp(sarif.NewMultiformatMessageString(help).WithMarkdown(
					fmt.Sprintf("**Vulnerability %s**\n| Severity | Package | Fixed Version | Link |\n| --- | --- | --- | --- |\n| %s | %s | %s | %s |", f.ID, f.Severity, f.Package, orDash(f.Fixed), mdLink(f.URL)))).
				WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(f.Severity))).
				WithProperties(sarif.Properties{
					"precision":         "very-high",
					"security-severity": securitySeverity(f.Severity),
					"tags":              []string{"vulnerability", "security", string(f.Severity)},
				})
			if f.URL != "" {
				rule.WithHelpURI(f.URL)
			}
		}
	}
	for _, img := range run.Images {
		for _, f := range img.Findings {
			msg := fmt.Sprintf("Package: %s\nInstalled Version: %s\nVulnerability %s\nSeverity: %s\nFixed Version: %s\nImage: %s",
				f.Package, f.Installed, f.ID, f.Severity, orDash(f.Fixed), img.Pinned)
			res := sr.CreateResultForRule(f.ID).
				WithLevel(sarifLevel(f.Severity)).
				WithMessage(sarif.NewTextMessage(msg))
			res.WithPartialFingerPrints(map[string]any{"imageFinding/v1": img.Digest + "/" + f.ID + "/" + f.Package + "/" + f.Installed})
			for _, src := range img.Sources {
				region := sarif.NewRegion()
				if src.Line > 0 {
					region.WithStartLine(src.Line)
				} else {
					region.WithStartLine(1)
				}
				if src.Column > 0 {
					region.WithStartColumn(src.Column)
				}
				res.AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewSimpleArtifactLocation(src.File).WithUriBaseId("ROOTPATH")).
					WithRegion(region)).WithMessage(sarif.NewTextMessage(img.Ref)))
			}
			if x, ok := covered[coverKey{img.Pinned, f.ID, f.Package, f.Installed}]; ok {
				res.AddSuppression(sarif.NewSuppression("external").WithJustifcation(
					fmt.Sprintf("%s (exception at %s, until %s)", x.Reason, orDash(x.Source), x.Expires)))
			}
		}
	}
	sr.OriginalUriBaseIDs = map[string]*sarif.ArtifactLocation{"ROOTPATH": {URI: ptr("file:///")}}
	rep.AddRun(sr)
	var b bytes.Buffer
	if err := rep.PrettyWrite(&b); err != nil {
		return fmt.Errorf("encoding SARIF report: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	_, err = w.Write(b.Bytes())
	return err
}

func ptr[T any](v T) *T { return &v }

func mdLink(u string) string {
	if u == "" {
		return "-"
	}
	return fmt.Sprintf("[%s](%s)", u, u)
}

// mdCell escapes a table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// Markdown writes a summary for a pull request: a line per gate, the blocking
// findings and exception notes of failing gates, and every image's findings folded.
func Markdown(w io.Writer, run *Run) error {
	var b bytes.Buffer
	status := "✅ all gates passed"
	if !run.Passed {
		status = "❌ some gates failed"
	}
	fmt.Fprintf(&b, "## Image scan: %s\n\nVulnerability database `%s`, %d image(s).\n", status, run.DBVersion, len(run.Images))
	if len(run.Gates) > 0 {
		b.WriteString("\n| Team | Cluster | Threshold | Result | Blocking | Covered | Expired exceptions | Unused exceptions |\n|---|---|---|---|---|---|---|---|\n")
		for _, g := range run.Gates {
			v := g.Verdict
			res := "✅ pass"
			if !v.Passed() {
				res = "❌ fail"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %d |\n", mdCell(g.Team), mdCell(orDash(g.Cluster)), v.Threshold, res,
				len(v.Blocking), len(v.Covered), len(v.Expired), len(v.Unused))
		}
	}
	for _, g := range run.Gates {
		v := g.Verdict
		if v.Passed() && len(v.Expired) == 0 && len(v.Unused) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n", mdCell(g.name()))
		for _, e := range v.Errors {
			fmt.Fprintf(&b, "\n- ❌ %s\n", mdCell(e.Message))
		}
		if len(v.Blocking) > 0 {
			fmt.Fprintf(&b, "\nBlocking findings (at or above %s):\n\n| Image | Package | Installed | Fixed | ID | Severity | Title |\n|---|---|---|---|---|---|---|\n", v.Threshold)
			for _, f := range v.Blocking {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", f.Image, mdCell(f.Package), mdCell(f.Installed), mdCell(orDash(f.Fixed)),
					mdIDLink(f.Finding), f.Severity, mdCell(f.Title))
			}
		}
		for _, x := range v.Expired {
			fmt.Fprintf(&b, "\n- ⏰ %s\n", mdCell(x.Message))
		}
		for _, x := range v.Unused {
			fmt.Fprintf(&b, "\n- 🧹 unused exception %s (%s) matches no finding; remove it\n", x.ID, orDash(x.Source))
		}
	}
	b.WriteString("\n<details><summary>Findings per image</summary>\n")
	for _, img := range run.Images {
		fmt.Fprintf(&b, "\n#### `%s`\n\n", cmp.Or(img.Pinned, img.Ref))
		if img.Error != "" {
			fmt.Fprintf(&b, "❌ %s\n", mdCell(img.Error))
			continue
		}
		fmt.Fprintf(&b, "%s, %d packages: %s\n", orDash(img.OS), img.Packages, counts(img.Findings))
		if len(img.Findings) == 0 {
			continue
		}
		b.WriteString("\n| Package | Installed | Fixed | ID | Severity | Title |\n|---|---|---|---|---|---|\n")
		for _, f := range img.Findings {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdCell(f.Package), mdCell(f.Installed), mdCell(orDash(f.Fixed)), mdIDLink(f), f.Severity, mdCell(f.Title))
		}
	}
	b.WriteString("\n</details>\n")
	_, err := w.Write(b.Bytes())
	return err
}

func mdIDLink(f scan.Finding) string {
	if f.URL == "" {
		return f.ID
	}
	return fmt.Sprintf("[%s](%s)", f.ID, f.URL)
}
