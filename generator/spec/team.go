package spec

import (
	"github.com/fluxcd/pkg/apis/kustomize"
)

// APIVersion is the version of every Rampart input document.
const APIVersion = "rampart.dev/v1alpha1"

// Document kinds.
const (
	KindTeam    = "Team"
	KindCluster = "Cluster"
	KindConfig  = "Config"
)

// Team is one team's spec, read from teams/<team>.yaml. The team's name is its
// namespace on every cluster it runs on.
type Team struct {
	// APIVersion must be rampart.dev/v1alpha1.
	APIVersion string `json:"apiVersion" jsonschema:"enum=rampart.dev/v1alpha1"`
	// Kind must be Team.
	Kind string `json:"kind" jsonschema:"enum=Team"`
	// Metadata names the team; the name must match the file name.
	Metadata Metadata `json:"metadata"`
	// Spec describes the team's apps, people and exceptions.
	Spec TeamSpec `json:"spec"`
}

// Metadata names a document.
type Metadata struct {
	// Name is a DNS label (lowercase letters, digits and '-', at most 63 characters).
	Name string `json:"name" jsonschema:"pattern=^[a-z]([-a-z0-9]*[a-z0-9])?$,maxLength=63"`
}

// TeamSpec is what a team declares.
type TeamSpec struct {
	// Owners are the people accountable for the team's services (e-mail addresses).
	Owners []string `json:"owners" jsonschema:"minItems=1"`
	// Groups are identity-provider groups (e.g. Entra ID object IDs) given access to the
	// team's namespace: Rampart's rampart:viewer role on production clusters (read, no
	// Secrets, no exec), rampart:developer elsewhere (also restart pods and scale).
	Groups []Group `json:"groups,omitempty"`
	// Clusters are the clusters the team runs on (names of clusters/<name>/cluster.yaml).
	Clusters []string `json:"clusters" jsonschema:"minItems=1"`
	// Apps are the team's services.
	Apps []App `json:"apps" jsonschema:"minItems=1"`
	// Charts are Helm charts rendered into the team's namespace.
	Charts []Chart `json:"charts,omitempty"`
	// Exceptions are time-limited waivers, each with a reason and an expiry date.
	Exceptions Exceptions `json:"exceptions,omitzero"`
	// Patches are Flux-format kustomize patches applied to the team's rendered objects.
	// They may not weaken the restricted Pod Security level or leave the namespace.
	Patches []kustomize.Patch `json:"patches,omitempty"`
	// Images override image names, tags or digests, in Flux's format.
	Images []kustomize.Image `json:"images,omitempty"`
	// Enforcement is audit-first adoption: in audit, the team's network, mesh and
	// admission policies are rendered so that what they would deny is observed and
	// nothing is blocked (each engine's own audit: Calico staged policies, Istio
	// dry-run, Linkerd audit, Kyverno Audit). Moving to enforce is one line.
	Enforcement *TeamEnforcement `json:"enforcement,omitempty"`
}

// Group binds an identity-provider group to the team's namespace.
type Group struct {
	// Name names the group's RoleBinding (group-<name>); a DNS label.
	Name string `json:"name" jsonschema:"pattern=^[a-z]([-a-z0-9]*[a-z0-9])?$,maxLength=57"`
	// ID is the group's subject as the API server sees it (for Entra ID, its object ID).
	ID string `json:"id" jsonschema:"minLength=1"`
}

