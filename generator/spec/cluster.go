package spec

// Cluster is the platform team's inventory of one cluster, read from
// clusters/<cluster>/cluster.yaml. Everything else in that directory is rendered.
type Cluster struct {
	// APIVersion must be rampart.dev/v1alpha1.
	APIVersion string `json:"apiVersion" jsonschema:"enum=rampart.dev/v1alpha1"`
	// Kind must be Cluster.
	Kind string `json:"kind" jsonschema:"enum=Cluster"`
	// Metadata names the cluster; the name must match the directory name.
	Metadata Metadata `json:"metadata"`
	// Spec describes the cluster's platform.
	Spec ClusterSpec `json:"spec"`
}

// Environment is what a cluster is for; it sets how strict the defaults are.
type Environment string

// Environments.
const (
	Production  Environment = "production"
	Staging     Environment = "staging"
	Development Environment = "development"
)

// CNI is the cluster's network plugin.
type CNI string

// CNIs. Only Cilium enforces host-name (FQDN) egress.
const (
	CNICilium CNI = "cilium"
	CNICalico CNI = "calico"
	CNIOther  CNI = "other"
)

// MeshType is the cluster's service mesh.
type MeshType string

// Mesh types.
const (
	MeshNone  MeshType = "none"
	MeshIstio MeshType = "istio"
	// MeshLinkerd renders Linkerd's policy.linkerd.io resources (lib/linkerd.libsonnet)
	// from the same calls and consent that drive Istio's.
	MeshLinkerd MeshType = "linkerd"
)

// MeshMode is how workloads join the mesh.
type MeshMode string

// Mesh modes.
const (
	MeshSidecar MeshMode = "sidecar"
	MeshAmbient MeshMode = "ambient"
)

// PolicyMode is how admission policies act on violations.
type PolicyMode string

// Policy modes (Kyverno's validationFailureAction values).
const (
	PolicyAudit   PolicyMode = "Audit"
	PolicyEnforce PolicyMode = "Enforce"
)

// ClusterSpec is what the platform declares about a cluster.
type ClusterSpec struct {
	// Environment is production, staging or development. Production gets read-only
	// access for people, enforced admission policies and a stricter scan threshold.
	Environment Environment `json:"environment" jsonschema:"enum=production,enum=staging,enum=development"`
	// KubernetesVersion is the cluster's minor version, e.g. "1.33".
	KubernetesVersion string `json:"kubernetesVersion" jsonschema:"pattern=^1\\.[0-9]+$"`
	// CNI is the network plugin: cilium enables host-name egress policies.
	CNI CNI `json:"cni" jsonschema:"enum=cilium,enum=calico,enum=other"`
	// DNS locates the cluster DNS pods, for the DNS egress rule.
	DNS DNS `json:"dns"`
	// Flux says how Flux syncs this cluster's directory.
	Flux Flux `json:"flux"`
	// Mesh is the service mesh, if any.
	Mesh Mesh `json:"mesh,omitzero"`
	// Ingress is the cluster's ingress controller (Traefik).
	Ingress Ingress `json:"ingress"`
	// TLS is how certificates are issued.
	TLS TLS `json:"tls"`
	// Policy is the admission policy configuration.
	Policy Policy `json:"policy,omitzero"`
	// Scan is the supply-chain gate for this cluster.
	Scan Scan `json:"scan,omitzero"`
	// Egress is what the platform allows teams to reach outside the cluster.
	Egress EgressPolicy `json:"egress,omitzero"`
	// Access is what the teams' people may do in their namespaces beyond the defaults.
	Access Access `json:"access,omitzero"`
	// Runtime is runtime detection with Falco: the rules Rampart renders for every
	// team and app on the cluster.
	Runtime Runtime `json:"runtime,omitzero"`
	// Enforcement is the default of the teams' enforcement on this cluster: enforce
	// (the default) or audit. A team's spec.enforcement overrides it.
	Enforcement Enforcement `json:"enforcement,omitempty" jsonschema:"enum=audit,enum=enforce"`
	// Calico is the Calico baseline on clusters with cni calico.
	Calico Calico `json:"calico,omitzero"`
}

