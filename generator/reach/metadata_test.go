package reach

import (
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// metadataOf finds a workload's verdict on the cloud metadata endpoint.
func metadataOf(t *testing.T, r *Report, workload string) AddressFlow {
	t.Helper()
	for _, a := range r.Metadata {
		if a.Workload == workload {
			return a
		}
	}
	t.Fatalf("no metadata verdict for %s in %+v", workload, r.Metadata)
	return AddressFlow{}
}

const (
	metadataDeny = `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: rampart-deny-cloud-metadata}
spec:
  endpointSelector: {matchExpressions: [{key: "k8s:io.cilium.k8s.namespace.labels.rampart.dev/team", operator: Exists}]}
  enableDefaultDeny: {egress: false, ingress: false}
  egressDeny: [{toCIDRSet: [{cidr: 169.254.169.254/32}]}]`
	egressDenyAll = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: a}
spec: {podSelector: {}, policyTypes: [Egress]}`
)

func egressTo(peers string) string {
	return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: a}
spec:
  podSelector: {matchLabels: {app: cli}}
  policyTypes: [Egress]
  egress: [{to: ` + peers + `}]`
}

// TestMetadataSemantics pins the evaluation of egress to the cloud metadata endpoint:
// ipBlock excepts, Cilium CIDR sets and entities, and the clusterwide deny, which no
// allow reopens and which selects only the team namespaces.
func TestMetadataSemantics(t *testing.T) {
	team := ns("a", `rampart.dev/team: a`)
	other := ns("a", `team: a`)
	cli := deploy("a", "cli", 8000, "http")
	tests := []struct {
		name string
		docs []string
		want Verdict
		why  string
	}{
		{"not isolated", []string{team, cli}, Allow, "not isolated"},
		{"default deny", []string{team, cli, egressDenyAll}, Deny, "no rule allows it"},
		{"anywhere", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: 0.0.0.0/0}}]`)}, Allow, "allowed by NetworkPolicy/a/out"},
		{"link-local range", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: 169.254.0.0/16}}]`)}, Allow, "allowed by NetworkPolicy/a/out"},
		{"anywhere except the endpoint", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]`)}, Deny, "no rule allows it"},
		{"except a range holding it", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.0.0/16]}}]`)}, Deny, "no rule allows it"},
		{"another range", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: 10.0.0.0/8}}]`)}, Deny, "no rule allows it"},
		{"IPv6 anywhere", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: "::/0"}}]`)}, Deny, "no rule allows it"},
		{"pods only", []string{team, cli, egressDenyAll, egressTo(`[{namespaceSelector: {}}]`)}, Deny, "no rule allows it"},
		{"a rule without peers", []string{team, cli, egressDenyAll, egressTo(`[]`)}, Allow, "allowed by NetworkPolicy/a/out"},
		{"clusterwide deny, not isolated", []string{team, cli, metadataDeny}, Deny, "denied by CiliumClusterwideNetworkPolicy/rampart-deny-cloud-metadata"},
		{"clusterwide deny beats an ipBlock allow", []string{team, cli, egressDenyAll, egressTo(`[{ipBlock: {cidr: 0.0.0.0/0}}]`), metadataDeny}, Deny, "denied by CiliumClusterwideNetworkPolicy/rampart-deny-cloud-metadata"},
		{"clusterwide deny beats a Cilium world allow", []string{team, cli, metadataDeny, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: world, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]`}, Deny, "denied by CiliumClusterwideNetworkPolicy/rampart-deny-cloud-metadata"},
		{"clusterwide deny skips a namespace without the team label", []string{other, cli, metadataDeny}, Allow, "not isolated"},
		{"Cilium CIDR set allow", []string{team, cli, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toCIDRSet: [{cidr: 169.254.0.0/16}]}]`}, Allow, "allowed by CiliumNetworkPolicy/a/out"},
		{"Cilium CIDR set except", []string{team, cli, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toCIDRSet: [{cidr: 0.0.0.0/0, except: [169.254.169.254/32]}]}]`}, Deny, "no rule allows it"},
		{"Cilium host names do not reach it", []string{team, cli, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toFQDNs: [{matchName: metadata.example.com}]}]`}, Deny, "no rule allows it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Evaluate(clusterOf(t, tc.docs...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := metadataOf(t, r, "a/cli")
			if got.L4 != tc.want || !strings.Contains(got.Why, tc.why) {
				t.Errorf("got %s (%s), want %s (%s)", got.L4, got.Why, tc.want, tc.why)
			}
		})
	}
}

