package reach

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/spec"
)

var update = flag.Bool("update", false, "rewrite the golden reports under testdata/")

// declared is what the specs intend: a caller, a callee, the callee's port and the
// HTTP operations allowed (nil: any).
type declared struct {
	from, to string
	port     int32
	ops      []Operation
}

// intents computes, from the specs alone, the calls that must render on a cluster:
// both teams run there and the callee consents (or it is the same team).
func intents(cluster string, teams []*spec.Team) map[string]*declared {
	byName := map[string]*spec.Team{}
	for _, t := range teams {
		if slices.Contains(t.Spec.Clusters, cluster) {
			byName[t.Metadata.Name] = t
		}
	}
	out := map[string]*declared{}
	for _, t := range teams {
		if byName[t.Metadata.Name] == nil {
			continue
		}
		for _, a := range t.Spec.Apps {
			for _, c := range a.Calls {
				calleeTeam := byName[cmpOr(c.Team, t.Metadata.Name)]
				if calleeTeam == nil {
					continue
				}
				i := slices.IndexFunc(calleeTeam.Spec.Apps, func(x spec.App) bool { return x.Name == c.App })
				if i < 0 {
					continue
				}
				callee := calleeTeam.Spec.Apps[i]
				consent := calleeTeam.Metadata.Name == t.Metadata.Name || slices.ContainsFunc(callee.AllowCallsFrom, func(r spec.CallerRef) bool {
					return r.Team == t.Metadata.Name && (r.App == "" || r.App == a.Name)
				})
				if !consent {
					continue
				}
				from, to := t.Metadata.Name+"/"+a.Name, calleeTeam.Metadata.Name+"/"+callee.Name
				key := fmt.Sprintf("%s>%s:%d", from, to, callee.Port)
				d := out[key]
				op := Operation{Methods: c.Methods, Paths: c.Paths}
				anyOp := callee.Protocol == spec.ProtocolTCP || len(c.Methods)+len(c.Paths) == 0
				switch {
				case d == nil && anyOp:
					out[key] = &declared{from, to, callee.Port, nil}
				case d == nil:
					out[key] = &declared{from, to, callee.Port, []Operation{op}}
				case anyOp || d.ops == nil:
					d.ops = nil
				default:
					d.ops = append(d.ops, op)
				}
			}
		}
	}
	for _, d := range out {
		slices.SortFunc(d.ops, func(a, b Operation) int { return strings.Compare(a.String(), b.String()) })
		d.ops = slices.CompactFunc(d.ops, func(a, b Operation) bool { return a.String() == b.String() })
	}
	return out
}

// checkAgainstIntents: every declared call is allowed at both layers (with exactly
// its operations), every other flow is denied, and the layers agree on every flow.
func checkAgainstIntents(t *testing.T, r *Report, want map[string]*declared, meshed bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range r.Flows {
		key := fmt.Sprintf("%s>%s:%d", f.From, f.To, f.Port.Number)
		d := want[key]
		if !f.Agree() {
			t.Errorf("%s: the layers disagree: L4 %s (%s), L7 %s (%s)", key, f.L4, f.L4Why, f.L7, f.L7Why)
		}
		if meshed && f.L7 == None {
			t.Errorf("%s: no layer 7 verdict on a meshed cluster", key)
		}
		if d == nil {
			if f.Allowed() {
				t.Errorf("%s: undeclared but allowed: L4 %s, L7 %s (%s)", key, f.L4Why, f.L7, f.L7Why)
			}
			continue
		}
		seen[key] = true
		if !f.Allowed() {
			t.Errorf("%s: declared but denied: L4 %s (%s), L7 %s (%s)", key, f.L4, f.L4Why, f.L7, f.L7Why)
			continue
		}
		if meshed && fmt.Sprint(f.Operations) != fmt.Sprint(d.ops) {
			t.Errorf("%s: operations %v, declared %v", key, f.Operations, d.ops)
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("%s: declared, but no such flow in the report", key)
		}
	}
}

