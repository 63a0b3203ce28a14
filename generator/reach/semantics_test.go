package reach

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/manifest"
)

// ns, deploy and the policies below build small clusters by hand, to pin the
// evaluator to the upstream semantics beyond what the templates render.
func ns(name string, labels string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {%s}}", name, labels)
}

func deploy(namespace, name string, port int, portName string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      serviceAccountName: %[2]s
      containers: [{name: c, image: x, ports: [{name: %[4]s, containerPort: %[3]d}]}]`, namespace, name, port, portName)
}

func clusterOf(t *testing.T, docs ...string) *manifest.Cluster {
	t.Helper()
	f := &manifest.File{Path: "clusters/test/all.yaml"}
	for _, d := range docs {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		f.Objects = append(f.Objects, &unstructured.Unstructured{Object: obj})
	}
	return &manifest.Cluster{Name: "test", Files: []*manifest.File{f}}
}

// flowOf finds the flow from → to in a report.
func flowOf(t *testing.T, r *Report, from, to string) Flow {
	t.Helper()
	for _, f := range r.Flows {
		if f.From == from && f.To == to {
			return f
		}
	}
	t.Fatalf("no flow %s → %s", from, to)
	return Flow{}
}

const (
	denyAll = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: b}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`
	strictB = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: b}
spec: {mtls: {mode: STRICT}}`
)

func ingressFrom(peers, ports string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow, namespace: b}
spec:
  podSelector: {matchLabels: {app: srv}}
  ingress: [{from: %s, ports: %s}]`, peers, ports)
}

func TestLayer4Semantics(t *testing.T) {
	base := []string{ns("a", "team: a"), ns("b", "team: b"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http-api"), deploy("b", "other", 9091, "http")}
	tests := []struct {
		name string
		docs []string
		want Verdict
	}{
		{name: "no policy: not isolated", want: Allow},
		{name: "default deny", docs: []string{denyAll}, want: Deny},
		{name: "ingress policy without policyTypes isolates ingress only", docs: []string{ingressFrom(`[{namespaceSelector: {matchLabels: {team: a}}}]`, `[{port: 9090}]`)}, want: Allow},
		{name: "namespace and pod selector in one peer are ANDed", docs: []string{ingressFrom(`[{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: cli}}}]`, `[]`)}, want: Deny},
		{name: "separate peers are ORed", docs: []string{ingressFrom(`[{namespaceSelector: {matchLabels: {team: b}}}, {namespaceSelector: {matchLabels: {team: a}}}]`, `[]`)}, want: Allow},
		{name: "a pod selector alone stays in the policy's namespace", docs: []string{ingressFrom(`[{podSelector: {matchLabels: {app: cli}}}]`, `[]`)}, want: Deny},
		{name: "matchExpressions", docs: []string{ingressFrom(`[{namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [a, c]}]}}]`, `[]`)}, want: Allow},
		{name: "named port", docs: []string{ingressFrom(`[{namespaceSelector: {}}]`, `[{port: http-api}]`)}, want: Allow},
		{name: "other named port", docs: []string{ingressFrom(`[{namespaceSelector: {}}]`, `[{port: http}]`)}, want: Deny},
		{name: "port range", docs: []string{ingressFrom(`[{namespaceSelector: {}}]`, `[{port: 9000, endPort: 9100}]`)}, want: Allow},
		{name: "UDP port does not cover TCP", docs: []string{ingressFrom(`[{namespaceSelector: {}}]`, `[{port: 9090, protocol: UDP}]`)}, want: Deny},
		{name: "an ipBlock never matches a pod", docs: []string{ingressFrom(`[{ipBlock: {cidr: 0.0.0.0/0}}]`, `[]`)}, want: Deny},
		{name: "egress isolation on the source", docs: []string{`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: a}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{podSelector: {}}]}]}`}, want: Deny},
		{name: "Cilium allow adds to NetworkPolicy", docs: []string{denyAll, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: a}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}]}]}`, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: in, namespace: b}
spec:
  endpointSelector: {matchLabels: {app: srv}}
  ingress: [{fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: a, k8s:app: cli}}], toPorts: [{ports: [{port: "9090", protocol: TCP}]}]}]`}, want: Allow},
		{name: "a Cilium peer without a namespace stays in the policy's", docs: []string{`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: in, namespace: b}
spec:
  endpointSelector: {matchLabels: {app: srv}}
  ingress: [{fromEndpoints: [{matchLabels: {app: cli}}]}]`}, want: Deny},
		{name: "Cilium deny wins", docs: []string{`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: in, namespace: b}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  ingressDeny: [{fromEndpoints: [{matchLabels: {io.kubernetes.pod.namespace: a}}]}]`}, want: Deny},
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
			if f.L7 != None {
				t.Errorf("L7 %s outside a mesh", f.L7)
			}
		})
	}
}

