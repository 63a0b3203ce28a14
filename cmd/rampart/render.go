package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/write"
)

// outputFormat is the --output flag's value.
type outputFormat string

const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
	// outputGitHub prints diagnostics as GitHub Actions workflow commands, which the
	// runner shows as annotations on the pull request's files.
	outputGitHub outputFormat = "github"
)

// outputValue is the --output flag of a command that takes some of the formats.
type outputValue struct {
	o       *outputFormat
	allowed []string
}

func (v outputValue) String() string { return string(*v.o) }
func (v outputValue) Type() string   { return strings.Join(v.allowed, "|") }
func (v outputValue) Set(s string) error {
	if !slices.Contains(v.allowed, s) {
		return fmt.Errorf("want %s, got %q", strings.Join(v.allowed, " or "), s)
	}
	*v.o = outputFormat(s)
	return nil
}

// addOutputFlag registers --output/-o (text or json, and the extra formats named):
// the one output flag convention of every command.
func addOutputFlag(cmd *cobra.Command, o *outputFormat, extra ...outputFormat) {
	*o = outputText
	allowed := []string{string(outputText), string(outputJSON)}
	for _, e := range extra {
		allowed = append(allowed, string(e))
	}
	help := "output format: " + strings.Join(allowed, ", ")
	if slices.Contains(extra, outputGitHub) {
		help += " (github: workflow commands, shown as annotations on the pull request)"
	}
	cmd.Flags().VarP(outputValue{o, allowed}, "output", "o", help)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
}

// scanFlags are the supply-chain flags of render and check.
type scanFlags struct {
	skip, refresh, failFast bool
}

func (f *scanFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.skip, "skip-scan", false, "DANGEROUS: render without resolving or scanning images (output is unscanned and unpinned)")
	cmd.Flags().BoolVar(&f.refresh, "refresh", false, "ignore cached scan results and tag resolutions (the nightly rescan)")
	cmd.Flags().BoolVar(&f.failFast, "fail-fast", false, "stop at the first team that fails the scan gate instead of rendering the others")
}

func (f *scanFlags) options(opts *rootOptions) generator.ScanOptions {
	return generator.ScanOptions{Skip: f.skip, Refresh: f.refresh, FailFast: f.failFast, Progress: opts.stderr}
}

// runFlags are the flags every rendering command shares: the shard and the cache.
type runFlags struct {
	clusters []string
	noCache  bool
}

func (f *runFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.clusters, "cluster", nil, "render only this cluster (repeatable): one shard of a CI matrix; other clusters' files are not touched")
	cmd.Flags().BoolVar(&f.noCache, "no-cache", false, "render and verify every team afresh, without the render cache")
	_ = cmd.RegisterFlagCompletionFunc("cluster", completeClusters)
}

// options are the generator options of a run in mode.
func (f *runFlags) options(opts *rootOptions, mode generator.Mode) generator.Options {
	return generator.Options{
		Dir: opts.dir, Mode: mode, Logger: opts.logger, Progress: opts.stderr,
		Clusters: f.clusters, NoCache: f.noCache,
	}
}

