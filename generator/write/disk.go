package write

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FS is the disk the write stage works on, the repository root. Paths are relative
// to it, with forward slashes, like fs.FS paths. OS is the real disk; tests inject
// other implementations (a disk that fails midway) to show a failed write leaves
// the old output as it was.
type FS interface {
	fs.FS
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string) error
	// MkdirTemp creates a new directory in dir, named after pattern (os.MkdirTemp).
	MkdirTemp(dir, pattern string) (string, error)
	// WriteFile writes a new regular file.
	WriteFile(name string, data []byte) error
	// Link makes newname the same file as oldname, keeping its modification time (a
	// hard link, or a copy with the old time where links are not possible).
	Link(oldname, newname string) error
	// Swap exchanges directories staging and dir in one step where the disk can
	// (renameat2 RENAME_EXCHANGE), else with two renames; a missing dir is renamed into.
	Swap(staging, dir string) error
	// RemoveAll removes a path and everything below it.
	RemoveAll(name string) error
}

// OS is the disk under root.
func OS(root string) FS { return osFS{root: root, FS: os.DirFS(root)} }

type osFS struct {
	fs.FS
	root string
}

func (d osFS) path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }

func (d osFS) MkdirAll(name string) error { return os.MkdirAll(d.path(name), 0o755) }

func (d osFS) MkdirTemp(dir, pattern string) (string, error) {
	p, err := os.MkdirTemp(d.path(dir), pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(p, 0o755); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(d.root, p)
	return filepath.ToSlash(rel), err
}

func (d osFS) WriteFile(name string, data []byte) error {
	return os.WriteFile(d.path(name), data, 0o644)
}

func (d osFS) Link(oldname, newname string) error {
	src, dst := d.path(oldname), d.path(newname)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

func (d osFS) Swap(staging, dir string) error {
	s, t := d.path(staging), d.path(dir)
	if _, err := os.Stat(t); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(s, t); err != nil {
			return err
		}
		return os.Mkdir(s, 0o755) // so the caller's cleanup has something to remove
	}
	if err := unix.Renameat2(unix.AT_FDCWD, s, unix.AT_FDCWD, t, unix.RENAME_EXCHANGE); err == nil {
		return nil
	}
	old := s + ".old"
	if err := os.Rename(t, old); err != nil {
		return err
	}
	if err := os.Rename(s, t); err != nil {
		_ = os.Rename(old, t)
		return err
	}
	return os.Rename(old, s)
}

func (d osFS) RemoveAll(name string) error { return os.RemoveAll(d.path(name)) }
