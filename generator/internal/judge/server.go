package judge

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// logTailLines is how much of a server's log a start failure quotes.
const logTailLines = 30

// startTimeout bounds how long each server may take to become ready.
const startTimeout = 90 * time.Second

// Options configure [Start].
type Options struct {
	// Binaries are the servers to run; the zero value means [FindBinaries].
	Binaries Binaries
	// CRDs holds the CustomResourceDefinitions to install (every *.yaml and
	// *.yml file in it, recursively); nil means the upstream set in crds/.
	CRDs fs.FS
	// Audit makes the API server write an audit log of every request at the
	// Metadata level (who, impersonating whom, did what to which object, and
	// the answer's code), read back with [Server.AuditEvents].
	Audit bool
}

// Server is a running etcd and kube-apiserver pair with the CRDs installed.
// Stop it when done.
type Server struct {
	// Config reaches the API server as a member of system:masters.
	Config *rest.Config
	// Timings says how long each start stage took.
	Timings Timings

	dir      string // temporary files: certificates, token, logs, etcd data
	shmDir   string // etcd's data when it lives in /dev/shm
	auditLog string // the audit log, when Options.Audit is set
	etcd     *process
	api      *process
	dynamic  dynamic.Interface
	disco    discovery.DiscoveryInterface
	mapper   *mapper
	crdCount int
}

// Timings are the durations of the start stages, for the test log.
type Timings struct {
	Etcd, APIServer, CRDs time.Duration
}

func (t Timings) String() string {
	return fmt.Sprintf("etcd %s, kube-apiserver %s, CRDs %s (total %s)",
		t.Etcd.Round(time.Millisecond), t.APIServer.Round(time.Millisecond),
		t.CRDs.Round(time.Millisecond), (t.Etcd + t.APIServer + t.CRDs).Round(time.Millisecond))
}

// Start runs etcd and kube-apiserver on free 127.0.0.1 ports in a temporary
// directory, waits until the API server is ready and installs the CRDs. On a
// failure it stops what it started and returns an error carrying the failing
// server's log tail and the command line that reproduces it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binaries == (Binaries{}) {
		b, err := FindBinaries()
		if err != nil {
			return nil, err
		}
		opts.Binaries = b
	}
	if opts.CRDs == nil {
		opts.CRDs = upstreamCRDs()
	}

	dir, err := os.MkdirTemp("", "rampart-judge-")
	if err != nil {
		return nil, fmt.Errorf("creating the judge directory: %w", err)
	}
	s := &Server{dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = s.stop(true) // the start error is the one to report
		}
	}()

	begin := time.Now()
	if err := s.startEtcd(ctx, opts.Binaries.Etcd); err != nil {
		return nil, err
	}
	s.Timings.Etcd = time.Since(begin)

	begin = time.Now()
	if err := s.startAPIServer(ctx, opts.Binaries.KubeAPIServer, opts.Audit); err != nil {
		return nil, err
	}
	s.Timings.APIServer = time.Since(begin)

	begin = time.Now()
	if err := s.installCRDs(ctx, opts.CRDs); err != nil {
		return nil, fmt.Errorf("installing CRDs: %w", err)
	}
	s.Timings.CRDs = time.Since(begin)

	ok = true
	return s, nil
}

// CRDCount is the number of CustomResourceDefinitions Start installed.
func (s *Server) CRDCount() int { return s.crdCount }

// Stop ends the two servers (by their process ids) and removes the temporary
// directory.
func (s *Server) Stop() error { return s.stop(false) }

// stop ends the servers; keep leaves the directory in place so the command
// in a start failure can be run again by hand (etcd's data goes either way:
// etcd starts afresh from the same command).
func (s *Server) stop(keep bool) error {
	var errs []error
	if s.api != nil {
		errs = append(errs, s.api.stop())
	}
	if s.etcd != nil {
		errs = append(errs, s.etcd.stop())
	}
	if s.shmDir != "" {
		errs = append(errs, os.RemoveAll(s.shmDir))
	}
	if !keep && s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping the judges: %w", err)
	}
	return nil
}

