package reach

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// checkNeighbours: for every namespace F of the cluster, every flow from or to F that
// a layer allows joins two namespaces Neighbours keeps for F (or it keeps them all).
// That is the bound a report relies on to read only the neighbourhood.
func checkNeighbours(t *testing.T, c *manifest.Cluster, opts Options) (pruned int) {
	t.Helper()
	var facts []Facts
	for _, f := range c.Files {
		df, err := DecodeFile(f.Path, f.Objects)
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, FileFacts(df, opts))
	}
	full, err := Evaluate(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	nsOf := func(id string) string { n, _, _ := strings.Cut(id, "/"); return n }
	namespaces := map[string]bool{}
	for _, w := range full.Workloads {
		namespaces[w.Namespace] = true
	}
	for f := range namespaces {
		keep, all := Neighbours([]string{f}, [][]Facts{facts}, opts)
		if all {
			continue
		}
		if len(keep) < len(namespaces) {
			pruned++
		}
		for _, fl := range full.Flows {
			if nsOf(fl.From) != f && nsOf(fl.To) != f {
				continue
			}
			// A layer in audit allows now what it will deny: judge it as enforced.
			l7 := fl.L7
			if fl.Enforced != nil {
				l7 = fl.Enforced.L7
			}
			if fl.L4 != Allow && l7 != Allow {
				continue
			}
			if !slices.Contains(keep, nsOf(fl.From)) || !slices.Contains(keep, nsOf(fl.To)) {
				t.Errorf("focus %s: %s → %s %s (L4 %s, L7 %s) is allowed, but the neighbourhood %v leaves out an end", f, fl.From, fl.To, fl.Port, fl.L4, fl.L7, keep)
			}
		}
	}
	return pruned
}

func TestNeighboursExamplesAndGraphs(t *testing.T) {
	clusters, teams := examples(t)
	for _, c := range clusters {
		checkNeighbours(t, renderCluster(t, c, teams), Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace})
	}
	pruned := 0
	for _, v := range []struct {
		cni  spec.CNI
		mesh spec.Mesh
	}{
		{spec.CNICilium, spec.Mesh{Type: spec.MeshIstio, TrustDomain: "gen.example.com", RootNamespace: "istio-system"}},
		{spec.CNICalico, spec.Mesh{Type: spec.MeshNone}},
		{spec.CNICalico, spec.Mesh{Type: spec.MeshLinkerd, TrustDomain: "gen.example.com", RootNamespace: "linkerd"}},
	} {
		c := generatedCluster(t, v.cni, v.mesh)
		for seed := range 6 {
			teams := randomGraph(rand.New(rand.NewPCG(uint64(seed), 9)))
			pruned += checkNeighbours(t, renderCluster(t, c, teams), Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace})
		}
	}
	if pruned == 0 {
		t.Error("no neighbourhood left a namespace out: the bound was never put to the test")
	}
}

