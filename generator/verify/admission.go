package verify

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// teamException refuses a Kyverno PolicyException in a team's directory: a team
// would grant itself an exception from the cluster's admission policies. Exceptions
// come only from spec.exceptions.policies, rendered in the tenant file with an expiry
// date, a reason and the place in the spec. It reports whether it refused o.
func (v *verifier) teamException(f *manifest.File, o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	if f.Layer != manifest.LayerTeam || gvk.Kind != "PolicyException" || !slices.Contains(exceptionGroups, gvk.Group) {
		return false
	}
	v.obj(f, o, "a team may not render a policy exception: it would waive the cluster's admission policies",
		fmt.Sprintf("declare it under spec.exceptions.policies in teams/%s.yaml, with a reason and an expiry date; remove it from the chart or patch", f.Team))
	return true
}

// reconcilerManagesNoExceptions refuses a tenant reconciler role that grants anything
// on Kyverno's policy groups, or any group or resource by wildcard: the team's Flux
// reconciler could then apply a PolicyException of its own.
func (v *verifier) reconcilerManagesNoExceptions() {
	if v.role == nil || !slices.Contains(v.files, v.roleFile) {
		return
	}
	for _, r := range v.role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if slices.Contains(exceptionGroups, g) || g == "*" || res == "*" {
					v.add(diag.Diagnostic{File: v.roleFile.Path, Object: "ClusterRole/" + TenantReconcilerRole,
						Message: fmt.Sprintf("grants %v on %s/%s: a team's reconciler could apply its own policy exceptions", r.Verbs, g, res),
						Hint:    "PolicyExceptions come only from spec.exceptions.policies, in the tenant file; grant the team's kinds by name in lib/platform.libsonnet's tenantRules"})
				}
			}
		}
	}
}
