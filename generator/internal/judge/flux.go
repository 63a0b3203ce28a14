package judge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// FluxVersion is the release of source-controller and kustomize-controller
// that .ci/install-judges builds.
const FluxVersion = "v1.9.6"

// Environment variables that point the Flux harness at the controllers.
const (
	EnvSourceController    = "RAMPART_SOURCE_CONTROLLER"
	EnvKustomizeController = "RAMPART_KUSTOMIZE_CONTROLLER"
)

// FluxBinaries are the paths of the two Flux controllers.
type FluxBinaries struct {
	SourceController    string
	KustomizeController string
}

// FindFluxBinaries looks for each controller in its environment variable,
// then in the cache .ci/install-judges builds into, then on PATH.
func FindFluxBinaries() (FluxBinaries, error) {
	var b FluxBinaries
	var missing []error
	for _, c := range []struct {
		env, name string
		into      *string
	}{
		{EnvSourceController, "source-controller", &b.SourceController},
		{EnvKustomizeController, "kustomize-controller", &b.KustomizeController},
	} {
		cached := ""
		if dir := JudgesDir(); dir != "" {
			cached = filepath.Join(dir, c.name+"-"+FluxVersion, c.name)
		}
		p, err := findBinary(c.env, c.name, cached)
		if err != nil {
			missing = append(missing, err)
		}
		*c.into = p
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("finding the Flux controllers: %w: %w", errors.Join(missing...), ErrMissingBinaries)
	}
	return b, nil
}

// FluxNamespace is where the controllers run, as Flux installs them.
const FluxNamespace = "flux-system"

// LockdownFlags are Flux's multi-tenancy lockdown for kustomize-controller, as
// fluxcd.io's multi-tenancy guide patches them in at bootstrap: no
// cross-namespace references, no remote bases, and impersonation of the
// namespace's "default" service account when a Kustomization names none.
var LockdownFlags = []string{
	"--no-cross-namespace-refs=true",
	"--no-remote-bases=true",
	"--default-service-account=default",
}

// Flux is a running source-controller and kustomize-controller, each a local
// process talking to the harness's API server.
type Flux struct {
	dir               string
	source, kustomize *process
}

// StartFlux runs source-controller and kustomize-controller against srv, as
// the cluster's Flux runs them: every namespace watched, kustomize-controller
// under the lockdown flags. Nothing listens beyond 127.0.0.1: the artifact
// server and the health endpoints take free ports there, metrics are off, and
// there is no leader election, no webhook and no notification-controller.
// Retries and dependency requeues are short, so a test sees a verdict in
// seconds. Stop it when done.
func StartFlux(ctx context.Context, srv *Server, bins FluxBinaries) (*Flux, error) {
	if bins == (FluxBinaries{}) {
		b, err := FindFluxBinaries()
		if err != nil {
			return nil, err
		}
		bins = b
	}
	dir, err := os.MkdirTemp("", "rampart-flux-")
	if err != nil {
		return nil, fmt.Errorf("starting Flux: %w", err)
	}
	f := &Flux{dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = f.stop(true)
		}
	}()

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(srv, kubeconfig); err != nil {
		return nil, fmt.Errorf("starting Flux: %w", err)
	}
	env := []string{
		"KUBECONFIG=" + kubeconfig,
		"HOME=" + dir,
		"TMPDIR=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"RUNTIME_NAMESPACE=" + FluxNamespace,
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("starting Flux: %w", err)
	}
	storage := "127.0.0.1:" + strconv.Itoa(ports[0])
	if err := os.Mkdir(filepath.Join(dir, "storage"), 0o700); err != nil {
		return nil, fmt.Errorf("starting Flux: %w", err)
	}
	common := []string{
		"--watch-all-namespaces=true",
		"--enable-leader-election=false",
		"--metrics-addr=0",
		"--events-addr=",
		"--log-encoding=console",
		"--log-level=info",
		"--min-retry-delay=250ms",
		"--max-retry-delay=5s",
		"--requeue-dependency=2s",
	}

	sourceArgs := append([]string{
		"--health-addr=127.0.0.1:" + strconv.Itoa(ports[1]),
		"--storage-path=" + filepath.Join(dir, "storage"),
		"--storage-addr=" + storage,
		"--storage-adv-addr=" + storage,
	}, common...)
	if f.source, err = startProcess(bins.SourceController, sourceArgs, env, filepath.Join(dir, "source-controller.log")); err != nil {
		return nil, fmt.Errorf("starting source-controller: %w", err)
	}
	if err := f.source.waitReady(ctx, httpOK("http://127.0.0.1:"+strconv.Itoa(ports[1])+"/readyz")); err != nil {
		return nil, fmt.Errorf("starting source-controller: %w", err)
	}

	kustomizeArgs := append(append([]string{
		"--health-addr=127.0.0.1:" + strconv.Itoa(ports[2]),
	}, common...), LockdownFlags...)
	if f.kustomize, err = startProcess(bins.KustomizeController, kustomizeArgs, env, filepath.Join(dir, "kustomize-controller.log")); err != nil {
		return nil, fmt.Errorf("starting kustomize-controller: %w", err)
	}
	if err := f.kustomize.waitReady(ctx, httpOK("http://127.0.0.1:"+strconv.Itoa(ports[2])+"/readyz")); err != nil {
		return nil, fmt.Errorf("starting kustomize-controller: %w", err)
	}
	ok = true
	return f, nil
}

// Logs returns the last lines of each controller's log, for a failure.
func (f *Flux) Logs(lines int) string {
	out := ""
	for _, p := range []*process{f.source, f.kustomize} {
		if p != nil {
			out += fmt.Sprintf("--- last %d lines of %s:\n%s\n", lines, p.logPath, tail(p.logPath, lines))
		}
	}
	return out
}

// Stop ends both controllers (by their process ids) and removes their files.
func (f *Flux) Stop() error { return f.stop(false) }

func (f *Flux) stop(keep bool) error {
	var errs []error
	for _, p := range []*process{f.kustomize, f.source} {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	if !keep {
		errs = append(errs, os.RemoveAll(f.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping Flux: %w", err)
	}
	return nil
}

// writeKubeconfig writes a kubeconfig that reaches srv with the harness's own
// credential (a member of system:masters, as Flux's controllers are
// cluster-admin).
func writeKubeconfig(srv *Server, path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["judge"] = &clientcmdapi.Cluster{Server: srv.Config.Host, CertificateAuthorityData: srv.Config.CAData}
	cfg.AuthInfos["judge"] = &clientcmdapi.AuthInfo{Token: srv.Config.BearerToken}
	cfg.Contexts["judge"] = &clientcmdapi.Context{Cluster: "judge", AuthInfo: "judge"}
	cfg.CurrentContext = "judge"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}