func (s *Server) startEtcd(ctx context.Context, bin string) error {
	ports, err := freePorts(2)
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	args := []string{
		"--name=judge",
		"--data-dir=" + s.etcdDataDir(),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=judge=" + peer,
		"--initial-cluster-state=new",
		// The largest upstream CRDs (Kyverno's policies) are over a megabyte.
		"--max-request-bytes=10485760",
		"--quota-backend-bytes=2147483648",
		"--log-level=warn",
	}
	p, err := startProcess(bin, args, nil, filepath.Join(s.dir, "etcd.log"))
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	s.etcd = p
	s.etcd.url = client

	if err := p.waitReady(ctx, httpOK(client+"/health")); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	return nil
}

// etcdDataDir keeps etcd's data in memory when /dev/shm is there: nothing in
// it outlives the test, and fsync on a shared disk is the slowest part.
func (s *Server) etcdDataDir() string {
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "rampart-judge-etcd-"); err == nil {
			s.shmDir = d
			return d
		}
	}
	return filepath.Join(s.dir, "etcd-data")
}

func (s *Server) startAPIServer(ctx context.Context, bin string, audit bool) error {
	ports, err := freePorts(1)
	if err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	host := "127.0.0.1:" + strconv.Itoa(ports[0])

	files, err := writeAPIServerFiles(s.dir)
	if err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}

	args := []string{
		"--etcd-servers=" + s.etcd.url,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--cert-dir=" + filepath.Join(s.dir, "certs"),
		"--tls-cert-file=" + files.servingCert,
		"--tls-private-key-file=" + files.servingKey,
		"--token-auth-file=" + files.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + files.saPublic,
		"--service-account-signing-key-file=" + files.saPrivate,
		"--service-cluster-ip-range=10.96.0.0/16",
		// Clusters run privileged platform pods; in team namespaces it is
		// PodSecurity that must say no, as it does on the real clusters.
		"--allow-privileged=true",
		// PodSecurity is in the default set; naming it keeps it on whatever
		// the defaults become. ServiceAccount admission stays on too: the
		// harness creates the service accounts a pod needs.
		"--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,Priority,LimitRanger,ResourceQuota",
		// No nodes or controllers run here: the loopback endpoint reconciler
		// only logs errors, and API Priority and Fairness only costs time.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--max-requests-inflight=1000",
		"--v=0",
	}
	if audit {
		auditArgs, err := s.writeAuditPolicy()
		if err != nil {
			return fmt.Errorf("starting kube-apiserver: %w", err)
		}
		args = append(args, auditArgs...)
	}
	p, err := startProcess(bin, args, nil, filepath.Join(s.dir, "kube-apiserver.log"))
	if err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	s.api = p
	s.api.needs = "etcd (needed to reproduce) ran as: " + commandLine(s.etcd.cmd.Path, s.etcd.cmd.Args[1:])

	cfg := &rest.Config{
		Host:        "https://" + host,
		BearerToken: files.token,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: files.servingCertPEM,
		},
		// The harness is the only client: no client-side throttling.
		QPS:                       -1,
		Timeout:                   60 * time.Second,
		UserAgent:                 "rampart-judge",
		WarningHandlerWithContext: warningCollector{},
	}
	s.Config = cfg

	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("starting kube-apiserver: creating a discovery client: %w", err)
	}
	s.disco = disco
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("starting kube-apiserver: creating a dynamic client: %w", err)
	}
	s.dynamic = dyn

	ready := func(ctx context.Context) error {
		body, err := disco.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(body)))
		}
		return nil
	}
	if err := p.waitReady(ctx, ready); err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	return nil
}

