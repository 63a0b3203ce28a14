package review

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/internal/fleet"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// TestNeighbourhoodAgrees: on a synthetic fleet, for edits that change who may call
// whom, the report's reachability change (evaluated on the focus's neighbourhood
// only) is exactly that of the whole clusters, and the neighbourhood is smaller
// than the cluster.
func TestNeighbourhoodAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("renders a 16-team fleet")
	}
	dir := committedFleet(t, fleet.Options{Teams: 16, Clusters: 2, Seed: 3})

	apps := func(spec map[string]any) []any { return spec["spec"].(map[string]any)["apps"].([]any) }
	app := func(spec map[string]any, i int) map[string]any { return apps(spec)[i].(map[string]any) }
	edits := []struct {
		name string
		team int
		edit func(spec map[string]any)
	}{
		{"operations narrowed", 5, func(s map[string]any) {
			for _, a := range apps(s) {
				calls, _ := a.(map[string]any)["calls"].([]any)
				for _, c := range calls {
					c.(map[string]any)["methods"] = []any{"GET"}
					c.(map[string]any)["paths"] = []any{"/only"}
				}
			}
		}},
		{"calls dropped", 7, func(s map[string]any) { delete(app(s, 0), "calls") }},
		{"egress added", 9, func(s map[string]any) {
			app(s, 1)["egress"] = []any{map[string]any{"cidr": "10.99.0.0/16", "ports": []any{map[string]any{"port": 5432}}}}
		}},
		{"app added", 11, func(s map[string]any) {
			extra := map[string]any{}
			for k, v := range app(s, 0) {
				extra[k] = v
			}
			extra["name"] = "extra"
			delete(extra, "expose")
			delete(extra, "allowCallsFrom")
			delete(extra, "calls") // a call of its own would need its callee's consent
			s["spec"].(map[string]any)["apps"] = append(apps(s), extra)
		}},
	}
	flows, platforms := 0, 0
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			run(t, dir, "git", "checkout", "-q", "--", "teams")
			file := filepath.Join(dir, "teams", fmt.Sprintf("team-%04d.yaml", e.team))
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var spec map[string]any
			if err := yaml.Unmarshal(b, &spec); err != nil {
				t.Fatal(err)
			}
			e.edit(spec)
			if b, err = yaml.Marshal(spec); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			rv, err := Run(ctx, generator.Options{Dir: dir, Mode: generator.Check}, "main")
			if err != nil {
				t.Fatal(err)
			}
			base, err := OpenGitTree(ctx, dir, "main")
			if err != nil {
				t.Fatal(err)
			}
			head := rv.Head
			whole := ReachOptions{Clusters: map[string]reach.Options{}, Whole: true}
			var clusters []string
			for _, c := range rv.Report.Diff.Clusters {
				clusters = append(clusters, c.Cluster)
				inv := rv.Result.Inventory.Cluster(c.Cluster)
				whole.Clusters[c.Cluster] = reach.Options{TrustDomain: inv.Spec.Mesh.TrustDomain, RootNamespace: inv.Spec.Mesh.RootNamespace}
			}
			want, err := ReachChanges(ctx, base, head, clusters, whole)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rv.Report.Reach, want) {
				t.Errorf("the neighbourhood's reachability change differs from the whole clusters':\n got %+v\nwant %+v", rv.Report.Reach, want)
			}
			for _, c := range want {
				flows += len(c.Flows) + len(c.Outside)
			}
			// The focus is the teams whose files changed for reachability, even where
			// the platform's Falco rules changed too, and its neighbourhood is
			// smaller than the cluster.
			for _, c := range rv.Report.Diff.Clusters {
				d := &decoder{decoded: map[string]*reach.File{}, log: slog.New(slog.DiscardHandler)}
				differ := objectFilesByCluster(ChangedFiles(base, head))[c.Cluster]
				platform := false
				for _, p := range differ {
					_, team := manifest.Classify(p)
					platform = platform || team == ""
				}
				if platform {
					platforms++
				}
				seen, err := d.differing(ctx, base, head, differ)
				if err != nil {
					t.Fatal(err)
				}
				o := whole.Clusters[c.Cluster]
				if o.Focus = teamsOf(seen); len(o.Focus) == 0 {
					t.Fatalf("%s: no focus, the cluster is evaluated whole; changed for reachability: %v", c.Cluster, seen)
				}
				hp, bp := clusterFiles(head, c.Cluster), clusterFiles(base, c.Cluster)
				nh, nb, err := d.neighbourhood(ctx, base, head, c.Cluster, hp, bp, o)
				if err != nil {
					t.Fatal(err)
				}
				if len(nh) >= len(hp) || len(nb) >= len(bp) {
					t.Errorf("%s: the neighbourhood of %v is the whole cluster (%d of %d files)", c.Cluster, o.Focus, len(nh), len(hp))
				}
				t.Logf("%s: focus %v, %d of %d files", c.Cluster, o.Focus, len(nh), len(hp))
			}
		})
	}
	if flows == 0 {
		t.Fatal("no edit changed a flow: the test proves nothing")
	}
	if platforms == 0 {
		t.Fatal("no edit changed a platform file: the test does not show that one widens nothing")
	}
}
