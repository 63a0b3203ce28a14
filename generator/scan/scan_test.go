package scan_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-gitops/rampart/generator/internal/imagebuild"
	"github.com/rampart-gitops/rampart/generator/internal/vulndb"
	"github.com/rampart-gitops/rampart/generator/scan"
)

// now is the test clock: two days after the fixture DB's UpdatedAt.
var now = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

const (
	apiRef    = "registry.example.com/team/api:1.0.0"
	web200Ref = "registry.example.com/team/web:2.0.0"
	web201Ref = "registry.example.com/team/web:2.0.1"
	ledgerRef = "registry.example.com/team/ledger:3.2.0"
	// sharedRef is another tag for the api image: same digest, scanned once.
	sharedRef = "registry.example.com/team/api:stable"
)

var alpinePkgs = []imagebuild.APKPackage{
	{Name: "busybox", Version: "1.37.0-r19", License: "GPL-2.0-only"},
	{Name: "libcrypto3", Version: "3.5.0-r0", Origin: "openssl", License: "Apache-2.0"},
	{Name: "libssl3", Version: "3.5.0-r0", Origin: "openssl", License: "Apache-2.0"},
	{Name: "musl", Version: "1.2.5-r10"},
	{Name: "zlib", Version: "1.3.1-r2", License: "Zlib"},
}

