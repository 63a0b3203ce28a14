package reach

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Calico's projectcalico.org/v3 policy model, the part the evaluator reads: Tiers,
// GlobalNetworkPolicies and GlobalNetworkSets. (Calico's Go API module is not served
// by the module proxy at a version with tiers; verify checks these objects against
// the upstream CRDs.)

type calicoTier struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Order         *float64 `json:"order,omitempty"`
		DefaultAction string   `json:"defaultAction,omitempty"`
	} `json:"spec"`
}

type calicoPolicy struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Tier              string       `json:"tier,omitempty"`
		Order             *float64     `json:"order,omitempty"`
		Selector          string       `json:"selector,omitempty"`
		NamespaceSelector string       `json:"namespaceSelector,omitempty"`
		Types             []string     `json:"types,omitempty"`
		Ingress           []calicoRule `json:"ingress,omitempty"`
		Egress            []calicoRule `json:"egress,omitempty"`
	} `json:"spec"`

	// selector and namespaceSelector, parsed.
	selector, namespaceSelector calicoSelector
}

type calicoRule struct {
	Action      string       `json:"action"`
	Protocol    any          `json:"protocol,omitempty"`
	Source      calicoEntity `json:"source,omitzero"`
	Destination calicoEntity `json:"destination,omitzero"`

	source, destination struct{ selector, namespaceSelector calicoSelector }
}

type calicoEntity struct {
	Nets              []string `json:"nets,omitempty"`
	NotNets           []string `json:"notNets,omitempty"`
	Selector          string   `json:"selector,omitempty"`
	NamespaceSelector string   `json:"namespaceSelector,omitempty"`
	Ports             []any    `json:"ports,omitempty"`
	NotSelector       string   `json:"notSelector,omitempty"`
	NotPorts          []any    `json:"notPorts,omitempty"`
	ServiceAccounts   any      `json:"serviceAccounts,omitempty"`
	Services          any      `json:"services,omitempty"`
}

type calicoNetworkSet struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Nets []string `json:"nets,omitempty"`
	} `json:"spec"`
}

// defaultTier is where Kubernetes NetworkPolicies are evaluated, at order 1000.
const (
	defaultTier = "default"
	npOrder     = 1000
)

// builtinTiers are the tiers Calico creates on every cluster (3.30 and later) and
// protects from deletion, with their order and default action, for a cluster whose
// rendered objects do not hold them: kube-admin holds AdminNetworkPolicies (and
// Rampart's baseline), kube-baseline BaselineAdminNetworkPolicies.
var builtinTiers = map[string]struct {
	order  float64
	action string
}{
	"kube-admin":    {1000, "Pass"},
	defaultTier:     {1000000, "Deny"},
	"kube-baseline": {10000000, "Pass"},
}

func (p *calicoPolicy) ref() string { return "GlobalNetworkPolicy/" + p.Metadata.Name }

func (p *calicoPolicy) tier() string { return cmp.Or(p.Spec.Tier, defaultTier) }

// order is a policy's or tier's order; none is last ("infinite").
func order(o *float64) float64 {
	if o == nil {
		return math.Inf(1)
	}
	return *o
}

// hasType applies Calico's default: Ingress, and Egress when there are egress rules.
func (p *calicoPolicy) hasType(dir Direction) bool {
	types := p.Spec.Types
	if len(types) == 0 {
		types = []string{"Ingress"}
		if len(p.Spec.Egress) > 0 {
			types = append(types, "Egress")
		}
	}
	want := "Ingress"
	if dir == Egress {
		want = "Egress"
	}
	return slices.Contains(types, want)
}

