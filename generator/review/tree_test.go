package review

import (
	"path"
	"slices"
	"testing"

	"github.com/rampart-gitops/rampart/generator/manifest"
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
	tree, err := ReadDirTree(repoRoot)
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
