package judge

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// KubeVersion is the kube-apiserver release .ci/install-judges builds.
const KubeVersion = "v1.33.13"

// Environment variables that point the harness at the binaries.
const (
	EnvKubeAPIServer = "RAMPART_KUBE_APISERVER"
	EnvEtcd          = "RAMPART_ETCD"
	EnvJudgesDir     = "RAMPART_JUDGES_DIR"
)

// ErrMissingBinaries is wrapped by [FindBinaries] when etcd or kube-apiserver
// is not installed; its message names the make target that installs them.
var ErrMissingBinaries = errors.New("the real judges are not installed: run `make judges` (bash .ci/install-judges)")

// Binaries are the paths of the two servers the harness runs.
type Binaries struct {
	KubeAPIServer string
	Etcd          string
}

// FindBinaries looks for kube-apiserver in $RAMPART_KUBE_APISERVER, then in
// the cache .ci/install-judges builds into, then on PATH; and for etcd in
// $RAMPART_ETCD, then on PATH.
func FindBinaries() (Binaries, error) {
	var b Binaries
	var missing []error

	apiserver, err := findBinary(EnvKubeAPIServer, "kube-apiserver", cachedAPIServer())
	if err != nil {
		missing = append(missing, err)
	}
	b.KubeAPIServer = apiserver

	etcd, err := findBinary(EnvEtcd, "etcd", "")
	if err != nil {
		missing = append(missing, err)
	}
	b.Etcd = etcd

	if len(missing) > 0 {
		return b, fmt.Errorf("finding judges: %w: %w", errors.Join(missing...), ErrMissingBinaries)
	}
	return b, nil
}

// JudgesDir is where .ci/install-judges caches what it builds.
func JudgesDir() string {
	if dir := os.Getenv(EnvJudgesDir); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "rampart", "judges")
}

func cachedAPIServer() string {
	dir := JudgesDir()
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "kube-apiserver-"+KubeVersion, "kube-apiserver")
}

// findBinary prefers the environment variable, then the cache path, then PATH.
// A path named by the environment that does not run is an error, not a
// fallback: the caller asked for that binary.
func findBinary(env, name, cached string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("checking $%s: %w", env, err)
		}
		return p, nil
	}
	if cached != "" && isExecutable(cached) == nil {
		return cached, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		where := "on PATH"
		if cached != "" {
			where = "in " + cached + " or on PATH"
		}
		return "", fmt.Errorf("%s not found %s (or set $%s)", name, where, env)
	}
	return p, nil
}

func isExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