// parse parses the policy's selectors; Calico refuses a policy whose selectors do
// not parse, and so does the evaluator.
func (p *calicoPolicy) parse() error {
	var err error
	if p.selector, err = parseCalicoSelector(cmp.Or(p.Spec.Selector, "all()")); err != nil {
		return fmt.Errorf("spec.selector: %w", err)
	}
	if p.namespaceSelector, err = parseCalicoSelector(cmp.Or(p.Spec.NamespaceSelector, "all()")); err != nil {
		return fmt.Errorf("spec.namespaceSelector: %w", err)
	}
	for _, rules := range [][]calicoRule{p.Spec.Ingress, p.Spec.Egress} {
		for i := range rules {
			r := &rules[i]
			for _, e := range []struct {
				ent *calicoEntity
				out *struct{ selector, namespaceSelector calicoSelector }
			}{{&r.Source, &r.source}, {&r.Destination, &r.destination}} {
				if e.ent.Selector != "" {
					if e.out.selector, err = parseCalicoSelector(e.ent.Selector); err != nil {
						return fmt.Errorf("rule selector: %w", err)
					}
				}
				if e.ent.NamespaceSelector != "" {
					if e.out.namespaceSelector, err = parseCalicoSelector(e.ent.NamespaceSelector); err != nil {
						return fmt.Errorf("rule namespaceSelector: %w", err)
					}
				}
			}
		}
	}
	return nil
}

// calicoLabels are the labels Calico's selectors see on a pod's endpoint: its own,
// and its namespace and service account as projectcalico.org/ labels. Made once per
// workload (a flow asks for them for every policy it looks at); read only.
func (m *model) calicoLabels(w *Workload) map[string]string {
	if l, ok := m.calicoLabelsOf[w]; ok {
		return l
	}
	l := make(map[string]string, len(w.Labels)+3)
	for k, v := range w.Labels {
		l[k] = v
	}
	l["projectcalico.org/namespace"] = w.Namespace
	l["projectcalico.org/orchestrator"] = "k8s"
	l["projectcalico.org/serviceaccount"] = w.ServiceAccount
	if m.calicoLabelsOf == nil {
		m.calicoLabelsOf = map[*Workload]map[string]string{}
	}
	m.calicoLabelsOf[w] = l
	return l
}

func (m *model) calicoSelects(p *calicoPolicy, w *Workload) bool {
	return p.namespaceSelector.matches(m.nsLabels(w.Namespace)) && p.selector.matches(m.calicoLabels(w))
}

// target is what a flow's far side is: a workload with a port, or an address.
type target struct {
	w    *Workload
	addr netip.Addr
	// port is the destination's port; nil (for an address) means any port.
	port *Port
}

// entityMatches says whether a rule's source or destination matches a workload or
// an address. nets never match a workload (pod addresses are not rendered); a
// selector never matches an address unless it selects a GlobalNetworkSet holding it.
func (m *model) entityMatches(e *calicoEntity, sel struct{ selector, namespaceSelector calicoSelector }, t target, withPorts bool) bool {
	if e.ServiceAccounts != nil || e.Services != nil || e.NotSelector != "" || len(e.NotPorts) > 0 {
		m.note("Calico rules with serviceAccounts, services, notSelector or notPorts are treated as matching nothing")
		return false
	}
	if t.w != nil {
		if len(e.Nets) > 0 {
			return false
		}
		if sel.namespaceSelector != nil && !sel.namespaceSelector.matches(m.nsLabels(t.w.Namespace)) {
			return false
		}
		if sel.selector != nil && !sel.selector.matches(m.calicoLabels(t.w)) {
			return false
		}
	} else {
		if sel.namespaceSelector != nil {
			return false
		}
		if len(e.Nets) > 0 && !slices.ContainsFunc(e.Nets, func(c string) bool { return holds(c, nil, t.addr) }) {
			return false
		}
		if slices.ContainsFunc(e.NotNets, func(c string) bool { return holds(c, nil, t.addr) }) {
			return false
		}
		if sel.selector != nil && !slices.ContainsFunc(m.networkSets, func(s *calicoNetworkSet) bool {
			return sel.selector.matches(s.Metadata.Labels) && slices.ContainsFunc(s.Spec.Nets, func(c string) bool { return holds(c, nil, t.addr) })
		}) {
			return false
		}
	}
	if !withPorts || len(e.Ports) == 0 {
		return true
	}
	if t.port == nil {
		// Any port: a rule for some ports decides for those only.
		return false
	}
	for _, cp := range e.Ports {
		switch v := cp.(type) {
		case float64:
			if int32(v) == t.port.Number {
				return true
			}
		case string:
			lo, hi, isRange := strings.Cut(v, ":")
			a, errA := strconv.Atoi(lo)
			if errA != nil {
				if v == t.port.Name {
					return true
				}
				continue
			}
			b := a
			if isRange {
				if n, err := strconv.Atoi(hi); err == nil {
					b = n
				}
			}
			if t.port.Number >= int32(a) && t.port.Number <= int32(b) {
				return true
			}
		}
	}
	return false
}

