// Package forgetest holds test doubles for the render bot: GitHub, an in-process
// fake of exactly the REST endpoints generator/forge calls, and GitServer, a real
// bare repository served over git's smart HTTP.
package forgetest

// GitHub is an in-process stand-in for exactly the GitHub REST endpoints the bot
// calls, reading branch state from the test's bare repository (the git traffic is
// real; only the forge's bookkeeping is faked). It follows GitHub's documentation:
//
//   - Get a repository: https://docs.github.com/en/rest/repos/repos#get-a-repository
//   - List, create and update pull requests:
//     https://docs.github.com/en/rest/pulls/pulls#list-pull-requests,
//     https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request,
//     https://docs.github.com/en/rest/pulls/pulls#update-a-pull-request
//     (422 "Validation failed, or the endpoint has been spammed", with the custom
//     messages "A pull request already exists for <owner>:<branch>." and "No commits
//     between <base> and <head>", and "body is too long (maximum is 65536
//     characters)" on resource Issue, field body)
//   - Add labels to an issue: https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue
//   - Create an issue comment: https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
//   - Client errors (message, errors[] with resource/field/code, documentation_url):
//     https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
//     and "Resource not accessible by integration" (403) for a GITHUB_TOKEN without
//     the permission: https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#permissions-for-the-github_token
//   - "GitHub Actions is not permitted to create or approve pull requests." (403) when
//     the repository forbids it: https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/enabling-features-for-your-repository/managing-github-actions-settings-for-a-repository#preventing-github-actions-from-creating-or-approving-pull-requests
//   - Secondary rate limits: 403 or 429, a message saying so, documentation_url
//     ending in #about-secondary-rate-limits, and Retry-After in seconds:
//     https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Pull is a pull request the fake holds.
type Pull struct {
	Number int
	State  string
	Title  string
	Body   string
	Head   string
	Base   string
	Labels []string
}

type GitHub struct {
	owner string
	repo  string
	// Token is the only token it accepts (Authorization: Bearer or token).
	Token string
	bare  string // the bare repository branch state is read from

	mu sync.Mutex
	// Pulls are the pull requests, by number - 1; Comments the comments by number.
	Pulls    []*Pull
	Comments map[int][]string
	requests map[string]int // "METHOD /route" → count
	// ReadOnly answers every write 403 "Resource not accessible by integration".
	ReadOnly bool
	// ForbidActions answers creating a pull request 403 "GitHub Actions is not permitted…".
	ForbidActions bool
	// Limited answers the next n writes with a secondary rate limit, with status
	// LimitStatus (403 or 429) and Retry-After RetryAfter ("" for none).
	Limited     int
	LimitStatus int
	RetryAfter  string
	// HideFromList hides open pull requests from the next n lists (GitHub's lists lag).
	HideFromList int
}

// NewGitHub is a fake for the repository example/platform whose branches are those
// of the bare repository at bare; it accepts the token "ghs_test".
func NewGitHub(bare string) *GitHub {
	return &GitHub{owner: "example", repo: "platform", Token: "ghs_test", bare: bare,
		Comments: map[int][]string{}, requests: map[string]int{}}
}

// Writes counts the requests that change something.
func (f *GitHub) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.requests {
		if !strings.HasPrefix(k, "GET ") {
			n += v
		}
	}
	return n
}

// Total counts every request.
func (f *GitHub) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.requests {
		n += v
	}
	return n
}

// Requests are the request counts by method and route.
func (f *GitHub) Requests() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int{}
	for k, v := range f.requests {
		m[k] = v
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func validationFailed(w http.ResponseWriter, doc string, errs ...map[string]string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": errs, "documentation_url": doc, "status": "422",
	})
}

const (
	docCreatePull = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
	docUpdatePull = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"
)

func (f *GitHub) pullJSON(p *Pull) map[string]any {
	labels := []map[string]any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	return map[string]any{
		"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body,
		"html_url": fmt.Sprintf("https://github.example/%s/%s/pull/%d", f.owner, f.repo, p.Number),
		"head":     map[string]any{"ref": p.Head, "label": f.owner + ":" + p.Head, "sha": f.rev(p.Head)},
		"base":     map[string]any{"ref": p.Base, "label": f.owner + ":" + p.Base, "sha": f.rev(p.Base)},
		"labels":   labels,
	}
}

