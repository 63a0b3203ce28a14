// Package forge is the render bot's client of GitHub's REST API (api.github.com or
// GitHub Enterprise Server): the few pull request, label and comment calls `rampart
// pr` makes, through google/go-github, with bounded retries on secondary rate limits
// and errors that say what to change (a token without `pull-requests: write`, a
// repository that forbids Actions from creating pull requests, GitHub's 422
// validation errors).
package forge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v93/github"
)

// DefaultAPIURL is GitHub's API; Actions on GitHub Enterprise Server set
// GITHUB_API_URL to https://<host>/api/v3.
const DefaultAPIURL = "https://api.github.com"

// Options configure a Client.
type Options struct {
	// APIURL is GITHUB_API_URL (DefaultAPIURL when empty).
	APIURL string
	// Token is GITHUB_TOKEN, or a GitHub App installation token.
	Token string
	// Repository is owner/name (GITHUB_REPOSITORY).
	Repository string
	// HTTPClient sends the requests; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of a request refused by a rate limit (default 3).
	MaxRetries int
	// MaxWait is the longest single wait for a rate limit (default 2 minutes): a
	// longer Retry-After fails at once instead of holding the job.
	MaxWait time.Duration
	// Sleep waits; nil is a timer that stops with the context. Tests count waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls GitHub for one repository.
type Client struct {
	gh          *github.Client
	owner, repo string
	opts        Options
}

// New makes a client.
func New(o Options) (*Client, error) {
	owner, repo, ok := strings.Cut(o.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("repository %q: want owner/name (GITHUB_REPOSITORY or --repo)", o.Repository)
	}
	if o.Token == "" {
		return nil, errors.New("no token: set GITHUB_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}, or a GitHub App token)")
	}
	o.MaxRetries = cmp.Or(o.MaxRetries, 3)
	o.MaxWait = cmp.Or(o.MaxWait, 2*time.Minute)
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimSuffix(cmp.Or(o.APIURL, DefaultAPIURL), "/") + "/"
	gh, err := github.NewClient(github.WithHTTPClient(hc), github.WithAuthToken(o.Token), github.WithURLs(&base, &base),
		github.WithUserAgent("rampart-pr"),
		// The retries below wait as GitHub asks; go-github's own bookkeeping would
		// refuse the retry locally until then.
		github.WithDisableRateLimitCheck())
	if err != nil {
		return nil, fmt.Errorf("making the GitHub client for %s: %w", base, err)
	}
	return &Client{gh: gh, owner: owner, repo: repo, opts: o}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Repository is owner/name.
func (c *Client) Repository() string { return c.owner + "/" + c.repo }

// Errors callers may test for with errors.Is.
var (
	// ErrPermission: the token may not do this (403 "Resource not accessible by
	// integration"): the workflow lacks `pull-requests: write` or `contents: write`.
	ErrPermission = errors.New("the token lacks a permission")
	// ErrActionsForbidden: the repository (or its organization) does not allow
	// GitHub Actions to create pull requests.
	ErrActionsForbidden = errors.New("GitHub Actions may not create pull requests in this repository")
	// ErrAlreadyExists: an open pull request already exists for the head branch.
	ErrAlreadyExists = errors.New("a pull request already exists for the branch")
	// ErrNoCommits: the head branch has no commits the base lacks.
	ErrNoCommits = errors.New("no commits between the base and the branch")
	// ErrBodyTooLong: the body is over GitHub's 65,536 characters.
	ErrBodyTooLong = errors.New("the body is too long")
	// ErrRateLimited: still refused by a rate limit after the retries.
	ErrRateLimited = errors.New("rate limited")
)

// Error is a GitHub API error with what to do about it.
type Error struct {
	// Op says what was being done: "creating the pull request".
	Op     string
	Status int
	// Message is GitHub's message and each validation error's.
	Message string
	// Hint says what to change.
	Hint string
	kind error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: GitHub answered %d: %s", e.Op, e.Status, e.Message)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Is matches the Err… values.
func (e *Error) Is(target error) bool { return e.kind != nil && e.kind == target }

// call runs one API request, retrying when a rate limit refuses it: a secondary
// limit (403/429 with Retry-After, else at least a minute, growing), or the
// primary one (until X-RateLimit-Reset). At most MaxRetries retries, and no wait
// longer than MaxWait.
func call[T any](ctx context.Context, c *Client, op string, f func() (T, *github.Response, error)) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		v, _, err := f()
		if err == nil {
			return v, nil
		}
		wait, limited := retryAfter(err, attempt)
		if !limited {
			return zero, classify(op, err)
		}
		if attempt >= c.opts.MaxRetries {
			return zero, &Error{Op: op, Status: statusOf(err), Message: messageOf(err), kind: ErrRateLimited,
				Hint: fmt.Sprintf("still rate limited after %d retries; run the job again later", attempt)}
		}
		if wait > c.opts.MaxWait {
			return zero, &Error{Op: op, Status: statusOf(err), Message: messageOf(err), kind: ErrRateLimited,
				Hint: fmt.Sprintf("GitHub asks to wait %s, longer than the %s this job waits; run it again later", wait.Round(time.Second), c.opts.MaxWait)}
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return zero, fmt.Errorf("%s: waiting for GitHub's rate limit: %w", op, err)
		}
	}
}

// retryAfter says whether err is a rate limit and how long to wait before retry
// number attempt+1, as GitHub's rate limit documentation asks.
func retryAfter(err error, attempt int) (time.Duration, bool) {
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			return *abuse.RetryAfter, true
		}
		return time.Minute << attempt, true
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return max(time.Until(rl.Rate.Reset.Time), time.Second), true
	}
	// A 429 without the secondary rate limit's documentation link, or a 403/429
	// with Retry-After go-github did not recognise.
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		s := er.Response.StatusCode
		if ra := er.Response.Header.Get("Retry-After"); (s == http.StatusTooManyRequests || s == http.StatusForbidden) && ra != "" {
			var secs int
			if _, scanErr := fmt.Sscanf(ra, "%d", &secs); scanErr == nil {
				return time.Duration(secs) * time.Second, true
			}
		}
		if s == http.StatusTooManyRequests {
			return time.Minute << attempt, true
		}
	}
	return 0, false
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	var abuse *github.AbuseRateLimitError
	var rl *github.RateLimitError
	switch {
	case errors.As(err, &er) && er.Response != nil:
		return er.Response.StatusCode
	case errors.As(err, &abuse) && abuse.Response != nil:
		return abuse.Response.StatusCode
	case errors.As(err, &rl) && rl.Response != nil:
		return rl.Response.StatusCode
	}
	return 0
}

