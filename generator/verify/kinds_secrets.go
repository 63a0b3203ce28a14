package verify

import "k8s.io/apimachinery/pkg/runtime/schema"

// secretsKinds are the kinds of the identity layer (lib/identity.libsonnet): the
// Secrets Store CSI driver's SecretProviderClass, which names the vault and objects
// an app's csi volume mounts.
//
// It is checked against the upstream CRD's schema (crds/secrets-store-csi-driver,
// v1.5.3, copied from the judge's) rather than the upstream Go type: the driver's
// module (sigs.k8s.io/secrets-store-csi-driver) pins controller-runtime and
// Kubernetes versions of its own, for one kind whose schema says all we check.
var secretsKinds = map[schema.GroupVersionKind]kind{
	gvk("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): crdKind(true, "secretproviderclasses", "secrets-store-csi-driver/secrets-store.csi.x-k8s.io_secretproviderclasses.yaml"),
}