// completeClusters completes --cluster with the directories under clusters/.
func completeClusters(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	dir, _ := cmd.Flags().GetString("dir")
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(filepath.Join(dir, "clusters"))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// reportGate prints the scan gate's outcome: every failing team with its table, and
// exceptions that expired or match nothing. It returns exit 1 when a team failed.
func reportGate(opts *rootOptions, res *generator.Result) error {
	if res.Scan == nil {
		return nil
	}
	if res.Scan.Skipped {
		fmt.Fprintln(opts.stderr, "WARNING: images were not scanned (--skip-scan); the output is unscanned and images are not pinned")
		return nil
	}
	for _, v := range res.Scan.Verdicts {
		for _, x := range v.Verdict.Expired {
			fmt.Fprintf(opts.stderr, "warning: %s: %s\n", v.Cluster, x.Message)
		}
		for _, x := range v.Verdict.Unused {
			fmt.Fprintf(opts.stderr, "warning: %s: exception %s (%s) matches no finding; remove it\n", v.Cluster, x.ID, x.Source)
		}
	}
	failed := res.Scan.Failed()
	for _, v := range failed {
		fmt.Fprintf(opts.stderr, "%s: team %q on cluster %q: %v\n", v.File, v.Team, v.Cluster, v.Verdict.Err())
	}
	if len(failed) > 0 {
		return withCode(exitFindings, fmt.Errorf("%d team(s) failed the scan gate; their output was left as it was", len(failed)))
	}
	return nil
}

func newRenderCmd(opts *rootOptions) *cobra.Command {
	var output outputFormat
	var scan scanFlags
	var run runFlags
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render teams/ into clusters/<cluster>/",
		Long: `Render every team on every cluster it runs on into clusters/<cluster>/:

  clusters/<cluster>/kustomization.yaml   lists platform/ and tenants/ only
  clusters/<cluster>/platform/            cluster-wide objects (cluster's reconciler)
  clusters/<cluster>/tenants/<team>.yaml  namespace, RBAC and the team's Flux tenant
  clusters/<cluster>/teams/<team>/        the team's objects, applied as the team

Nothing is written unless every spec is valid and every rendered object passes
verification (strict upstream types, Pod Security "restricted", tenant isolation,
Flux's build). Files that did not change are not touched; a cluster's directory is
swapped in one step.

Teams whose inputs did not change (their spec, the intents of the teams they call or
are called by, cluster.yaml, lib/, their charts, this build of Rampart) are taken from
the render cache in scan.cacheDir/units, already verified; --no-cache renders
everything afresh. --cluster renders one shard of a large fleet.`,
		Example: `  rampart render
  rampart render -C path/to/repo --output json
  rampart render --cluster prod-weu --cluster prod-neu   # one shard of a CI matrix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := run.options(opts, generator.Render)
			o.Scan = scan.options(opts)
			res, err := generator.Generate(cmd.Context(), o)
			if err != nil {
				return reportFailedRun(opts, output, res, err)
			}
			if err := printChanges(opts.stdout, opts.stderr, output, res, "wrote"); err != nil {
				return err
			}
			return reportGate(opts, res)
		},
	}
	addOutputFlag(cmd, &output)
	scan.register(cmd)
	run.register(cmd)
	return cmd
}

func newValidateCmd(opts *rootOptions) *cobra.Command {
	var output outputFormat
	var run runFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check every spec and render in memory; report every mistake at once",
		Long: `Load every team spec and cluster inventory, check them against the schema and the
semantic rules (names, references, quantities, ports, images), render in memory and
verify the result. Every mistake is reported at once as file:line:col with a hint.
Nothing is written.`,
		Example: `  rampart validate
  rampart validate --output json | jq '.diagnostics[] | .file'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := generator.Generate(cmd.Context(), run.options(opts, generator.Validate))
			if err != nil {
				return reportRunError(opts, output, err)
			}
			if output == outputJSON {
				return writeJSON(opts.stdout, struct {
					Valid       bool                 `json:"valid"`
					Diagnostics diag.List            `json:"diagnostics"`
					Units       generator.UnitCounts `json:"units"`
				}{true, nonNil(res.Warnings), res.Units})
			}
			if output == outputGitHub {
				printGitHub(opts.stdout, res.Warnings)
			} else {
				printWarnings(opts.stderr, res.Warnings)
			}
			fmt.Fprintf(opts.stdout, "ok: %d teams on %d clusters\n", len(res.Inventory.Teams), len(res.Clusters))
			return nil
		},
	}
	addOutputFlag(cmd, &output, outputGitHub)
	run.register(cmd)
	return cmd
}

