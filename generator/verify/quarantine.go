package verify

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// checkQuarantine holds the promise of the quarantine label: every allow Rampart
// renders (the tenant layer's NetworkPolicies and CiliumNetworkPolicies with rules)
// selects only pods without rampart.dev/quarantine, so labelling a pod cuts it off
// at once. A policy whose selector lacks the exclusion is refused, whichever layer
// template rendered it.
func (v *verifier) checkQuarantine(f *manifest.File, o *unstructured.Unstructured) {
	if f.Layer != manifest.LayerTenant {
		return
	}
	var field string
	switch o.GroupVersionKind().GroupKind().String() {
	case "NetworkPolicy.networking.k8s.io":
		if !hasAny(o, "spec", "ingress") && !hasAny(o, "spec", "egress") {
			return // a default deny allows nothing
		}
		field = "spec.podSelector"
	case "CiliumNetworkPolicy.cilium.io":
		if !hasAny(o, "spec", "ingress") && !hasAny(o, "spec", "egress") {
			return // deny rules only
		}
		field = "spec.endpointSelector"
	default:
		return
	}
	raw, _, _ := unstructured.NestedMap(o.Object, "spec", field[len("spec."):])
	var sel metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &sel); err != nil || !excludesQuarantined(&sel) {
		v.obj(f, o, fmt.Sprintf("%s allows traffic to pods labelled %s: %s does not leave them out", manifest.Ref(o), defaults.QuarantineLabel, field),
			fmt.Sprintf("select with matchExpressions [{key: %s, operator: DoesNotExist}] (quarantine.podSelector in lib/quarantine.libsonnet)", defaults.QuarantineLabel))
	}
}

func hasAny(o *unstructured.Unstructured, fields ...string) bool {
	l, _, _ := unstructured.NestedSlice(o.Object, fields...)
	return len(l) > 0
}

// excludesQuarantined says whether a selector selects no pod with the quarantine
// label set to "true": DoesNotExist, or NotIn with "true".
func excludesQuarantined(sel *metav1.LabelSelector) bool {
	if _, ok := sel.MatchLabels[defaults.QuarantineLabel]; ok {
		return sel.MatchLabels[defaults.QuarantineLabel] != "true"
	}
	return slices.ContainsFunc(sel.MatchExpressions, func(e metav1.LabelSelectorRequirement) bool {
		return e.Key == defaults.QuarantineLabel && (e.Operator == metav1.LabelSelectorOpDoesNotExist ||
			(e.Operator == metav1.LabelSelectorOpNotIn && slices.Contains(e.Values, "true")))
	})
}
