package verify_test

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// clusterRole returns a rendered ClusterRole by name.
func clusterRole(t *testing.T, c *manifest.Cluster, name string) *unstructured.Unstructured {
	t.Helper()
	for _, f := range c.Files {
		for _, o := range f.Objects {
			if o.GetKind() == "ClusterRole" && o.GetName() == name {
				return o
			}
		}
	}
	t.Fatalf("no ClusterRole %s rendered", name)
	return nil
}

// groupBinding returns the team's first group RoleBinding.
func groupBinding(t *testing.T, c *manifest.Cluster) *unstructured.Unstructured {
	t.Helper()
	for _, f := range c.Files {
		for _, o := range f.Objects {
			if o.GetKind() == "RoleBinding" && strings.HasPrefix(o.GetName(), "group-") {
				return o
			}
		}
	}
	t.Fatal("no group RoleBinding rendered")
	return nil
}

func clusterIn(env spec.Environment, debugging bool) *spec.Cluster {
	c := testCluster()
	c.Spec.Environment = env
	c.Spec.Access.Debugging = debugging
	return c
}

// TestPeopleRoles pins what each role grants: the viewer reads and never writes,
// reads no Secret and debugs nothing; the developer also restarts pods and scales,
// and debugs only where the cluster allows it; groups are bound to the viewer on
// production and to the developer elsewhere.
func TestPeopleRoles(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cluster   *spec.Cluster
		bound     string
		debugging bool
	}{
		{"production", clusterIn(spec.Production, false), verify.ViewerRole, false},
		{"development", clusterIn(spec.Development, false), verify.DeveloperRole, false},
		{"development with debugging", clusterIn(spec.Development, true), verify.DeveloperRole, true},
		{"staging", clusterIn(spec.Staging, false), verify.DeveloperRole, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := renderOn(t, tc.cluster, testTeam())
			if err != nil {
				t.Fatal(err)
			}
			opts := verify.Options{KubernetesVersion: "1.33", Production: tc.cluster.Spec.Environment == spec.Production}
			if diags := verify.Cluster(c, opts); len(diags) > 0 {
				t.Fatalf("refused:\n%s", diags.Error())
			}
			if got, _, _ := unstructured.NestedString(groupBinding(t, c).Object, "roleRef", "name"); got != tc.bound {
				t.Errorf("groups are bound to %s, want %s", got, tc.bound)
			}
			for _, name := range []string{verify.ViewerRole, verify.DeveloperRole} {
				var writes []string
				debug := false
				for _, r := range rules(t, clusterRole(t, c, name)) {
					if r.resource == "secrets" || r.resource == "serviceaccounts/token" {
						t.Errorf("%s grants %s on %s", name, r.verbs, r.resource)
					}
					switch r.resource {
					case "pods/exec", "pods/attach", "pods/portforward":
						debug = true
						continue
					}
					if r.verbs != "get,list,watch" {
						writes = append(writes, r.group+"/"+r.resource+":"+r.verbs)
					}
				}
				wantWrites := []string(nil)
				if name == verify.DeveloperRole {
					wantWrites = []string{"/pods:delete", "apps/deployments/scale:get,patch,update", "apps/statefulsets/scale:get,patch,update"}
				}
				if !slices.Equal(writes, wantWrites) {
					t.Errorf("%s writes %v, want %v", name, writes, wantWrites)
				}
				if wantDebug := name == verify.DeveloperRole && tc.debugging; debug != wantDebug {
					t.Errorf("%s debugs: %v, want %v", name, debug, wantDebug)
				}
			}
		})
	}
}