func messageOf(err error) string {
	var er *github.ErrorResponse
	var abuse *github.AbuseRateLimitError
	var rl *github.RateLimitError
	switch {
	case errors.As(err, &er):
		msgs := []string{er.Message}
		for _, e := range er.Errors {
			msgs = append(msgs, cmp.Or(e.Message, fmt.Sprintf("%s %s is %s", e.Resource, e.Field, e.Code)))
		}
		return strings.Join(slices.Compact(msgs), ": ")
	case errors.As(err, &abuse):
		return abuse.Message
	case errors.As(err, &rl):
		return rl.Message
	}
	return err.Error()
}

// classify turns a GitHub error into an *Error with a hint.
func classify(op string, err error) error {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &Error{Op: op, Status: er.Response.StatusCode, Message: messageOf(err)}
	msg := strings.ToLower(e.Message)
	switch {
	case e.Status == http.StatusUnauthorized:
		e.Hint = "the token is not valid (expired, revoked, or for another GitHub host than GITHUB_API_URL)"
	case e.Status == http.StatusForbidden && strings.Contains(msg, "not permitted to create or approve pull requests"):
		e.kind = ErrActionsForbidden
		e.Hint = `the repository or its organization forbids GitHub Actions from creating pull requests: enable "Allow GitHub Actions to create and approve pull requests" (Settings → Actions → General → Workflow permissions, in the organization too), or run the bot with a GitHub App token`
	case e.Status == http.StatusForbidden && strings.Contains(msg, "resource not accessible"):
		e.kind = ErrPermission
		e.Hint = "the token may not write pull requests: give the job `permissions: {contents: write, pull-requests: write}` (labels need `issues: write` too), or use a GitHub App token with those permissions"
	case e.Status == http.StatusNotFound:
		e.Hint = "the repository does not exist or the token cannot see it (check GITHUB_REPOSITORY / --repo and GITHUB_API_URL)"
	case e.Status == http.StatusUnprocessableEntity && strings.Contains(msg, "a pull request already exists"):
		e.kind = ErrAlreadyExists
	case e.Status == http.StatusUnprocessableEntity && strings.Contains(msg, "no commits between"):
		e.kind = ErrNoCommits
		e.Hint = "the branch holds nothing the base lacks; there is nothing to propose"
	case e.Status == http.StatusUnprocessableEntity && strings.Contains(msg, "too long"):
		e.kind = ErrBodyTooLong
		e.Hint = "GitHub takes at most 65,536 characters; rampart shortens its reports below that, so this is a bug to report"
	}
	return e
}

