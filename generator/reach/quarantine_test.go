package reach

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// exampleCluster is one of the repository's example clusters and its teams.
func exampleCluster(t *testing.T, name string) (*spec.Cluster, []*spec.Team) {
	t.Helper()
	clusters, teams := examples(t)
	for _, c := range clusters {
		if c.Metadata.Name == name {
			return c, teams
		}
	}
	t.Fatalf("no example cluster %s", name)
	return nil, nil
}

// labelledPod is a running pod of a rendered Deployment with the quarantine label
// added, as `kubectl label pod … rampart.dev/quarantine=true` leaves it.
func labelledPod(t *testing.T, c *manifest.Cluster, namespace, deployment, pod string) *unstructured.Unstructured {
	t.Helper()
	for _, f := range c.Files {
		for _, o := range f.Objects {
			if o.GetKind() != "Deployment" || o.GetNamespace() != namespace || o.GetName() != deployment {
				continue
			}
			tmpl, _, _ := unstructured.NestedMap(o.Object, "spec", "template")
			p := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": tmpl["spec"]}}
			p.SetName(pod)
			p.SetNamespace(namespace)
			labels, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "labels")
			labels[defaults.QuarantineLabel] = "true"
			p.SetLabels(labels)
			return p
		}
	}
	t.Fatalf("no Deployment %s/%s in the rendered cluster", namespace, deployment)
	return nil
}

func flowsOf(r *Report, id string) (in, out []Flow) {
	for _, f := range r.Flows {
		if f.To == id && f.From != id {
			in = append(in, f)
		}
		if f.From == id && f.To != id {
			out = append(out, f)
		}
	}
	return in, out
}

func workloadOf(t *testing.T, r *Report, id string) Workload {
	t.Helper()
	for _, w := range r.Workloads {
		if w.ID() == id {
			return w
		}
	}
	t.Fatalf("no workload %s", id)
	return Workload{}
}

// TestLabelledPodIsCutOff renders the examples, adds one running pod of payments/api
// labelled rampart.dev/quarantine=true and evaluates the tree: the pod can reach
// nothing and nothing can reach it, at layer 3/4 (every allow leaves labelled pods
// out, as subject and as peer; even DNS) and at layer 7 (the namespace's
// deny-quarantined policy), while its Deployment's other pods keep serving.
func TestLabelledPodIsCutOff(t *testing.T) {
	for _, cluster := range []string{"prod-weu", "dev-weu", "stage-neu"} {
		t.Run(cluster, func(t *testing.T) {
			c, teams := exampleCluster(t, cluster)
			rendered := renderCluster(t, c, teams)
			rendered.Files = append(rendered.Files, &manifest.File{
				Path:    "kubectl/label-pod.yaml",
				Objects: []*unstructured.Unstructured{labelledPod(t, rendered, "payments", "api", "api-6d9f7c5b8-x2x7q")},
			})
			r, err := Evaluate(rendered, Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace})
			if err != nil {
				t.Fatal(err)
			}
			const pod, app = "payments/api-6d9f7c5b8-x2x7q", "payments/api"
			if q := workloadOf(t, r, pod).Quarantine; !strings.Contains(q, "rampart.dev/quarantine=true") {
				t.Errorf("the labelled pod is not reported as quarantined: %q", q)
			}
			if q := workloadOf(t, r, app).Quarantine; q != "" {
				t.Errorf("the Deployment is reported as quarantined: %q", q)
			}
			in, out := flowsOf(r, pod)
			if len(in) == 0 || len(out) == 0 {
				t.Fatalf("no flows to or from the labelled pod")
			}
			for _, f := range append(in, out...) {
				if f.L4 != Deny {
					t.Errorf("%s -> %s %s: layer 3/4 %s (%s), want deny", f.From, f.To, f.Port, f.L4, f.L4Why)
				}
				if r.Mesh && f.To == pod && f.L7 != Deny {
					t.Errorf("%s -> %s %s: layer 7 %s (%s), want deny", f.From, f.To, f.Port, f.L7, f.L7Why)
				}
			}
			for _, o := range r.Outside {
				if o.Workload == pod && o.Layer == "l4" {
					t.Errorf("the labelled pod still has an allow beyond the workloads: %+v", o)
				}
			}
			// The Deployment's other pods still serve their callers.
			appIn, _ := flowsOf(r, app)
			if !slices.ContainsFunc(appIn, func(f Flow) bool { return f.Allowed() }) {
				t.Errorf("no caller reaches payments/api any more; only the labelled pod should be cut off")
			}
			var b strings.Builder
			if err := r.Write(&b, Text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "Quarantined") || !strings.Contains(b.String(), pod) {
				t.Errorf("the text report does not show the quarantined pod:\n%s", b.String())
			}
		})
	}
}

// TestQuarantinedApp quarantines payments/api in its spec: on the Cilium and Istio
// cluster every flow to and from it is denied at both layers, its only allow
// beyond the workloads is DNS (and istiod for its sidecar), its host-name egress
// and its ingress from the ingress controller are gone, and reach names it
// quarantined with its reason.
func TestQuarantinedApp(t *testing.T) {
	for _, cluster := range []string{"prod-weu", "dev-weu", "stage-neu"} {
		t.Run(cluster, func(t *testing.T) {
			c, teams := exampleCluster(t, cluster)
			for _, tm := range teams {
				if tm.Metadata.Name == "payments" {
					tm.Spec.Apps[0].Quarantine = &spec.Quarantine{Reason: "a reverse shell from api pods", Ticket: "INC-4711"}
				}
			}
			r := evaluateCluster(t, c, teams)
			const app = "payments/api"
			if q := workloadOf(t, r, app).Quarantine; !strings.Contains(q, "a reverse shell from api pods (INC-4711)") {
				t.Errorf("payments/api is not reported as quarantined: %q", q)
			}
			in, out := flowsOf(r, app)
			for _, f := range append(in, out...) {
				if f.Allowed() {
					t.Errorf("%s -> %s %s is allowed (%s; %s)", f.From, f.To, f.Port, f.L4Why, f.L7Why)
				}
				if r.Mesh && f.To == app && f.L7 != Deny {
					t.Errorf("%s -> %s %s: layer 7 %s, want deny", f.From, f.To, f.Port, f.L7)
				}
			}
			for _, o := range r.Outside {
				if o.Workload != app || o.Layer != "l4" {
					continue
				}
				if o.Direction != Egress || !(strings.Contains(o.Policy, "/allow-dns") || strings.Contains(o.Policy, "/allow-mesh")) {
					t.Errorf("quarantined payments/api keeps an allow beyond DNS: %+v", o)
				}
			}
			// The other workloads keep their allows beyond DNS and the mesh.
			if !slices.ContainsFunc(r.Outside, func(o OutsideFlow) bool {
				return o.Workload != app && o.Layer == "l4" && !strings.Contains(o.Policy, "/allow-dns") && !strings.Contains(o.Policy, "/allow-mesh")
			}) {
				t.Errorf("the other workloads lost their allows")
			}
		})
	}
}
