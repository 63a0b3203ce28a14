package verify

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// healthReads are what Flux's health checks read to judge an object of each kind,
// beyond the object itself. A tenant Kustomization waits (`wait: true`), so
// kustomize-controller polls every object it applied with kstatus, impersonating the
// team's reconciler; kstatus lists what stands behind a workload
// (github.com/fluxcd/cli-utils v1.2.3, as kustomize-controller v1.9.6 builds it: the
// caching cluster reader's genGroupKinds and the Deployment, ReplicaSet and
// StatefulSet status readers). Every other kind, Flux's own Job reader included, is
// judged from the object alone. lib/platform.libsonnet holds the same table and
// derives the reconciler role's read rules from it.
var healthReads = map[schema.GroupKind][]schema.GroupResource{
	{Group: "apps", Kind: "Deployment"}:  {{Group: "apps", Resource: "replicasets"}, {Resource: "pods"}},
	{Group: "apps", Kind: "ReplicaSet"}:  {{Resource: "pods"}},
	{Group: "apps", Kind: "StatefulSet"}: {{Resource: "pods"}},
}

// healthVerbs are what the caching cluster reader needs on each health read: it
// lists, and the controller's clients get and watch.
var healthVerbs = []string{"get", "list", "watch"}

// readOnlyVerbs are the verbs of a rule that only reads.
var readOnlyVerbs = map[string]bool{"get": true, "list": true, "watch": true}

// healthChecks checks the tenant reconciler role against Flux's health checks: every
// kind rendered in a team directory has its health reads granted (get, list, watch),
// or the team's Kustomization never becomes Ready (its health check is Forbidden);
// and the role's read-only rules grant nothing no managed kind's health check reads.
func (v *verifier) healthChecks() {
	file, role := v.roleFile, v.role
	if role == nil {
		// isolation already refuses every team object: nothing is granted.
		return
	}
	granted, readOnly := roleVerbs(role)

	reported := map[schema.GroupKind]bool{}
	for _, f := range v.files {
		if f.Layer != manifest.LayerTeam {
			continue
		}
		for _, o := range f.Objects {
			gk := o.GroupVersionKind().GroupKind()
			if reported[gk] {
				continue
			}
			reported[gk] = true
			for _, read := range healthReads[gk] {
				if missing := missingVerbs(granted[read]); len(missing) > 0 {
					v.obj(f, o, fmt.Sprintf("Flux's health check of a %s reads %s, and ClusterRole %s does not grant %s on it; the team's Kustomization would never become Ready",
						gk.Kind, read, TenantReconcilerRole, strings.Join(missing, ", ")),
						"lib/platform.libsonnet grants the health reads of every kind in tenantRules (healthReads); grant the kind there")
				}
			}
		}
	}

	if !slices.Contains(v.files, file) {
		return // the role itself is judged with the platform's files
	}
	needed := map[schema.GroupResource]bool{}
	for _, gk := range managedKinds(granted) {
		for _, read := range healthReads[gk] {
			needed[read] = true
		}
	}
	for _, gr := range slices.SortedFunc(maps.Keys(readOnly), compareGroupResource) {
		if !needed[gr] {
			v.add(diag.Diagnostic{File: file.Path, Object: "ClusterRole/" + TenantReconcilerRole,
				Message: fmt.Sprintf("grants %s read-only, which no health check of a kind the reconciler manages reads", gr),
				Hint:    "a tenant reconciler reads only what Flux's health checks need (lib/platform.libsonnet healthReads)"})
		}
	}
}

// tenantRole finds the platform layer's tenant reconciler ClusterRole.
func tenantRole(platform []*manifest.File) (*manifest.File, *rbacv1.ClusterRole) {
	for _, f := range platform {
		if f.Layer != manifest.LayerPlatform {
			continue
		}
		for _, o := range f.Objects {
			if o.GetKind() != "ClusterRole" || o.GetName() != TenantReconcilerRole {
				continue
			}
			var role rbacv1.ClusterRole
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role) != nil {
				// The decode check reports it.
				return nil, nil
			}
			return f, &role
		}
	}
	return nil, nil
}

// roleVerbs gives the verbs a role grants on each resource (rules narrowed to
// resource names grant nothing a list needs, so they are left out), and the
// resources that only rules of read-only verbs name.
func roleVerbs(role *rbacv1.ClusterRole) (granted map[schema.GroupResource]map[string]bool, readOnly map[schema.GroupResource]bool) {
	granted = map[schema.GroupResource]map[string]bool{}
	writes := map[schema.GroupResource]bool{}
	readOnly = map[schema.GroupResource]bool{}
	for _, r := range role.Rules {
		if len(r.ResourceNames) > 0 {
			continue
		}
		reads := !slices.ContainsFunc(r.Verbs, func(verb string) bool { return !readOnlyVerbs[verb] })
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				gr := schema.GroupResource{Group: g, Resource: res}
				if granted[gr] == nil {
					granted[gr] = map[string]bool{}
				}
				for _, verb := range r.Verbs {
					granted[gr][verb] = true
				}
				if reads {
					readOnly[gr] = true
				} else {
					writes[gr] = true
				}
			}
		}
	}
	for gr := range writes {
		delete(readOnly, gr)
	}
	return granted, readOnly
}

// managedKinds are the kinds whose resources the role grants more than reads on.
func managedKinds(granted map[schema.GroupResource]map[string]bool) []schema.GroupKind {
	var out []schema.GroupKind
	for g, k := range kinds {
		verbs := granted[schema.GroupResource{Group: g.Group, Resource: k.resource}]
		if slices.ContainsFunc(slices.Collect(maps.Keys(verbs)), func(verb string) bool { return !readOnlyVerbs[verb] }) {
			out = append(out, g.GroupKind())
		}
	}
	return out
}

func missingVerbs(have map[string]bool) []string {
	var out []string
	for _, verb := range healthVerbs {
		if !have[verb] && !have["*"] {
			out = append(out, verb)
		}
	}
	return out
}

func compareGroupResource(a, b schema.GroupResource) int {
	if c := strings.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	return strings.Compare(a.Resource, b.Resource)
}
