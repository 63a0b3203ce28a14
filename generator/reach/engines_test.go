package reach

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// crossProduct is how a Linkerd HTTPRoute spells a call's operation: one match per
// method and path (Istio's one operation with both lists).
func crossProduct(ops []Operation) []Operation {
	if ops == nil {
		return nil
	}
	var out []Operation
	for _, o := range ops {
		ms, ps := o.Methods, o.Paths
		if len(ms) == 0 {
			ms = []string{""}
		}
		if len(ps) == 0 {
			ps = []string{""}
		}
		for _, p := range ps {
			for _, m := range ms {
				var x Operation
				if m != "" {
					x.Methods = []string{m}
				}
				if p != "" {
					x.Paths = []string{p}
				}
				out = append(out, x)
			}
		}
	}
	slices.SortFunc(out, func(a, b Operation) int { return strings.Compare(a.String(), b.String()) })
	return slices.CompactFunc(out, func(a, b Operation) bool { return a.String() == b.String() })
}

func linkerdIntents(want map[string]*declared) map[string]*declared {
	out := map[string]*declared{}
	for k, d := range want {
		c := *d
		c.ops = crossProduct(d.ops)
		out[k] = &c
	}
	return out
}

// asEnforced is the report as it will be once every policy in audit is enforced.
func asEnforced(r *Report) *Report {
	e := *r
	e.Flows = slices.Clone(r.Flows)
	for i, f := range e.Flows {
		if f.Enforced != nil {
			e.Flows[i].L4, e.Flows[i].L4Why, e.Flows[i].L7, e.Flows[i].L7Why = f.Enforced.L4, f.Enforced.L4Why, f.Enforced.L7, f.Enforced.L7Why
			e.Flows[i].Enforced = nil
			e.Flows[i].Operations = f.Enforced.Operations
		}
	}
	return &e
}

// TestGeneratedGraphsEngines: Linkerd's policy agrees with the NetworkPolicies on
// generated call graphs, with the Calico baseline in place, exactly as Istio's does;
// and with every team in audit nothing is blocked, while the enforced view denies
// exactly the undeclared flows.
func TestGeneratedGraphsEngines(t *testing.T) {
	gw := &spec.Workload{Namespace: "traefik", ServiceAccount: "traefik", PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}}
	linkerd := spec.Mesh{Type: spec.MeshLinkerd, TrustDomain: "gen.example.com", RootNamespace: "linkerd", IngressGateway: gw}
	n := 12
	if testing.Short() {
		n = 3
	}
	istio := spec.Mesh{Type: spec.MeshIstio, TrustDomain: "gen.example.com", RootNamespace: "istio-system"}
	for _, v := range []struct {
		name  string
		mesh  spec.Mesh
		audit bool
	}{
		{"calico-linkerd", linkerd, false},
		{"calico-linkerd-audit", linkerd, true},
		{"calico-istio-audit", istio, true},
	} {
		audit := v.audit
		c := generatedCluster(t, spec.CNICalico, v.mesh)
		c.Spec.Calico.DenyEgressCIDRs = []string{"10.250.0.0/16"}
		name := v.name
		if audit {
			c.Spec.Enforcement = spec.EnforcementAudit
		}
		lk := v.mesh.Type == spec.MeshLinkerd
		for seed := range n {
			t.Run(fmt.Sprintf("%s/seed-%d", name, seed), func(t *testing.T) {
				teams := randomGraph(rand.New(rand.NewPCG(uint64(seed), 7)))
				r := evaluateCluster(t, c, teams)
				want := intents("gen", teams)
				if lk {
					want = linkerdIntents(want)
				}
				if !audit {
					checkAgainstIntents(t, r, want, true)
					return
				}
				for _, f := range r.Flows {
					if !f.Allowed() {
						t.Errorf("%s → %s:%d: denied in audit: L4 %s (%s), L7 %s (%s)", f.From, f.To, f.Port.Number, f.L4, f.L4Why, f.L7, f.L7Why)
					}
					key := fmt.Sprintf("%s>%s:%d", f.From, f.To, f.Port.Number)
					if f.WouldDeny == (want[key] != nil) {
						t.Errorf("%s: would deny %v, declared %v", key, f.WouldDeny, want[key] != nil)
					}
				}
				checkAgainstIntents(t, asEnforced(r), want, true)
				for _, a := range r.Metadata {
					if a.L4 != Deny {
						t.Errorf("%s reaches the cloud metadata endpoint in audit: %s", a.Workload, a.Why)
					}
				}
			})
		}
	}
}

