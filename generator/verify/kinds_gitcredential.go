package verify

import "k8s.io/apimachinery/pkg/runtime/schema"

// gitCredentialKinds are the kinds of the platform's Git credential distribution
// (lib/gitcredential.libsonnet): Kyverno's GeneratingPolicy.
//
// It is checked against the upstream CRD's schema (crds/kyverno, Kyverno v1.19.1,
// copied from the judge's) rather than the upstream Go type, like the ingress kinds:
// Kyverno's types live in github.com/kyverno/api, published only as a pre-release
// pseudo-version (v0.0.1-alpha.3.0.20260723090831-fb2785727f98 for v1.19.1) that
// brings github.com/aptible/supercronic along, for one kind the CRD's schema and CEL
// rules judge exactly as the API server will.
var gitCredentialKinds = map[schema.GroupVersionKind]kind{
	gvk("policies.kyverno.io/v1", "GeneratingPolicy"): crdKind(false, "generatingpolicies", "kyverno/policies.kyverno.io_generatingpolicies.yaml"),
}