func evaluateCluster(t *testing.T, c *spec.Cluster, teams []*spec.Team) *Report {
	t.Helper()
	r, err := Evaluate(renderCluster(t, c, teams), Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExamples(t *testing.T) {
	clusters, teams := examples(t)
	for _, c := range clusters {
		t.Run(c.Metadata.Name, func(t *testing.T) {
			r := evaluateCluster(t, c, teams)
			want := intents(c.Metadata.Name, teams)
			if len(want) == 0 {
				t.Fatal("the examples declare no call on this cluster")
			}
			if c.Spec.Mesh.Type == spec.MeshLinkerd {
				want = linkerdIntents(want)
			}
			// A team in audit is judged as it will enforce; its would-deny flows are
			// the undeclared ones (TestGeneratedGraphsEngines).
			checkAgainstIntents(t, asEnforced(r), want, c.Spec.Mesh.Type != spec.MeshNone)
			for _, f := range Formats {
				var b strings.Builder
				if err := r.Write(&b, f); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", c.Metadata.Name+"."+string(f)), b.String())
			}
		})
	}
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the golden (run go test ./generator/reach -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./generator/reach -update after checking):\n--- got\n%s--- want\n%s", file, got, want)
	}
}

// generatedCluster is a cluster of the given CNI and mesh, from the prod-weu example.
func generatedCluster(t *testing.T, cni spec.CNI, mesh spec.Mesh) *spec.Cluster {
	clusters, _ := examples(t)
	i := slices.IndexFunc(clusters, func(c *spec.Cluster) bool { return c.Metadata.Name == "prod-weu" })
	c := *clusters[i]
	c.Metadata.Name = "gen"
	c.Spec.CNI = cni
	c.Spec.Mesh = mesh
	return &c
}

// randomGraph makes teams with apps, random calls (within and across teams, to
// themselves, in cycles) and random consents, some of which cover the calls.
func randomGraph(rng *rand.Rand) []*spec.Team {
	nTeams := 2 + rng.IntN(3)
	var teams []*spec.Team
	protocols := []spec.Protocol{"", spec.ProtocolHTTP, spec.ProtocolGRPC, spec.ProtocolTCP}
	for ti := range nTeams {
		t := &spec.Team{APIVersion: spec.APIVersion, Kind: spec.KindTeam}
		t.Metadata.Name = fmt.Sprintf("team%d", ti)
		t.Spec.Owners = []string{"lead@example.com"}
		t.Spec.Clusters = []string{"gen"}
		for ai := range 1 + rng.IntN(3) {
			t.Spec.Apps = append(t.Spec.Apps, spec.App{
				Name:      fmt.Sprintf("app%d", ai),
				Image:     "registry.example.com/x:1",
				Port:      int32(8000 + 10*ti + ai),
				Protocol:  protocols[rng.IntN(len(protocols))],
				Resources: spec.Resources{Memory: "64Mi"},
			})
		}
		teams = append(teams, t)
	}
	methods := [][]string{nil, {"GET"}, {"GET", "POST"}}
	paths := [][]string{nil, {"/v1/*"}, {"/a", "/b/*"}}
	for _, t := range teams {
		for ai := range t.Spec.Apps {
			a := &t.Spec.Apps[ai]
			for range rng.IntN(4) {
				callee := teams[rng.IntN(len(teams))]
				app := callee.Spec.Apps[rng.IntN(len(callee.Spec.Apps))]
				c := spec.Call{App: app.Name, Methods: methods[rng.IntN(3)], Paths: paths[rng.IntN(3)]}
				if callee != t || rng.IntN(2) == 0 {
					c.Team = callee.Metadata.Name
				}
				if rng.IntN(2) == 0 {
					c.Port = app.Port
				}
				a.Calls = append(a.Calls, c)
			}
			for range rng.IntN(3) {
				caller := teams[rng.IntN(len(teams))]
				ref := spec.CallerRef{Team: caller.Metadata.Name}
				if rng.IntN(2) == 0 {
					ref.App = caller.Spec.Apps[rng.IntN(len(caller.Spec.Apps))].Name
				}
				a.AllowCallsFrom = append(a.AllowCallsFrom, ref)
			}
		}
	}
	// Consent to some of the cross-team calls explicitly, so both cases occur often.
	for _, t := range teams {
		for _, a := range t.Spec.Apps {
			for _, c := range a.Calls {
				if c.Team == "" || c.Team == t.Metadata.Name || rng.IntN(2) == 0 {
					continue
				}
				callee := teams[slices.IndexFunc(teams, func(x *spec.Team) bool { return x.Metadata.Name == c.Team })]
				i := slices.IndexFunc(callee.Spec.Apps, func(x spec.App) bool { return x.Name == c.App })
				callee.Spec.Apps[i].AllowCallsFrom = append(callee.Spec.Apps[i].AllowCallsFrom, spec.CallerRef{Team: t.Metadata.Name, App: a.Name})
			}
		}
	}
	return teams
}

func TestGeneratedGraphs(t *testing.T) {
	variants := []struct {
		name string
		cni  spec.CNI
		mesh spec.Mesh
	}{
		{name: "cilium-istio-sidecar", cni: spec.CNICilium, mesh: spec.Mesh{Type: spec.MeshIstio, TrustDomain: "gen.example.com", RootNamespace: "istio-system"}},
		{name: "calico-istio-revision", cni: spec.CNICalico, mesh: spec.Mesh{Type: spec.MeshIstio, Revision: "1-27"}},
		{name: "calico-no-mesh", cni: spec.CNICalico, mesh: spec.Mesh{Type: spec.MeshNone}},
	}
	n := 12
	if testing.Short() {
		n = 3
	}
	for _, v := range variants {
		c := generatedCluster(t, v.cni, v.mesh)
		for seed := range n {
			t.Run(fmt.Sprintf("%s/seed-%d", v.name, seed), func(t *testing.T) {
				teams := randomGraph(rand.New(rand.NewPCG(uint64(seed), 5)))
				r := evaluateCluster(t, c, teams)
				checkAgainstIntents(t, r, intents("gen", teams), v.mesh.Type == spec.MeshIstio)
			})
		}
	}
}

// TestDeterministic: the report does not depend on the order of files or objects.
func TestDeterministic(t *testing.T) {
	clusters, teams := examples(t)
	for _, c := range clusters {
		mc := renderCluster(t, c, teams)
		var first string
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 5 {
			shuffled := &manifest.Cluster{Name: mc.Name, Files: slices.Clone(mc.Files)}
			rng.Shuffle(len(shuffled.Files), func(a, b int) { shuffled.Files[a], shuffled.Files[b] = shuffled.Files[b], shuffled.Files[a] })
			r, err := Evaluate(shuffled, Options{TrustDomain: c.Spec.Mesh.TrustDomain})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := r.Write(&b, JSON); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = b.String()
			} else if b.String() != first {
				t.Fatalf("cluster %s: the report changes with the order of the files", c.Metadata.Name)
			}
		}
	}
}