// PullRequest is what the bot reads of a pull request.
type PullRequest struct {
	Number int
	Title  string
	Body   string
	URL    string
	Head   string
	Base   string
	Labels []string
}

func fromGitHub(p *github.PullRequest) *PullRequest {
	pr := &PullRequest{Number: p.GetNumber(), Title: p.GetTitle(), Body: p.GetBody(), URL: p.GetHTMLURL(),
		Head: p.GetHead().GetRef(), Base: p.GetBase().GetRef()}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	slices.Sort(pr.Labels)
	return pr
}

// DefaultBranch is the repository's default branch.
func (c *Client) DefaultBranch(ctx context.Context) (string, error) {
	r, err := call(ctx, c, "reading the repository "+c.Repository(), func() (*github.Repository, *github.Response, error) {
		return c.gh.Repositories.Get(ctx, c.owner, c.repo)
	})
	if err != nil {
		return "", err
	}
	if r.GetDefaultBranch() == "" {
		return "", fmt.Errorf("reading the repository %s: it names no default branch; pass --base", c.Repository())
	}
	return r.GetDefaultBranch(), nil
}

// OpenPullRequest is the open pull request from branch into base, or nil.
func (c *Client) OpenPullRequest(ctx context.Context, branch, base string) (*PullRequest, error) {
	prs, err := call(ctx, c, "listing the open pull requests of "+branch, func() ([]*github.PullRequest, *github.Response, error) {
		return c.gh.PullRequests.List(ctx, c.owner, c.repo, &github.PullRequestListOptions{State: "open", Head: c.owner + ":" + branch, Base: base})
	})
	if err != nil {
		return nil, err
	}
	for _, p := range prs {
		if p.GetHead().GetRef() == branch && p.GetBase().GetRef() == base {
			return fromGitHub(p), nil
		}
	}
	return nil, nil
}

// CreatePullRequest opens a pull request from branch into base.
func (c *Client) CreatePullRequest(ctx context.Context, branch, base, title, body string) (*PullRequest, error) {
	p, err := call(ctx, c, fmt.Sprintf("creating the pull request %s → %s", branch, base), func() (*github.PullRequest, *github.Response, error) {
		return c.gh.PullRequests.Create(ctx, c.owner, c.repo, github.CreatePullRequest{Title: &title, Head: branch, Base: base, Body: &body})
	})
	if err != nil {
		return nil, err
	}
	return fromGitHub(p), nil
}

// Update sets a pull request's title and body.
func (c *Client) Update(ctx context.Context, number int, title, body string) error {
	_, err := call(ctx, c, fmt.Sprintf("updating pull request #%d", number), func() (*github.PullRequest, *github.Response, error) {
		return c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &github.PullRequest{Title: &title, Body: &body})
	})
	return err
}

// Close closes a pull request.
func (c *Client) Close(ctx context.Context, number int) error {
	state := "closed"
	_, err := call(ctx, c, fmt.Sprintf("closing pull request #%d", number), func() (*github.PullRequest, *github.Response, error) {
		return c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &github.PullRequest{State: &state})
	})
	return err
}

// AddLabels adds labels to a pull request (GitHub creates labels that do not exist).
func (c *Client) AddLabels(ctx context.Context, number int, labels []string) error {
	_, err := call(ctx, c, fmt.Sprintf("labelling pull request #%d", number), func() ([]*github.Label, *github.Response, error) {
		return c.gh.Issues.AddLabelsToIssue(ctx, c.owner, c.repo, number, labels)
	})
	return err
}

// Comment adds a comment to a pull request.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	_, err := call(ctx, c, fmt.Sprintf("commenting on pull request #%d", number), func() (*github.IssueComment, *github.Response, error) {
		return c.gh.Issues.CreateComment(ctx, c.owner, c.repo, number, github.IssueCommentRequest{Body: body})
	})
	return err
}
