package spec

// Enforcement is whether a team's policies block what they do not allow (enforce) or
// only report it (audit).
type Enforcement string

// Enforcement modes.
const (
	EnforcementAudit   Enforcement = "audit"
	EnforcementEnforce Enforcement = "enforce"
)

// Layer names a policy layer whose enforcement a team may set on its own.
type Layer string

// Layers with an enforcement of their own.
const (
	LayerNetwork   Layer = "network"
	LayerMesh      Layer = "mesh"
	LayerAdmission Layer = "admission"
)

// TeamEnforcement is a team's enforcement: one mode for every layer, and per-layer
// overrides. Unset fields fall back to the mode, then to the cluster's enforcement.
type TeamEnforcement struct {
	// Mode is audit or enforce for every layer (default: the cluster's enforcement).
	Mode Enforcement `json:"mode,omitempty" jsonschema:"enum=audit,enum=enforce"`
	// Network overrides the mode for NetworkPolicies (staged on Calico; Cilium and
	// other CNIs have no per-team audit and keep enforcing).
	Network Enforcement `json:"network,omitempty" jsonschema:"enum=audit,enum=enforce"`
	// Mesh overrides the mode for the mesh's authorization (Istio dry-run, Linkerd audit).
	Mesh Enforcement `json:"mesh,omitempty" jsonschema:"enum=audit,enum=enforce"`
	// Admission overrides the mode for Kyverno's admission policies in the team's
	// namespace (Audit instead of Deny; a cluster in policy.mode Audit audits anyway).
	Admission Enforcement `json:"admission,omitempty" jsonschema:"enum=audit,enum=enforce"`
}

// Effective is a layer's enforcement for a team on a cluster: the layer's override,
// else the team's mode, else the cluster's enforcement, else enforce.
func Effective(t *TeamEnforcement, cluster Enforcement, l Layer) Enforcement {
	if t != nil {
		var o Enforcement
		switch l {
		case LayerNetwork:
			o = t.Network
		case LayerMesh:
			o = t.Mesh
		case LayerAdmission:
			o = t.Admission
		}
		if o != "" {
			return o
		}
		if t.Mode != "" {
			return t.Mode
		}
	}
	if cluster != "" {
		return cluster
	}
	return EnforcementEnforce
}
