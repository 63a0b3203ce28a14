package specedit

import (
	"errors"
	"fmt"
	"os"

	"github.com/rampart-gitops/rampart/generator/internal/atomicfile"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// maxFile is the largest spec the loader reads (1 MiB); a larger one is not a spec.
const maxFile = 1 << 20

// QuarantineFile quarantines an app in the spec file at path, in place.
func QuarantineFile(path, app string, q spec.Quarantine) error {
	return editFile(path, func(src []byte) ([]byte, error) { return Quarantine(src, app, q) })
}

// LiftFile lifts an app's quarantine in the spec file at path, in place.
func LiftFile(path, app string) error {
	return editFile(path, func(src []byte) ([]byte, error) { return Lift(src, app) })
}

// editFile rewrites a regular file (not a link) atomically, keeping its mode.
func editFile(path string, edit func([]byte) ([]byte, error)) error {
	st, err := os.Lstat(path)
	switch {
	case err != nil:
	case !st.Mode().IsRegular():
		err = errors.New("not a regular file")
	case st.Size() > maxFile:
		err = fmt.Errorf("%d bytes is more than a spec may hold (%d)", st.Size(), maxFile)
	}
	if err != nil {
		return fmt.Errorf("reading the spec: %w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the spec: %w", err)
	}
	out, err := edit(src)
	if err != nil {
		return err
	}
	// atomicfile's temporary file is 0600; keep the spec's mode.
	if err := atomicfile.Write(path, out); err != nil {
		return fmt.Errorf("writing the spec: %w", err)
	}
	if err := os.Chmod(path, st.Mode().Perm()); err != nil {
		return fmt.Errorf("writing the spec: %w", err)
	}
	return nil
}
