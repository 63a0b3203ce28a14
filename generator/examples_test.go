package generator_test

import (
	"context"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator"
)

// find returns the object of that kind, namespace and name in a rendered cluster.
func find(t *testing.T, res *generator.Result, cluster, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	c, err := res.Cluster(cluster)
	if err != nil {
		t.Fatal(err)
	}
	{
		for _, f := range c.Files {
			for _, o := range f.Objects {
				if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
					return o
				}
			}
		}
	}
	t.Fatalf("%s has no %s/%s/%s", cluster, kind, ns, name)
	return nil
}

// TestHTTP01ChallengesCanBeServed: cert-manager starts its HTTP-01 solver pod in the
// Certificate's namespace, behind the namespace's default deny and, on a sidecar mesh,
// its allow-nothing policy. The render must let the challenge through.
func TestHTTP01ChallengesCanBeServed(t *testing.T) {
	res, err := generator.Generate(context.Background(), generator.Options{Dir: "..", FS: os.DirFS(".."), Mode: generator.Validate})
	if err != nil {
		t.Fatal(err)
	}
	np := find(t, res, "prod-weu", "NetworkPolicy", "payments", "allow-acme-http01-solver")
	sel, _, _ := unstructured.NestedString(np.Object, "spec", "podSelector", "matchLabels", "acme.cert-manager.io/http01-solver")
	rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	if sel != "true" || len(rules) != 1 {
		t.Fatalf("solver policy selects %q with %d rules", sel, len(rules))
	}
	rule := rules[0].(map[string]any)
	port := rule["ports"].([]any)[0].(map[string]any)["port"]
	from := rule["from"].([]any)[0].(map[string]any)
	ns, _, _ := unstructured.NestedString(from, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
	if port != int64(8089) && port != float64(8089) || ns != "traefik" {
		t.Errorf("solver policy admits %v from namespace %q; want 8089 from traefik", port, ns)
	}

	issuer := find(t, res, "prod-weu", "ClusterIssuer", "", "letsencrypt-prod")
	solvers, _, _ := unstructured.NestedSlice(issuer.Object, "spec", "acme", "solvers")
	inject, _, _ := unstructured.NestedString(solvers[0].(map[string]any), "http01", "ingress", "podTemplate", "metadata", "labels", "sidecar.istio.io/inject")
	if inject != "false" {
		t.Errorf("on a sidecar mesh the solver pod must stay out of the mesh; podTemplate label = %q", inject)
	}
	// ledger exposes nothing: no solver policy there.
	for _, wc := range res.Clusters {
		c, err := res.Cluster(wc.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range c.Files {
			for _, o := range f.Objects {
				if o.GetNamespace() == "ledger" && o.GetName() == "allow-acme-http01-solver" {
					t.Error("ledger exposes no app but got a solver policy")
				}
			}
		}
	}
}
