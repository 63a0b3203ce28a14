package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/scan"
	"github.com/rampart-gitops/rampart/generator/scan/report"
)

// reportFormat is the scan command's --format value.
type reportFormat report.Format

func (f *reportFormat) String() string { return string(*f) }
func (f *reportFormat) Type() string   { return "text|json|sarif|markdown" }
func (f *reportFormat) Set(s string) error {
	if !slices.Contains(report.Formats, report.Format(s)) {
		return fmt.Errorf("want one of text, json, sarif, markdown, got %q", s)
	}
	*f = reportFormat(s)
	return nil
}

func newScanCmd(opts *rootOptions) *cobra.Command {
	format := reportFormat(report.FormatText)
	var outFile string
	var refresh bool
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Resolve and scan every image the teams run, and apply each cluster's gate",
		Long: `Resolve every image the rendered teams reference to a digest, scan each distinct
digest once with Trivy (in-process, against the database rampart.yaml names), and
apply each cluster's threshold and each team's exceptions. Nothing is written to
clusters/.

Reports: text (a table per image and a verdict per team and cluster), json, sarif
(SARIF 2.1.0, for GitHub code scanning) and markdown (for a pull request comment).
Results are cached by digest and database version in scan.cacheDir, so a second run
with unchanged images asks no registry anything; --refresh rescans (the nightly job).

Exit codes: 0 every gate passed, 1 a team failed a gate, 2 the scan could not run
(missing or stale database, an image that cannot be pulled, bad input).`,
		Example: `  rampart scan
  rampart scan --output sarif --output-file rampart.sarif
  rampart scan --refresh -o markdown > scan.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := generator.Generate(cmd.Context(), generator.Options{
				Dir: opts.dir, Mode: generator.Check, Logger: opts.logger,
				Scan: generator.ScanOptions{Refresh: refresh, Progress: opts.stderr},
			})
			if err != nil {
				return reportRunError(opts, outputText, err)
			}
			if res.Scan == nil || res.Scan.Skipped {
				return withCode(exitBadInput, fmt.Errorf("the scan did not run"))
			}
			run := report.New(scanInput(res.Scan))
			w, closeOut, err := reportWriter(opts.stdout, outFile)
			if err != nil {
				return err
			}
			defer func() { _ = closeOut() }() // on an early return; the paths that wrote call it
			if err := report.Write(w, run, report.Format(format)); err != nil {
				return withCode(exitBadInput, fmt.Errorf("writing the report: %w", err))
			}
			if err := closeOut(); err != nil {
				return err
			}
			if outFile != "" {
				printGateSummary(opts.stderr, run)
			}
			if !run.Passed {
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
	formats := []string{"text", "json", "sarif", "markdown"}
	cmd.Flags().VarP(&format, "output", "o", "report format: text, json, sarif or markdown")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	// --format/-f was this command's spelling before --output became every command's;
	// it keeps working, with a deprecation notice on stderr.
	cmd.Flags().VarP(&format, "format", "f", "report format (deprecated: use --output)")
	deprecateFlag(cmd, opts, "format", "use --output instead")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&outFile, "output-file", "", "write the report to this file instead of stdout")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ignore cached scan results and tag resolutions")
	return cmd
}

// scanInput turns the generator's scan report into the report package's input. Images
// are located at the spec of every team whose verdict names them.
func scanInput(r *scan.Report) report.Input {
	in := report.Input{DBVersion: r.DBVersion, Results: r.Results, Sources: map[string][]report.Source{}}
	byPinned := map[string]string{}
	for _, ref := range slices.Sorted(maps.Keys(r.Images)) {
		img := r.Images[ref]
		in.Images = append(in.Images, img)
		byPinned[img.Pinned] = ref
	}
	seen := map[string]bool{}
	locate := func(image, file string) {
		ref := byPinned[image]
		if ref == "" || file == "" || seen[ref+"\x00"+file] {
			return
		}
		seen[ref+"\x00"+file] = true
		in.Sources[ref] = append(in.Sources[ref], report.Source{File: file})
	}
	for _, v := range r.Verdicts {
		in.Gates = append(in.Gates, report.Gate{Team: v.Team, Cluster: v.Cluster, Spec: v.File, Verdict: v.Verdict})
		for _, f := range v.Verdict.Blocking {
			locate(f.Image, v.File)
		}
		for _, f := range v.Verdict.Covered {
			locate(f.Image, v.File)
		}
	}
	return in
}

// printGateSummary tells a terminal user which gates failed when the report went to a file.
func printGateSummary(w io.Writer, run *report.Run) {
	var failed []string
	for _, g := range run.Gates {
		if !g.Verdict.Passed() {
			failed = append(failed, g.Team+" on "+g.Cluster)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(w, "scan: %d image(s), every gate passed\n", len(run.Images))
		return
	}
	fmt.Fprintf(w, "scan: %d image(s), gate failed for %s\n", len(run.Images), strings.Join(failed, ", "))
}
