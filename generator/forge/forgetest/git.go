package forgetest

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HTTPBackend is git's CGI program for the smart HTTP protocol.
const HTTPBackend = "/usr/lib/git-core/git-http-backend"

// GitServer serves a new bare repository, example/platform.git with branch main,
// over git's smart HTTP with git http-backend (through net/http/cgi) on an
// httptest server, so clone, fetch, push and --force-with-lease really happen. It
// returns the clone URL and the bare repository's path, and skips the test when
// git http-backend is not installed.
func GitServer(t testing.TB) (url, bare string) {
	t.Helper()
	if _, err := os.Stat(HTTPBackend); err != nil {
		t.Skipf("git http-backend is not installed: %v", err)
	}
	root := t.TempDir()
	bare = filepath.Join(root, "example", "platform.git")
	for _, args := range [][]string{
		{"init", "-q", "--bare", "-b", "main", bare},
		{"-C", bare, "config", "http.receivepack", "true"}, // anonymous push, for tests only
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	srv := httptest.NewServer(&cgi.Handler{Path: HTTPBackend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	t.Cleanup(srv.Close)
	return srv.URL + "/example/platform.git", bare
}

// Git runs git in dir as a fixed identity, never prompting, and returns its output
// trimmed; it fails the test when git fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=dev",
		"GIT_COMMITTER_EMAIL=dev@example.com", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