// App is one service: a Deployment with its Service, ServiceAccount and policies.
type App struct {
	// Name is a DNS label, unique within the team.
	Name string `json:"name" jsonschema:"pattern=^[a-z]([-a-z0-9]*[a-z0-9])?$,maxLength=63"`
	// Image is the container image, with a tag or a digest (repo:tag, repo@sha256:..., or both).
	Image string `json:"image" jsonschema:"minLength=1"`
	// Port is the container port the app serves on; 1024 or higher, because the app runs as a non-root user.
	Port int32 `json:"port" jsonschema:"minimum=1024,maximum=65535"`
	// Protocol is how the app speaks on its port; it shapes mesh and ingress policy.
	Protocol Protocol `json:"protocol,omitempty" jsonschema:"enum=http,enum=grpc,enum=tcp,default=http"`
	// Replicas is the number of pods (default 2). More than one gets a PodDisruptionBudget.
	Replicas *int32 `json:"replicas,omitempty" jsonschema:"minimum=1,maximum=100"`
	// Command overrides the image's entrypoint.
	Command []string `json:"command,omitempty"`
	// Args are the arguments to the entrypoint.
	Args []string `json:"args,omitempty"`
	// Resources are the app's CPU and memory; memory is always required.
	Resources Resources `json:"resources"`
	// Env are plain environment variables.
	Env []EnvVar `json:"env,omitempty"`
	// SecretEnv are environment variables read from Secrets in the team's namespace.
	SecretEnv []SecretEnvVar `json:"secretEnv,omitempty"`
	// WritablePaths are absolute paths mounted as emptyDir; the rest of the root filesystem is read-only.
	WritablePaths []string `json:"writablePaths,omitempty"`
	// Probes are HTTP health checks on the app's port. Without a readiness probe the
	// app gets a TCP readiness probe on its port.
	Probes Probes `json:"probes,omitzero"`
	// RunAsUser is the non-zero UID (and GID) the app runs as (default 10001).
	RunAsUser *int64 `json:"runAsUser,omitempty" jsonschema:"minimum=1"`
	// Expose makes the app reachable from outside the cluster through the ingress controller.
	Expose *Expose `json:"expose,omitempty"`
	// Calls are the apps this app talks to; each renders network and mesh allows.
	Calls []Call `json:"calls,omitempty"`
	// AllowCallsFrom gives consent to callers from other teams.
	AllowCallsFrom []CallerRef `json:"allowCallsFrom,omitempty"`
	// Egress are destinations outside the cluster this app may reach.
	Egress []Egress `json:"egress,omitempty"`
	// Runtime is what the app does at run time, for its Falco rules.
	Runtime *AppRuntime `json:"runtime,omitempty"`
	// Identity is the app's cloud identity, through workload identity: its
	// ServiceAccount's token is exchanged for the cloud identity's, so the app holds
	// no cloud credential.
	Identity *Identity `json:"identity,omitempty"`
	// Secrets are mounted read-only from a cloud secret store through the Secrets
	// Store CSI driver, with the app's identity; never written to Git.
	Secrets []Secret `json:"secrets,omitempty"`
	// Quarantine cuts the app off: its pods keep running (for forensics), but every
	// allow for them goes (no ingress, no egress but DNS, out of its routes).
	Quarantine *Quarantine `json:"quarantine,omitempty"`
}

// Identity is an app's cloud identity. Azure is the only cloud so far; another
// cloud is another field.
type Identity struct {
	// Azure is a Microsoft Entra ID workload identity: a user-assigned managed
	// identity or app registration whose federated credential trusts the app's
	// ServiceAccount (system:serviceaccount:<team>:<app>) on the cluster's issuer.
	Azure *AzureIdentity `json:"azure,omitempty"`
}

// AzureIdentity is a Microsoft Entra ID workload identity.
type AzureIdentity struct {
	// ClientID is the identity's client (application) ID, a UUID.
	ClientID string `json:"clientID" jsonschema:"pattern=^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"`
}

// Secret is a set of objects from one secret store, mounted as files.
type Secret struct {
	// Name names the SecretProviderClass (<app>-<name>) and the volume; a DNS label
	// unique within the app.
	Name string `json:"name" jsonschema:"pattern=^[a-z]([-a-z0-9]*[a-z0-9])?$,maxLength=40"`
	// MountPath is the absolute directory the objects appear in, read-only, one file
	// per object; it may not be or contain a writable path, nor lie inside one.
	MountPath string `json:"mountPath" jsonschema:"pattern=^/"`
	// AzureKeyVault reads the objects from an Azure Key Vault with the app's Azure
	// identity.
	AzureKeyVault *AzureKeyVault `json:"azureKeyVault,omitempty"`
	// SyncSecret, when set, is the name of a Kubernetes Secret in the team's
	// namespace the driver keeps in step with the objects (one key per object's file
	// name) while a pod mounts them, for secretEnv.
	SyncSecret string `json:"syncSecret,omitempty" jsonschema:"pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$,maxLength=63"`
}

// AzureKeyVault is an Azure Key Vault and the objects read from it.
type AzureKeyVault struct {
	// VaultName is the Key Vault's name (3 to 24 letters, digits and '-').
	VaultName string `json:"vaultName" jsonschema:"pattern=^[a-zA-Z][-a-zA-Z0-9]+[a-zA-Z0-9]$,minLength=3,maxLength=24"`
	// TenantID is the Entra ID tenant the vault belongs to, a UUID.
	TenantID string `json:"tenantID" jsonschema:"pattern=^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"`
	// Objects are the vault's secrets, keys and certificates to mount.
	Objects []VaultObject `json:"objects" jsonschema:"minItems=1"`
}

// VaultObjectType is the kind of a Key Vault object.
type VaultObjectType string

