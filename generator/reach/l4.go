package reach

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ciliumPolicy is the part of a cilium.io/v2 CiliumNetworkPolicy the evaluator reads.
// (Cilium's Go module does not resolve with Rampart's pinned dependencies; verify
// checks these objects against the upstream CRD schema instead.)
type ciliumPolicy struct {
	// Kind is CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy; a clusterwide
	// policy has no namespace, and its selectors are not confined to one.
	Kind     string            `json:"kind"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     *ciliumRule       `json:"spec,omitempty"`
	Specs    []ciliumRule      `json:"specs,omitempty"`
}

type ciliumRule struct {
	EndpointSelector *metav1.LabelSelector `json:"endpointSelector,omitempty"`
	// EnableDefaultDeny false for a direction says the rule does not isolate the
	// endpoints it selects there (it only adds its allows or denies).
	EnableDefaultDeny *struct {
		Ingress *bool `json:"ingress,omitempty"`
		Egress  *bool `json:"egress,omitempty"`
	} `json:"enableDefaultDeny,omitempty"`
	Ingress     []ciliumPeerRule `json:"ingress,omitempty"`
	IngressDeny []ciliumPeerRule `json:"ingressDeny,omitempty"`
	Egress      []ciliumPeerRule `json:"egress,omitempty"`
	EgressDeny  []ciliumPeerRule `json:"egressDeny,omitempty"`
}

// ciliumPeerRule is an ingress or egress rule; From* fields are set on ingress rules
// and To* fields on egress rules.
type ciliumPeerRule struct {
	FromEndpoints []metav1.LabelSelector `json:"fromEndpoints,omitempty"`
	FromEntities  []string               `json:"fromEntities,omitempty"`
	FromCIDR      []string               `json:"fromCIDR,omitempty"`
	FromCIDRSet   []ciliumCIDR           `json:"fromCIDRSet,omitempty"`
	ToEndpoints   []metav1.LabelSelector `json:"toEndpoints,omitempty"`
	ToEntities    []string               `json:"toEntities,omitempty"`
	ToCIDR        []string               `json:"toCIDR,omitempty"`
	ToCIDRSet     []ciliumCIDR           `json:"toCIDRSet,omitempty"`
	ToFQDNs       []ciliumFQDN           `json:"toFQDNs,omitempty"`
	ToPorts       []ciliumPortRule       `json:"toPorts,omitempty"`
}

type ciliumCIDR struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except,omitempty"`
}

// isolates says whether a rule with rules in a direction puts the endpoints it
// selects into default deny there: unless enableDefaultDeny turns it off.
func (r *ciliumRule) isolates(dir Direction) bool {
	if r.EnableDefaultDeny == nil {
		return true
	}
	b := r.EnableDefaultDeny.Egress
	if dir == Ingress {
		b = r.EnableDefaultDeny.Ingress
	}
	return b == nil || *b
}

type ciliumFQDN struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

type ciliumPortRule struct {
	Ports []struct {
		Port     string `json:"port"`
		EndPort  int32  `json:"endPort,omitempty"`
		Protocol string `json:"protocol,omitempty"`
	} `json:"ports,omitempty"`
	Rules *struct {
		HTTP []any `json:"http,omitempty"`
		DNS  []struct {
			MatchName    string `json:"matchName,omitempty"`
			MatchPattern string `json:"matchPattern,omitempty"`
		} `json:"dns,omitempty"`
	} `json:"rules,omitempty"`
}

func (p *ciliumPolicy) rules() []ciliumRule {
	if p.Spec != nil {
		return append([]ciliumRule{*p.Spec}, p.Specs...)
	}
	return p.Specs
}

func (p *ciliumPolicy) ref() string {
	if p.clusterwide() {
		return "CiliumClusterwideNetworkPolicy/" + p.Metadata.Name
	}
	return "CiliumNetworkPolicy/" + p.Metadata.Namespace + "/" + p.Metadata.Name
}

// clusterwide says whether the policy is a CiliumClusterwideNetworkPolicy.
func (p *ciliumPolicy) clusterwide() bool { return p.Kind == "CiliumClusterwideNetworkPolicy" }

// ciliumFor are the Cilium policies that may select a workload of a namespace: its
// namespace's and the clusterwide ones.
func (m *model) ciliumFor(ns string) []*ciliumPolicy {
	if len(m.ccnps) == 0 {
		return m.cnpsIn(ns)
	}
	return append(slices.Clip(m.cnpsIn(ns)), m.ccnps...)
}

