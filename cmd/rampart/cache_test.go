package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runOutput is what render and check print with --output json.
type runOutput struct {
	Changes   []struct{ Path, Action string } `json:"changes"`
	Units     struct{ Rendered, Cached int }  `json:"units"`
	Platforms struct{ Rendered, Cached int }  `json:"platforms"`
}

func runJSON(t *testing.T, wantCode int, args ...string) runOutput {
	t.Helper()
	r := runCLI(t, append(args, "--output", "json")...)
	if r.code != wantCode {
		t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, wantCode, r.stdout, r.stderr)
	}
	var out runOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, r.stdout)
	}
	return out
}

func changed(o runOutput) []string {
	var out []string
	for _, c := range o.Changes {
		out = append(out, c.Action+" "+c.Path)
	}
	return out
}

func wantUnits(t *testing.T, what string, o runOutput, rendered, cached int) {
	t.Helper()
	if o.Units.Rendered != rendered || o.Units.Cached != cached {
		t.Errorf("%s: rendered %d and cached %d units, want %d and %d", what, o.Units.Rendered, o.Units.Cached, rendered, cached)
	}
}

// wantPlatforms checks how many clusters' platform layers a run evaluated and took
// from the cache.
func wantPlatforms(t *testing.T, what string, o runOutput, rendered, cached int) {
	t.Helper()
	if o.Platforms.Rendered != rendered || o.Platforms.Cached != cached {
		t.Errorf("%s: evaluated %d and reused %d platform layers, want %d and %d", what, o.Platforms.Rendered, o.Platforms.Cached, rendered, cached)
	}
}

// cacheEntries lists the render cache's entry files.
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dir, ".rampart", "cache", "units")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRenderCacheRedoesOnlyWhatChanged: the examples have eight units (three teams on
// prod-weu, two on dev-weu, three on stage-neu). A second render takes all eight from the cache and writes
// nothing; a change re-renders exactly the units that read it.
func TestRenderCacheRedoesOnlyWhatChanged(t *testing.T) {
	dir := copyRepo(t)
	clusters := filepath.Join(dir, "clusters")
	cold := runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "cold render", cold, 8, 0)
	wantPlatforms(t, "cold render", cold, 3, 0)
	before := snapshot(t, clusters)
	second := runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "second render", second, 0, 8)
	wantPlatforms(t, "second render", second, 0, 3)
	if len(second.Changes) > 0 || !sameSnapshot(before, snapshot(t, clusters)) {
		t.Fatalf("a render from the cache changed clusters/: %v", changed(second))
	}

	// ledger runs on prod-weu and stage-neu, and nothing it changes here reaches its callers.
	replaceIn(t, filepath.Join(dir, "teams", "ledger.yaml"), "replicas: 2", "replicas: 3")
	out := runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "ledger's replicas", out, 2, 6)
	wantPlatforms(t, "ledger's replicas", out, 0, 3)
	if got := changed(out); !slices.Equal(got, []string{"update clusters/prod-weu/teams/ledger/core.yaml", "update clusters/stage-neu/teams/ledger/core.yaml"}) {
		t.Errorf("ledger's replicas changed %v", got)
	}

	// A call's methods are an intent both ends render: payments on its three clusters
	// (its spec) and ledger, the callee, whose mesh policy lists the methods.
	replaceIn(t, filepath.Join(dir, "teams", "payments.yaml"), "methods: [POST]", "methods: [POST, PUT]")
	out = runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "payments' call", out, 5, 3)
	if got := changed(out); !slices.Contains(got, "update clusters/prod-weu/tenants/ledger.yaml") {
		t.Errorf("payments' call did not change ledger's policies: %v", got)
	}

	// lib/ is read by every unit.
	lib := filepath.Join(dir, "lib", "defaults.libsonnet")
	b, _ := os.ReadFile(lib)
	if err := os.WriteFile(lib, append(b, "// a comment changes no output\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out = runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "a change to lib/", out, 8, 0)
	wantPlatforms(t, "a change to lib/", out, 3, 0)
	if len(out.Changes) > 0 {
		t.Errorf("a comment in lib/ changed %v", changed(out))
	}

	// Entries that are corrupt, truncated or filed under another key are ignored.
	entries := cacheEntries(t, dir)
	if len(entries) < 7 {
		t.Fatalf("%d cache entries, want at least 7 (5 units, 2 platform layers)", len(entries))
	}
	before = snapshot(t, clusters)
	for i, p := range entries {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			b[80] ^= 0xff // in the metadata, just past the fixed header
		case 1:
			b = b[:len(b)/2]
		case 2:
			b, _ = os.ReadFile(entries[(i+1)%len(entries)])
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out = runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "a render over untrustworthy entries", out, 8, 0)
	wantPlatforms(t, "a render over untrustworthy entries", out, 3, 0)
	if len(out.Changes) > 0 || !sameSnapshot(before, snapshot(t, clusters)) {
		t.Errorf("untrustworthy entries changed the output: %v", changed(out))
	}

	// Damaged file bytes are found when they are read: with no disk state to vouch
	// for the files on disk, every unit must compare its bytes, and renders afresh.
	for _, p := range cacheEntries(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, ".rampart", "cache", "disk")); err != nil {
		t.Fatal(err)
	}
	out = runJSON(t, exitOK, "render", "-C", dir)
	wantUnits(t, "a render over damaged file bytes", out, 8, 0)
	if len(out.Changes) > 0 || !sameSnapshot(before, snapshot(t, clusters)) {
		t.Errorf("damaged file bytes changed the output: %v", changed(out))
	}
}

