package reach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestSharedFiles: files decoded once and evaluated by several evaluations at once
// (as a report evaluates a cluster's base and head) give each the report Evaluate
// gives; under -race, that no evaluation writes to what they share.
func TestSharedFiles(t *testing.T) {
	clusters, teams := examples(t)
	type cluster struct {
		name  string
		c     *manifest.Cluster
		opts  Options
		focus string
	}
	var cases []cluster
	for _, c := range clusters {
		cases = append(cases, cluster{c.Metadata.Name, renderCluster(t, c, teams), Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace}, "payments"})
	}
	linkerd := spec.Mesh{Type: spec.MeshLinkerd, TrustDomain: "gen.example.com", RootNamespace: "linkerd",
		IngressGateway: &spec.Workload{Namespace: "traefik", ServiceAccount: "traefik", PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}}}
	gen := generatedCluster(t, spec.CNICalico, linkerd)
	gen.Spec.Enforcement = spec.EnforcementAudit
	cases = append(cases, cluster{"calico-linkerd-audit", renderCluster(t, gen, randomGraph(rand.New(rand.NewPCG(1, 7)))), Options{TrustDomain: "gen.example.com", RootNamespace: "linkerd"}, "team0"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := make([]*File, len(tc.c.Files))
			for i, f := range tc.c.Files {
				var err error
				if files[i], err = DecodeFile(f.Path, f.Objects); err != nil {
					t.Fatal(err)
				}
			}
			focused := tc.opts
			focused.Focus = []string{tc.focus}
			optsOf := []Options{tc.opts, focused, tc.opts, focused}
			got := make([]*Report, len(optsOf))
			var wg sync.WaitGroup
			for i, o := range optsOf {
				wg.Go(func() { got[i] = EvaluateFiles(tc.c.Name, files, o) })
			}
			wg.Wait()
			for i, o := range optsOf {
				want, err := Evaluate(tc.c, o)
				if err != nil {
					t.Fatal(err)
				}
				if len(want.Flows) == 0 {
					t.Fatalf("no flows with focus %v: the case proves nothing", o.Focus)
				}
				if !reflect.DeepEqual(got[i], want) {
					t.Errorf("shared files, focus %v: the report differs from Evaluate's", o.Focus)
				}
			}
		})
	}
}

// TestCompareFiles: CompareFiles hands over, source by source in the order of the
// sources' IDs, the flows EvaluateFiles reports for each revision, as enforced now,
// but for flows between namespaces that cannot meet, which every layer denies; with
// the rest of each report. A source of one revision only comes with no flows at
// the other. The head drops one team's files and the base another's, so both kinds
// of source occur, with and without a focus. On a Calico cluster in audit flows
// would change once enforced; on an enforcing Cilium one, namespaces cannot meet.
func TestCompareFiles(t *testing.T) {
	for _, audit := range []bool{true, false} {
		t.Run(fmt.Sprintf("audit %v", audit), func(t *testing.T) { testCompareFiles(t, audit) })
	}
}

