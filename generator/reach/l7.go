package reach

import (
	"slices"
	"strconv"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
)

// principal is a workload's mesh identity, or "" for a source outside the mesh.
func (m *model) principal(w *Workload) string {
	if !w.Meshed || w.mesh != meshIstio {
		return ""
	}
	return m.opts.TrustDomain + "/ns/" + w.Namespace + "/sa/" + w.ServiceAccount
}

// l7 judges a connection in the mesh: mutual TLS, then authorization.
func (m *model) l7(src, dst *Workload, p Port) (Verdict, string, []Operation) {
	if !dst.Meshed {
		return None, "", nil
	}
	if dst.mesh == meshLinkerd {
		return m.linkerdL7(src, dst, p)
	}
	mode, modeRef := m.mtlsMode(dst, p)
	if mode == securityapi.PeerAuthentication_MutualTLS_STRICT && m.principal(src) == "" {
		return Deny, "plaintext from outside the mesh refused by STRICT mTLS (" + modeRef + ")", nil
	}
	return m.authorize(src, dst, p)
}

// mtlsMode resolves PeerAuthentication for a workload's port: a workload policy
// (with port-level overrides) over the namespace policy over the root namespace's;
// UNSET inherits, and the default is PERMISSIVE.
func (m *model) mtlsMode(w *Workload, p Port) (securityapi.PeerAuthentication_MutualTLS_Mode, string) {
	type level struct {
		mode securityapi.PeerAuthentication_MutualTLS_Mode
		ref  string
	}
	var workload, namespace, root *level
	for _, pa := range m.peerAuthsFor(w.Namespace) {
		ref := "PeerAuthentication/" + pa.Namespace + "/" + pa.Name
		spec := &pa.Spec
		mode := spec.GetMtls().GetMode()
		sel := spec.GetSelector().GetMatchLabels()
		switch {
		case pa.Namespace == w.Namespace && len(sel) > 0:
			if !subset(sel, w.Labels) {
				continue
			}
			if pm, ok := spec.GetPortLevelMtls()[uint32(p.Number)]; ok && pm.GetMode() != securityapi.PeerAuthentication_MutualTLS_UNSET {
				mode = pm.GetMode()
			}
			workload = &level{mode, ref}
		case pa.Namespace == w.Namespace:
			namespace = &level{mode, ref}
		case pa.Namespace == m.opts.RootNamespace && len(sel) == 0:
			root = &level{mode, ref}
		}
	}
	for _, l := range []*level{workload, namespace, root} {
		if l != nil && l.mode != securityapi.PeerAuthentication_MutualTLS_UNSET {
			return l.mode, l.ref
		}
	}
	return securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, "default"
}

type authz struct {
	ref  string
	spec *securityapi.AuthorizationPolicy
}

// applicable are the AuthorizationPolicies that apply to a workload: its namespace's
// and the root namespace's, with a matching selector or none. Found once per
// workload: every flow to it asks.
func (m *model) applicable(w *Workload) []authz {
	if l, ok := m.applicableOf[w]; ok {
		return l
	}
	if m.applicableOf == nil {
		m.applicableOf = map[*Workload][]authz{}
	}
	l := m.findApplicable(w)
	m.applicableOf[w] = l
	return l
}

func (m *model) findApplicable(w *Workload) []authz {
	var out []authz
	for _, ap := range m.authzsFor(w.Namespace) {
		if ap.Namespace != w.Namespace && ap.Namespace != m.opts.RootNamespace {
			continue
		}
		spec := &ap.Spec
		if len(spec.GetTargetRefs()) > 0 || spec.GetTargetRef() != nil {
			m.note("AuthorizationPolicy/%s/%s: targetRef policies apply to gateways and waypoints and are not evaluated", ap.Namespace, ap.Name)
			continue
		}
		if !selectorMatches(spec.GetSelector(), w.Labels) {
			continue
		}
		out = append(out, authz{"AuthorizationPolicy/" + ap.Namespace + "/" + ap.Name, spec})
	}
	return out
}

func selectorMatches(sel *typeapi.WorkloadSelector, l map[string]string) bool {
	return sel == nil || subset(sel.GetMatchLabels(), l)
}

// authorize evaluates Istio's order: CUSTOM, DENY, no ALLOW policy allows, a
// matching ALLOW rule allows (with its operations), else deny.
func (m *model) authorize(src, dst *Workload, p Port) (Verdict, string, []Operation) {
	var allows []authz
	for _, a := range m.applicable(dst) {
		switch a.spec.GetAction() {
		case securityapi.AuthorizationPolicy_CUSTOM:
			m.note("%s: CUSTOM authorization is delegated to an external provider and not evaluated", a.ref)
		case securityapi.AuthorizationPolicy_AUDIT:
		case securityapi.AuthorizationPolicy_DENY:
			for _, r := range a.spec.GetRules() {
				if m.ruleMatchesAll(r, src, p, true) {
					return Deny, "denied by " + a.ref, nil
				}
			}
		case securityapi.AuthorizationPolicy_ALLOW:
			allows = append(allows, a)
		}
	}
	if len(allows) == 0 {
		return Allow, "no ALLOW policy applies", nil
	}
	var ops []Operation
	var by []string
	anyOp := false
	for _, a := range allows {
		for _, r := range a.spec.GetRules() {
			got, all, ok := m.ruleOperations(r, src, p)
			if !ok {
				continue
			}
			by = append(by, a.ref)
			anyOp = anyOp || all
			ops = append(ops, got...)
		}
	}
	by = slices.Compact(by)
	if len(by) == 0 {
		refs := make([]string, len(allows))
		for i, a := range allows {
			refs[i] = a.ref
		}
		return Deny, "no rule of " + strings.Join(refs, ", ") + " matches", nil
	}
	why := "allowed by " + strings.Join(by, ", ")
	if anyOp {
		return Allow, why, nil
	}
	slices.SortFunc(ops, func(a, b Operation) int { return strings.Compare(a.String(), b.String()) })
	return Allow, why, slices.CompactFunc(ops, func(a, b Operation) bool { return a.String() == b.String() })
}

