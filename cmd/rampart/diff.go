package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-gitops/rampart/generator/review"
)

// reviewFormat is the --output flag of diff and report.
type reviewFormat struct {
	f       review.Format
	allowed []review.Format
}

func (f *reviewFormat) String() string { return string(f.f) }
func (f *reviewFormat) Type() string   { return formatNames(f.allowed, "|") }
func (f *reviewFormat) Set(s string) error {
	if !slices.Contains(f.allowed, review.Format(s)) {
		return fmt.Errorf("want %s, got %q", formatNames(f.allowed, " or "), s)
	}
	f.f = review.Format(s)
	return nil
}

func formatNames(fs []review.Format, sep string) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, sep)
}

func addReviewOutputFlag(cmd *cobra.Command, f *reviewFormat) {
	cmd.Flags().VarP(f, "output", "o", "output format: "+formatNames(f.allowed, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(strings.Split(formatNames(f.allowed, " "), " "), cobra.ShellCompDirectiveNoFileComp))
}

// addBaseFlag registers --base with completion of branches and tags.
func addBaseFlag(cmd *cobra.Command, base *string) {
	cmd.Flags().StringVar(base, "base", "", "git revision whose committed clusters/ is the base (default: the merge base of HEAD with the default branch)")
	_ = cmd.RegisterFlagCompletionFunc("base", completeRefs)
}

// completeRefs completes a git revision with the repository's branches and tags.
func completeRefs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	dir, _ := cmd.Flags().GetString("dir")
	refs, err := gitRefs(cmd.Context(), dir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return refs, cobra.ShellCompDirectiveNoFileComp
}

func newDiffCmd(opts *rootOptions) *cobra.Command {
	output := reviewFormat{f: review.Text, allowed: review.Formats}
	var base, head string
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "List the rendered objects a change adds, changes and removes, with what matters for security",
		Long: `Compare the rendered tree clusters/ with the one committed at a base revision, and
print per cluster and team the objects added (+), changed (~) and removed (-), as
Kind/namespace/name, each change with a short security summary: network policy
rules added and removed, a workload's image and digest, a policy exception and its
expiry, authorization sources and operations, role bindings and rules.

The base is read from git (git ls-tree and git cat-file), never rendered again;
only the files whose blob ids differ are read and parsed, so a one-team change on a
large fleet compares a handful of files. The head is clusters/ on disk (what
'rampart render' wrote, committed or not: the files git says differ from the base,
and the untracked ones it does not ignore, are read; the rest is the base's), or
another revision with --head.

Without --base the base is the merge base of HEAD with the default branch
(origin/HEAD, else origin/main, origin/master, main, master): in a pull request's
checkout, pass --base origin/<base branch> after fetching it.`,
		Example: `  rampart render && rampart diff
  rampart diff --base origin/main --output markdown >> "$GITHUB_STEP_SUMMARY"
  rampart diff --base v1.2.0 --head main --output json | jq '.counts'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := review.DiffTrees(cmd.Context(), review.Options{Dir: opts.dir, Base: base, Head: head})
			if err != nil {
				return withCode(exitBadInput, err)
			}
			return d.Write(opts.stdout, output.f)
		},
	}
	addBaseFlag(cmd, &base)
	cmd.Flags().StringVar(&head, "head", "", "git revision to compare instead of clusters/ on disk")
	_ = cmd.RegisterFlagCompletionFunc("head", completeRefs)
	addReviewOutputFlag(cmd, &output)
	return cmd
}

// deprecateFlag marks an old spelling of a flag deprecated with cobra's flag
// deprecation (hidden from help, a notice when used). Cobra prints that notice to
// the command's output writer, which is stdout here, where it would corrupt a JSON
// or SARIF report; the command's output goes to stderr instead, and its help still
// to stdout.
func deprecateFlag(cmd *cobra.Command, opts *rootOptions, name, message string) {
	_ = cmd.Flags().MarkDeprecated(name, message)
	if f := cmd.Flags().Lookup(name); f != nil && f.Shorthand != "" {
		_ = cmd.Flags().MarkShorthandDeprecated(name, message)
	}
	help := cmd.HelpFunc()
	cmd.SetOut(opts.stderr)
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		c.SetOut(opts.stdout)
		defer c.SetOut(opts.stderr)
		help(c, args)
	})
}