// ciliumSubject says whether a rule of a Cilium policy selects a workload.
func (m *model) ciliumSubject(cp *ciliumPolicy, r *ciliumRule, w *Workload) bool {
	if r.EndpointSelector == nil || (!cp.clusterwide() && cp.Metadata.Namespace != w.Namespace) {
		return false
	}
	return m.ciliumSelects(r.EndpointSelector, w, cp.Metadata.Namespace, false)
}

func npRef(p *networkingv1.NetworkPolicy) string {
	return "NetworkPolicy/" + p.Namespace + "/" + p.Name
}

// l4 judges a connection at layers 3 and 4: the source's egress and the
// destination's ingress must both allow it.
func (m *model) l4(src, dst *Workload, p Port) (Verdict, string) {
	out, outWhy := m.direction(src, dst, p, Egress)
	in, inWhy := m.direction(dst, src, p, Ingress)
	why := "egress " + outWhy + "; ingress " + inWhy
	if out && in {
		return Allow, why
	}
	return Deny, why
}

// direction judges one side: subject's egress to peer (Egress) or subject's ingress
// from peer (Ingress). p is always the destination's port.
func (m *model) direction(subject, peer *Workload, p Port, dir Direction) (bool, string) {
	if decided, ok, why := m.calicoDecide(subject, target{w: peer, port: &p}, dir); decided {
		return ok, why
	}
	var isolating, allowing []string
	for _, np := range m.netpolsIn(subject.Namespace) {
		if np.Namespace != subject.Namespace || !hasType(np, dir) || !selects(&np.Spec.PodSelector, subject.Labels) {
			continue
		}
		isolating = append(isolating, npRef(np))
		if m.npAllows(np, peer, p, dir) {
			allowing = append(allowing, npRef(np))
		}
	}
	denied := ""
	for _, cp := range m.ciliumFor(subject.Namespace) {
		for _, r := range cp.rules() {
			if !m.ciliumSubject(cp, &r, subject) {
				continue
			}
			allow, deny := r.Egress, r.EgressDeny
			if dir == Ingress {
				allow, deny = r.Ingress, r.IngressDeny
			}
			if (len(allow) > 0 || len(deny) > 0) && r.isolates(dir) {
				isolating = append(isolating, cp.ref())
			}
			for _, pr := range allow {
				if m.ciliumRuleMatches(pr, peer, p, cp.Metadata.Namespace, dir) {
					allowing = append(allowing, cp.ref())
				}
			}
			for _, pr := range deny {
				if m.ciliumRuleMatches(pr, peer, p, cp.Metadata.Namespace, dir) {
					denied = cp.ref()
				}
			}
		}
	}
	return judge(isolating, allowing, denied)
}

// judge combines one direction's policies: a deny wins, an endpoint no policy
// isolates is allowed, else an allowing rule is needed (each policy named once).
func judge(isolating, allowing []string, denied string) (bool, string) {
	isolating, allowing = slices.Compact(isolating), slices.Compact(allowing)
	switch {
	case denied != "":
		return false, "denied by " + denied
	case len(isolating) == 0:
		return true, "not isolated"
	case len(allowing) > 0:
		return true, "allowed by " + strings.Join(allowing, ", ")
	}
	return false, "isolated by " + strings.Join(isolating, ", ") + ", no rule allows it"
}

