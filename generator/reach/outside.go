package reach

import (
	"cmp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// outside lists, per workload, the policy peers that are not rendered workloads.
func (m *model) outside() []OutsideFlow {
	var out []OutsideFlow
	for _, w := range m.workloads {
		if !m.inFocus(w) {
			continue
		}
		for _, dir := range []Direction{Ingress, Egress} {
			out = append(out, m.outsideL4(w, dir)...)
		}
		if w.Meshed {
			out = append(out, m.outsideL7(w)...)
		}
	}
	slices.SortFunc(out, func(a, b OutsideFlow) int {
		return cmp.Or(cmp.Compare(a.Workload, b.Workload), cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Layer, b.Layer),
			cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.Ports, b.Ports), cmp.Compare(a.Policy, b.Policy))
	})
	return slices.Compact(out)
}

// matchesAWorkload says whether a NetworkPolicy peer selects any rendered workload.
func (m *model) matchesAWorkload(pe networkingv1.NetworkPolicyPeer, policyNS string) bool {
	var names []string // the namespaces the peer may select: its policy's, or those it names
	pinned := pe.NamespaceSelector == nil
	if pinned {
		names = []string{policyNS}
	} else {
		names, pinned = namedBy(pe.NamespaceSelector, "kubernetes.io/metadata.name")
	}
	for _, w := range m.workloadsOf(names, pinned) {
		if m.peersMatch([]networkingv1.NetworkPolicyPeer{pe}, policyNS, w) {
			return true
		}
	}
	return false
}

func (m *model) outsideL4(w *Workload, dir Direction) []OutsideFlow {
	var out []OutsideFlow
	isolated := false
	add := func(peer, ports, policy string) {
		out = append(out, OutsideFlow{Workload: w.ID(), Direction: dir, Layer: "l4", Peer: peer, Ports: ports, Policy: policy})
	}
	for _, np := range m.netpolsIn(w.Namespace) {
		if np.Namespace != w.Namespace || !hasType(np, dir) || !selects(&np.Spec.PodSelector, w.Labels) {
			continue
		}
		isolated = true
		type rule struct {
			peers []networkingv1.NetworkPolicyPeer
			ports []networkingv1.NetworkPolicyPort
		}
		var rules []rule
		if dir == Egress {
			for _, r := range np.Spec.Egress {
				rules = append(rules, rule{r.To, r.Ports})
			}
		} else {
			for _, r := range np.Spec.Ingress {
				rules = append(rules, rule{r.From, r.Ports})
			}
		}
		for _, r := range rules {
			if len(r.peers) == 0 {
				add("anywhere", describePorts(r.ports), npRef(np))
			}
			for _, pe := range r.peers {
				if pe.IPBlock != nil || !m.matchesAWorkload(pe, np.Namespace) {
					add(describePeer(pe, np.Namespace), describePorts(r.ports), npRef(np))
				}
			}
		}
	}
	for _, cp := range m.ciliumFor(w.Namespace) {
		for _, r := range cp.rules() {
			if !m.ciliumSubject(cp, &r, w) {
				continue
			}
			rules := r.Egress
			if dir == Ingress {
				rules = r.Ingress
			}
			isolated = isolated || (len(rules) > 0 && r.isolates(dir))
			for _, pr := range rules {
				ports := describeCiliumPorts(pr.ToPorts)
				for _, peer := range m.ciliumOutsidePeers(pr, cp.Metadata.Namespace, dir) {
					add(peer, ports, cp.ref())
				}
			}
		}
	}
	if !isolated {
		add("anywhere (no policy isolates it)", "any", "")
	}
	return out
}

// workloadsOf are the workloads of the named namespaces when pinned, else every
// workload: a peer's candidates, without looking at every workload of a large
// cluster for each rule of each policy.
func (m *model) workloadsOf(names []string, pinned bool) []*Workload {
	if !pinned {
		return m.workloads
	}
	if m.workloadsByNS == nil {
		m.workloadsByNS = map[string][]*Workload{}
		for _, w := range m.workloads {
			m.workloadsByNS[w.Namespace] = append(m.workloadsByNS[w.Namespace], w)
		}
	}
	if len(names) == 1 {
		return m.workloadsByNS[names[0]]
	}
	var out []*Workload
	for _, n := range slices.Compact(slices.Sorted(slices.Values(names))) {
		out = append(out, m.workloadsByNS[n]...)
	}
	return out
}

// ciliumOutsidePeers describes a Cilium rule's peers that are not rendered workloads.
func (m *model) ciliumOutsidePeers(r ciliumPeerRule, policyNS string, dir Direction) []string {
	var out []string
	endpoints, entities, cidrs, sets := r.ToEndpoints, r.ToEntities, r.ToCIDR, r.ToCIDRSet
	if dir == Ingress {
		endpoints, entities, cidrs, sets = r.FromEndpoints, r.FromEntities, r.FromCIDR, r.FromCIDRSet
	}
	for i := range endpoints {
		names, pinned := ciliumNamespaces(&endpoints[i])
		if pinned && names == nil {
			names, pinned = []string{policyNS}, policyNS != "" // the policy's own, clusterwide any
		}
		matched := false
		for _, w := range m.workloadsOf(names, pinned) {
			if m.ciliumSelects(&endpoints[i], w, policyNS, true) {
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, "endpoints "+ciliumSelectorString(&endpoints[i], policyNS))
		}
	}
	for _, e := range entities {
		out = append(out, "entity "+e)
	}
	out = append(out, cidrs...)
	for _, s := range sets {
		if len(s.Except) > 0 {
			out = append(out, s.CIDR+" except "+strings.Join(s.Except, ","))
		} else {
			out = append(out, s.CIDR)
		}
	}
	if dir == Egress {
		for _, f := range r.ToFQDNs {
			if f.MatchName != "" {
				out = append(out, "host "+f.MatchName)
			} else {
				out = append(out, "hosts "+f.MatchPattern)
			}
		}
	}
	if len(endpoints)+len(entities)+len(cidrs)+len(sets)+len(r.ToFQDNs) == 0 {
		out = append(out, "anywhere")
	}
	return out
}

func ciliumSelectorString(sel *metav1.LabelSelector, policyNS string) string {
	s := selectorString(sel)
	for k := range sel.MatchLabels {
		if key, _ := ciliumKey(k); key == "io.kubernetes.pod.namespace" {
			return s
		}
	}
	return s + " in namespace " + policyNS
}

// outsideL7 lists ALLOW rule principals that are no rendered workload's identity.
func (m *model) outsideL7(w *Workload) []OutsideFlow {
	if m.principals == nil {
		m.principals = map[string]bool{}
		for _, o := range m.workloads {
			if p := m.principal(o); p != "" {
				m.principals[p] = true
			}
		}
	}
	known := m.principals
	var out []OutsideFlow
	for _, a := range m.applicable(w) {
		if a.spec.GetAction() != 0 { // ALLOW
			continue
		}
		for _, r := range a.spec.GetRules() {
			var ports []string
			for _, to := range r.GetTo() {
				ports = append(ports, to.GetOperation().GetPorts()...)
			}
			portStr := "any"
			if len(ports) > 0 {
				portStr = strings.Join(ports, ",")
			}
			for _, f := range r.GetFrom() {
				for _, p := range f.GetSource().GetPrincipals() {
					if !known[p] {
						out = append(out, OutsideFlow{Workload: w.ID(), Direction: Ingress, Layer: "l7", Peer: "principal " + p, Ports: portStr, Policy: a.ref})
					}
				}
			}
		}
	}
	return out
}
