package verify

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// The people roles (lib/people.libsonnet): the ClusterRoles a team's groups are bound
// to inside the team's namespace.
const (
	ViewerRole    = defaults.ViewerRole
	DeveloperRole = defaults.DeveloperRole
)

// A ClusterRole bound in a namespace grants its rules in that namespace, whoever
// holds it; these are the rights no Rampart role bound for a team may hold.
var (
	// forbiddenResources are Secrets (reading one is reading every credential of the
	// team), minting service-account tokens, and the RBAC objects themselves.
	forbiddenResources = map[string]bool{
		"/secrets": true, "/serviceaccounts/token": true,
		"rbac.authorization.k8s.io/roles": true, "rbac.authorization.k8s.io/clusterroles": true,
		"rbac.authorization.k8s.io/clusterrolebindings": true,
	}
	// debugResources are exec, attach and port-forward: a shell, or a tunnel, into a pod.
	debugResources = map[string]bool{"/pods/exec": true, "/pods/attach": true, "/pods/portforward": true}
	// escalatingVerbs let the holder grant or assume more than it holds.
	escalatingVerbs = map[string]bool{"escalate": true, "bind": true, "impersonate": true, "*": true}
	// developerWrites are the writes a developer may make outside Git: restart a pod
	// (delete it) and scale a workload.
	developerWrites = map[string][]string{
		"/pods":                   {"delete"},
		"apps/deployments/scale":  {"get", "patch", "update"},
		"apps/statefulsets/scale": {"get", "patch", "update"},
	}
)

// peopleRoles finds the platform layer's people roles by name.
func peopleRoles(platform []*manifest.File) map[string]*rbacv1.ClusterRole {
	out := map[string]*rbacv1.ClusterRole{}
	for _, f := range platform {
		if f.Layer != manifest.LayerPlatform {
			continue
		}
		for _, o := range f.Objects {
			if o.GetKind() != "ClusterRole" || (o.GetName() != ViewerRole && o.GetName() != DeveloperRole) {
				continue
			}
			var role rbacv1.ClusterRole
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role) == nil {
				out[o.GetName()] = &role
			}
		}
	}
	return out
}

// checkRole judges one of the roles a tenant is bound to (the reconciler's, the
// viewer, the developer) when the platform's files are verified.
func (v *verifier) checkRole(f *manifest.File, o *unstructured.Unstructured) {
	name := o.GetName()
	if o.GetKind() != "ClusterRole" || (name != ViewerRole && name != DeveloperRole && name != TenantReconcilerRole) {
		return
	}
	var role rbacv1.ClusterRole
	if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role) != nil {
		return // the decode check reports it
	}
	bad := func(format string, args ...any) {
		v.obj(f, o, fmt.Sprintf(format, args...),
			"the roles bound in team namespaces are lib/people.libsonnet's and lib/platform.libsonnet's; change them there")
	}
	for _, r := range role.Rules {
		if len(r.NonResourceURLs) > 0 {
			bad("grants non-resource URLs %v, which mean nothing in a namespace", r.NonResourceURLs)
		}
		for _, verb := range r.Verbs {
			if escalatingVerbs[verb] {
				bad("grants %q: the holder could grant itself, or become, more than the role", verb)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				key := g + "/" + res
				switch {
				case g == "*" || res == "*" || strings.HasSuffix(res, "/*"):
					bad("grants %v on %s by wildcard; name every resource", r.Verbs, key)
				case forbiddenResources[key]:
					bad("grants %v on %s", r.Verbs, key)
				case debugResources[key] && name != DeveloperRole:
					bad("grants %v on %s: only the developer role may debug, where cluster.yaml allows it", r.Verbs, key)
				case debugResources[key] && v.opts.Production:
					bad("grants %v on %s on a production cluster: debugging is never allowed there", r.Verbs, key)
				case name == TenantReconcilerRole && g == "rbac.authorization.k8s.io":
					bad("grants %v on %s: a team's reconciler may not bind roles", r.Verbs, key)
				case name != TenantReconcilerRole && !debugResources[key]:
					for _, verb := range r.Verbs {
						if readOnlyVerbs[verb] || (name == DeveloperRole && slices.Contains(developerWrites[key], verb)) {
							continue
						}
						bad("grants %q on %s: people change their team's objects through Git", verb, key)
					}
				}
			}
		}
	}
}

// checkBinding judges a RoleBinding in a tenant file: it binds one of Rampart's own
// roles, never a built-in one (edit reads Secrets and execs into pods, and neither
// it nor view shows in the rendered output); groups get the viewer or the developer
// (on production the viewer), the reconciler's service account its own role.
func (v *verifier) checkBinding(f *manifest.File, o *unstructured.Unstructured) {
	if f.Layer != manifest.LayerTenant || o.GetKind() != "RoleBinding" {
		return
	}
	var b rbacv1.RoleBinding
	if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b) != nil {
		return // the decode check reports it
	}
	bad := func(format string, args ...any) {
		v.obj(f, o, fmt.Sprintf(format, args...),
			"a tenant binds only Rampart's roles: rampart:viewer or rampart:developer for people (lib/people.libsonnet), "+TenantReconcilerRole+" for its reconciler")
	}
	ref := b.RoleRef.Kind + "/" + b.RoleRef.Name
	if b.RoleRef.Kind != "ClusterRole" {
		bad("binds %s; only the platform layer's ClusterRoles may be bound", ref)
		return
	}
	switch b.RoleRef.Name {
	case TenantReconcilerRole:
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || s.Name != defaults.TenantReconcilerServiceAccount || s.Namespace != f.Team {
				bad("binds %s to %s %s: only the team's reconciler %s/%s holds it", ref, s.Kind, s.Name, f.Team, defaults.TenantReconcilerServiceAccount)
			}
		}
		return
	case ViewerRole, DeveloperRole:
		if v.people[b.RoleRef.Name] == nil {
			bad("binds %s, which the platform layer does not render", ref)
		}
		if b.RoleRef.Name == DeveloperRole && v.opts.Production {
			bad("binds %s on a production cluster: people get %s there", ref, ViewerRole)
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.GroupKind {
				bad("binds %s to %s %s: people roles are for the team's groups", ref, s.Kind, s.Name)
			}
		}
	default:
		bad("binds %s, which is not one of Rampart's roles", ref)
	}
}
