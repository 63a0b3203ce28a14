package reach

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/evaluate"
	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/plan"
	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/rampart-gitops/rampart/generator/transform"
)

// repoRoot is the repository root, for the examples and lib/.
const repoRoot = "../.."

// renderCluster renders teams on a cluster with the repository's lib/, the way the
// pipeline's evaluate and transform stages do, without the loader: the tests feed it
// generated specs as well as the examples.
func renderCluster(t testing.TB, cluster *spec.Cluster, teams []*spec.Team) *manifest.Cluster {
	t.Helper()
	lib := filepath.Join(repoRoot, "lib")
	if dir := os.Getenv("REACH_TEST_LIB"); dir != "" {
		// Mutation testing: point the tests at a changed copy of lib/.
		lib = dir
	}
	ev := evaluate.New(os.DirFS(lib), "lib")
	var on []*load.Team
	var names []string
	for _, tm := range teams {
		if slices.Contains(tm.Spec.Clusters, cluster.Metadata.Name) {
			on = append(on, &load.Team{Team: tm})
			names = append(names, tm.Metadata.Name)
		}
	}
	cj, err := json.Marshal(cluster)
	if err != nil {
		t.Fatal(err)
	}
	platform, err := ev.Platform(evaluate.ParseArg("cluster", cj), names)
	if err != nil {
		t.Fatalf("rendering the platform layer: %v", err)
	}
	graph := plan.IntentGraph(on)
	files := transform.ClusterFiles(cluster.Metadata.Name, platform.Files, names)
	for _, tm := range on {
		tj, _ := json.Marshal(tm.Team)
		ij, _ := json.Marshal(graph[tm.Metadata.Name])
		out, err := ev.Team(evaluate.ParseArg("cluster", cj), evaluate.ParseArg("team", tj), evaluate.ParseArg("intents", ij))
		if err != nil {
			t.Fatalf("rendering team %s: %v", tm.Metadata.Name, err)
		}
		files = append(files, transform.TeamFiles(cluster.Metadata.Name, &transform.Team{Name: tm.Metadata.Name, Tenant: out.Tenant, Files: out.Files})...)
	}
	c := &manifest.Cluster{Name: cluster.Metadata.Name, Files: files}
	c.Sort()
	return c
}

// examples reads the repository's example teams and clusters.
func examples(t testing.TB) ([]*spec.Cluster, []*spec.Team) {
	t.Helper()
	var clusters []*spec.Cluster
	var teams []*spec.Team
	read := func(pattern string, into func([]byte)) {
		files, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("no examples at %s: %v", pattern, err)
		}
		slices.Sort(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			into(b)
		}
	}
	read(path.Join("clusters", "*", "cluster.yaml"), func(b []byte) {
		c := new(spec.Cluster)
		if err := yaml.Unmarshal(b, c); err != nil {
			t.Fatal(err)
		}
		clusters = append(clusters, c)
	})
	read(path.Join("teams", "*.yaml"), func(b []byte) {
		tm := new(spec.Team)
		if err := yaml.Unmarshal(b, tm); err != nil {
			t.Fatal(err)
		}
		teams = append(teams, tm)
	})
	return clusters, teams
}