// protocolMatches: no protocol is any; names and numbers as Calico reads them.
func protocolMatches(proto any, t target) bool {
	if proto == nil {
		return true
	}
	if t.port == nil {
		return false
	}
	switch v := proto.(type) {
	case string:
		return strings.EqualFold(v, t.port.Protocol)
	case float64:
		return (v == 6 && t.port.Protocol == "TCP") || (v == 17 && t.port.Protocol == "UDP") || (v == 132 && t.port.Protocol == "SCTP")
	}
	return false
}

// ruleMatches says whether a Calico rule of a policy selecting subject matches the
// connection to (egress) or from (ingress) the target.
func (m *model) calicoRuleMatches(r *calicoRule, subject *Workload, t target, dir Direction) bool {
	if !protocolMatches(r.Protocol, t) {
		return false
	}
	self := target{w: subject, port: t.port}
	if dir == Egress {
		return m.entityMatches(&r.Source, r.source, self, false) && m.entityMatches(&r.Destination, r.destination, t, true)
	}
	// Ingress: the far side is the source, the ports are the subject's.
	return m.entityMatches(&r.Source, r.source, target{w: t.w, addr: t.addr}, false) && m.entityMatches(&r.Destination, r.destination, self, true)
}

// calicoTiers are the tiers in Calico's order (order, then name), with the default
// tier last unless it has an order of its own; sorted once per model.
func (m *model) calicoTiers() []string {
	if m.tierNames == nil {
		m.tierNames = m.sortTiers()
	}
	return m.tierNames
}

func (m *model) sortTiers() []string {
	seen := map[string]bool{defaultTier: true}
	names := []string{defaultTier}
	for _, p := range m.gnps {
		if !seen[p.tier()] {
			seen[p.tier()] = true
			names = append(names, p.tier())
		}
	}
	tierOrder := func(n string) float64 {
		for _, t := range m.tiers {
			if t.Metadata.Name == n {
				return order(t.Spec.Order)
			}
		}
		if b, ok := builtinTiers[n]; ok {
			return b.order
		}
		m.note("tier %s is not rendered: its policies are evaluated last, with the default action Deny", n)
		return math.Inf(1)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(tierOrder(a), tierOrder(b)), cmp.Compare(a, b))
	})
	return names
}

func (m *model) tierDefaultAction(name string) string {
	for _, t := range m.tiers {
		if t.Metadata.Name == name {
			return cmp.Or(t.Spec.DefaultAction, "Deny")
		}
	}
	if b, ok := builtinTiers[name]; ok {
		return b.action
	}
	return "Deny"
}

// calicoDecide evaluates the GlobalNetworkPolicies for one direction of subject, in
// Calico's order: tier by tier, and in a tier policy by policy (order, then name),
// rule by rule. The first Allow or Deny decides; Pass ends the tier; a tier that
// selects the endpoint but decides nothing ends in its defaultAction (Deny unless
// Pass). The default tier's GlobalNetworkPolicies before order 1000 run before its
// Kubernetes NetworkPolicies; undecided says the NetworkPolicies decide.
func (m *model) calicoDecide(subject *Workload, t target, dir Direction) (decided, allow bool, why string) {
	if len(m.gnps) == 0 {
		return false, false, ""
	}
	for _, tier := range m.calicoTiers() {
		var applicable []*calicoPolicy
		for _, p := range m.gnps {
			if p.tier() == tier && p.hasType(dir) && m.calicoSelects(p, subject) {
				applicable = append(applicable, p)
			}
		}
		if tier == defaultTier {
			for _, p := range applicable {
				if order(p.Spec.Order) >= npOrder {
					m.note("%s: default-tier GlobalNetworkPolicies at order 1000 or later are evaluated as if before the NetworkPolicies", p.ref())
				}
			}
		}
		slices.SortStableFunc(applicable, func(a, b *calicoPolicy) int {
			return cmp.Or(cmp.Compare(order(a.Spec.Order), order(b.Spec.Order)), cmp.Compare(a.Metadata.Name, b.Metadata.Name))
		})
		passed := false
	policies:
		for _, p := range applicable {
			rules := p.Spec.Egress
			if dir == Ingress {
				rules = p.Spec.Ingress
			}
			for i := range rules {
				r := &rules[i]
				if !m.calicoRuleMatches(r, subject, t, dir) {
					continue
				}
				switch r.Action {
				case "Allow":
					return true, true, "allowed by " + p.ref()
				case "Deny":
					return true, false, "denied by " + p.ref()
				case "Pass":
					passed = true
					break policies
				}
			}
		}
		if tier == defaultTier {
			// The NetworkPolicies are the rest of the default tier.
			return false, false, ""
		}
		if len(applicable) > 0 && !passed && m.tierDefaultAction(tier) != "Pass" {
			return true, false, "denied at the end of tier " + tier
		}
	}
	return false, false, ""
}