// Calico is the platform's cluster-wide baseline on a Calico cluster (Calico 3.30 or
// later), rendered as projectcalico.org/v3 GlobalNetworkPolicies in the platform layer
// (lib/calico.libsonnet).
type Calico struct {
	// DenyEgressCIDRs are destinations no team pod may reach whatever its own policies
	// allow (shared egress denies, e.g. the on-premises management ranges), beside the
	// cloud metadata endpoint, which is always denied. They go into one
	// GlobalNetworkSet, so a long list is one object and one selector.
	DenyEgressCIDRs []string `json:"denyEgressCIDRs,omitempty"`
	// Order is the order of Rampart's first GlobalNetworkPolicy in Calico's built-in
	// kube-admin tier (default 100; the next is order+1): lower runs first, among the
	// tier's other policies (AdminNetworkPolicies, at their priority). The tier runs
	// before the default tier's Kubernetes NetworkPolicies, so the baseline decides
	// before any team's policy.
	Order *float64 `json:"order,omitempty" jsonschema:"minimum=0,maximum=999"`
}

// Access widens what people may do on a cluster. Rampart binds each team's groups to
// rampart:viewer on production and to rampart:developer elsewhere (lib/people.libsonnet).
type Access struct {
	// Debugging lets the developer role exec into, attach to and port-forward to the
	// team's pods (pods/exec, pods/attach, pods/portforward). Never on production.
	Debugging bool `json:"debugging,omitempty"`
}

// Priority is a Falco rule priority, as Falco's rule schema spells it.
type Priority string

// Falco priorities, from the most to the least severe.
const (
	PriorityEmergency Priority = "EMERGENCY"
	PriorityAlert     Priority = "ALERT"
	PriorityCritical  Priority = "CRITICAL"
	PriorityError     Priority = "ERROR"
	PriorityWarning   Priority = "WARNING"
	PriorityNotice    Priority = "NOTICE"
	PriorityInfo      Priority = "INFORMATIONAL"
	PriorityDebug     Priority = "DEBUG"
)

// Runtime configures Falco runtime detection. Rampart renders each team's rules
// into ConfigMaps in Falco's namespace, which the Falco chart mounts at
// /etc/falco/rules.d (the README gives the chart values); a cluster without
// runtime.enabled renders none.
type Runtime struct {
	// Enabled renders Falco rules for every team and app on the cluster.
	Enabled bool `json:"enabled"`
	// Namespace is Falco's namespace, where the rules' ConfigMaps go (default falco).
	Namespace string `json:"namespace,omitempty"`
	// ConfigMap is the name prefix of the rules' ConfigMaps: <configMap>-0 up to
	// <configMap>-<shards-1> (default rampart-falco-rules).
	ConfigMap string `json:"configMap,omitempty"`
	// Shards is how many ConfigMaps the teams' rules are spread over, each team
	// always in the same one (by a hash of its name); raise it when the render says
	// a shard would exceed the API server's 1 MiB limit (default 1).
	Shards int `json:"shards,omitempty" jsonschema:"minimum=1,maximum=256"`
	// MinimumPriority is the lowest priority a Rampart rule has on the cluster: a rule
	// of a lower priority of its own is raised to it. The chart's falco.priority
	// (the least Falco loads) must be at or below it (default: CRITICAL on
	// production, WARNING on staging, NOTICE on development).
	MinimumPriority Priority `json:"minimumPriority,omitempty" jsonschema:"enum=EMERGENCY,enum=ALERT,enum=CRITICAL,enum=ERROR,enum=WARNING,enum=NOTICE,enum=INFORMATIONAL,enum=DEBUG"`
}

// DNS locates the cluster DNS pods.
type DNS struct {
	// Namespace is where the DNS pods run (e.g. kube-system).
	Namespace string `json:"namespace"`
	// PodLabels select the DNS pods (e.g. k8s-app: kube-dns).
	PodLabels map[string]string `json:"podLabels" jsonschema:"minProperties=1"`
}

// Flux says how Flux reconciles the cluster. Tenants work under Flux's multi-tenancy
// lockdown (--no-cross-namespace-refs=true, --default-service-account).
type Flux struct {
	// Namespace is Flux's own namespace (default flux-system).
	Namespace string `json:"namespace,omitempty"`
	// RootKustomization is the name of the Flux Kustomization that applies this
	// cluster's directory (the platform layer); team Kustomizations depend on it
	// (default flux-system).
	RootKustomization string `json:"rootKustomization,omitempty"`
	// Repository is the Git repository holding the rendered output. Each tenant gets its
	// own GitRepository for it in its own namespace.
	Repository GitRepository `json:"repository"`
	// Interval is how often tenants reconcile (default 10m).
	Interval string `json:"interval,omitempty"`
}

