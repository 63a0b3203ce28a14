package exampledata_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/exampledata"
	"github.com/rampart-gitops/rampart/generator/scan"
)

// TestCommittedDataIsCurrent regenerates the example data and compares it byte for
// byte with what is committed: change the definitions, then run go generate.
func TestCommittedDataIsCurrent(t *testing.T) {
	tmp := t.TempDir()
	yaml, err := os.ReadFile(filepath.Join(exampledata.Dir(), "db.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "db.yaml"), yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exampledata.Generate(tmp); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"images", "db"} {
		want := tree(t, filepath.Join(exampledata.Dir(), sub))
		got := tree(t, filepath.Join(tmp, sub))
		for name, b := range got {
			if w, ok := want[name]; !ok {
				t.Errorf("%s/%s is generated but not committed; run go generate ./generator/internal/exampledata", sub, name)
			} else if !bytes.Equal(w, b) {
				t.Errorf("%s/%s differs from a fresh generation; run go generate ./generator/internal/exampledata", sub, name)
			}
		}
		for name := range want {
			if _, ok := got[name]; !ok {
				t.Errorf("%s/%s is committed but no longer generated", sub, name)
			}
		}
	}
}

func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExampleStory scans the committed example images against the committed database
// with the real scanner, cold and then from the cache.
func TestExampleStory(t *testing.T) {
	refs := []string{exampledata.PaymentsAPI, exampledata.StorefrontOld, exampledata.Storefront, exampledata.LedgerCore, exampledata.PlatformEcho}
	cache := t.TempDir()
	opts := scan.Options{
		DBDir:    filepath.Join(exampledata.Dir(), "db"),
		CacheDir: cache,
		Registry: scan.RegistryOptions{OCILayout: filepath.Join(exampledata.Dir(), "images")},
	}
	run := func() (map[string]scan.Resolved, map[string]*scan.Result, time.Duration) {
		start := time.Now()
		s, err := scan.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.Resolve(context.Background(), refs)
		if err != nil {
			t.Fatal(err)
		}
		var imgs []scan.Resolved
		for _, r := range refs {
			imgs = append(imgs, res[r])
		}
		results, err := s.Scan(context.Background(), imgs)
		if err != nil {
			t.Fatal(err)
		}
		return res, results, time.Since(start)
	}
	res, results, cold := run()
	_, cached, warm := run()
	t.Logf("example images: cold %s, cached %s", cold, warm)
	for _, r := range cached {
		if !r.Cached {
			t.Errorf("%s not cached on the second run", r.Image)
		}
	}

	ids := func(ref string) string {
		var s []string
		for _, f := range results[res[ref].Digest].Findings {
			s = append(s, f.ID+"/"+f.Package+"/"+f.Installed+"/"+string(f.Severity))
		}
		return strings.Join(s, " ")
	}
	want := map[string]string{
		exampledata.PaymentsAPI:   "CVE-2026-10001/libcrypto3/3.5.0-r0/HIGH CVE-2026-10001/libssl3/3.5.0-r0/HIGH CVE-2026-10004/busybox/1.37.0-r19/LOW",
		exampledata.StorefrontOld: "CVE-2026-10002/lodash/4.17.20/CRITICAL CVE-2026-10004/busybox/1.37.0-r19/LOW",
		exampledata.Storefront:    "CVE-2026-10004/busybox/1.37.0-r19/LOW",
		exampledata.LedgerCore:    "CVE-2026-10003/golang.org/x/net/v0.37.0/MEDIUM",
		exampledata.PlatformEcho:  "",
	}
	for ref, w := range want {
		if got := ids(ref); got != w {
			t.Errorf("%s:\n got %s\nwant %s", ref, got, w)
		}
	}

	// The story the example specs tell: payments passes HIGH with its exception,
	// storefront on 2.0.1 passes, 2.0.0 would not.
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	payments := scan.Gate([]scan.Resolved{res[exampledata.PaymentsAPI]}, results, scan.Policy{Threshold: scan.SeverityHigh,
		Exceptions: []scan.Exception{{ID: exampledata.PaymentsException, Images: []string{"registry.example.com/payments/api"}, Expires: "2027-06-30"}}}, now)
	if !payments.Passed() || len(payments.Covered) != 2 {
		t.Errorf("payments: %v", payments.Err())
	}
	for _, ref := range []string{exampledata.Storefront, exampledata.LedgerCore, exampledata.PlatformEcho} {
		if v := scan.Gate([]scan.Resolved{res[ref]}, results, scan.Policy{Threshold: scan.SeverityHigh}, now); !v.Passed() {
			t.Errorf("%s: %v", ref, v.Err())
		}
	}
	if v := scan.Gate([]scan.Resolved{res[exampledata.StorefrontOld]}, results, scan.Policy{Threshold: scan.SeverityCritical}, now); v.Passed() {
		t.Error("storefront 2.0.0 passes a CRITICAL threshold")
	}
}
