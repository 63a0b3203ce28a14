package verify_test

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// tenantRole returns the rendered tenant reconciler ClusterRole.
func tenantRole(t *testing.T, c *manifest.Cluster) *unstructured.Unstructured {
	t.Helper()
	for _, f := range c.Files {
		for _, o := range f.Objects {
			if o.GetKind() == "ClusterRole" && o.GetName() == verify.TenantReconcilerRole {
				return o
			}
		}
	}
	t.Fatalf("no ClusterRole %s rendered", verify.TenantReconcilerRole)
	return nil
}

// rule is one rendered RBAC rule, as the tests compare them.
type rule struct {
	group, resource string
	verbs           string
}

func rules(t *testing.T, role *unstructured.Unstructured) []rule {
	t.Helper()
	raw, _, err := unstructured.NestedSlice(role.Object, "rules")
	if err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, r := range raw {
		m := r.(map[string]any)
		var verbs []string
		for _, v := range m["verbs"].([]any) {
			verbs = append(verbs, v.(string))
		}
		for _, g := range m["apiGroups"].([]any) {
			for _, res := range m["resources"].([]any) {
				out = append(out, rule{g.(string), res.(string), strings.Join(verbs, ",")})
			}
		}
	}
	return out
}

// TestTenantRoleGrantsExactlyTheHealthReads pins what the platform layer derives from
// the managed kinds: a Deployment's health check reads ReplicaSets and Pods, and the
// reconciler may read nothing else it does not manage.
func TestTenantRoleGrantsExactlyTheHealthReads(t *testing.T) {
	c, err := render(t, testTeam())
	if err != nil {
		t.Fatal(err)
	}
	var readOnly []rule
	for _, r := range rules(t, tenantRole(t, c)) {
		if !strings.Contains(r.verbs, "create") {
			readOnly = append(readOnly, r)
		}
	}
	want := []rule{
		{"", "pods", "get,list,watch"},
		{"apps", "replicasets", "get,list,watch"},
	}
	if !slices.Equal(readOnly, want) {
		t.Errorf("read-only rules of %s = %v, want %v", verify.TenantReconcilerRole, readOnly, want)
	}
}

func TestHealthReadsAreChecked(t *testing.T) {
	tests := []struct {
		name string
		// edit changes the role's rules.
		edit func(rules []any) []any
		want []string
	}{
		{
			name: "the role lacks the Deployment's ReplicaSets",
			edit: func(rules []any) []any {
				return slices.DeleteFunc(rules, func(r any) bool {
					return slices.Contains(r.(map[string]any)["resources"].([]any), any("replicasets"))
				})
			},
			want: []string{"Deployment/payments/api", "reads replicasets.apps", "does not grant get, list, watch"},
		},
		{
			name: "the role may get Pods but not list or watch them",
			edit: func(rules []any) []any {
				for _, r := range rules {
					m := r.(map[string]any)
					if slices.Contains(m["resources"].([]any), any("pods")) {
						m["verbs"] = []any{"get"}
					}
				}
				return rules
			},
			want: []string{"Deployment/payments/api", "reads pods", "does not grant list, watch"},
		},
		{
			name: "the role reads Secrets, which no health check needs",
			edit: func(rules []any) []any {
				return append(rules, map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get", "list", "watch"}})
			},
			want: []string{"ClusterRole/" + verify.TenantReconcilerRole, "grants secrets read-only, which no health check"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := render(t, testTeam())
			if err != nil {
				t.Fatal(err)
			}
			role := tenantRole(t, c)
			raw, _, err := unstructured.NestedSlice(role.Object, "rules")
			if err != nil {
				t.Fatal(err)
			}
			if err := unstructured.SetNestedSlice(role.Object, tt.edit(raw), "rules"); err != nil {
				t.Fatal(err)
			}
			diags := verify.Cluster(c, verify.Options{KubernetesVersion: "1.33"})
			if len(diags) == 0 {
				t.Fatal("accepted; want it refused")
			}
			msg := diags.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("diagnostics do not mention %q:\n%s", w, msg)
				}
			}
		})
	}
}
