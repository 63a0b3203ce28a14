package fleet_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/internal/fleet"
)

func write(t *testing.T, o fleet.Options) string {
	t.Helper()
	dir := t.TempDir()
	if err := fleet.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestValidate checks that a fleet passes every check of validate (schema, consent,
// hosts, egress, and the verification of every rendered object) without a warning,
// and that it holds every feature a real fleet has. The current pipeline is quadratic
// in the teams per cluster, so the fleet is small.
func TestValidate(t *testing.T) {
	dir := write(t, fleet.Options{Teams: 10, Clusters: 3, Seed: 1})
	res, err := generator.Generate(context.Background(), generator.Options{Dir: dir, Mode: generator.Validate})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %v", w)
	}
	if got, want := len(res.Clusters), 3; got != want {
		t.Errorf("rendered %d clusters, want %d", got, want)
	}
	features := map[string]int{}
	for _, c := range res.Inventory.Clusters {
		features[string(c.Spec.Environment)]++
		features[string(c.Spec.CNI)]++
		features["mesh "+string(c.Spec.Mesh.Type)]++
	}
	for _, tm := range res.Inventory.Teams {
		if len(tm.Spec.Clusters) != 3 {
			t.Errorf("team %s runs on %v, want every cluster", tm.Metadata.Name, tm.Spec.Clusters)
		}
		features["chart"] += len(tm.Spec.Charts)
		features["exception"] += len(tm.Spec.Exceptions.Vulnerabilities)
		features["group"] += len(tm.Spec.Groups)
		for _, a := range tm.Spec.Apps {
			if a.Expose != nil {
				features["expose"]++
			}
			for _, c := range a.Calls {
				if c.Team != "" {
					features["cross-team call"]++
				}
			}
			features["consent"] += len(a.AllowCallsFrom)
			for _, e := range a.Egress {
				if e.Host != "" {
					features["host egress"]++
				} else {
					features["cidr egress"]++
				}
			}
		}
	}
	for _, f := range []string{"production", "development", "cilium", "calico", "mesh istio", "mesh none", "mesh linkerd", "chart",
		"exception", "group", "expose", "cross-team call", "consent", "host egress", "cidr egress"} {
		if features[f] == 0 {
			t.Errorf("the fleet has no %s", f)
		}
	}
	if features["cross-team call"] != features["consent"] {
		t.Errorf("%d cross-team calls but %d consents", features["cross-team call"], features["consent"])
	}
}

// TestRender renders a small fleet, scanning against the example images and
// database, and checks that every team on every cluster passes the gate.
func TestRender(t *testing.T) {
	dir := write(t, fleet.Options{Teams: 4, Clusters: 2, Seed: 1})
	res, err := generator.Generate(context.Background(), generator.Options{Dir: dir, Mode: generator.Render})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Scan.Verdicts), 4*2; got != want {
		t.Errorf("%d verdicts, want %d", got, want)
	}
	for _, v := range res.Scan.Failed() {
		t.Errorf("team %s fails the gate on cluster %s: %+v", v.Team, v.Cluster, v.Verdict)
	}
	if len(res.Changes) == 0 {
		t.Error("render wrote nothing")
	}
}

// TestDeterministic writes the same fleet twice and compares every byte.
func TestDeterministic(t *testing.T) {
	o := fleet.Options{Teams: 30, Clusters: 4, Seed: 7}
	a, b := read(t, write(t, o)), read(t, write(t, o))
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between two writes", name)
		}
	}
	o.Seed++
	if c := read(t, write(t, o)); bytes.Equal(a["teams/team-0000.yaml"], c["teams/team-0000.yaml"]) {
		t.Error("another seed gives the same team-0000")
	}
}

// TestEditTeam checks that an edit changes the team's spec and a second one undoes it.
func TestEditTeam(t *testing.T) {
	dir := write(t, fleet.Options{Teams: 3, Clusters: 1})
	name := filepath.Join(dir, "teams", "team-0001.yaml")
	before, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for i, wantEqual := range []bool{false, true} {
		if err := fleet.EditTeam(dir, 1); err != nil {
			t.Fatal(err)
		}
		after, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(before, after) != wantEqual {
			t.Errorf("after %d edits: spec equal to the original = %v, want %v", i+1, !wantEqual, wantEqual)
		}
	}
}

func read(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
