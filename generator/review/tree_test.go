package review

import (
	"bytes"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gitops/rampart/generator/gitcli"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/write"
)

func TestRenderedPaths(t *testing.T) {
	tests := []struct {
		path     string
		rendered bool
		cluster  string
	}{
		{"clusters/prod-weu/kustomization.yaml", true, "prod-weu"},
		{"clusters/prod-weu/cluster.yaml", false, "prod-weu"},
		{"clusters/prod-weu/teams/payments/api.yaml", true, "prod-weu"},
		{"clusters/prod-weu/teams/cluster.yaml", true, "prod-weu"},
		{"clusters/prod-weu/flux-system/gotk-components.yaml", false, "prod-weu"},
		{"clusters/prod-weu/flux-system.yaml", true, "prod-weu"},
		{"clusters/prod-weu/README.md", false, "prod-weu"},
		{"clusters/prod-weu", false, "prod-weu"},
		{"clusters/a.yaml", false, "a.yaml"},
		{"teams/payments.yaml", false, "payments.yaml"},
		{"clusters", false, ""},
	}
	for _, tt := range tests {
		if got := rendered(tt.path); got != tt.rendered {
			t.Errorf("rendered(%q) = %v, want %v", tt.path, got, tt.rendered)
		}
		if got := clusterOf(tt.path); got != tt.cluster {
			t.Errorf("clusterOf(%q) = %q, want %q", tt.path, got, tt.cluster)
		}
	}
}

// TestTeamFiles: the files teamFiles finds by prefix are those manifest.Classify
// gives the team, for every team and cluster of the examples.
func TestTeamFiles(t *testing.T) {
	tree, err := readDirTree(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, c := range []string{"dev-weu", "prod-weu", "stage-neu"} {
		teams := map[string][]string{}
		for _, p := range tree.Paths(c) {
			if _, team := manifest.Classify(p); team != "" && path.Base(p) != "kustomization.yaml" {
				teams[team] = append(teams[team], p)
			}
		}
		for team, want := range teams {
			if got := teamFiles(tree, c, team); !slices.Equal(got, want) {
				t.Errorf("%s, %s: teamFiles = %v, want %v", c, team, got, want)
			}
			found += len(want)
		}
		if got := teamFiles(tree, c, "nobody"); len(got) > 0 {
			t.Errorf("%s: files of a team that is not there: %v", c, got)
		}
	}
	if found < 10 {
		t.Fatalf("%d team files: the examples did not reach the test", found)
	}
}

// TestWorkTree: clusters/ on disk, known from what git says differs from the base,
// holds what reading the whole directory holds (bar files git ignores), and reads
// the same bytes.
func TestWorkTree(t *testing.T) {
	dir := newRepo(t)
	api := "clusters/prod-weu/teams/payments/api.yaml"
	edit(t, dir, api, "payments", "payments ")
	gone := "clusters/prod-weu/teams/ledger/core.yaml"
	if err := os.Remove(filepath.Join(dir, gone)); err != nil {
		t.Fatal(err)
	}
	for p, content := range map[string]string{
		"clusters/prod-weu/teams/payments/new.yaml": "kind: ConfigMap\n",
		"clusters/prod-weu/ignored.yaml":            "kind: Secret\n",
		"clusters/prod-weu/.cache/x.yaml":           "kind: ConfigMap\n",
		".gitignore":                                "clusters/prod-weu/ignored.yaml\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A change staged, then undone on disk: the disk is what counts.
	staged := "clusters/stage-neu/kustomization.yaml"
	edit(t, dir, staged, "resources", "resources ")
	run(t, dir, "git", "add", staged)
	edit(t, dir, staged, "resources ", "resources")

	_, commit, err := ResolveBase(ctx, dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	base, err := OpenGitTree(ctx, dir, commit)
	if err != nil {
		t.Fatal(err)
	}
	work, err := OpenWorkTree(ctx, dir, base)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := readDirTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(whole.Blobs())
	delete(want, "clusters/prod-weu/ignored.yaml")
	if diff := cmp.Diff(want, work.Blobs()); diff != "" {
		t.Errorf("blobs (-read whole +work tree):\n%s", diff)
	}
	if got := ChangedFiles(base, work); !slices.Equal(got, []string{gone, api, "clusters/prod-weu/teams/payments/new.yaml"}) {
		t.Errorf("changed files %q", got)
	}
	paths := work.Paths("prod-weu")
	got, err := work.Read(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	read, err := whole.Read(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(got, read, bytes.Equal) {
		t.Error("the work tree read other bytes than the directory holds")
	}
	if _, err := work.Read(ctx, []string{gone}); err == nil {
		t.Error("a file deleted on disk was read")
	}
}

// TestRenderTree: a render's tree knows each cluster's rendered files, sorted, and
// reads them, also when two clusters of the render share a name or a cluster's
// files lie under another's name (the index is then made from the paths).
func TestRenderTree(t *testing.T) {
	cluster := func(name string, paths ...string) *write.Cluster {
		c := &write.Cluster{Name: name, Files: map[string]*write.File{}}
		for _, p := range paths {
			c.Files[p] = write.Bytes([]byte("kind: ConfigMap # " + p + "\n"))
		}
		return c
	}
	for name, clusters := range map[string][]*write.Cluster{
		"a render":     {cluster("a", "clusters/a/b.yaml", "clusters/a/a.yaml", "clusters/a/cluster.yaml"), cluster("b", "clusters/b/x.yaml")},
		"a name twice": {cluster("a", "clusters/a/b.yaml"), cluster("a", "clusters/a/a.yaml"), cluster("b", "clusters/b/x.yaml")},
		"misnamed":     {cluster("a", "clusters/a/a.yaml", "clusters/a/b.yaml"), cluster("c", "clusters/b/x.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			tree, err := NewRenderTree(clusters, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tree.Paths("a"); !slices.Equal(got, []string{"clusters/a/a.yaml", "clusters/a/b.yaml"}) {
				t.Errorf("paths of a: %q", got)
			}
			if got := tree.Paths("b"); !slices.Equal(got, []string{"clusters/b/x.yaml"}) {
				t.Errorf("paths of b: %q", got)
			}
			got, err := tree.Read(ctx, []string{"clusters/a/a.yaml", "clusters/a/b.yaml", "clusters/b/x.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			for p, b := range got {
				if string(b) != "kind: ConfigMap # "+p+"\n" || tree.Blobs()[p] != gitcli.BlobID(b) {
					t.Errorf("%s: read %q, blob %s", p, b, tree.Blobs()[p])
				}
			}
			if _, err := tree.Read(ctx, []string{"clusters/a/cluster.yaml"}); err == nil {
				t.Error("a file that is not rendered output was read")
			}
		})
	}
}