// TestCheckAgreesWithAndWithoutCache: the cache changes how fast check answers, never
// what it answers.
func TestCheckAgreesWithAndWithoutCache(t *testing.T) {
	dir := copyRepo(t)
	runJSON(t, exitOK, "render", "-C", dir)
	for _, step := range []struct {
		name string
		edit func()
		code int
	}{
		{"up to date", func() {}, exitOK},
		{"storefront's replicas", func() {
			replaceIn(t, filepath.Join(dir, "teams", "storefront.yaml"), "replicas: 2", "replicas: 4")
		}, exitFindings},
		{"a rendered file edited by hand", func() {
			replaceIn(t, filepath.Join(dir, "clusters", "prod-weu", "teams", "ledger", "core.yaml"), "replicas: 2", "replicas: 9")
		}, exitFindings},
	} {
		step.edit()
		cached := runJSON(t, step.code, "check", "-C", dir)
		fresh := runJSON(t, step.code, "check", "-C", dir, "--no-cache")
		if !slices.Equal(changed(cached), changed(fresh)) {
			t.Errorf("%s: check says %v with the cache and %v without", step.name, changed(cached), changed(fresh))
		}
		if fresh.Units.Cached != 0 {
			t.Errorf("%s: --no-cache used %d cached units", step.name, fresh.Units.Cached)
		}
	}
}

// TestClusterShardTouchesOnlyItsCluster: --cluster renders one shard of the fleet and
// leaves every other cluster's files as they are.
func TestClusterShardTouchesOnlyItsCluster(t *testing.T) {
	dir := copyRepo(t)
	out := runJSON(t, exitOK, "render", "-C", dir, "--cluster", "dev-weu")
	wantUnits(t, "dev-weu", out, 2, 0)
	for _, c := range out.Changes {
		if !strings.HasPrefix(c.Path, "clusters/dev-weu/") {
			t.Errorf("a dev-weu shard wrote %s", c.Path)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters", "prod-weu", "kustomization.yaml")); !os.IsNotExist(err) {
		t.Errorf("prod-weu was rendered by the dev-weu shard (%v)", err)
	}
	out = runJSON(t, exitOK, "render", "-C", dir, "--cluster", "prod-weu")
	wantUnits(t, "prod-weu", out, 3, 0)
	out = runJSON(t, exitOK, "render", "-C", dir, "--cluster", "stage-neu")
	wantUnits(t, "stage-neu", out, 3, 0)
	if r := runCLI(t, "check", "-C", dir); r.code != exitOK {
		t.Errorf("the three shards together are not the whole render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := runCLI(t, "validate", "-C", dir, "--cluster", "prod-eus")
	if r.code != exitBadInput || !strings.Contains(r.stderr, `no cluster prod-eus; clusters: dev-weu, prod-weu`) {
		t.Errorf("an unknown shard: exit %d\n%s", r.code, r.stderr)
	}
}

// TestEveryTeamsErrorsAreReported: one team's error does not hide another's.
func TestEveryTeamsErrorsAreReported(t *testing.T) {
	dir := copyRepo(t)
	addPatch := func(team, app string) {
		replaceIn(t, filepath.Join(dir, "teams", team+".yaml"), "\n  apps:\n", `
  patches:
    - target: {kind: Deployment, name: `+app+`}
      patch: |
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: `+app+`
        spec:
          template:
            spec:
              hostNetwork: true
  apps:
`)
	}
	addPatch("ledger", "core")
	addPatch("storefront", "web")
	r := runCLI(t, "validate", "-C", dir)
	if r.code != exitBadInput {
		t.Fatalf("validate: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"Deployment/ledger/core", "Deployment/storefront/web"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the errors do not name %s:\n%s", want, r.stderr)
		}
	}
	// storefront exposes web: patching its Deployment leaves its routes as they were.
	if strings.Contains(r.stderr, "may not change") {
		t.Errorf("a Deployment patch was taken for a change to the app's routes:\n%s", r.stderr)
	}
}
