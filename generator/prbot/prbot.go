// Package prbot is the render bot behind `rampart pr`: it takes a checkout, a render
// (with its report) and a forge client, and gives one pull request that proposes
// the rendered clusters/: committed on a bot branch, pushed with a lease, opened or
// updated with the report as its body, labelled, and closed when a later render has
// nothing left to change. A run with nothing new commits nothing and writes nothing
// to the API.
//
// Git goes through the git CLI (generator/gitcli says why); GitHub through
// generator/forge.
package prbot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/forge"
	"github.com/rampart-gitops/rampart/generator/gitcli"
	"github.com/rampart-gitops/rampart/generator/review"
)

// Forge is what the bot asks of GitHub; *forge.Client is one.
type Forge interface {
	DefaultBranch(ctx context.Context) (string, error)
	OpenPullRequest(ctx context.Context, branch, base string) (*forge.PullRequest, error)
	CreatePullRequest(ctx context.Context, branch, base, title, body string) (*forge.PullRequest, error)
	Update(ctx context.Context, number int, title, body string) error
	Close(ctx context.Context, number int) error
	AddLabels(ctx context.Context, number int, labels []string) error
	Comment(ctx context.Context, number int, body string) error
}

// Options configure a run.
type Options struct {
	// Dir is the checkout (its HEAD is what is rendered).
	Dir string
	// Remote is the git remote to push to (default origin).
	Remote string
	// Branch is the bot's branch (default rampart/render).
	Branch string
	// Base is the branch the pull request targets; empty is the repository's default.
	Base string
	// Labels are added to the pull request.
	Labels []string
	// AuthorName and AuthorEmail sign the commit (author and committer).
	AuthorName, AuthorEmail string
	// TitlePrefix starts the title and the commit subject ("render: ", "nightly: ").
	TitlePrefix string
	// Render renders into Dir's clusters/ and reports against the revision base
	// (HEAD, the commit rendered).
	Render func(ctx context.Context, base string) (*review.Reviewed, error)
	// Forge is the GitHub client.
	Forge Forge
	// FullReport is where the complete report goes when the body must be shortened.
	FullReport string
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Action is what a run did to the pull request.
type Action string

// Actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	Closed    Action = "closed"
	Nothing   Action = "nothing to render"
)

// Result is what a run did.
type Result struct {
	Action Action `json:"action"`
	// Commit is the branch's commit (new or kept); empty when nothing was rendered.
	Commit string `json:"commit,omitempty"`
	// Pushed says a new commit was pushed.
	Pushed bool `json:"pushed"`
	// PullRequest is the pull request's number and URL, when there is one.
	PullRequest int    `json:"pullRequest,omitempty"`
	URL         string `json:"url,omitempty"`
	// Report is the render's report (nil when nothing was rendered).
	Report *review.Report `json:"-"`
	// Reviewed is the render.
	Reviewed *review.Reviewed `json:"-"`
}

