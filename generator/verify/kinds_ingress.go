package verify

import "k8s.io/apimachinery/pkg/runtime/schema"

// ingressKinds are the kinds of the ingress and TLS layer (Traefik, cert-manager).
//
// They are checked against the upstream CustomResourceDefinitions' openAPIV3Schema
// rather than the upstream Go types: requiring github.com/traefik/traefik/v3 v3.7.13
// or github.com/cert-manager/cert-manager v1.21.2 moves modules Trivy v0.74.0 is
// pinned with (grpc, x/crypto, and for Traefik the AWS and Google SDKs), so neither
// module is added. The check is what the API server does for a custom resource:
// unknown fields (pruning), strict ObjectMeta, the OpenAPI schema (types, enums,
// patterns, required fields) and the CEL rules.
var ingressKinds = map[schema.GroupVersionKind]kind{
	gvk("traefik.io/v1alpha1", "IngressRoute"): crdKind(true, "ingressroutes", "traefik/kubernetes-crd-definition-v1.yml"),
	gvk("traefik.io/v1alpha1", "Middleware"):   crdKind(true, "middlewares", "traefik/kubernetes-crd-definition-v1.yml"),
	gvk("cert-manager.io/v1", "Certificate"):   crdKind(true, "certificates", "cert-manager/cert-manager.io_certificates.yaml"),
	gvk("cert-manager.io/v1", "ClusterIssuer"): crdKind(false, "clusterissuers", "cert-manager/cert-manager.io_clusterissuers.yaml"),
}
