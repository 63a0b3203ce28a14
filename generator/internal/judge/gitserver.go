package judge

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// GitServer serves one Git repository over Git's smart HTTP protocol (the
// only HTTP protocol go-git, and so source-controller, speaks), through `git
// http-backend`, on 127.0.0.1; the repository's URL is known before its
// content, so the content can name it. Every request must carry the basic-auth
// credential it was started with, so a source without the credential really
// fails to fetch.
type GitServer struct {
	// URL is the repository's URL, e.g. http://127.0.0.1:PORT/rampart.git.
	URL string
	// Revision is the published commit, as Flux reports it
	// (<branch>@sha1:<commit>).
	Revision string

	srv    *httptest.Server
	dir    string
	gitBin string

	mu      sync.Mutex
	refused int // requests without the right credential
}

// GitCredential is the basic-auth credential a GitServer demands.
type GitCredential struct {
	Username, Password string
}

// gitRepoName is the served repository's name in its URL.
const gitRepoName = "rampart.git"

// StartGitServer serves an empty repository, which [GitServer.Publish] fills.
// Stop it when done.
func StartGitServer(cred GitCredential) (*GitServer, error) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("starting the Git server: %w", err)
	}
	dir, err := os.MkdirTemp("", "rampart-git-")
	if err != nil {
		return nil, fmt.Errorf("starting the Git server: %w", err)
	}
	g := &GitServer{dir: dir, gitBin: gitBin}
	served := filepath.Join(dir, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the Git server: %w", err)
	}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  served,
		Env: []string{
			"GIT_PROJECT_ROOT=" + served,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + dir,
		},
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, given := r.BasicAuth()
		if !given || subtle.ConstantTimeCompare([]byte(user), []byte(cred.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(password), []byte(cred.Password)) != 1 {
			g.mu.Lock()
			g.refused++
			g.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="rampart"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	g.URL = g.srv.URL + "/" + gitRepoName
	return g, nil
}

// Publish commits every file of tree as the only commit of branch and serves
// it; it returns the commit as Flux names a revision (<branch>@sha1:<hash>).
func (g *GitServer) Publish(tree fs.FS, branch string) (string, error) {
	work := filepath.Join(g.dir, "work")
	if err := os.CopyFS(work, tree); err != nil {
		return "", fmt.Errorf("publishing the tree: copying it: %w", err)
	}
	commit, err := commitTree(g.gitBin, work, branch)
	if err != nil {
		return "", fmt.Errorf("publishing the tree: %w", err)
	}
	if err := runGit(g.gitBin, g.dir, "clone", "--quiet", "--bare", work, filepath.Join(g.dir, "served", gitRepoName)); err != nil {
		return "", fmt.Errorf("publishing the tree: %w", err)
	}
	g.Revision = branch + "@sha1:" + commit
	return g.Revision, nil
}

// Refused is how many requests came without the right credential.
func (g *GitServer) Refused() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused
}

// Stop ends the server and removes the repository.
func (g *GitServer) Stop() error {
	g.srv.Close()
	if err := os.RemoveAll(g.dir); err != nil {
		return fmt.Errorf("stopping the Git server: %w", err)
	}
	return nil
}

// commitTree makes dir a repository with one commit of everything in it and
// returns the commit's hash.
func commitTree(gitBin, dir, branch string) (string, error) {
	steps := [][]string{
		{"init", "--quiet", "--initial-branch=" + branch},
		{"add", "--all"},
		{"-c", "user.name=rampart", "-c", "user.email=rampart@example.com", "commit", "--quiet", "--no-gpg-sign", "-m", "rendered tree"},
	}
	for _, args := range steps {
		if err := runGit(gitBin, dir, args...); err != nil {
			return "", err
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(gitBin, "rev-parse", "HEAD")
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running git rev-parse HEAD: %w", err)
	}
	return strings.TrimSpace(out.String()), nil
}

func runGit(gitBin, dir string, args ...string) error {
	cmd := exec.Command(gitBin, args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("running git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// gitEnv keeps the user's and the system's Git configuration out.
func gitEnv(dir string) []string {
	return []string{
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
	}
}
