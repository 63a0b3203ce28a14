package reach

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/evaluate"
	"github.com/rampart-gitops/rampart/generator/manifest"
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
	peers := map[string]any{}
	var on []*spec.Team
	for _, tm := range teams {
		if slices.Contains(tm.Spec.Clusters, cluster.Metadata.Name) {
			peers[tm.Metadata.Name] = tm
			on = append(on, tm)
		}
	}
	platform, err := ev.Platform(cluster, peers)
	if err != nil {
		t.Fatalf("rendering the platform layer: %v", err)
	}
	var tts []*transform.Team
	for _, tm := range on {
		out, err := ev.Team(cluster, tm, peers)
		if err != nil {
			t.Fatalf("rendering team %s: %v", tm.Metadata.Name, err)
		}
		tts = append(tts, &transform.Team{Name: tm.Metadata.Name, Tenant: out.Tenant, Files: out.Files})
	}
	return transform.Layout(cluster.Metadata.Name, platform.Files, tts)
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