// TestNeighboursSemantics: policies that admit namespaces they do not name widen the
// neighbourhood, and the bound holds.
func TestNeighboursSemantics(t *testing.T) {
	denyIn := func(n string) string {
		return strings.ReplaceAll(denyAll, "namespace: b", "namespace: "+n)
	}
	np := func(n, spec string) string {
		return fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p%d, namespace: %s}\nspec: %s", len(spec), n, spec)
	}
	authz := func(n, spec string) string {
		return fmt.Sprintf("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p%d, namespace: %s}\nspec: %s", len(spec), n, spec)
	}
	cnp := func(n, spec string) string {
		return fmt.Sprintf("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p%d, namespace: %s}\nspec: %s", len(spec), n, spec)
	}
	four := func(labels string) []string {
		var docs []string
		for _, n := range []string{"a", "b", "c", "d"} {
			docs = append(docs, ns(n, labels+"team: "+n), deploy(n, "app", 8080, "http"), denyIn(n))
		}
		return docs
	}
	tests := []struct {
		name string
		docs []string
		// focus and the namespace its neighbourhood must keep (or "*": all).
		focus, keeps string
	}{
		{name: "named peers", focus: "a", keeps: "b", docs: append(four(""),
			np("a", `{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]}`),
			np("b", `{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}]}]}`))},
		{name: "a peer by another label", focus: "a", keeps: "c", docs: append(four(""),
			np("c", `{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {team: a}}}]}]}`),
			np("a", `{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}`))},
		{name: "a rule without peers", focus: "a", keeps: "d", docs: append(four(""),
			np("d", `{podSelector: {}, egress: [{}]}`),
			np("a", `{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: d}}}]}]}`))},
		{name: "a namespace without default deny", focus: "a", keeps: "b", docs: append([]string{ns("a", ""), ns("b", ""), deploy("a", "app", 8080, "http"), deploy("b", "app", 8080, "http"), denyIn("a")},
			np("a", `{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {team: b}}}]}]}`))},
		{name: "a Cilium entity", focus: "a", keeps: "c", docs: append(four(""),
			cnp("c", `{endpointSelector: {}, egress: [{toEntities: [cluster]}]}`),
			cnp("a", `{endpointSelector: {}, ingress: [{fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: c}}]}]}`))},
		{name: "a meshed focus without an ALLOW policy", focus: "a", keeps: "*", docs: four("istio-injection: enabled, ")},
		{name: "an ALLOW from any namespace but one", focus: "a", keeps: "*", docs: append(four("istio-injection: enabled, "),
			authz("a", `{rules: [{from: [{source: {notNamespaces: [b]}}]}]}`))},
		{name: "the root namespace admits a namespace everywhere", focus: "b", keeps: "c", docs: append(four("istio-injection: enabled, "),
			authz("istio-system", `{}`), authz("istio-system", `{rules: [{from: [{source: {namespaces: [c]}}]}]}`))},
		{name: "the root namespace admits the focus everywhere", focus: "c", keeps: "*", docs: append(four("istio-injection: enabled, "),
			authz("istio-system", `{}`), authz("istio-system", `{rules: [{from: [{source: {namespaces: [c]}}]}]}`))},
		{name: "a clusterwide allow", focus: "a", keeps: "*", docs: append(four(""),
			"apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: allow-all}\nspec: {endpointSelector: {}, egress: [{toEntities: [cluster]}], ingress: [{fromEntities: [cluster]}]}")},
		{name: "a clusterwide deny", focus: "a", keeps: "b", docs: append(four(""),
			"apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: deny-metadata}\nspec: {endpointSelector: {}, enableDefaultDeny: {egress: false, ingress: false}, egressDeny: [{toCIDR: [169.254.169.254/32]}]}",
			np("a", `{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]}`),
			np("b", `{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}]}]}`))},
		{name: "a principal prefix", focus: "a", keeps: "b", docs: append(four("istio-injection: enabled, "),
			authz("istio-system", `{}`), authz("a", `{rules: [{from: [{source: {principals: [cluster.local/ns/b/sa/*]}}]}]}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clusterOf(t, tt.docs...)
			// One file per document, as rendered output has several.
			var files []*manifest.File
			for i, o := range c.Files[0].Objects {
				files = append(files, &manifest.File{Path: fmt.Sprintf("clusters/test/%d.yaml", i), Objects: []*unstructured.Unstructured{o}})
			}
			c.Files = files
			var facts []Facts
			for _, f := range c.Files {
				df, err := DecodeFile(f.Path, f.Objects)
				if err != nil {
					t.Fatal(err)
				}
				facts = append(facts, FileFacts(df, Options{}))
			}
			keep, all := Neighbours([]string{tt.focus}, [][]Facts{facts}, Options{})
			switch {
			case tt.keeps == "*" && !all:
				t.Errorf("neighbourhood %v, want every namespace", keep)
			case tt.keeps != "*" && (all || !slices.Contains(keep, tt.keeps)):
				t.Errorf("neighbourhood %v (all %v), want it to keep %s", keep, all, tt.keeps)
			}
			checkNeighbours(t, c, Options{})
		})
	}
}
