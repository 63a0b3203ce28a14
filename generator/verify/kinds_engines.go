package verify

import "k8s.io/apimachinery/pkg/runtime/schema"

// engineKinds are the kinds of the Linkerd mesh and the Calico network engine. Neither
// project's Go module is served by the module proxy at a version that has them
// (linkerd2 not at all; projectcalico/calico only at a v3.28 pseudo-version, before
// staged policies and tiers were open source), so their objects are checked against
// the upstream CRDs' schemas, copied verbatim like the judge's (crds/linkerd is
// linkerd2's rendered CRD golden, crds/calico the projectcalico.org/v3 CRDs; see the
// judge's crds/SOURCES.md).
var engineKinds = map[schema.GroupVersionKind]kind{
	gvk("policy.linkerd.io/v1beta3", "Server"):                 {true, "servers", linkerdKind},
	gvk("policy.linkerd.io/v1beta3", "HTTPRoute"):              {true, "httproutes", linkerdKind},
	gvk("policy.linkerd.io/v1alpha1", "AuthorizationPolicy"):   {true, "authorizationpolicies", linkerdKind},
	gvk("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication"): {true, "meshtlsauthentications", linkerdKind},
	gvk("policy.linkerd.io/v1alpha1", "NetworkAuthentication"): {true, "networkauthentications", linkerdKind},

	// A team's NetworkPolicies, staged, when its network enforcement is audit.
	gvk("projectcalico.org/v3", "StagedKubernetesNetworkPolicy"): crdKind(true, "stagedkubernetesnetworkpolicies", "calico/projectcalico.org_stagedkubernetesnetworkpolicies.yaml"),
	// The platform layer's baseline.
	gvk("projectcalico.org/v3", "Tier"):                crdKind(false, "tiers", "calico/projectcalico.org_tiers.yaml"),
	gvk("projectcalico.org/v3", "GlobalNetworkPolicy"): crdKind(false, "globalnetworkpolicies", "calico/projectcalico.org_globalnetworkpolicies.yaml"),
	gvk("projectcalico.org/v3", "GlobalNetworkSet"):    crdKind(false, "globalnetworksets", "calico/projectcalico.org_globalnetworksets.yaml"),
}

// linkerdKind checks a policy.linkerd.io object against linkerd2's CRDs.
func linkerdKind() any { return &schemaObject{file: "linkerd/install_crds.golden.yaml"} }