func testCompareFiles(t *testing.T, audit bool) {
	mesh := spec.Mesh{Type: spec.MeshIstio, Mode: spec.MeshSidecar, TrustDomain: "gen.example.com", RootNamespace: "istio-system"}
	gen := generatedCluster(t, spec.CNICilium, mesh)
	if audit {
		gen = generatedCluster(t, spec.CNICalico, mesh)
		gen.Spec.Enforcement = spec.EnforcementAudit
	}
	c := renderCluster(t, gen, randomGraph(rand.New(rand.NewPCG(22, 9))))
	var base, head []*File
	for _, f := range c.Files {
		d, err := DecodeFile(f.Path, f.Objects)
		if err != nil {
			t.Fatal(err)
		}
		if _, team := manifest.Classify(f.Path); team != "team0" {
			base = append(base, d)
		}
		if _, team := manifest.Classify(f.Path); team != "team1" {
			head = append(head, d)
		}
	}
	for _, focus := range [][]string{nil, {"team0", "team1"}} {
		o := Options{TrustDomain: "gen.example.com", Focus: focus}
		want := [2]*Report{EvaluateFiles(c.Name, base, o), EvaluateFiles(c.Name, head, o)}
		var got [2][]Flow
		var sources []string
		onlyOne, enforced, pruned := 0, 0, 0
		b, h, err := CompareFiles(t.Context(), c.Name, base, head, o, func(src string, bf, hf []Flow) {
			sources = append(sources, src+" ")
			if len(bf) == 0 || len(hf) == 0 {
				onlyOne++
			}
			for side, flows := range [][]Flow{bf, hf} {
				for _, f := range flows {
					if f.From != src {
						t.Fatalf("focus %v: a flow from %s handed over as %s's", focus, f.From, src)
					}
				}
				got[side] = append(got[side], flows...)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(sources) || len(slices.Compact(slices.Clone(sources))) != len(sources) {
			t.Errorf("focus %v: sources not in order, or twice: %q", focus, sources)
		}
		if onlyOne == 0 {
			t.Errorf("focus %v: every source is in both revisions: the case proves nothing", focus)
		}
		for side, r := range []*Report{b, h} {
			byKey := func(fs []Flow) []Flow {
				return slices.SortedStableFunc(slices.Values(fs), func(a, b Flow) int { return strings.Compare(a.From+" ", b.From+" ") })
			}
			if len(want[side].Flows) == 0 {
				t.Fatalf("focus %v: no flows: the case proves nothing", focus)
			}
			for i := range want[side].Flows {
				f := &want[side].Flows[i]
				if f.Enforced != nil {
					enforced++
				}
				f.Enforced, f.WouldDeny = nil, false // judged as enforced now only
			}
			handed := map[string]bool{}
			for _, f := range got[side] {
				handed[f.From+" "+f.To+" "+f.Port.String()] = true
			}
			wanted := slices.DeleteFunc(slices.Clone(want[side].Flows), func(f Flow) bool {
				if handed[f.From+" "+f.To+" "+f.Port.String()] {
					return false
				}
				if f.L4 == Allow || f.L7 == Allow {
					t.Errorf("focus %v, side %d: a flow a layer allows was not handed over: %+v", focus, side, f)
				}
				pruned++
				return true
			})
			if d := cmp.Diff(byKey(wanted), got[side]); d != "" {
				t.Errorf("focus %v, side %d: the flows handed over differ from EvaluateFiles' (-want +got):\n%s", focus, side, d)
			}
			rest := *want[side]
			rest.Flows = nil
			if d := cmp.Diff(&rest, r, cmp.AllowUnexported(Workload{})); d != "" {
				t.Errorf("focus %v, side %d: the report differs from EvaluateFiles' (-want +got):\n%s", focus, side, d)
			}
		}
		if pruned == 0 && focus == nil && !audit {
			t.Errorf("no flow left out: the case does not show that namespaces that cannot meet are skipped")
		}
		if enforced == 0 && audit {
			t.Errorf("focus %v: no flow would change once enforced: the case proves nothing", focus)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := CompareFiles(ctx, c.Name, base, head, Options{}, func(string, []Flow, []Flow) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareFiles with its context cancelled: %v, want %v", err, context.Canceled)
	}
}

func TestFileSame(t *testing.T) {
	deployment := func(label, env string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  template:
    metadata: {labels: {app: ` + label + `}}
    spec:
      containers:
        - name: api
          env: [{name: LOG_LEVEL, value: ` + env + `}]
          ports: [{containerPort: 8080, name: http}]`
	}
	policyOf := func(apiVersion, kind, port string) string {
		return `apiVersion: ` + apiVersion + `
kind: ` + kind + `
metadata: {name: allow, namespace: a}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{ports: [{port: ` + port + `}]}]`
	}
	policy := func(port string) string { return policyOf("networking.k8s.io/v1", "NetworkPolicy", port) }
	staged := func(port string) string {
		return policyOf("projectcalico.org/v3", "StagedKubernetesNetworkPolicy", port)
	}
	decoded := func(docs ...string) *File {
		t.Helper()
		if len(docs) == 0 {
			f, err := DecodeFile("clusters/test/empty.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		c := clusterOf(t, docs...)
		f, err := DecodeFile(c.Files[0].Path, c.Files[0].Objects)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name string
		a, b *File
		same bool
		// now is SameNow's answer, where it differs from Same's.
		now *bool
	}{
		{"another environment", decoded(deployment("api", "info")), decoded(deployment("api", "debug")), true, nil},
		{"another pod label", decoded(deployment("api", "info")), decoded(deployment("web", "info")), false, nil},
		{"another policy port", decoded(policy("8080")), decoded(policy("9090")), false, nil},
		{"the same policy", decoded(policy("8080")), decoded(policy("8080")), true, nil},
		{"a policy more", decoded(deployment("api", "info")), decoded(deployment("api", "info"), policy("8080")), false, nil},
		{"nothing and no file", decoded(), nil, true, nil},
		{"a deployment and no file", decoded(deployment("api", "info")), nil, false, nil},
		{"another staged policy port", decoded(staged("8080")), decoded(staged("9090")), false, ptr(true)},
		{"a staged policy more", decoded(deployment("api", "info")), decoded(deployment("api", "info"), staged("8080")), false, ptr(true)},
		{"a staged policy and no file", decoded(staged("8080")), nil, false, ptr(true)},
		{"a staged policy enforced", decoded(staged("8080")), decoded(policy("8080")), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Same(tt.b); got != tt.same {
				t.Errorf("Same = %v, want %v", got, tt.same)
			}
			if tt.b != nil {
				if got := tt.b.Same(tt.a); got != tt.same {
					t.Errorf("Same, the other way = %v, want %v", got, tt.same)
				}
			}
			now := tt.same
			if tt.now != nil {
				now = *tt.now
			}
			if got := tt.a.SameNow(tt.b); got != now {
				t.Errorf("SameNow = %v, want %v", got, now)
			}
			if tt.b != nil {
				if got := tt.b.SameNow(tt.a); got != now {
					t.Errorf("SameNow, the other way = %v, want %v", got, now)
				}
			}
		})
	}
}

// TestDecodeFileJSON: a file decoded from its objects' JSON is the file decoded from
// the objects, for every file of the examples and of generated clusters on every
// network engine and mesh, and evaluates alike.
func TestDecodeFileJSON(t *testing.T) {
	clusters, teams := examples(t)
	var cases []*manifest.Cluster
	for _, c := range clusters {
		cases = append(cases, renderCluster(t, c, teams))
	}
	istio := spec.Mesh{Type: spec.MeshIstio, TrustDomain: "gen.example.com", RootNamespace: "istio-system"}
	linkerd := spec.Mesh{Type: spec.MeshLinkerd, TrustDomain: "gen.example.com", RootNamespace: "linkerd",
		IngressGateway: &spec.Workload{Namespace: "traefik", ServiceAccount: "traefik", PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}}}
	for i, g := range []struct {
		cni   spec.CNI
		mesh  spec.Mesh
		audit bool
	}{{spec.CNICilium, istio, false}, {spec.CNICalico, linkerd, true}, {spec.CNICalico, istio, true}} {
		c := generatedCluster(t, g.cni, g.mesh)
		if g.audit {
			c.Spec.Enforcement = spec.EnforcementAudit
		}
		cases = append(cases, renderCluster(t, c, randomGraph(rand.New(rand.NewPCG(uint64(i), 7)))))
	}
	for _, c := range cases {
		files := make([]*File, len(c.Files))
		for i, f := range c.Files {
			docs := make([]map[string]any, len(f.Objects))
			for j, o := range f.Objects {
				docs[j] = o.Object
			}
			b, err := json.Marshal(docs)
			if err != nil {
				t.Fatal(err)
			}
			if files[i], err = DecodeFileJSON(f.Path, b); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			want, err := DecodeFile(f.Path, f.Objects)
			if err != nil {
				t.Fatal(err)
			}
			got := *files[i]
			unparsed(&got)
			unparsed(want)
			if !reflect.DeepEqual(&got, want) {
				t.Errorf("%s: decoded from JSON, %s", f.Path, cmp.Diff(want.part.workloads, got.part.workloads, cmp.AllowUnexported(Workload{})))
			}
		}
		want, err := Evaluate(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := EvaluateFiles(c.Name, files, Options{}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the files decoded from JSON evaluate otherwise", c.Name)
		}
	}
}

// unparsed clears what Calico's parsed selectors hold (functions, which
// reflect.DeepEqual never finds equal), in a copy of f's model part.
func unparsed(f *File) {
	part := *f.part
	part.gnps = nil
	for _, p := range f.part.gnps {
		c := *p
		c.selector, c.namespaceSelector = nil, nil
		c.Spec.Ingress, c.Spec.Egress = slices.Clone(c.Spec.Ingress), slices.Clone(c.Spec.Egress)
		for _, rules := range [][]calicoRule{c.Spec.Ingress, c.Spec.Egress} {
			for i := range rules {
				rules[i].source, rules[i].destination = struct{ selector, namespaceSelector calicoSelector }{}, struct{ selector, namespaceSelector calicoSelector }{}
			}
		}
		part.gnps = append(part.gnps, &c)
	}
	f.part = &part
}

func ptr[T any](v T) *T { return &v }