// Key Vault object types, as the Azure provider names them.
const (
	VaultSecret VaultObjectType = "secret"
	VaultKey    VaultObjectType = "key"
	VaultCert   VaultObjectType = "cert"
)

// VaultObject is one Key Vault object.
type VaultObject struct {
	// Name is the object's name in the vault (1 to 127 letters, digits and '-').
	Name string `json:"name" jsonschema:"pattern=^[a-zA-Z0-9-]+$,maxLength=127"`
	// Type is secret (default), key or cert.
	Type VaultObjectType `json:"type,omitempty" jsonschema:"enum=secret,enum=key,enum=cert,default=secret"`
	// Version pins a version of the object (default: the latest).
	Version string `json:"version,omitempty" jsonschema:"pattern=^[a-zA-Z0-9]+$,maxLength=64"`
	// Alias is the file name the object is mounted as (default: its name), and its
	// key in the synced Secret.
	Alias string `json:"alias,omitempty" jsonschema:"pattern=^[a-zA-Z0-9][-._a-zA-Z0-9]*$,maxLength=127"`
}

// FileName is the file an object is mounted as: its alias, else its name.
func (o VaultObject) FileName() string {
	if o.Alias != "" {
		return o.Alias
	}
	return o.Name
}

// Quarantine says why an app is cut off.
type Quarantine struct {
	// Reason says what happened, for the reviewers and the rendered objects.
	Reason string `json:"reason" jsonschema:"minLength=10,maxLength=200"`
	// Ticket is the incident's ticket or URL.
	Ticket string `json:"ticket,omitempty" jsonschema:"maxLength=200"`
}

// AppRuntime is what an app runs, for its runtime detection rules.
type AppRuntime struct {
	// Processes are the executables the app runs, by absolute path (/usr/bin/node)
	// or by name (node). When set, any other executable in the app's container
	// alerts; without it, only shells, package managers and dropped executables do.
	Processes []string `json:"processes,omitempty" jsonschema:"minItems=1"`
}

// Protocol is what an app speaks on its port.
type Protocol string

// Protocols.
const (
	ProtocolHTTP Protocol = "http"
	ProtocolGRPC Protocol = "grpc"
	ProtocolTCP  Protocol = "tcp"
)

// Resources are an app's compute requests; memory is also its limit.
type Resources struct {
	// CPU is the CPU request, e.g. 250m (no CPU limit is set unless CPULimit is).
	CPU string `json:"cpu,omitempty"`
	// Memory is the memory request and limit, e.g. 256Mi.
	Memory string `json:"memory"`
	// CPULimit is an optional CPU limit.
	CPULimit string `json:"cpuLimit,omitempty"`
	// MemoryLimit raises the memory limit above the request.
	MemoryLimit string `json:"memoryLimit,omitempty"`
	// EphemeralStorage raises the ephemeral storage the app writes outside its
	// writable paths (logs, the container's writable layer) above the default 128Mi, in
	// Mi or Gi. Each container's ephemeral-storage request and limit are this plus the
	// size limit of every writable path (256Mi each).
	EphemeralStorage string `json:"ephemeralStorage,omitempty" jsonschema:"pattern=^[1-9][0-9]*(Mi|Gi)$,maxLength=8"`
}

// EnvVar is a plain environment variable.
type EnvVar struct {
	// Name is the variable's name.
	Name string `json:"name" jsonschema:"pattern=^[A-Za-z_][A-Za-z0-9_]*$"`
	// Value is the variable's value.
	Value string `json:"value"`
}

// SecretEnvVar is an environment variable read from a Secret key.
type SecretEnvVar struct {
	// Name is the variable's name.
	Name string `json:"name" jsonschema:"pattern=^[A-Za-z_][A-Za-z0-9_]*$"`
	// Secret is the Secret's name in the team's namespace.
	Secret string `json:"secret"`
	// Key is the key within the Secret.
	Key string `json:"key"`
}

// Probes are an app's health checks.
type Probes struct {
	// Liveness restarts the container when it fails.
	Liveness *Probe `json:"liveness,omitempty"`
	// Readiness takes the pod out of the Service when it fails.
	Readiness *Probe `json:"readiness,omitempty"`
	// Startup holds off the other probes until the app has started.
	Startup *Probe `json:"startup,omitempty"`
}

// Probe is an HTTP GET on the app's port.
type Probe struct {
	// Path is the HTTP path, starting with '/'.
	Path string `json:"path" jsonschema:"pattern=^/"`
	// InitialDelaySeconds waits before the first probe.
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty" jsonschema:"minimum=0"`
	// PeriodSeconds is the interval between probes (default 10).
	PeriodSeconds int32 `json:"periodSeconds,omitempty" jsonschema:"minimum=1"`
	// FailureThreshold is how many failures in a row count as failed (default 3).
	FailureThreshold int32 `json:"failureThreshold,omitempty" jsonschema:"minimum=1"`
}