// hasType applies the API server's default: Ingress always, Egress when the policy
// has egress rules.
func hasType(np *networkingv1.NetworkPolicy, dir Direction) bool {
	types := np.Spec.PolicyTypes
	if len(types) == 0 {
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	want := networkingv1.PolicyTypeIngress
	if dir == Egress {
		want = networkingv1.PolicyTypeEgress
	}
	return slices.Contains(types, want)
}

// selects evaluates a Kubernetes label selector; a nil or invalid selector selects
// nothing, an empty one everything.
func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil {
		return false
	}
	// Matched here rather than through metav1.LabelSelectorAsSelector, which validates
	// every key and value with regular expressions on each call (every selector
	// Rampart renders has an expression: the quarantine exclusion). The verified
	// output's keys and values are valid, so the answers are the same; a malformed
	// expression selects nothing, as the conversion's error does.
	if !subset(sel.MatchLabels, l) {
		return false
	}
	for _, e := range sel.MatchExpressions {
		v, has := l[e.Key]
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			if len(e.Values) == 0 || !has || !slices.Contains(e.Values, v) {
				return false
			}
		case metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 || has && slices.Contains(e.Values, v) {
				return false
			}
		case metav1.LabelSelectorOpExists:
			if len(e.Values) > 0 || !has {
				return false
			}
		case metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 || has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (m *model) npAllows(np *networkingv1.NetworkPolicy, peer *Workload, p Port, dir Direction) bool {
	if dir == Egress {
		for _, r := range np.Spec.Egress {
			if m.peersMatch(r.To, np.Namespace, peer) && portsMatch(r.Ports, p) {
				return true
			}
		}
		return false
	}
	for _, r := range np.Spec.Ingress {
		if m.peersMatch(r.From, np.Namespace, peer) && portsMatch(r.Ports, p) {
			return true
		}
	}
	return false
}

// peersMatch: no peers means every peer; a peer's namespaceSelector and podSelector
// must both match; without a namespaceSelector the peer is in the policy's namespace.
// An ipBlock never matches a pod here (pod addresses are not rendered).
func (m *model) peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, w *Workload) bool {
	if len(peers) == 0 {
		return true
	}
	for _, pe := range peers {
		if pe.IPBlock != nil {
			continue
		}
		nsOK := w.Namespace == policyNS
		if pe.NamespaceSelector != nil {
			nsOK = selects(pe.NamespaceSelector, m.nsLabels(w.Namespace))
		}
		podOK := pe.PodSelector == nil || selects(pe.PodSelector, w.Labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

// portsMatch: no ports means every port; a port matches by protocol (default TCP)
// and number, range (endPort) or the destination's port name.
func portsMatch(ports []networkingv1.NetworkPolicyPort, p Port) bool {
	if len(ports) == 0 {
		return true
	}
	for _, np := range ports {
		proto := "TCP"
		if np.Protocol != nil {
			proto = string(*np.Protocol)
		}
		if proto != p.Protocol {
			continue
		}
		switch {
		case np.Port == nil:
			return true
		case np.Port.Type == 1: // intstr.String
			if np.Port.StrVal == p.Name {
				return true
			}
		default:
			end := np.Port.IntVal
			if np.EndPort != nil {
				end = *np.EndPort
			}
			if p.Number >= np.Port.IntVal && p.Number <= end {
				return true
			}
		}
	}
	return false
}

// ciliumLabels are the labels Cilium gives a pod's endpoint, without their source
// prefix: the pod's labels, its namespace and service account, and its namespace's
// labels.
func (m *model) ciliumLabels(w *Workload) map[string]string {
	if l, ok := m.ciliumLabelsOf[w]; ok {
		return l
	}
	l := maps.Clone(w.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l["io.kubernetes.pod.namespace"] = w.Namespace
	l["io.cilium.k8s.policy.serviceaccount"] = w.ServiceAccount
	for k, v := range m.nsLabels(w.Namespace) {
		l["io.cilium.k8s.namespace.labels."+k] = v
	}
	if m.ciliumLabelsOf == nil {
		m.ciliumLabelsOf = map[*Workload]map[string]string{}
	}
	m.ciliumLabelsOf[w] = l
	return l
}

// ciliumKey drops a label's source prefix (k8s:, any:); reserved and other sources
// never match a pod.
func ciliumKey(k string) (string, bool) {
	src, key, ok := strings.Cut(k, ":")
	if !ok {
		return k, true
	}
	switch src {
	case "k8s", "any":
		return key, true
	}
	return "", false
}

// ciliumSelects evaluates a Cilium endpoint selector. A peer selector that names no
// namespace is confined to the policy's namespace, as Cilium does for namespaced
// policies; the subject selector is always confined to it. A clusterwide policy
// (policyNS "") confines neither.
func (m *model) ciliumSelects(sel *metav1.LabelSelector, w *Workload, policyNS string, peer bool) bool {
	if policyNS != "" && !peer && w.Namespace != policyNS {
		return false
	}
	norm := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	namesNS := false
	for k, v := range sel.MatchLabels {
		key, ok := ciliumKey(k)
		if !ok {
			return false
		}
		norm.MatchLabels[key] = v
		namesNS = namesNS || key == "io.kubernetes.pod.namespace"
	}
	for _, e := range sel.MatchExpressions {
		key, ok := ciliumKey(e.Key)
		if !ok {
			return false
		}
		e.Key = key
		norm.MatchExpressions = append(norm.MatchExpressions, e)
		namesNS = namesNS || key == "io.kubernetes.pod.namespace"
	}
	if policyNS != "" && (!peer || !namesNS) && w.Namespace != policyNS {
		return false
	}
	return selects(norm, m.ciliumLabels(w))
}

func (m *model) ciliumRuleMatches(r ciliumPeerRule, peer *Workload, p Port, policyNS string, dir Direction) bool {
	endpoints, entities := r.ToEndpoints, r.ToEntities
	others := len(r.ToCIDR) + len(r.ToCIDRSet) + len(r.ToFQDNs)
	if dir == Ingress {
		endpoints, entities = r.FromEndpoints, r.FromEntities
		others = len(r.FromCIDR) + len(r.FromCIDRSet)
	}
	peerOK := len(endpoints) == 0 && len(entities) == 0 && others == 0
	for i := range endpoints {
		peerOK = peerOK || m.ciliumSelects(&endpoints[i], peer, policyNS, true)
	}
	for _, e := range entities {
		peerOK = peerOK || e == "all" || e == "cluster"
	}
	if !peerOK {
		return false
	}
	if len(r.ToPorts) == 0 {
		return true
	}
	for _, pr := range r.ToPorts {
		if pr.Rules != nil && len(pr.Rules.HTTP) > 0 {
			m.note("%s: Cilium L7 HTTP rules are not evaluated; the port is shown as allowed at layer 4", p)
		}
		if len(pr.Ports) == 0 {
			return true
		}
		for _, cp := range pr.Ports {
			proto := strings.ToUpper(cp.Protocol)
			if proto != "" && proto != "ANY" && proto != p.Protocol {
				continue
			}
			if n, err := strconv.Atoi(cp.Port); err == nil {
				end := int32(n)
				if cp.EndPort > 0 {
					end = cp.EndPort
				}
				if n == 0 || (p.Number >= int32(n) && p.Number <= end) {
					return true
				}
			} else if cp.Port == p.Name {
				return true
			}
		}
	}
	return false
}

// describePeer writes a NetworkPolicy peer for a reader.
func describePeer(pe networkingv1.NetworkPolicyPeer, policyNS string) string {
	if pe.IPBlock != nil {
		s := pe.IPBlock.CIDR
		if len(pe.IPBlock.Except) > 0 {
			s += " except " + strings.Join(pe.IPBlock.Except, ",")
		}
		return s
	}
	ns := "namespace " + policyNS
	if pe.NamespaceSelector != nil {
		ns = "namespaces " + selectorString(pe.NamespaceSelector)
		if v, ok := pe.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]; ok && len(pe.NamespaceSelector.MatchLabels) == 1 && len(pe.NamespaceSelector.MatchExpressions) == 0 {
			ns = "namespace " + v
		}
	}
	pods := "any pod"
	if pe.PodSelector != nil && (len(pe.PodSelector.MatchLabels) > 0 || len(pe.PodSelector.MatchExpressions) > 0) {
		pods = "pods " + selectorString(pe.PodSelector)
	}
	return pods + " in " + ns
}

func selectorString(sel *metav1.LabelSelector) string {
	var terms []string
	for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
		terms = append(terms, k+"="+sel.MatchLabels[k])
	}
	for _, e := range sel.MatchExpressions {
		terms = append(terms, fmt.Sprintf("%s %s (%s)", e.Key, strings.ToLower(string(e.Operator)), strings.Join(e.Values, ",")))
	}
	return "{" + strings.Join(terms, ",") + "}"
}

func describePorts(ports []networkingv1.NetworkPolicyPort) string {
	if len(ports) == 0 {
		return "any"
	}
	var out []string
	for _, p := range ports {
		proto := "TCP"
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		switch {
		case p.Port == nil:
			out = append(out, "any/"+proto)
		case p.EndPort != nil:
			out = append(out, fmt.Sprintf("%s-%d/%s", p.Port.String(), *p.EndPort, proto))
		default:
			out = append(out, p.Port.String()+"/"+proto)
		}
	}
	return strings.Join(out, ",")
}

func describeCiliumPorts(rules []ciliumPortRule) string {
	if len(rules) == 0 {
		return "any"
	}
	var out []string
	for _, r := range rules {
		for _, p := range r.Ports {
			out = append(out, p.Port+"/"+strings.ToUpper(cmpOr(p.Protocol, "ANY")))
		}
	}
	return strings.Join(out, ",")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