// GitRepository is where Flux fetches the rendered output.
type GitRepository struct {
	// URL is the repository's URL (https:// or ssh://).
	URL string `json:"url" jsonschema:"pattern=^(https|ssh)://"`
	// Branch is the branch to follow (default main).
	Branch string `json:"branch,omitempty"`
	// SecretName is the Secret with the Git credentials, provisioned by the platform in
	// every tenant namespace.
	SecretName string `json:"secretName,omitempty"`
}

// Mesh is the cluster's service mesh.
type Mesh struct {
	// Type is none, istio or linkerd.
	Type MeshType `json:"type" jsonschema:"enum=none,enum=istio,enum=linkerd"`
	// Mode is sidecar or ambient (default sidecar).
	Mode MeshMode `json:"mode,omitempty" jsonschema:"enum=sidecar,enum=ambient"`
	// TrustDomain is the SPIFFE trust domain (default cluster.local); on Linkerd, the
	// identity trust domain that ends every proxy's identity.
	TrustDomain string `json:"trustDomain,omitempty"`
	// RootNamespace is the mesh's root namespace (default istio-system); on Linkerd,
	// the control plane's namespace (default linkerd).
	RootNamespace string `json:"rootNamespace,omitempty"`
	// Revision is the istio.io/rev label for sidecar injection (default: use istio-injection=enabled).
	Revision string `json:"revision,omitempty"`
	// IngressGateway is the identity of the mesh's ingress gateway, if any.
	IngressGateway *Workload `json:"ingressGateway,omitempty"`
}

