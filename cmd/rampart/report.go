package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/review"
)

// fullReportPath is where the complete report goes when the comment is shortened:
// beside --output-file, else in the current directory.
func fullReportPath(outFile, flag string) string {
	if flag != "" {
		return flag
	}
	if outFile != "" {
		ext := filepath.Ext(outFile)
		return strings.TrimSuffix(outFile, ext) + ".full" + ext
	}
	return "rampart-report.full.md"
}

func newReportCmd(opts *rootOptions) *cobra.Command {
	output := reviewFormat{f: review.Markdown, allowed: []review.Format{review.Markdown, review.JSON}}
	var base, outFile, fullFile string
	var run runFlags
	var sf scanFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the pull request's report: rendered changes, reachability, scan gate, warnings",
		Long: `Render in memory (scanning every image), compare the render with clusters/ committed
at the base revision, and write the report a reviewer reads on the pull request:

  - a summary line: clusters and teams touched, objects added/changed/removed, flows
    added/removed, the scan gate's result;
  - per cluster, a collapsible section with the objects (as 'rampart diff' lists
    them) and the reachability change at L3/L4 and L7 (from 'rampart reach' at the
    base and now), drawn as a Mermaid flowchart of the changed flows;
  - the scan gate: findings new and fixed against the base's images, every blocking
    finding, and exceptions that expire within 14 days;
  - the specs' warnings.

The markdown never exceeds GitHub's 65,536-character comment limit: a longer report
collapses per object, then per team, then to counts only, and the complete report
is written beside it (--full-report, default <output-file>.full.md or
rampart-report.full.md), which the report names so the workflow can upload it.
JSON is always complete. The base is read from git, never rendered again. Nothing
is written to clusters/. Exit 0 when the report is written, whatever the gate says
(validate and check fail the job), 2 on bad input.`,
		Example: `  rampart report --base origin/main > report.md
  rampart report --base origin/main --output-file report.md   # full report, if any, in report.full.md
  rampart report --output json | jq '.gate.new'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := run.options(opts, generator.Memory)
			o.Scan = sf.options(opts)
			rr, err := review.Run(cmd.Context(), o, base)
			if err != nil {
				return reportRunError(opts, outputText, err)
			}
			w, closeOut, err := reportWriter(opts.stdout, outFile)
			if err != nil {
				return err
			}
			defer func() { _ = closeOut() }() // on an early return; the paths that wrote call it
			if output.f == review.JSON {
				if err := rr.Report.WriteJSON(w); err != nil {
					return err
				}
				return closeOut()
			}
			full := fullReportPath(outFile, fullFile)
			md, err := rr.Report.Markdown(limit, func(complete string) (string, error) {
				return full, os.WriteFile(full, []byte(complete), 0o644)
			})
			if err != nil {
				return withCode(exitBadInput, err)
			}
			if rr.Report.FullReport != "" {
				fmt.Fprintf(opts.stderr, "report: shortened to fit %d characters; the full report is in %s\n", review.MaxComment, full)
			}
			if _, err := io.WriteString(w, md); err != nil {
				return err
			}
			return closeOut()
		},
	}
	addBaseFlag(cmd, &base)
	addReviewOutputFlag(cmd, &output)
	cmd.Flags().Var(&output, "format", "report format (deprecated: use --output)")
	deprecateFlag(cmd, opts, "format", "use --output instead")
	cmd.Flags().StringVar(&outFile, "output-file", "", "write the report to this file instead of stdout")
	cmd.Flags().StringVar(&fullFile, "full-report", "", "where the complete report goes when the markdown is shortened")
	cmd.Flags().IntVar(&limit, "max-chars", review.MaxComment, "longest markdown to write, in characters")
	_ = cmd.Flags().MarkHidden("max-chars")
	cmd.Flags().BoolVar(&sf.skip, "skip-scan", false, "DANGEROUS: report without resolving or scanning images")
	cmd.Flags().BoolVar(&sf.refresh, "refresh", false, "ignore cached scan results and tag resolutions")
	run.register(cmd)
	return cmd
}