func newCheckCmd(opts *rootOptions) *cobra.Command {
	var output outputFormat
	var scan scanFlags
	var run runFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Fail when clusters/ does not match teams/, lib/ and cluster.yaml",
		Long: `Render in memory and compare with clusters/ on disk. Exit 0 when they match, exit 1
with the list of stale files when they do not (run 'rampart render' and commit),
exit 2 on bad input. Nothing is written. --output github annotates each stale file,
each spec mistake and each team that fails the scan gate on the pull request.`,
		Example: `  rampart check
  rampart check --output json
  rampart check --output github`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := run.options(opts, generator.Check)
			o.Scan = scan.options(opts)
			res, err := generator.Generate(cmd.Context(), o)
			if err != nil {
				return reportFailedRun(opts, output, res, err)
			}
			if err := printChanges(opts.stdout, opts.stderr, output, res, "stale"); err != nil {
				return err
			}
			if output == outputGitHub {
				annotateGate(opts.stdout, res)
			}
			if err := reportGate(opts, res); err != nil {
				return err
			}
			if len(res.Changes) > 0 {
				if output != outputJSON {
					fmt.Fprintln(opts.stderr, "clusters/ is out of date; run `rampart render` and commit the result")
				}
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
	addOutputFlag(cmd, &output, outputGitHub)
	scan.register(cmd)
	run.register(cmd)
	return cmd
}

// reportRunError prints a failed run's diagnostics and picks the exit code.
func reportRunError(opts *rootOptions, output outputFormat, err error) error {
	return reportFailedRun(opts, output, nil, err)
}

// reportFailedRun is reportRunError for runs that may have stopped at the scan gate
// (--fail-fast): then the gate's table is printed and the exit code is 1.
func reportFailedRun(opts *rootOptions, output outputFormat, res *generator.Result, err error) error {
	if errors.Is(err, generator.ErrGateFailed) && res != nil {
		if gateErr := reportGate(opts, res); gateErr != nil {
			return withCode(exitFindings, fmt.Errorf("%w; nothing was written (--fail-fast)", err))
		}
	}
	var bad *generator.BadInputError
	if !errors.As(err, &bad) {
		return withCode(exitBadInput, err)
	}
	if output == outputJSON {
		if werr := writeJSON(opts.stdout, struct {
			Valid       bool      `json:"valid"`
			Diagnostics diag.List `json:"diagnostics"`
		}{false, bad.Diagnostics}); werr != nil {
			return werr
		}
		return withCode(exitBadInput, nil)
	}
	if output == outputGitHub {
		printGitHub(opts.stdout, bad.Diagnostics)
	}
	for _, d := range bad.Diagnostics {
		fmt.Fprintln(opts.stderr, d.String())
	}
	n := len(bad.Diagnostics)
	return withCode(exitBadInput, fmt.Errorf("%d %s; nothing was written", n, plural(n, "error", "errors")))
}

func printChanges(w, errw io.Writer, output outputFormat, res *generator.Result, verb string) error {
	if output == outputJSON {
		return writeJSON(w, struct {
			Changes   []write.Change       `json:"changes"`
			Warnings  diag.List            `json:"warnings"`
			Units     generator.UnitCounts `json:"units"`
			Platforms generator.UnitCounts `json:"platforms"`
		}{nonNil(res.Changes), nonNil(res.Warnings), res.Units, res.Platforms})
	}
	if output == outputGitHub {
		printGitHub(w, res.Warnings)
		for _, c := range res.Changes {
			fmt.Fprintf(w, "::error file=%s,title=%s::%s\n", c.Path, "rendered output is "+verb,
				diag.EscapeData(fmt.Sprintf("%s does not match teams/, lib/ and cluster.yaml (%s); run `rampart render` and commit clusters/", c.Path, c.Action)))
		}
	} else {
		printWarnings(errw, res.Warnings)
	}
	for _, c := range res.Changes {
		fmt.Fprintf(w, "%s %s %s\n", verb, c.Action, c.Path)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintf(w, "up to date: %d clusters\n", len(res.Clusters))
	}
	return nil
}

// printGitHub prints diagnostics as workflow commands.
func printGitHub(w io.Writer, l diag.List) {
	for _, d := range l {
		fmt.Fprintln(w, d.GitHub())
	}
}

// annotateGate prints a workflow command for each team that fails the scan gate, on
// the team's spec.
func annotateGate(w io.Writer, res *generator.Result) {
	if res.Scan == nil {
		return
	}
	for _, v := range res.Scan.Failed() {
		d := diag.Diagnostic{File: v.File, Field: "image scan gate", Message: fmt.Sprintf("team %q on cluster %q: %v", v.Team, v.Cluster, v.Verdict.Err()),
			Hint: "upgrade the image, or add an exception with a reason and an expiry under spec.exceptions.vulnerabilities"}
		fmt.Fprintln(w, d.GitHub())
	}
}

func printWarnings(w io.Writer, l diag.List) {
	for _, d := range l {
		fmt.Fprintln(w, d.String())
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