// Workload names a platform workload by namespace, pod labels and service account.
type Workload struct {
	// Namespace is the workload's namespace.
	Namespace string `json:"namespace"`
	// PodLabels select its pods.
	PodLabels map[string]string `json:"podLabels,omitempty"`
	// ServiceAccount is its service account.
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// Ingress is the cluster's Traefik.
type Ingress struct {
	// Namespace is where Traefik runs.
	Namespace string `json:"namespace"`
	// PodLabels select Traefik's pods, for the NetworkPolicy that admits them.
	PodLabels map[string]string `json:"podLabels" jsonschema:"minProperties=1"`
	// EntryPoints are Traefik's entry point names (defaults web and websecure).
	EntryPoints EntryPoints `json:"entryPoints,omitzero"`
	// Domains are the DNS suffixes teams may use for hosts on this cluster.
	Domains []string `json:"domains" jsonschema:"minItems=1"`
	// AllowWildcardHosts lets teams claim wildcard hosts (*.example.com).
	AllowWildcardHosts bool `json:"allowWildcardHosts,omitempty"`
	// SourceRanges restrict the sources of every exposed app on the cluster (CIDRs).
	SourceRanges []string `json:"sourceRanges,omitempty"`
	// RateLimit is the default rate limit for exposed apps.
	RateLimit RateLimit `json:"rateLimit"`
	// Headers are the default security headers; teams may tighten them.
	Headers DefaultHeaders `json:"headers,omitzero"`
}

// EntryPoints name Traefik's HTTP and HTTPS entry points.
type EntryPoints struct {
	// Web is the plain-HTTP entry point, which only redirects (default web).
	Web string `json:"web,omitempty"`
	// WebSecure is the HTTPS entry point (default websecure).
	WebSecure string `json:"websecure,omitempty"`
}

// DefaultHeaders are the cluster's default security headers.
type DefaultHeaders struct {
	// HSTSMaxAgeSeconds is the Strict-Transport-Security max-age (default 31536000).
	HSTSMaxAgeSeconds int64 `json:"hstsMaxAgeSeconds,omitempty"`
	// ReferrerPolicy is the default Referrer-Policy (default strict-origin-when-cross-origin).
	ReferrerPolicy string `json:"referrerPolicy,omitempty"`
	// ContentSecurityPolicy is the default Content-Security-Policy, if any.
	ContentSecurityPolicy string `json:"contentSecurityPolicy,omitempty"`
}

// TLS is how the cluster issues certificates with cert-manager.
type TLS struct {
	// Issuer is the cluster's ClusterIssuer.
	Issuer Issuer `json:"issuer"`
	// Duration is the certificates' lifetime (default 2160h).
	Duration string `json:"duration,omitempty"`
	// RenewBefore is when to renew before expiry (default 720h).
	RenewBefore string `json:"renewBefore,omitempty"`
}

// Issuer is an ACME ClusterIssuer.
type Issuer struct {
	// Name is the ClusterIssuer's name.
	Name string `json:"name"`
	// Server is the ACME directory URL.
	Server string `json:"server" jsonschema:"pattern=^https://"`
	// Email is the ACME account's e-mail address.
	Email string `json:"email"`
	// Solver is http01 (through Traefik) or dns01.
	Solver string `json:"solver" jsonschema:"enum=http01,enum=dns01"`
	// DNS01 configures the DNS-01 solver.
	DNS01 *DNS01 `json:"dns01,omitempty"`
}

// DNS01 configures cert-manager's DNS-01 solver for Azure DNS or Cloudflare.
type DNS01 struct {
	// Provider is azureDNS or cloudflare.
	Provider string `json:"provider" jsonschema:"enum=azureDNS,enum=cloudflare"`
	// Zone is the DNS zone (Azure DNS) or ignored.
	Zone string `json:"zone,omitempty"`
	// ResourceGroup is the Azure resource group of the zone.
	ResourceGroup string `json:"resourceGroup,omitempty"`
	// SubscriptionID is the Azure subscription of the zone.
	SubscriptionID string `json:"subscriptionID,omitempty"`
	// SecretName holds the provider's API token (Cloudflare).
	SecretName string `json:"secretName,omitempty"`
}

// Policy configures the admission policies rendered for the cluster.
type Policy struct {
	// Mode is Audit or Enforce (default: Enforce on production, Audit elsewhere).
	Mode PolicyMode `json:"mode,omitempty" jsonschema:"enum=Audit,enum=Enforce"`
	// AllowedRegistries are the registry prefixes images may come from, e.g.
	// registry.example.com/ (an image must start with one of them).
	AllowedRegistries []string `json:"allowedRegistries,omitempty"`
	// TrustedSigners require a valid signature on every image of the registries they
	// name (a Kyverno ImageValidatingPolicy); without any, no signature is checked.
	TrustedSigners []TrustedSigner `json:"trustedSigners,omitempty"`
}

// TrustedSigner says who signs the images of one registry: a cosign public key, or a
// Sigstore keyless identity (the OIDC issuer and the certificate's subject).
type TrustedSigner struct {
	// Registry is the registry prefix whose images must be signed, e.g.
	// registry.example.com/ (as in allowedRegistries); each registry is named once.
	Registry string `json:"registry" jsonschema:"minLength=1"`
	// PublicKey is the cosign public key, PEM-encoded. Set publicKey or keyless.
	PublicKey string `json:"publicKey,omitempty"`
	// Keyless is the Sigstore keyless identity that signs the images.
	Keyless *KeylessSigner `json:"keyless,omitempty"`
}

// KeylessSigner is a Sigstore keyless identity, as Fulcio certifies it.
type KeylessSigner struct {
	// Issuer is the OIDC issuer, e.g. https://token.actions.githubusercontent.com.
	Issuer string `json:"issuer" jsonschema:"pattern=^https://"`
	// Subject is the certificate's subject, e.g. the signing workflow's URL.
	Subject string `json:"subject" jsonschema:"minLength=1"`
}

// Scan is the supply-chain gate.
type Scan struct {
	// SeverityThreshold fails the render on findings at or above it (default HIGH on
	// production, CRITICAL elsewhere).
	SeverityThreshold Severity `json:"severityThreshold,omitempty" jsonschema:"enum=LOW,enum=MEDIUM,enum=HIGH,enum=CRITICAL"`
	// IgnoreUnfixed ignores findings that have no fixed version yet.
	IgnoreUnfixed bool `json:"ignoreUnfixed,omitempty"`
}

// EgressPolicy is what the platform allows for egress outside the cluster.
type EgressPolicy struct {
	// AllowAnywhere lets teams ask for 0.0.0.0/0.
	AllowAnywhere bool `json:"allowAnywhere,omitempty"`
	// FQDNFallbackCIDRs, on clusters that cannot enforce host names, are the CIDRs a
	// host-name egress falls back to; without them, host-name egress is an error there.
	FQDNFallbackCIDRs []string `json:"fqdnFallbackCIDRs,omitempty"`
}
