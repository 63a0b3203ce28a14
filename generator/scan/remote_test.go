package scan_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy/pkg/cache"
	tdb "github.com/aquasecurity/trivy/pkg/db"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	rpcserver "github.com/aquasecurity/trivy/pkg/rpc/server"

	"github.com/rampart-gitops/rampart/generator/internal/vulndb"
	"github.com/rampart-gitops/rampart/generator/scan"
	"github.com/rampart-gitops/rampart/generator/spec"
)

const serverToken = "s3cret-token"

// trivyServer is Trivy's own server (pkg/rpc/server) in this process, on 127.0.0.1
// with a random port, serving the fixture database and a token.
type trivyServer struct {
	URL string

	mu    sync.Mutex
	calls []string // request paths, in order
	heads []http.Header

	stopOnce sync.Once
	stop     func()
}

// startTrivyServer wires the server as `trivy server` does (pkg/commands/server): the
// database under CACHE/db opened with Trivy's db.Init, an fs cache backend in CACHE,
// and rpcserver.NewServer's handlers. It serves NewServeMux on its own listener rather
// than calling ListenAndServe, which takes a fixed address and starts the hourly
// database updater; the handlers (token check, scanner and cache services, /version)
// are the same.
//
// Trivy's database handle is process-wide: no local Scanner may be open while the
// server runs, and the tests here close theirs before starting it.
func startTrivyServer(t *testing.T, token string) *trivyServer {
	t.Helper()
	cacheDir := t.TempDir()
	if err := vulndb.WriteFile(tdb.Dir(cacheDir), "../internal/vulndb/testdata/fixture.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := tdb.Init(tdb.Dir(cacheDir)); err != nil {
		t.Fatal(err)
	}
	fsCache, err := cache.NewFSCache(cacheDir)
	if err != nil {
		_ = trivydb.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := rpcserver.NewServer("test", "127.0.0.1:0", cacheDir, token, scan.DefaultTokenHeader, "", nil, ftypes.RegistryOptions{})
	mux := srv.NewServeMux(ctx, fsCache, &sync.WaitGroup{}, &sync.WaitGroup{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		_ = fsCache.Close()
		_ = trivydb.Close()
		t.Fatal(err)
	}
	ts := &trivyServer{URL: "http://" + ln.Addr().String()}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ts.mu.Lock()
			ts.calls = append(ts.calls, r.URL.Path)
			ts.heads = append(ts.heads, r.Header.Clone())
			ts.mu.Unlock()
			mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	ts.stop = func() {
		ts.stopOnce.Do(func() {
			_ = hs.Close()
			<-done
			cancel()
			_ = fsCache.Close()
			_ = trivydb.Close()
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// count is how many requests went to paths ending in suffix.
func (s *trivyServer) count(suffix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if strings.HasSuffix(c, suffix) {
			n++
		}
	}
	return n
}

func (s *trivyServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.heads = nil, nil
}

// remoteOptions are e's options scanning through srv, as rampart.yaml's scan.server
// gives them, with no local database.
func (e *env) remoteOptions(t *testing.T, srv *trivyServer, token, cacheDir string) scan.Options {
	t.Helper()
	so, err := scan.ServerFromConfig(&spec.ScanServer{URL: srv.URL, Headers: map[string]string{"X-Rampart-Test": "remote"}},
		func(k string) string {
			if k == scan.DefaultTokenEnv {
				return token
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	o := e.options(cacheDir)
	o.DBDir = ""
	o.Server = so
	return o
}

func TestScanThroughTrivyServer(t *testing.T) {
	e := newEnv(t)
	all := []string{apiRef, web200Ref, web201Ref, ledgerRef, sharedRef}
	cacheDir := t.TempDir()

	// The local scan first: it holds Trivy's database handle until Close, and the
	// server needs the handle next.
	start := time.Now()
	local := open(t, e.options(cacheDir))
	_, want := resolveAndScan(t, local, all...)
	if err := local.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("local scan: %d digests, %s", len(want), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	srv := startTrivyServer(t, serverToken)
	t.Logf("server started at %s in %s", srv.URL, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	remote := open(t, e.remoteOptions(t, srv, serverToken, cacheDir))
	if remote.DBVersion() != local.DBVersion() {
		t.Errorf("remote DB version %q, local %q", remote.DBVersion(), local.DBVersion())
	}
	_, got := resolveAndScan(t, remote, all...)
	t.Logf("remote scan: %d digests, %d server requests, %s", len(got), srv.count(""), time.Since(start).Round(time.Millisecond))

	t.Run("same findings as the local scan", func(t *testing.T) {
		if len(got) != len(want) || len(got) != 4 {
			t.Fatalf("remote scanned %d digests, local %d, want 4", len(got), len(want))
		}
		for _, d := range slices.Sorted(maps.Keys(want)) {
			w, g := want[d], got[d]
			if g == nil || g.Err != nil {
				t.Fatalf("%s: remote result %+v", d, g)
			}
			if g.Cached {
				t.Errorf("%s: the remote scan reused the local scan's cached result", w.Image)
			}
			if !reflect.DeepEqual(g.Findings, w.Findings) || g.OS != w.OS || g.Packages != w.Packages || g.DBVersion != w.DBVersion {
				t.Errorf("%s:\nremote os %q, %d packages, db %s, findings %+v\n local os %q, %d packages, db %s, findings %+v",
					w.Image, g.OS, g.Packages, g.DBVersion, g.Findings, w.OS, w.Packages, w.DBVersion, w.Findings)
			}
		}
		// The fixture's findings are all there: IDs, packages, versions, severities.
		lodash := got[e.digests[web200Ref]].Findings[0]
		if lodash.ID != "CVE-2026-20003" || lodash.Package != "lodash" || lodash.Installed != "4.17.20" || lodash.Severity != scan.SeverityCritical {
			t.Errorf("lodash finding through the server = %+v", lodash)
		}
	})

	t.Run("analysis goes to the server's cache, detection to its scanner", func(t *testing.T) {
		for _, m := range []string{"trivy.cache.v1.Cache/MissingBlobs", "trivy.cache.v1.Cache/PutBlob", "trivy.cache.v1.Cache/PutArtifact", "trivy.scanner.v1.Scanner/Scan"} {
			if srv.count(m) == 0 {
				t.Errorf("no %s request", m)
			}
		}
		if n := srv.count("Scanner/Scan"); n != 4 {
			t.Errorf("%d Scan requests, want one per digest (4)", n)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for i, h := range srv.heads {
			if strings.HasPrefix(srv.calls[i], "/twirp/") && (h.Get(scan.DefaultTokenHeader) != serverToken || h.Get("X-Rampart-Test") != "remote") {
				t.Errorf("%s: token %q, custom header %q", srv.calls[i], h.Get(scan.DefaultTokenHeader), h.Get("X-Rampart-Test"))
			}
		}
	})

	t.Run("second run uses the cache and asks the server only for its database", func(t *testing.T) {
		srv.reset()
		s := open(t, e.remoteOptions(t, srv, serverToken, cacheDir))
		_, again := resolveAndScan(t, s, all...)
		for d, r := range again {
			if r.Err != nil || !r.Cached || !reflect.DeepEqual(r.Findings, got[d].Findings) {
				t.Errorf("%s: cached %v", d, r.Cached)
			}
		}
		if n := srv.count("/version"); n != 1 {
			t.Errorf("%d /version requests, want the one New makes", n)
		}
		if n := srv.count("Scanner/Scan"); n != 0 {
			t.Errorf("%d Scan requests with every result cached", n)
		}
	})

	t.Run("stale server database", func(t *testing.T) {
		o := e.remoteOptions(t, srv, serverToken, "")
		o.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
		_, err := scan.New(o)
		if err == nil || !strings.Contains(err.Error(), "database of the Trivy server at "+srv.URL) || !strings.Contains(err.Error(), "is stale") {
			t.Errorf("err = %v", err)
		}
		t.Logf("stale: %v", err)
	})

	t.Run("wrong token", func(t *testing.T) {
		srv.reset()
		_, err := scan.New(e.remoteOptions(t, srv, "not-the-token", ""))
		if err == nil || !strings.Contains(err.Error(), "the Trivy server at "+srv.URL+" (scan.server.url) rejected the token in $TRIVY_TOKEN") ||
			!strings.Contains(err.Error(), "invalid token") || !strings.Contains(err.Error(), "trivy server --token") {
			t.Errorf("err = %v", err)
		}
		t.Logf("wrong token: %v", err)
		if srv.count("Scanner/Scan")+srv.count("PutBlob") != 0 {
			t.Errorf("%d scan or cache writes after a rejected token", srv.count("Scanner/Scan")+srv.count("PutBlob"))
		}
	})

	t.Run("no token", func(t *testing.T) {
		_, err := scan.New(e.remoteOptions(t, srv, "", ""))
		if err == nil || !strings.Contains(err.Error(), "wants a token and none was sent ($TRIVY_TOKEN is empty)") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("stopped server", func(t *testing.T) {
		s := open(t, e.remoteOptions(t, srv, serverToken, ""))
		images, err := s.Resolve(context.Background(), []string{apiRef})
		if err != nil {
			t.Fatal(err)
		}
		srv.stop()

		// A Scanner that was open: every image fails, naming the server, and the gate blocks.
		results, err := s.Scan(context.Background(), []scan.Resolved{images[apiRef]})
		if err == nil || !strings.Contains(err.Error(), "cannot reach the Trivy server at "+srv.URL+" (scan.server.url)") {
			t.Errorf("scan err = %v", err)
		}
		t.Logf("server stopped during the run: %v", err)
		if r := results[e.digests[apiRef]]; r == nil || r.Err == nil {
			t.Errorf("result = %+v", r)
		}
		v := scan.Gate([]scan.Resolved{images[apiRef]}, results, scan.Policy{Threshold: scan.SeverityCritical}, now)
		if v.Passed() {
			t.Error("the gate passed an image the stopped server did not scan")
		}

		// A new one does not open.
		start := time.Now()
		_, err = scan.New(e.remoteOptions(t, srv, serverToken, ""))
		if err == nil || !strings.Contains(err.Error(), "cannot reach the Trivy server at "+srv.URL+" (scan.server.url)") ||
			!strings.Contains(err.Error(), "start `trivy server` there, or correct scan.server.url") {
			t.Errorf("err = %v", err)
		}
		t.Logf("stopped server: %v", err)
		t.Logf("stopped server refused in %s", time.Since(start).Round(time.Millisecond))
	})
}

func TestServerFromConfig(t *testing.T) {
	env := map[string]string{"TRIVY_TOKEN": "default-token", "CI_TRIVY_TOKEN": "ci-token"}
	getenv := func(k string) string { return env[k] }
	cases := []struct {
		name    string
		cfg     *spec.ScanServer
		want    *scan.ServerOptions
		wantErr string
	}{
		{name: "none", cfg: nil, want: nil},
		{
			name: "defaults",
			cfg:  &spec.ScanServer{URL: "http://trivy:4954"},
			want: &scan.ServerOptions{URL: "http://trivy:4954", Token: "default-token", TokenEnv: "TRIVY_TOKEN"},
		},
		{
			name: "everything",
			cfg: &spec.ScanServer{URL: "https://trivy.example.com/", TokenEnv: "CI_TRIVY_TOKEN", TokenHeader: "X-Trivy-Auth",
				Headers: map[string]string{"x-tenant": "payments"}},
			want: &scan.ServerOptions{URL: "https://trivy.example.com/", Token: "ci-token", TokenEnv: "CI_TRIVY_TOKEN", TokenHeader: "X-Trivy-Auth",
				Headers: http.Header{"X-Tenant": {"payments"}}},
		},
		{name: "named variable unset", cfg: &spec.ScanServer{URL: "http://trivy:4954", TokenEnv: "MISSING"}, wantErr: "server.tokenEnv: $MISSING is not set"},
		{name: "no url", cfg: &spec.ScanServer{}, wantErr: "server.url: required"},
		{name: "no scheme", cfg: &spec.ScanServer{URL: "trivy:4954"}, wantErr: `server.url: "trivy:4954" is not an http:// or https:// URL`},
		{name: "grpc scheme", cfg: &spec.ScanServer{URL: "grpc://trivy:4954"}, wantErr: "is not an http:// or https:// URL"},
		{name: "bad header", cfg: &spec.ScanServer{URL: "http://trivy:4954", Headers: map[string]string{"bad header": "x"}}, wantErr: `server.headers: "bad header" is not an HTTP header name`},
		{name: "reserved header", cfg: &spec.ScanServer{URL: "http://trivy:4954", Headers: map[string]string{"content-type": "x"}}, wantErr: "server.headers: Content-Type is set by Trivy's client"},
		{name: "bad token header", cfg: &spec.ScanServer{URL: "http://trivy:4954", TokenHeader: "Trivy Token"}, wantErr: "server.tokenHeader"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := scan.ServerFromConfig(c.cfg, getenv)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestServerUnreachable(t *testing.T) {
	e := newEnv(t)
	o := e.options("")
	o.DBDir = ""
	o.Server = &scan.ServerOptions{URL: "http://127.0.0.1:1", TokenEnv: scan.DefaultTokenEnv}
	_, err := scan.New(o)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Trivy server at http://127.0.0.1:1 (scan.server.url)") {
		t.Errorf("err = %v", err)
	}
	var uerr interface{ Timeout() bool }
	if !errors.As(err, &uerr) {
		t.Errorf("the network error is not wrapped: %v", err)
	}

	// Not a Trivy server: something else answers at the URL.
	other := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = other.Serve(ln) }()
	t.Cleanup(func() { _ = other.Close() })
	o.Server.URL = "http://" + ln.Addr().String() + "/"
	_, err = scan.New(o)
	if err == nil || !strings.Contains(err.Error(), "answered GET /version with HTTP 404") || !strings.Contains(err.Error(), "http://"+ln.Addr().String()+" (scan.server.url)") {
		t.Errorf("err = %v", err)
	}
}