// apiServerFiles are the credentials written for one API server.
type apiServerFiles struct {
	servingCert, servingKey string
	servingCertPEM          []byte
	saPublic, saPrivate     string
	tokens                  string
	token                   string
}

// writeAPIServerFiles generates a self-signed serving certificate for
// 127.0.0.1, a service account signing key and a token file that makes the
// harness a member of system:masters.
func writeAPIServerFiles(dir string) (apiServerFiles, error) {
	var f apiServerFiles

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("generating the serving key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return f, fmt.Errorf("generating a serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "rampart-judge-apiserver"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return f, fmt.Errorf("signing the serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return f, fmt.Errorf("encoding the serving key: %w", err)
	}
	f.servingCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("generating the service account key: %w", err)
	}
	saPriv, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return f, fmt.Errorf("encoding the service account key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, fmt.Errorf("encoding the service account public key: %w", err)
	}

	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return f, fmt.Errorf("generating the token: %w", err)
	}
	f.token = hex.EncodeToString(token)

	f.servingCert = filepath.Join(dir, "serving.crt")
	f.servingKey = filepath.Join(dir, "serving.key")
	f.saPublic = filepath.Join(dir, "sa.pub")
	f.saPrivate = filepath.Join(dir, "sa.key")
	f.tokens = filepath.Join(dir, "tokens.csv")
	writes := []struct {
		path string
		data []byte
	}{
		{f.servingCert, f.servingCertPEM},
		{f.servingKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})},
		{f.saPublic, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})},
		{f.saPrivate, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saPriv})},
		{f.tokens, []byte(f.token + `,rampart-judge,rampart-judge,"system:masters"` + "\n")},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return f, fmt.Errorf("writing %s: %w", w.path, err)
		}
	}
	return f, nil
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1. The
// listeners are held until all are chosen so no port is handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process is one server the harness started.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error
	url     string
	needs   string // how to start what the process depends on, for failures
}

// startProcess runs bin with args, its output going to logPath; env is its
// whole environment, nil meaning the test's own.
func startProcess(bin string, args, env []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = filepath.Dir(logPath)
	// If the test binary dies, the kernel ends the server too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &process{
		name:    filepath.Base(bin),
		cmd:     cmd,
		logPath: logPath,
		logFile: logFile,
		done:    make(chan struct{}),
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("running %s: %w", commandLine(bin, args), err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ready until it succeeds, the process exits or the start
// timeout passes; a failure names the command and quotes the log's tail.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-p.done:
			return p.failure(fmt.Errorf("%s exited: %w", p.name, p.waitErr))
		case <-ctx.Done():
			err := fmt.Errorf("%s not ready after %s: %w", p.name, startTimeout, ctx.Err())
			if last != nil {
				err = fmt.Errorf("%w (last check: %w)", err, last)
			}
			return p.failure(err)
		case <-tick.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(pctx)
		pcancel()
		if last == nil {
			return nil
		}
	}
}

// failure adds what a person needs to reproduce a start failure.
func (p *process) failure(err error) error {
	needs := ""
	if p.needs != "" {
		needs = "\n" + p.needs
	}
	return fmt.Errorf("%w\nto reproduce (the directory is kept): %s%s\nlast %d lines of %s:\n%s",
		err, commandLine(p.cmd.Path, p.cmd.Args[1:]), needs, logTailLines, p.logPath, tail(p.logPath, logTailLines))
}

// stop sends SIGTERM to the process it started, and SIGKILL if it has not
// exited five seconds later.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	<-p.done
	return nil
}

// tail returns the last n lines of a file, or a note saying why it cannot.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(reading the log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(the log is empty)"
	}
	return strings.Join(lines, "\n")
}

// commandLine quotes a command for a POSIX shell.
func commandLine(bin string, args []string) string {
	parts := []string{shellQuote(bin)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// httpOK is a readiness probe: GET url answers 200.
func httpOK(url string) func(context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s answered %s", url, resp.Status)
		}
		return nil
	}
}