// TestClusterwideDenyKeepsFlows: the metadata deny neither isolates the team pods
// nor denies a flow between workloads.
func TestClusterwideDenyKeepsFlows(t *testing.T) {
	r, err := Evaluate(clusterOf(t, ns("a", `rampart.dev/team: a`), ns("b", `rampart.dev/team: b`),
		deploy("a", "cli", 8000, "http"), deploy("b", "srv", 9090, "http"), metadataDeny), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := flowOf(t, r, "a/cli", "b/srv"); f.L4 != Allow {
		t.Errorf("a/cli → b/srv: %s (%s), want allow", f.L4, f.L4Why)
	}
}

// TestRenderedMetadataBlock: Rampart's own output keeps every team pod off the cloud
// metadata endpoint, on a Cilium cluster (the clusterwide deny, however wide the
// team's CIDR egress) and elsewhere (the except on every ipBlock that holds it), and
// egress that asks for anywhere still reaches everything else.
func TestRenderedMetadataBlock(t *testing.T) {
	clusters, _ := examples(t)
	for _, cl := range clusters {
		// (egress to 169.254.169.254/32 alone is refused by the loader.)
		for _, anywhere := range []string{"0.0.0.0/0", "169.254.0.0/16", "169.254.169.0/24"} {
			t.Run(cl.Metadata.Name+"/"+anywhere, func(t *testing.T) {
				c := *cl
				c.Spec.Egress.AllowAnywhere = true
				tm := &spec.Team{
					APIVersion: spec.APIVersion, Kind: spec.KindTeam,
					Metadata: spec.Metadata{Name: "wide"},
					Spec: spec.TeamSpec{
						Owners: []string{"wide@example.com"}, Clusters: []string{c.Metadata.Name},
						Apps: []spec.App{{
							Name: "out", Image: "registry.example.com/wide/out:1.0.0", Port: 8080,
							Resources: spec.Resources{Memory: "64Mi"},
							Egress:    []spec.Egress{{CIDR: anywhere, Ports: []spec.EgressPort{{Port: 443}, {Port: 80}}}},
						}},
					},
				}
				r, err := Evaluate(renderCluster(t, &c, []*spec.Team{tm}), Options{})
				if err != nil {
					t.Fatal(err)
				}
				got := metadataOf(t, r, "wide/out")
				if got.L4 != Deny {
					t.Fatalf("wide/out reaches the cloud metadata endpoint: %s", got.Why)
				}
				wantWhy := "no rule allows it"
				switch c.Spec.CNI {
				case spec.CNICilium:
					wantWhy = "denied by CiliumClusterwideNetworkPolicy/rampart-deny-cloud-metadata"
				case spec.CNICalico:
					wantWhy = "denied by GlobalNetworkPolicy/kube-admin.rampart-deny-cloud-metadata"
				}
				if !strings.Contains(got.Why, wantWhy) {
					t.Errorf("why %q, want %q", got.Why, wantWhy)
				}
				if anywhere != "0.0.0.0/0" {
					return
				}
				found := false
				for _, o := range r.Outside {
					found = found || (o.Workload == "wide/out" && o.Peer == "0.0.0.0/0 except 169.254.169.254/32")
				}
				if !found {
					t.Errorf("wide/out's egress to 0.0.0.0/0 does not carry the except: %+v", r.Outside)
				}
			})
		}
	}
}