// Run renders, commits and pushes when clusters/ changed, and opens, updates or
// closes the pull request.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.Remote = cmp.Or(o.Remote, "origin")
	o.Branch = cmp.Or(o.Branch, "rampart/render")
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	git := &gitcli.Repo{Dir: o.Dir, Env: []string{
		"GIT_AUTHOR_NAME=" + o.AuthorName, "GIT_AUTHOR_EMAIL=" + o.AuthorEmail,
		"GIT_COMMITTER_NAME=" + o.AuthorName, "GIT_COMMITTER_EMAIL=" + o.AuthorEmail,
	}}
	base := o.Base
	if base == "" {
		b, err := o.Forge.DefaultBranch(ctx)
		if err != nil {
			return nil, err
		}
		base = b
	}
	if base == o.Branch {
		return nil, fmt.Errorf("the bot's branch %q is the base branch; pass another --branch", o.Branch)
	}
	head, err := git.RevParse(ctx, "HEAD")
	if err != nil {
		return nil, fmt.Errorf("reading the checkout's HEAD in %s: %w", o.Dir, err)
	}
	rv, err := o.Render(ctx, "HEAD")
	if err != nil {
		return nil, err
	}
	res := &Result{Report: rv.Report, Reviewed: rv}

	// The commit the render makes: HEAD's tree with the rendered clusters/.
	tmp, err := os.MkdirTemp("", "rampart-pr-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tree, err := git.TreeWith(ctx, head, "clusters", filepath.Join(tmp, "index"))
	if err != nil {
		return nil, fmt.Errorf("staging the rendered clusters/: %w", err)
	}
	headTree, err := git.Run(ctx, "rev-parse", head+"^{tree}")
	if err != nil {
		return nil, err
	}
	pr, err := o.Forge.OpenPullRequest(ctx, o.Branch, base)
	if err != nil {
		return nil, err
	}
	if tree == headTree {
		res.Action = Nothing
		logf("clusters/ is up to date with %s", short(head))
		if pr != nil {
			msg := fmt.Sprintf("Closing: the render of %s changes nothing in `clusters/` any more (it was merged, or the change that needed it was undone). The branch `%s` is left as it was.", head, o.Branch)
			if err := o.Forge.Comment(ctx, pr.Number, msg); err != nil {
				return nil, err
			}
			if err := o.Forge.Close(ctx, pr.Number); err != nil {
				return nil, err
			}
			res.Action, res.PullRequest, res.URL = Closed, pr.Number, pr.URL
			logf("closed pull request #%d", pr.Number)
		}
		return res, nil
	}

	// Commit and push only when the branch does not already hold this render of HEAD.
	old, err := git.RemoteBranch(ctx, o.Remote, o.Branch)
	if err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", o.Branch, o.Remote, err)
	}
	title := rv.Report.Title(o.TitlePrefix)
	if old != "" {
		if err := git.Fetch(ctx, o.Remote, "+refs/heads/"+o.Branch+":refs/remotes/"+o.Remote+"/"+o.Branch); err != nil {
			return nil, fmt.Errorf("fetching %s: %w", o.Branch, err)
		}
	}
	if old != "" && sameRender(ctx, git, old, tree, head) {
		res.Commit = old
		logf("%s already holds this render (%s)", o.Branch, short(old))
	} else {
		msg := commitMessage(title, rv.Report, head)
		commit, err := git.CommitTree(ctx, tree, head, msg)
		if err != nil {
			return nil, fmt.Errorf("committing the render: %w", err)
		}
		if err := git.PushWithLease(ctx, o.Remote, commit, o.Branch, old); err != nil {
			return nil, fmt.Errorf("pushing %s to %s (someone else moved the branch since %s? run again): %w", o.Branch, o.Remote, cmp.Or(short(old), "it did not exist"), err)
		}
		res.Commit, res.Pushed = commit, true
		logf("pushed %s to %s", short(commit), o.Branch)
	}

	body, err := rv.Report.Markdown(review.MaxComment, func(complete string) (string, error) {
		if o.FullReport == "" {
			return "", errors.New("no place for the full report (--full-report)")
		}
		return o.FullReport, os.WriteFile(o.FullReport, []byte(complete), 0o644)
	})
	if err != nil {
		return nil, err
	}
	body += fmt.Sprintf("\n---\nRendered by `rampart pr` from %s onto `%s`.\n", head, base)

	if pr == nil {
		pr, err = o.Forge.CreatePullRequest(ctx, o.Branch, base, title, body)
		if errors.Is(err, forge.ErrAlreadyExists) {
			// Opened by a run we raced with, or not yet listed: update that one.
			if pr, err = o.Forge.OpenPullRequest(ctx, o.Branch, base); err == nil && pr == nil {
				err = fmt.Errorf("GitHub says a pull request exists for %s, but lists none open into %s", o.Branch, base)
			}
		} else if err == nil {
			res.Action = Created
			logf("opened pull request #%d", pr.Number)
			if len(o.Labels) > 0 {
				if err := o.Forge.AddLabels(ctx, pr.Number, o.Labels); err != nil {
					return nil, err
				}
			}
			res.PullRequest, res.URL = pr.Number, pr.URL
			return res, nil
		}
		if err != nil {
			return nil, err
		}
	}
	res.PullRequest, res.URL = pr.Number, pr.URL
	res.Action = Unchanged
	if pr.Title != title || pr.Body != body {
		if err := o.Forge.Update(ctx, pr.Number, title, body); err != nil {
			return nil, err
		}
		res.Action = Updated
		logf("updated pull request #%d", pr.Number)
	}
	var missing []string
	for _, l := range o.Labels {
		if !slices.Contains(pr.Labels, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		if err := o.Forge.AddLabels(ctx, pr.Number, missing); err != nil {
			return nil, err
		}
		res.Action = Updated
	}
	return res, nil
}

// sameRender says whether commit is a render of head with tree: its tree and its
// only parent.
func sameRender(ctx context.Context, git *gitcli.Repo, commit, tree, head string) bool {
	out, err := git.Run(ctx, "show", "-s", "--format=%T %P", commit)
	if err != nil {
		return false
	}
	return out == tree+" "+head
}

func commitMessage(title string, r *review.Report, head string) string {
	var b strings.Builder
	b.WriteString(title + "\n\n")
	b.WriteString(r.Summary() + "\n\n")
	for _, c := range r.Diff.Clusters {
		n := c.Counts()
		fmt.Fprintf(&b, "%s: +%d ~%d -%d", c.Cluster, n.Added, n.Changed, n.Removed)
		var teams []string
		for _, t := range c.Teams {
			teams = append(teams, t.Label())
		}
		fmt.Fprintf(&b, " (%s)\n", strings.Join(teams, ", "))
	}
	fmt.Fprintf(&b, "\nRendered by rampart pr from %s.\n", head)
	return b.String()
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