func TestLinkerdSemantics(t *testing.T) {
	injected := `linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: deny`
	nsAnn := func(name, ann string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, annotations: {%s}}", name, ann)
	}
	base := []string{nsAnn("a", injected), nsAnn("b", injected), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}
	server := func(access string) string {
		return fmt.Sprintf(`apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: srv, namespace: b}
spec: {podSelector: {matchLabels: {app: srv}}, port: http, accessPolicy: %s}`, access)
	}
	mtls := func(name, id string) string {
		return fmt.Sprintf(`apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: %s, namespace: b}
spec: {identities: [%q]}`, name, id)
	}
	authz := func(name, kind, target, authn string) string {
		return fmt.Sprintf(`apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: %s, namespace: b}
spec:
  targetRef: {group: policy.linkerd.io, kind: %s, name: %s}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: %s}]`, name, kind, target, authn)
	}
	route := func(name, matches string) string {
		return fmt.Sprintf(`apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: %s, namespace: b}
spec: {parentRefs: [{group: policy.linkerd.io, kind: Server, name: srv}], rules: [{matches: %s}]}`, name, matches)
	}
	cli := "cli.a.serviceaccount.identity.linkerd.cluster.local"
	tests := []struct {
		name      string
		base      []string
		docs      []string
		want      Verdict
		ops       string
		wouldDeny bool
	}{
		{name: "default inbound policy deny", want: Deny},
		{name: "default all-unauthenticated", base: []string{nsAnn("a", "linkerd.io/inject: enabled"), nsAnn("b", "linkerd.io/inject: enabled"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}, want: Allow, ops: "[]"},
		{name: "default all-authenticated refuses an unmeshed source", base: []string{nsAnn("a", ""), nsAnn("b", "linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: all-authenticated"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}, want: Deny},
		{name: "server without authorization denies", docs: []string{server("deny")}, want: Deny},
		{name: "server authorization by identity", docs: []string{server("deny"), mtls("m", cli), authz("p", "Server", "srv", "m")}, want: Allow, ops: "[]"},
		{name: "wrong identity", docs: []string{server("deny"), mtls("m", "other.a.serviceaccount.identity.linkerd.cluster.local"), authz("p", "Server", "srv", "m")}, want: Deny},
		{name: "identity wildcard", docs: []string{server("deny"), mtls("m", "*.a.serviceaccount.identity.linkerd.cluster.local"), authz("p", "Server", "srv", "m")}, want: Allow, ops: "[]"},
		{name: "a missing authentication authorizes nothing", docs: []string{server("deny"), authz("p", "Server", "srv", "missing")}, want: Deny},
		{name: "a route's authorization gives its operations", docs: []string{server("deny"), mtls("m", cli), route("r", `[{method: GET, path: {type: PathPrefix, value: /v1/}}, {path: {type: Exact, value: /x}}]`), authz("p", "HTTPRoute", "r", "m")}, want: Allow, ops: "[* /x GET /v1/*]"},
		{name: "with routes, a server authorization no longer applies", docs: []string{server("deny"), mtls("m", cli), route("r", `[{method: GET}]`), authz("p", "Server", "srv", "m")}, want: Deny},
		{name: "audit allows and would deny", docs: []string{server("audit")}, want: Allow, ops: "[]", wouldDeny: true},
		{name: "default audit allows and would deny", base: []string{nsAnn("a", injected), nsAnn("b", "linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: audit"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}, want: Allow, ops: "[]", wouldDeny: true},
		{name: "an opaque server ignores routes", docs: []string{`apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: srv, namespace: b}
spec: {podSelector: {matchLabels: {app: srv}}, port: 9090, proxyProtocol: opaque}`, mtls("m", cli), route("r", `[{method: GET}]`), authz("p", "Server", "srv", "m")}, want: Allow, ops: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := base
			if tt.base != nil {
				b = tt.base
			}
			r, err := Evaluate(clusterOf(t, append(append([]string{}, b...), tt.docs...)...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			f := flowOf(t, r, "a/cli", "b/srv")
			if f.L7 != tt.want {
				t.Errorf("L7 %s (%s), want %s", f.L7, f.L7Why, tt.want)
			}
			if tt.ops != "" && fmt.Sprint(f.Operations) != tt.ops {
				t.Errorf("operations %v, want %s", f.Operations, tt.ops)
			}
			if f.WouldDeny != tt.wouldDeny {
				t.Errorf("would deny %v, want %v (%+v)", f.WouldDeny, tt.wouldDeny, f.Enforced)
			}
		})
	}
}

// calicoPolicy builds a GlobalNetworkPolicy on the servers' ingress.
func gnp(name, tier string, order int, rules string) string {
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: %s}
spec: {tier: %s, order: %d, selector: "app == 'srv'", types: [Ingress], ingress: %s}`, name, tier, order, rules)
}

func tier(name string, order int, action string) string {
	return fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: %s}\nspec: {order: %d, defaultAction: %s}", name, order, action)
}

func TestCalicoSemantics(t *testing.T) {
	base := []string{ns("a", "team: a"), ns("b", "team: b"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}
	fromA := `{action: %s, source: {namespaceSelector: "team == 'a'"}}`
	rule := func(action string) string { return "[" + fmt.Sprintf(fromA, action) + "]" }
	allowNP := ingressFrom(`[{namespaceSelector: {matchLabels: {team: a}}}]`, `[]`)
	tests := []struct {
		name string
		docs []string
		want Verdict
	}{
		{name: "a baseline Deny wins over a NetworkPolicy allow", docs: []string{tier("base", 100, "Pass"), gnp("base.d", "base", 100, rule("Deny")), allowNP}, want: Deny},
		{name: "Pass hands the decision to the NetworkPolicies", docs: []string{tier("base", 100, "Pass"), gnp("base.p", "base", 100, rule("Pass")), denyAll}, want: Deny},
		{name: "the tier's defaultAction Pass: the NetworkPolicies decide", docs: []string{tier("base", 100, "Pass"), gnp("base.d", "base", 100, `[{action: Deny, source: {namespaceSelector: "team == 'z'"}}]`), allowNP}, want: Allow},
		{name: "a tier's default Deny ends it", docs: []string{tier("base", 100, "Deny"), gnp("base.d", "base", 100, `[{action: Deny, source: {namespaceSelector: "team == 'z'"}}]`), allowNP}, want: Deny},
		{name: "lower order first", docs: []string{tier("base", 100, "Pass"), gnp("base.x", "base", 20, rule("Deny")), gnp("base.y", "base", 10, rule("Allow")), denyAll}, want: Allow},
		{name: "equal order: by name", docs: []string{tier("base", 100, "Pass"), gnp("base.b", "base", 10, rule("Allow")), gnp("base.a", "base", 10, rule("Deny"))}, want: Deny},
		{name: "rules in order", docs: []string{tier("base", 100, "Pass"), gnp("base.r", "base", 10, "["+fmt.Sprintf(fromA, "Allow")+", "+fmt.Sprintf(fromA, "Deny")+"]")}, want: Allow},
		{name: "tiers in order", docs: []string{tier("second", 200, "Pass"), tier("first", 100, "Pass"), gnp("second.d", "second", 1, rule("Deny")), gnp("first.a", "first", 1000, rule("Allow"))}, want: Allow},
		{name: "a policy that does not select the endpoint does nothing", docs: []string{tier("base", 100, "Deny"), `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: base.other}
spec: {tier: base, order: 1, selector: "app == 'other'", types: [Ingress], ingress: [{action: Deny}]}`}, want: Allow},
		{name: "default-tier policy before the NetworkPolicies", docs: []string{gnp("early", "default", 100, rule("Allow")), denyAll}, want: Allow},
		{name: "the built-in kube-admin tier passes what it does not decide", docs: []string{gnp("kube-admin.d", "kube-admin", 100, `[{action: Deny, source: {namespaceSelector: "team == 'z'"}}]`), allowNP}, want: Allow},
		{name: "the built-in kube-admin tier runs before the default tier", docs: []string{gnp("kube-admin.d", "kube-admin", 100, rule("Deny")), gnp("early", "default", 1, rule("Allow"))}, want: Deny},
		{name: "a nets rule never matches a pod", docs: []string{tier("base", 100, "Pass"), gnp("base.n", "base", 1, `[{action: Deny, source: {nets: [0.0.0.0/0]}}]`)}, want: Allow},
		{name: "ports", docs: []string{tier("base", 100, "Pass"), gnp("base.p", "base", 1, `[{action: Deny, protocol: TCP, destination: {ports: ["9000:9100"]}}]`)}, want: Deny},
		{name: "other ports", docs: []string{tier("base", 100, "Pass"), gnp("base.p", "base", 1, `[{action: Deny, protocol: UDP, destination: {ports: [9090]}}]`)}, want: Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(clusterOf(t, append(append([]string{}, base...), tt.docs...)...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			f := flowOf(t, r, "a/cli", "b/srv")
			if f.L4 != tt.want {
				t.Errorf("L4 %s (%s), want %s", f.L4, f.L4Why, tt.want)
			}
		})
	}
}

// TestCalicoBaselineAddresses: the shared egress denies (a GlobalNetworkSet selected
// by a Deny rule) and the metadata block (nets) decide for addresses.
func TestCalicoBaselineAddresses(t *testing.T) {
	// The built-in kube-admin tier: order 1000, defaultAction Pass, never rendered.
	docs := []string{ns("a", "rampart.dev/team: a"), deploy("a", "cli", 8000, "http"),
		`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: kube-admin.meta}
spec: {tier: kube-admin, order: 100, namespaceSelector: has(rampart.dev/team), selector: all(), types: [Egress], egress: [{action: Deny, destination: {nets: [169.254.169.254/32]}}]}`}
	r, err := Evaluate(clusterOf(t, docs...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.Metadata[0]; a.L4 != Deny || !strings.Contains(a.Why, "kube-admin.meta") {
		t.Errorf("metadata: %s (%s), want denied by the baseline", a.L4, a.Why)
	}
	// Outside a team namespace the baseline does not apply.
	r, err = Evaluate(clusterOf(t, append([]string{ns("p", "")}, append(docs[1:2], docs[2:]...)...)...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.Metadata[0]; a.L4 != Allow {
		t.Errorf("metadata outside team namespaces: %s (%s), want allow", a.L4, a.Why)
	}
}

func TestCalicoSelectorParser(t *testing.T) {
	l := map[string]string{"app": "srv", "tier": "web", "projectcalico.org/namespace": "b"}
	tests := []struct {
		sel  string
		want bool
		bad  bool
	}{
		{sel: "all()", want: true},
		{sel: "has(app)", want: true},
		{sel: "!has(app)", want: false},
		{sel: "app == 'srv'", want: true},
		{sel: `app == "srv" && tier != 'db'`, want: true},
		{sel: "app in {'a', 'srv'}", want: true},
		{sel: "app not in {'a', 'srv'}", want: false},
		{sel: "(app == 'x' || tier == 'web') && projectcalico.org/namespace == 'b'", want: true},
		{sel: "missing != 'x'", want: true},
		{sel: "app ==", bad: true},
		{sel: "app == 'srv' &&", bad: true},
		{sel: "has(app", bad: true},
		{sel: "app ~ 'x'", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			s, err := parseCalicoSelector(tt.sel)
			if tt.bad {
				if err == nil {
					t.Fatal("parsed, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.matches(l); got != tt.want {
				t.Errorf("matches %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCalicoRefusesBadSelector: a GlobalNetworkPolicy whose selector does not parse
// is an error, not a policy that silently selects nothing.
func TestCalicoRefusesBadSelector(t *testing.T) {
	_, err := Evaluate(clusterOf(t, ns("a", ""), `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: bad}
spec: {selector: "app === 'x'", ingress: [{action: Deny}]}`), Options{})
	if err == nil || !strings.Contains(err.Error(), "selector") {
		t.Fatalf("err %v, want a selector error", err)
	}
}