// calicoSelector is a parsed Calico label selector.
type calicoSelector func(map[string]string) bool

func (s calicoSelector) matches(l map[string]string) bool { return s == nil || s(l) }

// parseCalicoSelector parses the part of Calico's selector syntax Rampart and most
// policies use: all(), has(k), k == 'v', k != 'v', k in {'a','b'}, k not in {...},
// !, &&, || and parentheses.
func parseCalicoSelector(s string) (calicoSelector, error) {
	p := &selParser{s: s}
	sel, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("selector %q: %w", s, err)
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("selector %q: unexpected %q", s, p.s[p.i:])
	}
	return sel, nil
}

type selParser struct {
	s string
	i int
}

func (p *selParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *selParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *selParser) or() (calicoSelector, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.eat("||") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a := l
		l = func(m map[string]string) bool { return a(m) || r(m) }
	}
	return l, nil
}

func (p *selParser) and() (calicoSelector, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.eat("&&") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a := l
		l = func(m map[string]string) bool { return a(m) && r(m) }
	}
	return l, nil
}

func (p *selParser) unary() (calicoSelector, error) {
	if p.eat("!") {
		s, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(m map[string]string) bool { return !s(m) }, nil
	}
	if p.eat("(") {
		s, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, errors.New("missing )")
		}
		return s, nil
	}
	if p.eat("all()") {
		return func(map[string]string) bool { return true }, nil
	}
	if p.eat("global()") {
		return func(map[string]string) bool { return true }, nil
	}
	if p.eat("has(") {
		k := p.key()
		if k == "" || !p.eat(")") {
			return nil, errors.New("has() needs a label key")
		}
		return func(m map[string]string) bool { _, ok := m[k]; return ok }, nil
	}
	k := p.key()
	if k == "" {
		return nil, fmt.Errorf("expected a label key at %q", p.s[p.i:])
	}
	switch {
	case p.eat("=="):
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		return func(m map[string]string) bool { got, ok := m[k]; return ok && got == v }, nil
	case p.eat("!="):
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		return func(m map[string]string) bool { got, ok := m[k]; return !ok || got != v }, nil
	case p.eat("not in"):
		set, err := p.set()
		if err != nil {
			return nil, err
		}
		return func(m map[string]string) bool { got, ok := m[k]; return !ok || !slices.Contains(set, got) }, nil
	case p.eat("in"):
		set, err := p.set()
		if err != nil {
			return nil, err
		}
		return func(m map[string]string) bool { got, ok := m[k]; return ok && slices.Contains(set, got) }, nil
	}
	return nil, fmt.Errorf("expected ==, !=, in or not in after %q", k)
}

func (p *selParser) key() string {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '/' || c == '.' || c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *selParser) str() (string, error) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a quoted value")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *selParser) set() ([]string, error) {
	if !p.eat("{") {
		return nil, errors.New("expected {")
	}
	var out []string
	if p.eat("}") {
		return out, nil
	}
	for {
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if p.eat("}") {
			return out, nil
		}
		if !p.eat(",") {
			return nil, errors.New("expected , or }")
		}
	}
}
