// Package gitcli runs git through its command line for the commands that read history
// (`rampart diff`, `rampart report`) and the render bot (`rampart pr`).
//
// Why the CLI and not go-git: the bot runs where git is installed anyway (Actions
// runners, the developer's machine), and the CLI is the field's convention for CI
// bots: it honours the runner's credential helpers, `http.extraheader` set by
// actions/checkout, shallow clones, alternates, partial clones and
// `--force-with-lease`, all of which go-git v5 implements partly or not at all. The
// reads that must be fast on a large fleet (`ls-tree`, `cat-file --batch`) are one
// process each, whatever the number of files.
package gitcli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// Repo is a git working tree (or bare repository) at Dir.
type Repo struct {
	// Dir is where git runs.
	Dir string
	// Env is added to the process environment (GIT_AUTHOR_NAME, …).
	Env []string
}

// Error is a git command that failed, with what it printed.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

func (r *Repo) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	cmd.Env = append(cmd.Env, r.Env...)
	return cmd
}

// Run runs git with args and returns its standard output, trimmed.
func (r *Repo) Run(ctx context.Context, args ...string) (string, error) {
	b, err := r.Output(ctx, nil, args...)
	return strings.TrimSpace(string(b)), err
}

// Output runs git with args and stdin and returns its standard output as is.
func (r *Repo) Output(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := r.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, &Error{Args: args, Stderr: errb.String(), Err: err}
	}
	return out.Bytes(), nil
}

// ExitCode is the exit status of a failed git command, or -1.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// RevParse resolves a revision to a commit id.
func (r *Repo) RevParse(ctx context.Context, rev string) (string, error) {
	return r.Run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
}

// MergeBase is the best common ancestor of two commits.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	return r.Run(ctx, "merge-base", a, b)
}

// DefaultBranch guesses the default branch's ref the way a CI job sees it: the
// remote's HEAD (origin/HEAD, set by clone), else origin/main, origin/master, main,
// master, whichever exists first.
func (r *Repo) DefaultBranch(ctx context.Context) (string, error) {
	if ref, err := r.Run(ctx, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"); err == nil && ref != "" {
		return strings.TrimPrefix(ref, "refs/remotes/"), nil
	}
	for _, c := range []string{"origin/main", "origin/master", "main", "master"} {
		if _, err := r.RevParse(ctx, c); err == nil {
			return c, nil
		}
	}
	return "", errors.New("no default branch: neither origin/HEAD, origin/main, origin/master, main nor master exists; pass --base")
}

// Tree lists the blobs under prefix (a directory, no trailing slash) at rev: path →
// blob id, paths relative to the repository root. One git process, whatever the size.
func (r *Repo) Tree(ctx context.Context, rev, prefix string) (map[string]string, error) {
	out, err := r.Output(ctx, nil, "ls-tree", "-r", "-z", "--full-tree", rev, "--", prefix)
	if err != nil {
		return nil, err
	}
	files := make(map[string]string, bytes.Count(out, []byte{0}))
	for rest := out; len(rest) > 0; {
		var rec []byte
		rec, rest, _ = bytes.Cut(rest, []byte{0})
		if len(rec) == 0 {
			continue
		}
		// <mode> SP <type> SP <object> TAB <file>: cut, not split into fields, as a
		// large fleet's tree has tens of thousands of records.
		meta, p, ok := bytes.Cut(rec, []byte{'\t'})
		_, meta, ok1 := bytes.Cut(meta, []byte{' '})
		kind, id, ok2 := bytes.Cut(meta, []byte{' '})
		if !ok || !ok1 || !ok2 || len(id) == 0 || bytes.ContainsRune(id, ' ') {
			return nil, fmt.Errorf("reading git ls-tree: unexpected record %q", rec)
		}
		if string(kind) != "blob" {
			continue
		}
		files[string(p)] = string(id)
	}
	return files, nil
}

// WorkChanges lists the paths under prefix whose content in the working tree may
// differ from rev: the tracked files that differ (`git diff --raw`, which trusts the
// index's stat cache and reads no unchanged file), gone or not, and the untracked
// files git does not ignore. Paths are relative to the repository root.
func (r *Repo) WorkChanges(ctx context.Context, rev, prefix string) ([]string, error) {
	// The two walks run at once: each mostly waits on the file system.
	var untracked []byte
	var uerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		untracked, uerr = r.Output(ctx, nil, "ls-files", "-z", "--others", "--exclude-standard", "--", prefix)
	}()
	out, err := r.Output(ctx, nil, "diff", "--raw", "-z", "--no-renames", "--no-color", rev, "--", prefix)
	<-done
	if err != nil {
		return nil, err
	}
	if uerr != nil {
		return nil, uerr
	}
	var changed []string
	for rest := out; len(rest) > 0; {
		// :<mode> <mode> <object> <object> <status> NUL <path> NUL
		var meta, p []byte
		meta, rest, _ = bytes.Cut(rest, []byte{0})
		p, rest, _ = bytes.Cut(rest, []byte{0})
		if len(meta) == 0 || meta[0] != ':' || len(p) == 0 {
			return nil, fmt.Errorf("reading git diff --raw: unexpected record %q", meta)
		}
		changed = append(changed, string(p))
	}
	for _, p := range bytes.Split(untracked, []byte{0}) {
		if len(p) > 0 {
			changed = append(changed, string(p))
		}
	}
	return changed, nil
}