// httpOnly says whether an operation uses fields TCP traffic does not have.
func httpOnly(o *securityapi.Operation) bool {
	return len(o.GetMethods())+len(o.GetNotMethods())+len(o.GetPaths())+len(o.GetNotPaths())+len(o.GetHosts())+len(o.GetNotHosts()) > 0
}

// ruleOperations matches an ALLOW rule against a source and port. ok says whether it
// matches at all; all says it matches any request; ops are its HTTP operations
// otherwise. A rule with conditions or HTTP-only fields on a TCP port never matches.
func (m *model) ruleOperations(r *securityapi.Rule, src *Workload, p Port) (ops []Operation, all, ok bool) {
	if r == nil || !m.sourceMatches(r.GetFrom(), src) {
		return nil, false, false
	}
	if len(r.GetWhen()) > 0 {
		m.note("rules with conditions (when) are treated as matching nothing: allows may be missing from this report")
		return nil, false, false
	}
	if len(r.GetTo()) == 0 {
		return nil, true, true
	}
	for _, to := range r.GetTo() {
		o := to.GetOperation()
		if o == nil || !portMatches(o, p) {
			continue
		}
		if !httpOnly(o) {
			return nil, true, true
		}
		if p.AppProtocol == "tcp" {
			continue
		}
		if len(o.GetNotMethods())+len(o.GetNotPaths())+len(o.GetHosts())+len(o.GetNotHosts()) > 0 {
			m.note("operations with hosts or not* fields are shown without them")
		}
		ops = append(ops, Operation{Methods: o.GetMethods(), Paths: o.GetPaths()})
		ok = true
	}
	return ops, false, ok
}

// ruleMatchesAll says whether a DENY rule matches every request of src on p. For a
// TCP port Istio drops HTTP-only fields from DENY rules, so they match more.
func (m *model) ruleMatchesAll(r *securityapi.Rule, src *Workload, p Port, deny bool) bool {
	if r == nil || !m.sourceMatches(r.GetFrom(), src) || len(r.GetWhen()) > 0 {
		return false
	}
	if len(r.GetTo()) == 0 {
		return true
	}
	for _, to := range r.GetTo() {
		o := to.GetOperation()
		if o == nil || !portMatches(o, p) {
			continue
		}
		if !httpOnly(o) || (deny && p.AppProtocol == "tcp") {
			return true
		}
		m.note("DENY rules restricted to HTTP operations are not shown in the operations")
	}
	return false
}

func portMatches(o *securityapi.Operation, p Port) bool {
	n := strconv.Itoa(int(p.Number))
	if len(o.GetPorts()) > 0 && !slices.Contains(o.GetPorts(), n) {
		return false
	}
	return !slices.Contains(o.GetNotPorts(), n)
}

// sourceMatches: no from means any source; otherwise one of them must match, and in a
// source every field set must match.
func (m *model) sourceMatches(from []*securityapi.Rule_From, w *Workload) bool {
	if len(from) == 0 {
		return true
	}
	principal := m.principal(w)
	for _, f := range from {
		s := f.GetSource()
		if s == nil {
			return true
		}
		if len(s.GetRequestPrincipals())+len(s.GetIpBlocks())+len(s.GetRemoteIpBlocks()) > 0 {
			m.note("sources by request principal or IP block do not match workloads in this report")
			continue
		}
		sa := w.Namespace + "/" + w.ServiceAccount
		ok := (len(s.GetPrincipals()) == 0 || (principal != "" && matchAny(s.GetPrincipals(), principal))) &&
			!(principal != "" && matchAny(s.GetNotPrincipals(), principal)) &&
			(len(s.GetNamespaces()) == 0 || (principal != "" && matchAny(s.GetNamespaces(), w.Namespace))) &&
			!(principal != "" && matchAny(s.GetNotNamespaces(), w.Namespace)) &&
			(len(s.GetServiceAccounts()) == 0 || (principal != "" && slices.Contains(s.GetServiceAccounts(), sa))) &&
			!(principal != "" && slices.Contains(s.GetNotServiceAccounts(), sa)) &&
			(len(s.GetTrustDomains()) == 0 || (principal != "" && matchAny(s.GetTrustDomains(), m.opts.TrustDomain)))
		if ok {
			return true
		}
	}
	return false
}

// matchAny is Istio's string match: exact, "*" for presence, a prefix ("abc*") or a
// suffix ("*abc").
func matchAny(patterns []string, v string) bool {
	for _, p := range patterns {
		switch {
		case p == "*":
			if v != "" {
				return true
			}
		case strings.HasSuffix(p, "*"):
			if strings.HasPrefix(v, strings.TrimSuffix(p, "*")) {
				return true
			}
		case strings.HasPrefix(p, "*"):
			if strings.HasSuffix(v, strings.TrimPrefix(p, "*")) {
				return true
			}
		case p == v:
			return true
		}
	}
	return false
}