func TestLayer7Semantics(t *testing.T) {
	meshed := []string{ns("a", "istio-injection: enabled"), ns("b", "istio-injection: enabled"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http"), deploy("b", "db", 5432, "tcp")}
	authz := func(ns, spec string) string {
		return fmt.Sprintf("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p%d, namespace: %s}\nspec: %s", len(spec), ns, spec)
	}
	tests := []struct {
		name string
		to   string
		docs []string
		base []string
		want Verdict
		ops  string
	}{
		{name: "no policy allows", want: Allow, ops: "[]"},
		{name: "allow-nothing denies", docs: []string{authz("b", "{}")}, want: Deny},
		{name: "principal and operation", docs: []string{authz("b", "{}"), authz("b", `{selector: {matchLabels: {app: srv}}, rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/cli]}}], to: [{operation: {ports: ["9090"], methods: [GET], paths: [/x/*]}}]}]}`)}, want: Allow, ops: "[GET /x/*]"},
		{name: "wrong principal", docs: []string{authz("b", `{rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/other]}}]}]}`)}, want: Deny},
		{name: "principal prefix", docs: []string{authz("b", `{rules: [{from: [{source: {principals: [cluster.local/ns/a/*]}}]}]}`)}, want: Allow, ops: "[]"},
		{name: "namespaces", docs: []string{authz("b", `{rules: [{from: [{source: {namespaces: [a]}}]}]}`)}, want: Allow, ops: "[]"},
		{name: "wrong port", docs: []string{authz("b", `{rules: [{to: [{operation: {ports: ["9091"]}}]}]}`)}, want: Deny},
		{name: "DENY wins over ALLOW", docs: []string{authz("b", `{rules: [{}]}`), authz("b", `{action: DENY, rules: [{from: [{source: {notNamespaces: [b]}}]}]}`)}, want: Deny},
		{name: "root namespace policy applies everywhere", docs: []string{authz("istio-system", `{action: DENY, rules: [{from: [{source: {namespaces: [a]}}]}]}`)}, want: Deny},
		{name: "HTTP fields never match TCP in ALLOW", to: "b/db", docs: []string{authz("b", `{rules: [{to: [{operation: {methods: [GET]}}]}]}`)}, want: Deny},
		{name: "a rule with a condition is not assumed to match", docs: []string{authz("b", `{rules: [{when: [{key: "request.headers[x]", values: ["1"]}]}]}`)}, want: Deny},
		{name: "STRICT refuses plaintext", base: []string{ns("a", ""), ns("b", "istio-injection: enabled"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}, docs: []string{strictB}, want: Deny},
		{name: "PERMISSIVE lets plaintext reach a policy-free workload", base: []string{ns("a", ""), ns("b", "istio-injection: enabled"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}, want: Allow, ops: "[]"},
		{name: "a port-level override relaxes STRICT", base: []string{ns("a", ""), ns("b", "istio-injection: enabled"), deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http")}, docs: []string{strictB, `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: srv, namespace: b}
spec: {selector: {matchLabels: {app: srv}}, portLevelMtls: {9090: {mode: PERMISSIVE}}}`}, want: Allow, ops: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := meshed
			if tt.base != nil {
				base = tt.base
			}
			r, err := Evaluate(clusterOf(t, append(append([]string{}, base...), tt.docs...)...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			to := tt.to
			if to == "" {
				to = "b/srv"
			}
			f := flowOf(t, r, "a/cli", to)
			if f.L7 != tt.want {
				t.Errorf("L7 %s (%s), want %s", f.L7, f.L7Why, tt.want)
			}
			if tt.ops != "" && fmt.Sprint(f.Operations) != tt.ops {
				t.Errorf("operations %v, want %s", f.Operations, tt.ops)
			}
		})
	}
}