// Expose publishes an app through the cluster's ingress controller over HTTPS.
type Expose struct {
	// Hosts are the DNS names the app answers on. A single label (e.g. "pay") becomes
	// <label>.<first domain of the cluster>, so one spec serves every cluster; a full
	// name must lie inside the cluster's domains. Each host is unique on a cluster.
	Hosts []string `json:"hosts" jsonschema:"minItems=1"`
	// Paths are path prefixes routed to the app (default "/").
	Paths []string `json:"paths,omitempty"`
	// RateLimit limits requests per source IP.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// IPAllowList restricts the source addresses (CIDRs) that may reach the app.
	IPAllowList []string `json:"ipAllowList,omitempty"`
	// Headers tighten the cluster's default security headers.
	Headers *SecurityHeaders `json:"headers,omitempty"`
}

// RateLimit is Traefik's rate limit: Average requests per Period, with bursts up to Burst.
type RateLimit struct {
	// Average is the sustained number of requests allowed per period.
	Average int64 `json:"average"`
	// Burst is the largest number of requests allowed at once; at least Average.
	Burst int64 `json:"burst"`
	// Period is the window for Average, e.g. 1s or 1m (default 1s).
	Period string `json:"period,omitempty"`
}

// SecurityHeaders are response headers a team may tighten beyond the cluster default.
type SecurityHeaders struct {
	// HSTSMaxAgeSeconds is the Strict-Transport-Security max-age; it may only be raised.
	HSTSMaxAgeSeconds int64 `json:"hstsMaxAgeSeconds,omitempty"`
	// ContentSecurityPolicy sets the Content-Security-Policy header.
	ContentSecurityPolicy string `json:"contentSecurityPolicy,omitempty"`
	// ReferrerPolicy sets the Referrer-Policy header.
	ReferrerPolicy string `json:"referrerPolicy,omitempty"`
}

