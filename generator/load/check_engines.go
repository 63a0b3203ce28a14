package load

import (
	"strings"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// maxCalicoDenyCIDRs bounds calico.denyEgressCIDRs: one GlobalNetworkSet holds them,
// and an object stays far below the API server's size limit.
const maxCalicoDenyCIDRs = 10000

// checkEngines runs the checks of a cluster's Linkerd and Calico settings.
func checkEngines(f *fileCtx, s *spec.ClusterSpec) {
	if s.Mesh.Type == spec.MeshLinkerd {
		if s.Mesh.Mode == spec.MeshAmbient {
			f.errorf("spec.mesh.mode", "remove mode: Linkerd runs sidecar proxies only", "Linkerd has no ambient mode")
		}
		if s.Mesh.Revision != "" {
			f.errorf("spec.mesh.revision", "remove revision: it names an Istio revision", "revision applies to Istio only")
		}
		if s.Mesh.IngressGateway == nil || s.Mesh.IngressGateway.ServiceAccount == "" {
			f.warnf("spec.mesh.ingressGateway", "mesh Traefik with a Linkerd proxy and name its namespace and serviceAccount here",
				"without a meshed ingress gateway, every exposed app's Server refuses the ingress controller (it has no Linkerd identity)")
		}
		if s.Mesh.RootNamespace != "" && !isDNSLabel(s.Mesh.RootNamespace) {
			msg, hint := dnsLabelProblem(s.Mesh.RootNamespace)
			f.errorf("spec.mesh.rootNamespace", hint, "%s", msg)
		}
	}
	c := s.Calico
	if s.CNI != spec.CNICalico && (len(c.DenyEgressCIDRs) > 0 || c.Order != nil) {
		f.errorf("spec.calico", "remove calico, or set cni: calico", "calico settings apply only to a cluster with cni calico, not %s", s.CNI)
	}
	if len(c.DenyEgressCIDRs) > maxCalicoDenyCIDRs {
		f.errorf("spec.calico.denyEgressCIDRs", "aggregate the ranges into fewer, wider CIDRs", "%d CIDRs is more than %d", len(c.DenyEgressCIDRs), maxCalicoDenyCIDRs)
		return
	}
	seen := map[string]bool{}
	for i, r := range c.DenyEgressCIDRs {
		field := Index("spec.calico.denyEgressCIDRs", i)
		checkCIDR(f, field, r)
		if seen[r] {
			f.errorf(field, "list each CIDR once", "%q is listed twice", r)
		}
		seen[r] = true
	}
}

// checkEnforcement warns where a team's network audit cannot be honoured: on a
// cluster whose CNI is not Calico, NetworkPolicies have no per-policy audit (Cilium's
// policy-audit-mode is agent- or endpoint-wide, and plain NetworkPolicy has none), so
// Rampart renders them enforcing there rather than opening the namespace.
func checkEnforcement(inv *Inventory) diag.List {
	var out diag.List
	for i := range inv.Teams {
		t := &inv.Teams[i]
		if t.Spec.Enforcement == nil {
			continue
		}
		bad := clustersWhere(inv, t, func(c *Cluster) bool {
			return c.Spec.CNI != spec.CNICalico && spec.Effective(t.Spec.Enforcement, c.Spec.Enforcement, spec.LayerNetwork) == spec.EnforcementAudit
		})
		if len(bad) == 0 {
			continue
		}
		field := "spec.enforcement.mode"
		if t.Spec.Enforcement.Network != "" {
			field = "spec.enforcement.network"
		}
		out = append(out, netDiag(t, field, diag.Warning,
			"observe the team's flows with the CNI's own tools there (Hubble, flow logs), or set network: enforce to say so",
			"network audit is not available on %s %s (no per-policy audit in %s): the NetworkPolicies keep enforcing there",
			netPlural(len(bad), "cluster", "clusters"), strings.Join(bad, ", "), netPlural(len(bad), "its CNI", "their CNIs")))
	}
	return out.Sort()
}
