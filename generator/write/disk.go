package write

import (
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the disk the write stage works on, the repository root. Paths are relative
// to it, with forward slashes, like fs.FS paths. OS is the real disk; tests inject
// other implementations (a disk that fails midway) to show a failed write leaves
// the old output as it was. Its methods are called from several goroutines at once.
type FS interface {
	fs.FS
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string) error
	// MkdirTemp creates a new directory in dir, named after pattern (os.MkdirTemp).
	MkdirTemp(dir, pattern string) (string, error)
	// WriteFile writes a new regular file.
	WriteFile(name string, data []byte) error
	// Rename moves a file (or an empty directory) to newname, replacing a file there.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
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

// Stat is lstat(2): fs.Stat would otherwise open every file a no-op render asks
// about, and a symbolic link in the output is never a file Rampart wrote.
func (d osFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	return os.Lstat(d.path(name))
}

// ReadFile reads a whole file in one go, as os.DirFS does.
func (d osFS) ReadFile(name string) ([]byte, error) {
	return fs.ReadFile(d.FS, name)
}

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

func (d osFS) Rename(oldname, newname string) error {
	return os.Rename(d.path(oldname), d.path(newname))
}

func (d osFS) Remove(name string) error { return os.Remove(d.path(name)) }

func (d osFS) RemoveAll(name string) error { return os.RemoveAll(d.path(name)) }