// Call declares that an app calls another app. A call to another team's app also needs
// that app's consent (allowCallsFrom).
type Call struct {
	// Team is the callee's team (default: the caller's own team).
	Team string `json:"team,omitempty"`
	// App is the callee app's name.
	App string `json:"app"`
	// Port is the callee's port (default: the port the callee serves on).
	Port int32 `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// Methods are the HTTP methods allowed (default: all).
	Methods []string `json:"methods,omitempty"`
	// Paths are the HTTP paths allowed, Istio-style ("/v1/*") (default: all).
	Paths []string `json:"paths,omitempty"`
}

// CallerRef names an app of another team that may call this app.
type CallerRef struct {
	// Team is the calling team.
	Team string `json:"team"`
	// App is the calling app (default: any app of that team).
	App string `json:"app,omitempty"`
}

// Egress is a destination outside the cluster: a CIDR or a host name, and ports.
type Egress struct {
	// CIDR is an IP range, e.g. 10.20.0.0/16. Set CIDR or Host, not both.
	CIDR string `json:"cidr,omitempty"`
	// Host is a DNS name, or a pattern such as *.example.com (Cilium clusters only).
	Host string `json:"host,omitempty"`
	// Ports are the destination ports.
	Ports []EgressPort `json:"ports" jsonschema:"minItems=1"`
}

// EgressPort is a destination port.
type EgressPort struct {
	// Port is the port number.
	Port int32 `json:"port" jsonschema:"minimum=1,maximum=65535"`
	// Protocol is TCP (default) or UDP.
	Protocol string `json:"protocol,omitempty" jsonschema:"enum=TCP,enum=UDP"`
}

// Chart is a Helm chart rendered into the team's namespace, without cluster lookups.
type Chart struct {
	// Name is the release name, a DNS label unique within the team.
	Name string `json:"name" jsonschema:"pattern=^[a-z]([-a-z0-9]*[a-z0-9])?$,maxLength=53"`
	// Path is the chart's directory, relative to the repository root.
	Path string `json:"path"`
	// Values are the chart's values.
	Values map[string]any `json:"values,omitempty"`
}

// Exceptions are time-limited waivers. An expired exception no longer applies.
type Exceptions struct {
	// Vulnerabilities waive scan findings.
	Vulnerabilities []VulnerabilityException `json:"vulnerabilities,omitempty"`
	// Policies waive admission policy rules for some apps.
	Policies []PolicyException `json:"policies,omitempty"`
	// Runtime waive Falco runtime detection rules for some apps, for the events that
	// match their fields and values.
	Runtime []RuntimeException `json:"runtime,omitempty"`
}

// RuntimeRule names one of the Falco rules Rampart renders for every app.
type RuntimeRule string

// Runtime rules (lib/runtime.libsonnet renders them; the README describes each).
const (
	RuntimeShell             RuntimeRule = "shell"
	RuntimeUnexpectedProcess RuntimeRule = "unexpected-process"
	RuntimeOutbound          RuntimeRule = "unexpected-outbound"
	RuntimeSystemWrite       RuntimeRule = "system-dir-write"
	RuntimeSensitiveRead     RuntimeRule = "sensitive-read"
	RuntimePackageManager    RuntimeRule = "package-manager"
	RuntimeDroppedExecutable RuntimeRule = "dropped-executable"
)

// RuntimeException waives one runtime rule for some apps until a date, for the
// events whose fields match one of the values. Rampart renders it as a Falco
// exception (fields and values) of the rule of each app, and stops rendering it
// once its last day has passed.
type RuntimeException struct {
	// Rule is the runtime rule's name, e.g. unexpected-outbound (an alert's output
	// names its rule as rampart.<rule>).
	Rule RuntimeRule `json:"rule" jsonschema:"enum=shell,enum=unexpected-process,enum=unexpected-outbound,enum=system-dir-write,enum=sensitive-read,enum=package-manager,enum=dropped-executable"`
	// Apps are the team's apps the exception covers.
	Apps []string `json:"apps" jsonschema:"minItems=1"`
	// Fields are the Falco fields an event is matched on, e.g. [proc.exepath,
	// fd.sip.name]; each is compared for equality with its value.
	Fields []string `json:"fields" jsonschema:"minItems=1"`
	// Values are the waived combinations: each a list with one value per field.
	Values [][]string `json:"values" jsonschema:"minItems=1"`
	// Reason says why the exception is needed.
	Reason string `json:"reason" jsonschema:"minLength=10"`
	// Expires is the last day the exception applies (YYYY-MM-DD, UTC).
	Expires Date `json:"expires"`

	// Source is where the exception is written, teams/<team>.yaml:<line>; the
	// loader sets it (it is not part of the file).
	Source string `json:"source,omitempty" jsonschema:"-"`
	// Expired says the last day has passed, by the loader's clock (it is not part of
	// the file); an expired exception is not rendered. Like a policy exception's, it
	// is part of the render cache's key.
	Expired bool `json:"expired,omitempty" jsonschema:"-"`
}

// VulnerabilityException waives one vulnerability in some images until a date.
type VulnerabilityException struct {
	// ID is the vulnerability's ID, e.g. CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx.
	ID string `json:"id" jsonschema:"minLength=1"`
	// Images are the image repositories the exception covers (e.g. registry.example.com/payments/api).
	Images []string `json:"images" jsonschema:"minItems=1"`
	// Reason says why the finding is acceptable for now.
	Reason string `json:"reason" jsonschema:"minLength=10"`
	// Expires is the last day the exception applies (YYYY-MM-DD).
	Expires Date `json:"expires"`
}

// PolicyException waives admission policy rules for some apps until a date. Rampart
// renders it as a Kyverno PolicyException in the team's tenant file, matching exactly
// the apps named, and stops rendering it once its last day has passed.
type PolicyException struct {
	// Policy is the admission policy's name, e.g. rampart-pod-security (the README lists
	// them with their rules; a denial's message names its policy and rule).
	Policy string `json:"policy"`
	// Rules are the waived rules of the policy (default: all of its rules).
	Rules []string `json:"rules,omitempty"`
	// Apps are the team's apps the exception covers.
	Apps []string `json:"apps" jsonschema:"minItems=1"`
	// Reason says why the exception is needed.
	Reason string `json:"reason" jsonschema:"minLength=10"`
	// Expires is the last day the exception applies (YYYY-MM-DD, UTC).
	Expires Date `json:"expires"`

	// Source is where the exception is written, teams/<team>.yaml:<line>. The loader
	// sets it (it is not part of the file), and the rendered exception carries it.
	Source string `json:"source,omitempty" jsonschema:"-"`
	// Expired says the last day has passed, by the loader's clock (it is not part of
	// the file). An expired exception is not rendered. Being part of the team's
	// encoded spec, it is part of the render cache's key, so an exception disappears
	// on the day after it expires.
	Expired bool `json:"expired,omitempty" jsonschema:"-"`
}

// Date is a calendar day, YYYY-MM-DD.
type Date string
