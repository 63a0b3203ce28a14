package verify_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	fluxapi "github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/evaluate"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/rampart-gitops/rampart/generator/transform"
	"github.com/rampart-gitops/rampart/generator/verify"
)

func int32p(i int32) *int32 { return &i }

func testCluster() *spec.Cluster {
	return &spec.Cluster{
		APIVersion: spec.APIVersion, Kind: spec.KindCluster,
		Metadata: spec.Metadata{Name: "dev"},
		Spec: spec.ClusterSpec{
			Environment: spec.Development, KubernetesVersion: "1.33", CNI: spec.CNICalico,
			DNS:  spec.DNS{Namespace: "kube-system", PodLabels: map[string]string{"k8s-app": "kube-dns"}},
			Flux: spec.Flux{Repository: spec.GitRepository{URL: "ssh://git@example.com/gitops.git"}},
			Ingress: spec.Ingress{Namespace: "traefik", PodLabels: map[string]string{"app": "traefik"}, Domains: []string{"dev.example.com"},
				RateLimit: spec.RateLimit{Average: 10, Burst: 20}},
			TLS: spec.TLS{Issuer: spec.Issuer{Name: "le", Server: "https://acme.example.com", Email: "a@example.com", Solver: "http01"}},
		},
	}
}

func testTeam(patches ...string) *spec.Team {
	t := &spec.Team{
		APIVersion: spec.APIVersion, Kind: spec.KindTeam,
		Metadata: spec.Metadata{Name: "payments"},
		Spec: spec.TeamSpec{
			Owners: []string{"a@example.com"}, Clusters: []string{"dev"},
			Groups: []spec.Group{{Name: "devs", ID: "1234"}},
			Apps: []spec.App{{
				Name: "api", Image: "registry.example.com/payments/api:1.0.0", Port: 8080, Replicas: int32p(2),
				Resources: spec.Resources{Memory: "128Mi"}, WritablePaths: []string{"/tmp"},
			}},
		},
	}
	for _, p := range patches {
		t.Spec.Patches = append(t.Spec.Patches, fluxapi.Patch{Patch: p, Target: &fluxapi.Selector{Kind: "Deployment", Name: "api"}})
	}
	return t
}

// render runs the real templates in lib/ and the transform stage, as Generate does.
func render(t *testing.T, team *spec.Team) (*manifest.Cluster, error) {
	t.Helper()
	return renderOn(t, testCluster(), team)
}