// rev is the commit a branch of the bare repository points at, or "".
func (f *GitHub) rev(branch string) string {
	out, err := exec.Command("git", "-C", f.bare, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// ahead counts the commits head has that base lacks.
func (f *GitHub) ahead(base, head string) int {
	out, err := exec.Command("git", "-C", f.bare, "rev-list", "--count", "refs/heads/"+base+"..refs/heads/"+head).Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// ServeHTTP answers as GitHub's REST API for the repository example/platform.
func (f *GitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prefix := "/repos/" + f.owner + "/" + f.repo
	path := strings.TrimSuffix(r.URL.Path, "/")
	route := path
	if rest, ok := strings.CutPrefix(path, prefix+"/pulls/"); ok && !strings.Contains(rest, "/") {
		route = prefix + "/pulls/{n}"
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/issues/"); ok {
		if n, tail, ok := strings.Cut(rest, "/"); ok && n != "" {
			route = prefix + "/issues/{n}/" + tail
		}
	}
	f.requests[r.Method+" "+route]++

	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+f.Token && auth != "token "+f.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
		return
	}
	write := r.Method != http.MethodGet
	if write && f.Limited > 0 {
		f.Limited--
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeJSON(w, f.LimitStatus, map[string]string{
			"message":           "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
		return
	}
	if write && f.ReadOnly {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Resource not accessible by integration", "documentation_url": docCreatePull, "status": "403"})
		return
	}
	number := func() *Pull {
		s := strings.TrimPrefix(path, prefix+"/pulls/")
		if strings.HasPrefix(path, prefix+"/issues/") {
			s, _, _ = strings.Cut(strings.TrimPrefix(path, prefix+"/issues/"), "/")
		}
		n, _ := strconv.Atoi(s)
		for _, p := range f.Pulls {
			if p.Number == n {
				return p
			}
		}
		return nil
	}
	notFound := func() {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
	}
	switch r.Method + " " + route {
	case "GET " + prefix:
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "name": f.repo, "full_name": f.owner + "/" + f.repo, "default_branch": "main"})
	case "GET " + prefix + "/pulls":
		q := r.URL.Query()
		state := q.Get("state")
		if state == "" {
			state = "open"
		}
		out := []map[string]any{}
		hide := f.HideFromList > 0
		if hide {
			f.HideFromList--
		}
		for _, p := range f.Pulls {
			if (state != "all" && p.State != state) || (q.Get("head") != "" && q.Get("head") != f.owner+":"+p.Head) || (q.Get("base") != "" && q.Get("base") != p.Base) {
				continue
			}
			if hide && p.State == "open" {
				continue
			}
			out = append(out, f.pullJSON(p))
		}
		writeJSON(w, http.StatusOK, out)
	case "POST " + prefix + "/pulls":
		var in struct{ Title, Head, Base, Body string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return
		}
		if f.ForbidActions {
			writeJSON(w, http.StatusForbidden, map[string]string{"message": "GitHub Actions is not permitted to create or approve pull requests.", "documentation_url": docCreatePull, "status": "403"})
			return
		}
		switch {
		case in.Title == "":
			validationFailed(w, docCreatePull, map[string]string{"resource": "PullRequest", "code": "missing_field", "field": "title"})
			return
		case utf8.RuneCountInString(in.Body) > 65536:
			validationFailed(w, docCreatePull, map[string]string{"resource": "Issue", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"})
			return
		case f.rev(in.Base) == "":
			validationFailed(w, docCreatePull, map[string]string{"resource": "PullRequest", "code": "invalid", "field": "base"})
			return
		case f.rev(in.Head) == "":
			validationFailed(w, docCreatePull, map[string]string{"resource": "PullRequest", "code": "invalid", "field": "head"})
			return
		}
		for _, p := range f.Pulls {
			if p.State == "open" && p.Head == in.Head && p.Base == in.Base {
				validationFailed(w, docCreatePull, map[string]string{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + f.owner + ":" + in.Head + "."})
				return
			}
		}
		if f.ahead(in.Base, in.Head) == 0 {
			validationFailed(w, docCreatePull, map[string]string{"resource": "PullRequest", "code": "custom", "message": "No commits between " + in.Base + " and " + in.Head})
			return
		}
		p := &Pull{Number: len(f.Pulls) + 1, State: "open", Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base}
		f.Pulls = append(f.Pulls, p)
		writeJSON(w, http.StatusCreated, f.pullJSON(p))
	case "PATCH " + prefix + "/pulls/{n}":
		p := number()
		if p == nil {
			notFound()
			return
		}
		var in struct {
			Title, Body, State *string
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return
		}
		if in.Body != nil && utf8.RuneCountInString(*in.Body) > 65536 {
			validationFailed(w, docUpdatePull, map[string]string{"resource": "Issue", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"})
			return
		}
		if in.Title != nil {
			p.Title = *in.Title
		}
		if in.Body != nil {
			p.Body = *in.Body
		}
		if in.State != nil {
			p.State = *in.State
		}
		writeJSON(w, http.StatusOK, f.pullJSON(p))
	case "POST " + prefix + "/issues/{n}/labels":
		p := number()
		if p == nil {
			notFound()
			return
		}
		var raw json.RawMessage
		_ = json.NewDecoder(r.Body).Decode(&raw)
		var labels []string
		if json.Unmarshal(raw, &labels) != nil {
			var obj struct{ Labels []string }
			_ = json.Unmarshal(raw, &obj)
			labels = obj.Labels
		}
		for _, l := range labels {
			if !slices.Contains(p.Labels, l) {
				p.Labels = append(p.Labels, l)
			}
		}
		out := []map[string]any{}
		for _, l := range p.Labels {
			out = append(out, map[string]any{"name": l})
		}
		writeJSON(w, http.StatusOK, out)
	case "POST " + prefix + "/issues/{n}/comments":
		p := number()
		if p == nil {
			notFound()
			return
		}
		var in struct{ Body string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if utf8.RuneCountInString(in.Body) > 65536 {
			validationFailed(w, "https://docs.github.com/rest/issues/comments#create-an-issue-comment", map[string]string{"resource": "IssueComment", "code": "unprocessable", "field": "data", "message": "Body is too long (maximum is 65536 characters)"})
			return
		}
		f.Comments[p.Number] = append(f.Comments[p.Number], in.Body)
		writeJSON(w, http.StatusCreated, map[string]any{"id": len(f.Comments[p.Number]), "body": in.Body})
	default:
		notFound()
	}
}
