package reach

import (
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
)

// AddressFlow is whether a workload may reach one address outside the cluster at
// layers 3/4, on any port, and the policies that decide it.
type AddressFlow struct {
	Workload string  `json:"workload"`
	Address  string  `json:"address"`
	L4       Verdict `json:"l4"`
	Why      string  `json:"why"`
}

// cloudMetadata is the node's cloud metadata endpoint.
var cloudMetadata = netip.MustParseAddr(defaults.CloudMetadataAddress)

// metadata judges every workload's egress to the cloud metadata endpoint.
func (m *model) metadata() []AddressFlow {
	var out []AddressFlow
	for _, w := range m.workloads {
		if !m.inFocus(w) {
			continue
		}
		v, why := m.toAddress(w, cloudMetadata)
		out = append(out, AddressFlow{Workload: w.ID(), Address: cloudMetadata.String(), L4: v, Why: why})
	}
	return out
}

// toAddress judges a workload's egress to an address beyond the cluster, as
// direction does for a workload peer: NetworkPolicy ipBlocks (with their excepts),
// Cilium toCIDR, toCIDRSet (with excepts) and the world entities, and Cilium deny
// rules, namespaced and clusterwide, which win over every allow.
func (m *model) toAddress(w *Workload, addr netip.Addr) (Verdict, string) {
	if decided, ok, why := m.calicoDecide(w, target{addr: addr}, Egress); decided {
		if ok {
			return Allow, why
		}
		return Deny, why
	}
	var isolating, allowing []string
	for _, np := range m.netpolsIn(w.Namespace) {
		if !hasType(np, Egress) || !selects(&np.Spec.PodSelector, w.Labels) {
			continue
		}
		isolating = append(isolating, npRef(np))
		if slices.ContainsFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool { return npReachesAddress(r.To, addr) }) {
			allowing = append(allowing, npRef(np))
		}
	}
	denied := ""
	for _, cp := range m.ciliumFor(w.Namespace) {
		for _, r := range cp.rules() {
			if !m.ciliumSubject(cp, &r, w) {
				continue
			}
			if (len(r.Egress) > 0 || len(r.EgressDeny) > 0) && r.isolates(Egress) {
				isolating = append(isolating, cp.ref())
			}
			for _, pr := range r.Egress {
				if ciliumReachesAddress(pr, addr) {
					allowing = append(allowing, cp.ref())
				}
			}
			for _, pr := range r.EgressDeny {
				if ciliumReachesAddress(pr, addr) && denied == "" {
					denied = cp.ref()
				}
			}
		}
	}
	ok, why := judge(isolating, allowing, denied)
	if !ok {
		return Deny, why
	}
	return Allow, why
}

// npReachesAddress: a rule without peers reaches everything; an ipBlock reaches the
// addresses of its CIDR outside its excepts; pod and namespace selectors reach pods.
func npReachesAddress(peers []networkingv1.NetworkPolicyPeer, addr netip.Addr) bool {
	if len(peers) == 0 {
		return true
	}
	for _, pe := range peers {
		if pe.IPBlock != nil && holds(pe.IPBlock.CIDR, pe.IPBlock.Except, addr) {
			return true
		}
	}
	return false
}

// ciliumReachesAddress: a rule that names no peer reaches everything; the world
// entities, toCIDR and toCIDRSet (outside its excepts) reach an address beyond the
// cluster; endpoints and host names do not reach a literal address.
func ciliumReachesAddress(r ciliumPeerRule, addr netip.Addr) bool {
	if len(r.ToEndpoints)+len(r.ToEntities)+len(r.ToCIDR)+len(r.ToCIDRSet)+len(r.ToFQDNs) == 0 {
		return true
	}
	for _, e := range r.ToEntities {
		switch e {
		case "all", "world", "world-ipv4":
			return true
		}
	}
	for _, c := range r.ToCIDR {
		if holds(c, nil, addr) {
			return true
		}
	}
	for _, c := range r.ToCIDRSet {
		if holds(c.CIDR, c.Except, addr) {
			return true
		}
	}
	return false
}

// holds says whether a CIDR holds an address that none of its excepts holds. A bare
// address counts as its own /32 or /128, as Cilium reads it.
func holds(cidr string, except []string, addr netip.Addr) bool {
	in := func(c string) bool {
		if p, err := netip.ParsePrefix(c); err == nil {
			return p.Contains(addr)
		}
		a, err := netip.ParseAddr(c)
		return err == nil && a == addr
	}
	if !in(cidr) {
		return false
	}
	return !slices.ContainsFunc(except, in)
}