// renderOn renders a team on a given cluster.
func renderOn(t *testing.T, cluster *spec.Cluster, team *spec.Team) (*manifest.Cluster, error) {
	t.Helper()
	ev := evaluate.New(os.DirFS("../../lib"), "lib")
	cj, _ := json.Marshal(cluster)
	tj, _ := json.Marshal(team)
	platform, err := ev.Platform(evaluate.ParseArg("cluster", cj), []string{team.Metadata.Name})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ev.Team(evaluate.ParseArg("cluster", cj), evaluate.ParseArg("team", tj), evaluate.ParseArg("x", json.RawMessage(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	tt := &transform.Team{Name: team.Metadata.Name, Tenant: out.Tenant, Files: out.Files, Patches: team.Spec.Patches, Images: team.Spec.Images}
	if err := transform.Customize(tt); err != nil {
		return nil, err
	}
	name := cluster.Metadata.Name
	c := &manifest.Cluster{Name: name, Files: append(transform.ClusterFiles(name, platform.Files, []string{tt.Name}), transform.TeamFiles(name, tt)...)}
	c.Sort()
	return c, nil
}

func TestRenderedTeamPassesEveryCheck(t *testing.T) {
	c, err := render(t, testTeam())
	if err != nil {
		t.Fatal(err)
	}
	if diags := verify.Cluster(c, verify.Options{KubernetesVersion: "1.33"}); len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
}

func TestHostileInputIsRefused(t *testing.T) {
	tests := []struct {
		name    string
		patches []string
		target  *fluxapi.Selector
		mutate  func(c *manifest.Cluster)
		want    []string
	}{
		{
			name:    "patch re-enables privilege",
			patches: []string{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          securityContext:\n            privileged: true\n            allowPrivilegeEscalation: true\n"},
			want:    []string{"Deployment/payments/api", `violates Pod Security "restricted"`, "privileged"},
		},
		{
			name:    "patch adds a hostPath volume and host network",
			patches: []string{`[{"op":"add","path":"/spec/template/spec/hostNetwork","value":true},{"op":"add","path":"/spec/template/spec/volumes/-","value":{"name":"host","hostPath":{"path":"/"}}}]`},
			want:    []string{"Deployment/payments/api", "hostPath", "host namespaces"},
		},
		{
			name:    "patch moves the app to another namespace",
			patches: []string{`[{"op":"replace","path":"/metadata/namespace","value":"kube-system"}]`},
			// Refused already while applying the patch: the object's identity changed.
			want: []string{"Deployment/kube-system/api", "may change objects but not add, rename or move them"},
		},
		{
			name: "an allow forgets to leave quarantined pods out",
			mutate: func(c *manifest.Cluster) {
				for _, f := range c.Files {
					if f.Path != "clusters/dev/tenants/payments.yaml" {
						continue
					}
					for _, o := range f.Objects {
						if o.GetKind() == "NetworkPolicy" && o.GetName() == "allow-dns" {
							_ = unstructured.SetNestedMap(o.Object, map[string]any{}, "spec", "podSelector")
						}
					}
				}
			},
			want: []string{"NetworkPolicy/payments/allow-dns", "allows traffic to pods labelled rampart.dev/quarantine", "DoesNotExist"},
		},
		{
			name: "a team file holds a cluster-scoped object",
			mutate: func(c *manifest.Cluster) {
				for _, f := range c.Files {
					if f.Path == "clusters/dev/teams/payments/api.yaml" {
						f.Objects = append(f.Objects, &unstructured.Unstructured{Object: map[string]any{
							"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
							"metadata": map[string]any{"name": "pwn"},
							"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
						}})
					}
				}
			},
			want: []string{"ClusterRoleBinding/pwn", "may not contain cluster-scoped objects"},
		},
		{
			name: "a team file holds a kind its reconciler is not granted",
			mutate: func(c *manifest.Cluster) {
				for _, f := range c.Files {
					if f.Path == "clusters/dev/teams/payments/api.yaml" {
						f.Objects = append(f.Objects, &unstructured.Unstructured{Object: map[string]any{
							"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
							"metadata": map[string]any{"name": "sneaky", "namespace": "payments"},
							"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
						}})
					}
				}
			},
			want: []string{"RoleBinding/payments/sneaky", "may not manage rolebindings"},
		},
		{
			name: "a team file holds a policy exception",
			mutate: func(c *manifest.Cluster) {
				for _, f := range c.Files {
					if f.Path == "clusters/dev/teams/payments/api.yaml" {
						f.Objects = append(f.Objects, &unstructured.Unstructured{Object: map[string]any{
							"apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException",
							"metadata": map[string]any{"name": "all", "namespace": "payments"},
							"spec": map[string]any{
								"policyRefs":      []any{map[string]any{"name": "rampart-pod-security", "kind": "ValidatingPolicy"}},
								"matchConditions": []any{map[string]any{"name": "all", "expression": "true"}},
							},
						}})
					}
				}
			},
			want: []string{"PolicyException/payments/all", "a team may not render a policy exception", "spec.exceptions.policies in teams/payments.yaml"},
		},
		{
			name: "the tenant reconciler may manage policy exceptions",
			mutate: func(c *manifest.Cluster) {
				for _, f := range c.Files {
					for _, o := range f.Objects {
						if o.GetKind() == "ClusterRole" && o.GetName() == verify.TenantReconcilerRole {
							rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
							rules = append(rules, map[string]any{
								"apiGroups": []any{"policies.kyverno.io"}, "resources": []any{"policyexceptions"},
								"verbs": []any{"create", "get", "list", "patch", "update", "watch"},
							})
							_ = unstructured.SetNestedSlice(o.Object, rules, "rules")
						}
					}
				}
			},
			want: []string{"ClusterRole/" + verify.TenantReconcilerRole, "policies.kyverno.io/policyexceptions", "could apply its own policy exceptions"},
		},
		{
			name:    "patch loosens an exposed app's route",
			patches: []string{`[{"op":"replace","path":"/spec/routes/0/middlewares","value":[]}]`},
			target:  &fluxapi.Selector{Kind: "IngressRoute", Name: "api"},
			want:    []string{"IngressRoute/payments/api", "may not change traefik.io objects"},
		},
		{
			name:    "unknown field in a rendered object",
			patches: []string{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicaz: 3\n"},
			want:    []string{"Deployment/payments/api", "does not decode", "replicaz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msg string
			team := testTeam(tt.patches...)
			if tt.target != nil {
				team.Spec.Apps[0].Expose = &spec.Expose{Hosts: []string{"pay"}}
				for i := range team.Spec.Patches {
					team.Spec.Patches[i].Target = tt.target
				}
			}
			c, err := render(t, team)
			if err != nil {
				msg = err.Error()
			} else {
				if tt.mutate != nil {
					tt.mutate(c)
				}
				diags := verify.Cluster(c, verify.Options{KubernetesVersion: "1.33"})
				if len(diags) == 0 {
					t.Fatal("accepted; want it refused")
				}
				msg = diags.Error()
				// Through a memo, the first time and from its verdicts, the
				// same is refused.
				memo := verify.NewMemo()
				for range 2 {
					memoized := verifySealed(t, c, verify.Options{KubernetesVersion: "1.33", Memo: memo})
					for _, w := range tt.want {
						if !strings.Contains(memoized.Error(), w) {
							t.Errorf("through the memo, diagnostics do not mention %q:\n%s", w, memoized.Error())
						}
					}
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("diagnostics do not mention %q:\n%s", w, msg)
				}
			}
		})
	}
}
