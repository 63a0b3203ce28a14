package review

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/internal/fleet"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// TestReachChangesAgree: on a synthetic fleet whose clusters cover every network
// engine and mesh (Calico in audit among them), the report's reachability change,
// with its shortcuts (the files reachability reads compared before evaluating,
// files decoded once for both sides and shared, the neighbourhood, the caches cold
// and warm), is that of evaluating both sides of every cluster in full, each from
// its own files.
func TestReachChangesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("renders an 8-team fleet on 4 clusters")
	}
	dir := committedFleet(t, fleet.Options{Teams: 8, Clusters: 4, Seed: 5})

	editTeam := func(team int, old, new string) func(t *testing.T) {
		return func(t *testing.T) { edit(t, dir, fmt.Sprintf("teams/team-%04d.yaml", team), old, new) }
	}
	tests := []struct {
		name  string
		edit  func(t *testing.T)
		flows bool
	}{
		{"environment", func(t *testing.T) {
			if err := fleet.EditTeam(dir, 2); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"operations widened", editTeam(2, "          methods:\n            - POST\n", "          methods:\n            - POST\n            - PUT\n"), true},
		{"egress added", editTeam(3, "      egress:\n", "      egress:\n        - cidr: 10.99.0.0/16\n          ports:\n            - port: 5432\n"), true},
		// Every team's policies change: every namespace is in focus, and the
		// clusters are compared whole.
		{"platform-wide", func(t *testing.T) {
			edit(t, dir, "lib/network.libsonnet", "port: 53 }, { protocol: 'TCP', port: 53 }", "port: 5353 }, { protocol: 'TCP', port: 5353 }")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, dir, "git", "checkout", "-q", "--", "teams", "lib")
			tt.edit(t)
			base, err := OpenGitTree(ctx, dir, "main")
			if err != nil {
				t.Fatal(err)
			}
			for _, cache := range []string{"cold", "warm"} {
				if cache == "cold" {
					if err := os.RemoveAll(filepath.Join(dir, ".rampart", "cache", "reach")); err != nil {
						t.Fatal(err)
					}
					if err := os.RemoveAll(filepath.Join(dir, ".rampart", "cache", "reach-facts")); err != nil {
						t.Fatal(err)
					}
				}
				rv, err := Run(ctx, generator.Options{Dir: dir}, "main")
				if err != nil {
					t.Fatal(err)
				}
				var want []ClusterReach
				flows := 0
				for _, c := range rv.Report.Diff.Clusters {
					inv := rv.Result.Inventory.Cluster(c.Cluster).Spec.Mesh
					o := reach.Options{TrustDomain: inv.TrustDomain, RootNamespace: inv.RootNamespace}
					b, h := evaluateAll(t, base, c.Cluster, o), evaluateAll(t, rv.Head, c.Cluster, o)
					if len(b.Flows) == 0 {
						t.Fatalf("%s: no flows at the base: the case proves nothing", c.Cluster)
					}
					cr := compareReach(c.Cluster, b, h)
					flows += len(cr.Flows) + len(cr.Outside)
					want = append(want, cr)
				}
				if !reflect.DeepEqual(rv.Report.Reach, want) {
					t.Errorf("cache %s: the report's reachability change differs from evaluating both sides in full:\n got %+v\nwant %+v", cache, rv.Report.Reach, want)
				}
				if (flows > 0) != tt.flows {
					t.Errorf("cache %s: %d flows changed, want some: %v", cache, flows, tt.flows)
				}
			}
		})
	}
}

// evaluateAll evaluates every file of the cluster in t, decoded on its own.
func evaluateAll(t *testing.T, tree Tree, cluster string, o reach.Options) *reach.Report {
	t.Helper()
	paths := clusterFiles(tree, cluster)
	files, err := tree.Read(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	c := &manifest.Cluster{Name: cluster}
	for _, p := range slices.Sorted(slices.Values(paths)) {
		objs, err := decodeReach(files[p])
		if err != nil {
			t.Fatal(err)
		}
		c.Files = append(c.Files, &manifest.File{Path: p, Objects: objs})
	}
	r, err := reach.Evaluate(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