func nodeImage(t testing.TB, lodash string) v1.Image {
	node, err := imagebuild.NodeApp("/app", "web", "2.0.0", []imagebuild.NPMPackage{
		{Name: "express", Version: "4.21.2"},
		{Name: "lodash", Version: lodash},
		{Name: "minimist", Version: "1.2.8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return build(t, imagebuild.Spec{Layers: [][]imagebuild.File{imagebuild.Alpine("3.22.2", alpinePkgs[3:4]), node}})
}

func build(t testing.TB, s imagebuild.Spec) v1.Image {
	img, err := imagebuild.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// env is a registry holding the test images and a fixture DB.
type env struct {
	reg     *imagebuild.Registry
	dbDir   string
	digests map[string]string // ref → digest
}

func newEnv(t *testing.T) *env {
	t.Helper()
	images := map[string]v1.Image{
		apiRef:    build(t, imagebuild.Spec{Layers: [][]imagebuild.File{imagebuild.Alpine("3.22.2", alpinePkgs)}}),
		web200Ref: nodeImage(t, "4.17.20"),
		web201Ref: nodeImage(t, "4.17.21"),
		ledgerRef: build(t, imagebuild.Spec{Layers: [][]imagebuild.File{{imagebuild.GoBinary("/usr/local/bin/ledger", "go1.26.8",
			imagebuild.Module{Path: "github.com/example/ledger", Version: "(devel)"},
			[]imagebuild.Module{{Path: "github.com/spf13/cobra", Version: "v1.10.2"}, {Path: "golang.org/x/net", Version: "v0.37.0"}})}}}),
	}
	images[sharedRef] = images[apiRef]
	e := &env{reg: imagebuild.StartRegistry(), dbDir: t.TempDir(), digests: map[string]string{}}
	t.Cleanup(e.reg.Close)
	for ref, img := range images {
		_, d, err := e.reg.Push(strings.TrimPrefix(ref, "registry.example.com/"), img)
		if err != nil {
			t.Fatal(err)
		}
		e.digests[ref] = d.String()
	}
	if err := vulndb.WriteFile(e.dbDir, "../internal/vulndb/testdata/fixture.yaml"); err != nil {
		t.Fatal(err)
	}
	e.reg.Reset()
	return e
}

func (e *env) options(cacheDir string) scan.Options {
	return scan.Options{
		DBDir:    e.dbDir,
		CacheDir: cacheDir,
		MaxDBAge: 72 * time.Hour,
		Now:      func() time.Time { return now },
		Registry: scan.RegistryOptions{Mirrors: map[string]string{"registry.example.com": e.reg.Host}},
	}
}

func open(t *testing.T, o scan.Options) *scan.Scanner {
	t.Helper()
	s, err := scan.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func resolveAndScan(t *testing.T, s *scan.Scanner, refs ...string) ([]scan.Resolved, map[string]*scan.Result) {
	t.Helper()
	ctx := context.Background()
	res, err := s.Resolve(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	var images []scan.Resolved
	for _, r := range refs {
		images = append(images, res[r])
	}
	results, err := s.Scan(ctx, images)
	if err != nil {
		t.Fatal(err)
	}
	return images, results
}

type want struct{ id, pkg, installed, fixed string }

func findings(r *scan.Result) []want {
	var out []want
	for _, f := range r.Findings {
		out = append(out, want{f.ID, f.Package, f.Installed, f.Fixed})
	}
	return out
}

func equal(a, b []want) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	cacheDir := t.TempDir()
	all := []string{apiRef, web200Ref, web201Ref, ledgerRef, sharedRef}

	start := time.Now()
	s := open(t, e.options(cacheDir))
	images, results := resolveAndScan(t, s, all...)
	t.Logf("cold: %d images, %d digests, %d registry requests, %s", len(all), len(results), e.reg.Requests(), time.Since(start))

	t.Run("digests are pinned", func(t *testing.T) {
		for _, img := range images {
			if img.Digest != e.digests[img.Ref] || img.Pinned != img.Ref+"@"+e.digests[img.Ref] {
				t.Errorf("%s: pinned %q, want digest %s", img.Ref, img.Pinned, e.digests[img.Ref])
			}
		}
		if len(results) != 4 {
			t.Errorf("scanned %d digests, want 4 (api and api:stable share one)", len(results))
		}
	})

	t.Run("findings", func(t *testing.T) {
		cases := []struct {
			ref  string
			os   string
			want []want
		}{
			{apiRef, "alpine 3.22.2", []want{
				{"CVE-2026-20001", "libcrypto3", "3.5.0-r0", "3.5.1-r0"},
				{"CVE-2026-20001", "libssl3", "3.5.0-r0", "3.5.1-r0"},
				{"CVE-2026-20002", "busybox", "1.37.0-r19", "1.37.0-r20"},
			}},
			{web200Ref, "alpine 3.22.2", []want{
				{"CVE-2026-20003", "lodash", "4.17.20", "4.17.21"},
				{"CVE-2026-20004", "minimist", "1.2.8", ""},
			}},
			{web201Ref, "alpine 3.22.2", []want{
				{"CVE-2026-20004", "minimist", "1.2.8", ""},
			}},
			{ledgerRef, "", []want{
				{"CVE-2026-20005", "golang.org/x/net", "v0.37.0", "0.38.0"},
			}},
		}
		for _, c := range cases {
			r := results[e.digests[c.ref]]
			if r == nil || r.Err != nil {
				t.Fatalf("%s: result %+v", c.ref, r)
			}
			if got := findings(r); !equal(got, c.want) || r.OS != c.os {
				t.Errorf("%s: os %q findings\n got %v\nwant %v", c.ref, r.OS, got, c.want)
			}
		}
		lodash := results[e.digests[web200Ref]].Findings[0]
		if lodash.Severity != scan.SeverityCritical || lodash.Title != "lodash: prototype pollution in zipObjectDeep" ||
			lodash.Type != "node-pkg" || !strings.Contains(lodash.PkgPath, "node_modules/lodash/package.json") {
			t.Errorf("lodash finding = %+v", lodash)
		}
	})

	t.Run("gate", func(t *testing.T) {
		policy := scan.Policy{
			Threshold: scan.SeverityHigh,
			Exceptions: []scan.Exception{
				{ID: "CVE-2026-20001", Images: []string{"registry.example.com/team/api"}, Reason: "not reachable", Expires: "2026-12-31", Source: "teams/team.yaml:10:7"},
				{ID: "CVE-2026-20003", Images: []string{"registry.example.com/team/web"}, Reason: "upgrade planned", Expires: "2026-10-01", Source: "teams/team.yaml:14:7"},
				{ID: "CVE-2026-20099", Images: []string{"registry.example.com/team/web"}, Reason: "stale entry", Expires: "2027-01-31", Source: "teams/team.yaml:18:7"},
				// Covers the ID but in another repository: does not apply to team/api.
				{ID: "CVE-2026-20001", Images: []string{"registry.example.com/team/other"}, Reason: "elsewhere", Expires: "2027-01-31", Source: "teams/team.yaml:22:7"},
			},
		}
		v := scan.Gate(images, results, policy, now)
		if v.Passed() {
			t.Fatal("gate passed")
		}
		var blocking []string
		for _, f := range v.Blocking {
			blocking = append(blocking, f.ID+" "+f.Package+" "+strings.SplitN(f.Image, "@", 2)[0])
		}
		wantBlocking := []string{
			"CVE-2026-20003 lodash registry.example.com/team/web:2.0.0",
			"CVE-2026-20004 minimist registry.example.com/team/web:2.0.0",
			"CVE-2026-20004 minimist registry.example.com/team/web:2.0.1",
		}
		if strings.Join(blocking, "\n") != strings.Join(wantBlocking, "\n") {
			t.Errorf("blocking:\n%s\nwant:\n%s", strings.Join(blocking, "\n"), strings.Join(wantBlocking, "\n"))
		}
		if len(v.Covered) != 4 { // libcrypto3 and libssl3, in api:1.0.0 and api:stable
			t.Errorf("covered = %+v", v.Covered)
		}
		if len(v.Expired) != 1 || !strings.Contains(v.Expired[0].Message, "CVE-2026-20003 (teams/team.yaml:14:7) expired on 2026-10-01") {
			t.Errorf("expired = %+v", v.Expired)
		}
		if len(v.Unused) != 2 || v.Unused[0].ID != "CVE-2026-20001" || v.Unused[0].Source != "teams/team.yaml:22:7" || v.Unused[1].ID != "CVE-2026-20099" {
			t.Errorf("unused = %+v", v.Unused)
		}
		msg := v.Err().Error()
		for _, s := range []string{"3 finding(s) at or above HIGH", "IMAGE", "lodash", "4.17.20", "4.17.21", "CRITICAL", "expired on 2026-10-01"} {
			if !strings.Contains(msg, s) {
				t.Errorf("gate error lacks %q:\n%s", s, msg)
			}
		}
		t.Logf("gate error:\n%s", msg)

		// The newer tag with fixed-only findings passes a fixed-only policy.
		ok := scan.Gate(images[2:3], results, scan.Policy{Threshold: scan.SeverityHigh, IgnoreUnfixed: true}, now)
		if !ok.Passed() || ok.Err() != nil {
			t.Errorf("web:2.0.1 with ignoreUnfixed: %+v", ok)
		}
		// Development threshold: only CRITICAL blocks.
		dev := scan.Gate(images, results, scan.Policy{Threshold: scan.SeverityCritical}, now)
		if len(dev.Blocking) != 1 || dev.Blocking[0].Package != "lodash" {
			t.Errorf("CRITICAL threshold blocking = %+v", dev.Blocking)
		}
		// The day the exception is last valid, it still applies; the next day it does not.
		x := []scan.Exception{{ID: "CVE-2026-20003", Expires: "2026-11-22"}}
		if v := scan.Gate(images[1:2], results, scan.Policy{Threshold: scan.SeverityCritical, Exceptions: x}, now); !v.Passed() {
			t.Errorf("exception on its last day: %+v", v)
		}
		if v := scan.Gate(images[1:2], results, scan.Policy{Threshold: scan.SeverityCritical, Exceptions: x}, now.Add(24*time.Hour)); v.Passed() {
			t.Error("exception the day after expiry still applies")
		}
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("second run makes no registry request", func(t *testing.T) {
		e.reg.Reset()
		start := time.Now()
		s := open(t, e.options(cacheDir))
		images2, results2 := resolveAndScan(t, s, all...)
		t.Logf("cached: %d registry requests, %s", e.reg.Requests(), time.Since(start))
		if n := e.reg.Requests(); n != 0 {
			t.Errorf("second run made %d registry requests: %v", n, e.reg.RequestLog())
		}
		for _, img := range images2 {
			if !img.Cached || img.Pinned != img.Ref+"@"+e.digests[img.Ref] {
				t.Errorf("%s: %+v", img.Ref, img)
			}
		}
		for d, r := range results2 {
			if !r.Cached || !equal(findings(r), findings(results[d])) {
				t.Errorf("%s: cached %v, findings %v", d, r.Cached, findings(r))
			}
		}
		_ = s.Close()

		// --refresh asks the registry and analyses again.
		e.reg.Reset()
		o := e.options(cacheDir)
		o.Refresh = true
		s = open(t, o)
		_, results3 := resolveAndScan(t, s, apiRef)
		if e.reg.Requests() == 0 || results3[e.digests[apiRef]].Cached {
			t.Errorf("refresh: %d requests, cached %v", e.reg.Requests(), results3[e.digests[apiRef]].Cached)
		}
		_ = s.Close()
	})
}

func TestFailsClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("missing database", func(t *testing.T) {
		o := e.options("")
		o.DBDir = filepath.Join(t.TempDir(), "nothing-here")
		_, err := scan.New(o)
		if err == nil || !strings.Contains(err.Error(), "no vulnerability database at "+o.DBDir) ||
			!strings.Contains(err.Error(), "--download-db-only") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("stale database", func(t *testing.T) {
		o := e.options("")
		o.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
		_, err := scan.New(o)
		if err == nil || !strings.Contains(err.Error(), "is stale") || !strings.Contains(err.Error(), "5d12h ago") ||
			!strings.Contains(err.Error(), "maximum age 3d") || !strings.Contains(err.Error(), "scan.maxDBAge") {
			t.Errorf("err = %v", err)
		}
		o.MaxDBAge = 0 // no limit
		s, err := scan.New(o)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	})

	t.Run("one scanner at a time", func(t *testing.T) {
		s := open(t, e.options(""))
		if _, err := scan.New(e.options("")); err == nil {
			t.Error("a second Scanner opened")
		}
		_ = s.Close()
	})

	t.Run("unknown tag", func(t *testing.T) {
		s := open(t, e.options(""))
		defer s.Close()
		ref := "registry.example.com/team/missing:9.9.9"
		res, err := s.Resolve(ctx, []string{apiRef, ref})
		var re *scan.ResolveError
		if !errors.As(err, &re) || re.Ref != ref || !strings.Contains(err.Error(), `resolving image "`+ref+`"`) ||
			!strings.Contains(err.Error(), "MANIFEST_UNKNOWN") && !strings.Contains(err.Error(), "NAME_UNKNOWN") {
			t.Errorf("err = %v", err)
		}
		if _, ok := res[apiRef]; !ok || len(res) != 1 {
			t.Errorf("resolved = %v", res)
		}
		// The gate blocks an image that was not resolved.
		v := scan.Gate([]scan.Resolved{{Ref: ref}}, nil, scan.Policy{Threshold: scan.SeverityCritical}, now)
		if v.Passed() || len(v.Errors) != 1 {
			t.Errorf("verdict = %+v", v)
		}
	})

	t.Run("unpullable digest", func(t *testing.T) {
		s := open(t, e.options(""))
		defer s.Close()
		bogus := "registry.example.com/team/api:1.0.0@sha256:" + strings.Repeat("0", 64)
		res, err := s.Resolve(ctx, []string{bogus})
		if err != nil {
			t.Fatal(err)
		}
		results, err := s.Scan(ctx, []scan.Resolved{res[bogus]})
		if err == nil || !strings.Contains(err.Error(), `scanning image "`+bogus+`"`) {
			t.Errorf("err = %v", err)
		}
		v := scan.Gate([]scan.Resolved{res[bogus]}, results, scan.Policy{Threshold: scan.SeverityCritical}, now)
		if v.Passed() || len(v.Errors) != 1 || !strings.Contains(v.Err().Error(), "not scanned") {
			t.Errorf("verdict = %+v", v)
		}
	})

	t.Run("unreachable registry", func(t *testing.T) {
		o := e.options("")
		o.Registry.Mirrors = map[string]string{"registry.example.com": "127.0.0.1:1"}
		s := open(t, o)
		defer s.Close()
		_, err := s.Resolve(ctx, []string{apiRef})
		if err == nil || !strings.Contains(err.Error(), apiRef) || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestOCILayoutSource(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "layout")
	img := nodeImage(t, "4.17.20")
	if err := imagebuild.WriteLayout(dir, map[string]v1.Image{web200Ref: img}); err != nil {
		t.Fatal(err)
	}
	o := e.options("")
	o.Registry = scan.RegistryOptions{OCILayout: dir}
	s := open(t, o)
	images, results := resolveAndScan(t, s, web200Ref)
	d, _ := img.Digest()
	if images[0].Digest != d.String() || len(results[d.String()].Findings) != 2 || e.reg.Requests() != 0 {
		t.Errorf("layout scan: %+v %+v", images, results[d.String()])
	}
	if _, err := s.Resolve(context.Background(), []string{apiRef}); err == nil || !strings.Contains(err.Error(), "not in the OCI layout") {
		t.Errorf("err = %v", err)
	}
}