// TestPeopleRolesAreChecked: a role or binding a template or hand could get wrong is
// refused, naming the object.
func TestPeopleRolesAreChecked(t *testing.T) {
	addRule := func(role string, rule map[string]any) func(t *testing.T, c *manifest.Cluster) {
		return func(t *testing.T, c *manifest.Cluster) {
			o := clusterRole(t, c, role)
			raw, _, _ := unstructured.NestedSlice(o.Object, "rules")
			if err := unstructured.SetNestedSlice(o.Object, append(raw, rule), "rules"); err != nil {
				t.Fatal(err)
			}
		}
	}
	bindTo := func(role string) func(t *testing.T, c *manifest.Cluster) {
		return func(t *testing.T, c *manifest.Cluster) {
			if err := unstructured.SetNestedField(groupBinding(t, c).Object, role, "roleRef", "name"); err != nil {
				t.Fatal(err)
			}
		}
	}
	rule := func(group, resource string, verbs ...any) map[string]any {
		return map[string]any{"apiGroups": []any{group}, "resources": []any{resource}, "verbs": verbs}
	}
	for _, tc := range []struct {
		name    string
		cluster *spec.Cluster
		edit    func(t *testing.T, c *manifest.Cluster)
		want    []string
	}{
		{"the viewer reads Secrets", clusterIn(spec.Production, false), addRule(verify.ViewerRole, rule("", "secrets", "get")),
			[]string{"ClusterRole/" + verify.ViewerRole, "grants [get] on /secrets"}},
		{"the developer mints tokens", clusterIn(spec.Development, false), addRule(verify.DeveloperRole, rule("", "serviceaccounts/token", "create")),
			[]string{"ClusterRole/" + verify.DeveloperRole, "serviceaccounts/token"}},
		{"the viewer execs", clusterIn(spec.Development, false), addRule(verify.ViewerRole, rule("", "pods/exec", "create")),
			[]string{"ClusterRole/" + verify.ViewerRole, "only the developer role may debug"}},
		{"the developer execs on production", clusterIn(spec.Production, false), addRule(verify.DeveloperRole, rule("", "pods/exec", "create")),
			[]string{"ClusterRole/" + verify.DeveloperRole, "on a production cluster"}},
		{"the developer edits Deployments", clusterIn(spec.Development, false), addRule(verify.DeveloperRole, rule("apps", "deployments", "patch")),
			[]string{"ClusterRole/" + verify.DeveloperRole, `grants "patch" on apps/deployments`}},
		{"the viewer has a wildcard", clusterIn(spec.Development, false), addRule(verify.ViewerRole, rule("", "*", "get")),
			[]string{"by wildcard"}},
		{"the developer may escalate", clusterIn(spec.Development, false), addRule(verify.DeveloperRole, rule("rbac.authorization.k8s.io", "rolebindings", "bind")),
			[]string{`grants "bind"`}},
		{"the reconciler binds roles", clusterIn(spec.Development, false), addRule(verify.TenantReconcilerRole, rule("rbac.authorization.k8s.io", "rolebindings", "create")),
			[]string{"ClusterRole/" + verify.TenantReconcilerRole, "may not bind roles"}},
		{"a group bound to edit", clusterIn(spec.Development, false), bindTo("edit"),
			[]string{"RoleBinding/payments/group-devs", "binds ClusterRole/edit, which is not one of Rampart's roles"}},
		{"a group bound to the reconciler's role", clusterIn(spec.Development, false), bindTo(verify.TenantReconcilerRole),
			[]string{"RoleBinding/payments/group-devs", "only the team's reconciler"}},
		{"a group bound to the developer on production", clusterIn(spec.Production, false), bindTo(verify.DeveloperRole),
			[]string{"RoleBinding/payments/group-devs", "on a production cluster: people get " + verify.ViewerRole}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := renderOn(t, tc.cluster, testTeam())
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(t, c)
			diags := verify.Cluster(c, verify.Options{KubernetesVersion: "1.33", Production: tc.cluster.Spec.Environment == spec.Production})
			if len(diags) == 0 {
				t.Fatal("accepted; want it refused")
			}
			msg := diags.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("diagnostics do not mention %q:\n%s", w, msg)
				}
			}
		})
	}
}