// Blobs reads blobs by id with one `git cat-file --batch`.
func (r *Repo) Blobs(ctx context.Context, ids []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var in bytes.Buffer
	for _, id := range ids {
		in.WriteString(id)
		in.WriteByte('\n')
	}
	cmd := r.command(ctx, "cat-file", "--batch")
	cmd.Stdin = &in
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(stdout, 1<<16)
	var readErr error
	for range ids {
		head, err := br.ReadString('\n')
		if err != nil {
			readErr = fmt.Errorf("reading git cat-file: %w", err)
			break
		}
		f := strings.Fields(head)
		if len(f) == 2 && f[1] == "missing" {
			readErr = fmt.Errorf("reading git cat-file: object %s is missing", f[0])
			break
		}
		if len(f) != 3 {
			readErr = fmt.Errorf("reading git cat-file: unexpected header %q", head)
			break
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			readErr = fmt.Errorf("reading git cat-file: unexpected header %q", head)
			break
		}
		b := make([]byte, n+1) // content and the trailing newline
		if _, err := io.ReadFull(br, b); err != nil {
			readErr = fmt.Errorf("reading git cat-file: %w", err)
			break
		}
		out[f[0]] = b[:n]
	}
	_, _ = io.Copy(io.Discard, br)
	if err := cmd.Wait(); err != nil && readErr == nil {
		readErr = &Error{Args: []string{"cat-file", "--batch"}, Stderr: errb.String(), Err: err}
	}
	return out, readErr
}

// BlobID is the id git gives content as a blob (SHA-1 object format), so files on
// disk or rendered in memory compare with a tree's ids without asking git.
func BlobID(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// Refs lists the repository's branches (local and remote-tracking) and tags, short names.
func (r *Repo) Refs(ctx context.Context) ([]string, error) {
	out, err := r.Run(ctx, "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes", "refs/tags")
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Split(out, "\n"), nil
}

// RemoteBranch is the commit a remote's branch points at, or "" when it has none
// (one `git ls-remote`, so the lease below is against what the remote holds now).
func (r *Repo) RemoteBranch(ctx context.Context, remote, branch string) (string, error) {
	out, err := r.Run(ctx, "ls-remote", "--heads", remote, "refs/heads/"+branch)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "refs/heads/"+branch {
			return f[0], nil
		}
	}
	return "", nil
}

// Fetch fetches refspecs from a remote.
func (r *Repo) Fetch(ctx context.Context, remote string, refspecs ...string) error {
	_, err := r.Run(ctx, append([]string{"fetch", "--quiet", "--no-tags", remote}, refspecs...)...)
	return err
}

// TreeWith is the tree of commit with the directory dir replaced by the working
// tree's (as `git add -A dir` sees it, .gitignore applied), built in a temporary
// index so the user's index and working tree stay as they are.
func (r *Repo) TreeWith(ctx context.Context, commit, dir, tmpIndex string) (string, error) {
	ix := &Repo{Dir: r.Dir, Env: append(slices.Clone(r.Env), "GIT_INDEX_FILE="+tmpIndex)}
	if _, err := ix.Run(ctx, "read-tree", commit); err != nil {
		return "", err
	}
	if _, err := ix.Run(ctx, "add", "-A", "--", dir); err != nil {
		return "", err
	}
	return ix.Run(ctx, "write-tree")
}

// CommitTree makes a commit of tree with one parent and message; author and
// committer come from Env (GIT_AUTHOR_NAME, …).
func (r *Repo) CommitTree(ctx context.Context, tree, parent, message string) (string, error) {
	out, err := r.Output(ctx, strings.NewReader(message), "commit-tree", tree, "-p", parent, "-F", "-")
	return strings.TrimSpace(string(out)), err
}

// PushWithLease pushes commit to the remote's branch only if the branch still points
// at expected ("" means: only if the branch does not exist), the lease a force push
// needs so it never overwrites a commit it has not seen.
func (r *Repo) PushWithLease(ctx context.Context, remote, commit, branch, expected string) error {
	ref := "refs/heads/" + branch
	_, err := r.Run(ctx, "push", "--quiet", "--force-with-lease="+ref+":"+expected, remote, commit+":"+ref)
	return err
}
