package load

import (
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
