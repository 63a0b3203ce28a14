// Package defaults holds the platform defaults that Go code needs as well as the
// templates: the loader's "may not loosen" checks, reach, verify and transform. The
// templates read them from lib/defaults.libsonnet; TestAgreesWithLib keeps the two
// copies equal, so a platform team that changes one is told to change the other.
package defaults

const (
	// HSTSMaxAgeSeconds is the Strict-Transport-Security max-age (one year).
	HSTSMaxAgeSeconds = 31536000
	// ReferrerPolicy is the Referrer-Policy of exposed apps.
	ReferrerPolicy = "strict-origin-when-cross-origin"
	// CertificateDuration is the certificates' lifetime.
	CertificateDuration = "2160h"
	// MeshRootNamespace is Istio's root namespace.
	MeshRootNamespace = "istio-system"
	// MeshTrustDomain is the mesh's SPIFFE trust domain.
	MeshTrustDomain = "cluster.local"
	// TenantReconcilerRole is the ClusterRole every team's Flux reconciler is bound to.
	TenantReconcilerRole = "rampart:tenant-reconciler"
	// TenantReconcilerServiceAccount is each team's Flux reconciler.
	TenantReconcilerServiceAccount = "flux-reconciler"
	// LabelManagedBy and ManagedBy mark every rendered object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "rampart"
	// LabelPartOf names the team that owns a rendered object.
	LabelPartOf = "app.kubernetes.io/part-of"
	// EphemeralStorageMi is the ephemeral storage, in MiB, a container gets beyond its
	// writable paths; resources.ephemeralStorage may only raise it.
	EphemeralStorageMi = 128
	// ViewerRole and DeveloperRole are the ClusterRoles people are bound to in their
	// team's namespace (lib/people.libsonnet).
	ViewerRole    = "rampart:viewer"
	DeveloperRole = "rampart:developer"
	// CloudMetadataAddress is the node's cloud metadata endpoint, which no team pod
	// may reach; CloudMetadataPolicy is the Cilium clusterwide policy denying it.
	CloudMetadataAddress = "169.254.169.254"
	CloudMetadataPolicy  = "rampart-deny-cloud-metadata"
	// TeamLabel is the label Rampart puts on every team namespace.
	TeamLabel = "rampart.dev/team"
	// QuarantineLabel is the pod label that cuts a pod off: no allow Rampart renders
	// selects a pod with it. QuarantineAnnotation marks a quarantined app's
	// Deployment with the quarantine's reason and ticket.
	QuarantineLabel      = "rampart.dev/quarantine"
	QuarantineAnnotation = "rampart.dev/quarantine"
	// AzureAuthorityHost is the Entra ID host an app with an Azure workload identity
	// exchanges its token at (lib/identity.libsonnet renders egress to it).
	AzureAuthorityHost = "login.microsoftonline.com"
)
