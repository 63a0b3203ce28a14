package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/forge"
	"github.com/rampart-gitops/rampart/generator/prbot"
	"github.com/rampart-gitops/rampart/generator/review"
)

// defaultAuthor is the identity GitHub shows for commits made by Actions.
const defaultAuthor = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"

// authorRE is git's "Name <email>".
var authorRE = regexp.MustCompile(`^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$`)

func newPRCmd(opts *rootOptions) *cobra.Command {
	var output outputFormat
	var branch, base, repo, remote, author, fullReport string
	var labels []string
	var refresh, noCache bool
	cmd := &cobra.Command{
		Use:   "pr",
		Short: "The render bot: render, commit to a branch, push, and open or update the pull request",
		Long: `After a merge (and nightly), do the render bot's whole job in one command:

  1. render teams/ into clusters/ (scanning every image; --refresh rescans);
  2. when clusters/ changed, commit it on top of HEAD to the bot's branch (--branch,
     default rampart/render; rampart/nightly with --refresh) as --author, and push
     with a lease: a branch commit the bot has not read is never overwritten;
  3. open the pull request into --base (default: the repository's default branch),
     or update the open one (title, body, labels): the body is 'rampart report', the
     title says what changed (teams blocked by the gate, new findings, expiring
     exceptions, else the teams touched);
  4. when a later render has nothing to change, comment on the open pull request
     and close it.

A run with nothing new makes no commit and no API write. Git goes through the git
CLI, so the checkout's credentials (actions/checkout's) push.

Environment: GITHUB_TOKEN (needs contents: write and pull-requests: write; a GitHub
App token makes the pull request trigger workflows), GITHUB_REPOSITORY (owner/name,
or --repo), GITHUB_API_URL (GitHub Enterprise Server; default
https://api.github.com). Secondary rate limits (403/429 with Retry-After) are
retried, at most 3 times and 2 minutes a wait.

Exit codes: 0 done, 1 done but a team fails the scan gate (its output is held), 2
bad input or a failure (git, GitHub: the message says what to change).`,
		Example: `  # .github/workflows/render.yaml, after a merge to main
  rampart pr --label rampart

  # nightly: rescan with a fresh database, on its own branch
  rampart pr --refresh --branch rampart/nightly --label security`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := authorRE.FindStringSubmatch(author)
			if m == nil {
				return withCode(exitBadInput, fmt.Errorf("--author %q: want \"Name <email>\", e.g. %q", author, defaultAuthor))
			}
			who := struct{ Name, Address string }{m[1], m[2]}
			if branch == "" {
				branch = "rampart/render"
				if refresh {
					branch = "rampart/nightly"
				}
			}
			prefix := "render: "
			if refresh {
				prefix = "nightly: "
			}
			client, err := forge.New(forge.Options{
				APIURL: os.Getenv("GITHUB_API_URL"), Token: os.Getenv("GITHUB_TOKEN"),
				Repository: cmp.Or(repo, os.Getenv("GITHUB_REPOSITORY")),
			})
			if err != nil {
				return withCode(exitBadInput, err)
			}
			res, err := prbot.Run(cmd.Context(), prbot.Options{
				Dir: opts.dir, Remote: remote, Branch: branch, Base: base, Labels: labels,
				AuthorName: who.Name, AuthorEmail: who.Address, TitlePrefix: prefix, Forge: client,
				FullReport: relTo(opts.dir, fullReport),
				Render: func(ctx context.Context, rev string) (*review.Reviewed, error) {
					o := generator.Options{Dir: opts.dir, Mode: generator.Render, Logger: opts.logger, Progress: opts.stderr, NoCache: noCache,
						Scan: generator.ScanOptions{Refresh: refresh, Progress: opts.stderr}}
					return review.Run(ctx, o, rev)
				},
				Logf: func(format string, args ...any) { opts.logger.Info(fmt.Sprintf(format, args...)) },
			})
			if err != nil {
				return reportRunError(opts, outputText, err)
			}
			if output == outputJSON {
				if err := writeJSON(opts.stdout, res); err != nil {
					return err
				}
			} else {
				switch {
				case res.PullRequest != 0:
					fmt.Fprintf(opts.stdout, "%s: pull request #%d %s (%s)\n", res.Action, res.PullRequest, res.URL, branch)
				default:
					fmt.Fprintf(opts.stdout, "%s: clusters/ is up to date\n", res.Action)
				}
			}
			if res.Reviewed != nil {
				return reportGate(opts, res.Reviewed.Result)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&branch, "branch", "", "the bot's branch (default rampart/render, rampart/nightly with --refresh)")
	cmd.Flags().StringVar(&base, "base", "", "branch the pull request targets (default: the repository's default branch)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "label the pull request (repeatable)")
	cmd.Flags().StringVar(&repo, "repo", "", "owner/name of the GitHub repository (default $GITHUB_REPOSITORY)")
	cmd.Flags().StringVar(&remote, "remote", "origin", "git remote to push the branch to")
	cmd.Flags().StringVar(&author, "author", defaultAuthor, `commit author and committer, "Name <email>"`)
	cmd.Flags().StringVar(&fullReport, "full-report", "rampart-report.full.md", "where the complete report goes when the body must be shortened, relative to --dir (upload it as an artifact)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "nightly mode: ignore cached scan results and tag resolutions; branch rampart/nightly")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "render every team afresh, without the render cache")
	addOutputFlag(cmd, &output)
	_ = cmd.RegisterFlagCompletionFunc("base", completeRefs)
	_ = cmd.RegisterFlagCompletionFunc("branch", completeRefs)
	for _, f := range []string{"label", "repo", "remote", "author", "full-report"} {
		_ = cmd.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
	}
	return cmd
}

// relTo resolves a relative path against dir.
func relTo(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
