package reach

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Linkerd's policy.linkerd.io resources, the part the evaluator reads. (linkerd2's Go
// module is not served by the module proxy; verify checks these objects against
// linkerd2's rendered CRDs.)

type linkerdServer struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		PodSelector   *metav1.LabelSelector `json:"podSelector,omitempty"`
		Port          intstr.IntOrString    `json:"port"`
		ProxyProtocol string                `json:"proxyProtocol,omitempty"`
		AccessPolicy  string                `json:"accessPolicy,omitempty"`
	} `json:"spec"`
}

type linkerdRef struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type linkerdRoute struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		ParentRefs []linkerdRef `json:"parentRefs,omitempty"`
		Rules      []struct {
			Matches []struct {
				Path *struct {
					Type  string `json:"type,omitempty"`
					Value string `json:"value,omitempty"`
				} `json:"path,omitempty"`
				Method      string `json:"method,omitempty"`
				Headers     []any  `json:"headers,omitempty"`
				QueryParams []any  `json:"queryParams,omitempty"`
			} `json:"matches,omitempty"`
		} `json:"rules,omitempty"`
	} `json:"spec"`
}

type linkerdAuthz struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		TargetRef                  linkerdRef   `json:"targetRef"`
		RequiredAuthenticationRefs []linkerdRef `json:"requiredAuthenticationRefs"`
	} `json:"spec"`
}

type linkerdMeshTLS struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Identities   []string     `json:"identities,omitempty"`
		IdentityRefs []linkerdRef `json:"identityRefs,omitempty"`
	} `json:"spec"`
}

// linkerdModel is a cluster's Linkerd policy, by namespace.
type linkerdModel struct {
	servers map[string][]*linkerdServer
	routes  map[string][]*linkerdRoute
	authzs  map[string][]*linkerdAuthz
	meshTLS map[string]map[string]*linkerdMeshTLS
	// networkAuthns are the NetworkAuthentications, by namespace and name.
	networkAuthns map[string]map[string]bool
}

func (lm *linkerdModel) init() {
	if lm.servers == nil {
		lm.servers = map[string][]*linkerdServer{}
		lm.routes = map[string][]*linkerdRoute{}
		lm.authzs = map[string][]*linkerdAuthz{}
		lm.meshTLS = map[string]map[string]*linkerdMeshTLS{}
		lm.networkAuthns = map[string]map[string]bool{}
	}
}

// join adds another model's policy after this one's, as if read after it.
func (lm *linkerdModel) join(o *linkerdModel) {
	for ns, l := range o.servers {
		lm.servers[ns] = append(lm.servers[ns], l...)
	}
	for ns, l := range o.routes {
		lm.routes[ns] = append(lm.routes[ns], l...)
	}
	for ns, l := range o.authzs {
		lm.authzs[ns] = append(lm.authzs[ns], l...)
	}
	for ns, byName := range o.meshTLS {
		if lm.meshTLS[ns] == nil {
			lm.meshTLS[ns] = map[string]*linkerdMeshTLS{}
		}
		maps.Copy(lm.meshTLS[ns], byName)
	}
	for ns, names := range o.networkAuthns {
		if lm.networkAuthns[ns] == nil {
			lm.networkAuthns[ns] = map[string]bool{}
		}
		maps.Copy(lm.networkAuthns[ns], names)
	}
}

// Linkerd's annotations.
const (
	linkerdInject        = "linkerd.io/inject"
	linkerdDefaultPolicy = "config.linkerd.io/default-inbound-policy"
	// linkerdClusterDefault is the control plane's proxy.defaultInboundPolicy as
	// Linkerd installs it; a namespace or pod annotation overrides it.
	linkerdClusterDefault = "all-unauthenticated"
)

// linkerdMeshed says whether Linkerd's proxy injector adds a proxy to the pods: the
// pod's linkerd.io/inject annotation, else its namespace's.
func linkerdMeshed(nsAnn, podAnn map[string]string) bool {
	switch podAnn[linkerdInject] {
	case "enabled", "ingress":
		return true
	case "disabled":
		return false
	}
	return nsAnn[linkerdInject] == "enabled" || nsAnn[linkerdInject] == "ingress"
}

// linkerdIdentity is a workload's Linkerd identity, or "" outside Linkerd's mesh.
func (m *model) linkerdIdentity(w *Workload) string {
	if !w.Meshed || w.mesh != meshLinkerd {
		return ""
	}
	return w.ServiceAccount + "." + w.Namespace + ".serviceaccount.identity.linkerd." + m.opts.TrustDomain
}

// linkerdL7 judges a connection to a workload with a Linkerd proxy: the Server that
// selects the port (else the default inbound policy), its HTTPRoutes and the
// AuthorizationPolicies on the Server or on each route.
func (m *model) linkerdL7(src, dst *Workload, p Port) (Verdict, string, []Operation) {
	var server *linkerdServer
	for _, s := range m.linkerd.servers[dst.Namespace] {
		if s.Spec.PodSelector == nil || !selects(s.Spec.PodSelector, dst.Labels) {
			continue
		}
		if (s.Spec.Port.Type == intstr.Int && s.Spec.Port.IntVal == p.Number) || (s.Spec.Port.Type == intstr.String && s.Spec.Port.StrVal == p.Name) {
			if server != nil {
				m.note("Server/%s/%s and Server/%s/%s select the same port: Linkerd uses the older one; this report uses the first by name", dst.Namespace, server.Metadata.Name, dst.Namespace, s.Metadata.Name)
				continue
			}
			server = s
		}
	}
	if server == nil {
		policy, ref := dst.annotations[linkerdDefaultPolicy], "pod annotation"
		if policy == "" {
			policy, ref = m.nsAnnotations[dst.Namespace][linkerdDefaultPolicy], "Namespace/"+dst.Namespace
		}
		if policy == "" {
			policy, ref = linkerdClusterDefault, "the control plane's default"
		}
		return m.linkerdAccess(policy, "default inbound policy "+policy+" ("+ref+")", src)
	}
	ref := "Server/" + dst.Namespace + "/" + server.Metadata.Name
	var routes []*linkerdRoute
	if server.Spec.ProxyProtocol != "opaque" && server.Spec.ProxyProtocol != "TLS" {
		for _, r := range m.linkerd.routes[dst.Namespace] {
			if slices.ContainsFunc(r.Spec.ParentRefs, func(pr linkerdRef) bool {
				return pr.Kind == "Server" && pr.Name == server.Metadata.Name && cmp.Or(pr.Group, "policy.linkerd.io") == "policy.linkerd.io"
			}) {
				routes = append(routes, r)
			}
		}
	}
	if len(routes) == 0 {
		var by []string
		for _, a := range m.linkerd.authzs[dst.Namespace] {
			t := a.Spec.TargetRef
			if (t.Kind == "Server" && t.Name == server.Metadata.Name) || t.Kind == "Namespace" {
				if m.linkerdAuthorizes(a, src) {
					by = append(by, "AuthorizationPolicy/"+dst.Namespace+"/"+a.Metadata.Name)
				}
			}
		}
		if len(by) > 0 {
			return Allow, "allowed by " + strings.Join(by, ", ") + " on " + ref, nil
		}
		return m.linkerdAccess(cmp.Or(server.Spec.AccessPolicy, "deny"), "no authorization of "+ref+" matches; accessPolicy "+cmp.Or(server.Spec.AccessPolicy, "deny"), src)
	}
	var ops []Operation
	var by []string
	anyOp := false
	for _, r := range routes {
		authorized := ""
		for _, a := range m.linkerd.authzs[dst.Namespace] {
			t := a.Spec.TargetRef
			if t.Kind == "HTTPRoute" && t.Name == r.Metadata.Name && cmp.Or(t.Group, "policy.linkerd.io") == "policy.linkerd.io" && m.linkerdAuthorizes(a, src) {
				authorized = "AuthorizationPolicy/" + dst.Namespace + "/" + a.Metadata.Name
				break
			}
		}
		if authorized == "" {
			continue
		}
		by = append(by, authorized)
		for _, rule := range r.Spec.Rules {
			if len(rule.Matches) == 0 {
				anyOp = true
			}
			for _, mt := range rule.Matches {
				if len(mt.Headers)+len(mt.QueryParams) > 0 {
					m.note("HTTPRoute matches on headers or query parameters are shown without them")
				}
				var o Operation
				if mt.Method != "" {
					o.Methods = []string{mt.Method}
				}
				if mt.Path != nil {
					switch cmp.Or(mt.Path.Type, "PathPrefix") {
					case "Exact":
						o.Paths = []string{mt.Path.Value}
					case "PathPrefix":
						v := cmp.Or(mt.Path.Value, "/")
						switch {
						case v == "/":
						case strings.HasSuffix(v, "/"):
							o.Paths = []string{v + "*"}
						default:
							o.Paths = []string{v, v + "/*"}
						}
					default:
						m.note("HTTPRoute regular-expression paths are shown as their pattern")
						o.Paths = []string{mt.Path.Value}
					}
				}
				if len(o.Methods) == 0 && len(o.Paths) == 0 {
					anyOp = true
				}
				ops = append(ops, o)
			}
		}
	}
	if len(by) == 0 {
		return m.linkerdAccess(cmp.Or(server.Spec.AccessPolicy, "deny"), "no authorized HTTPRoute of "+ref+"; accessPolicy "+cmp.Or(server.Spec.AccessPolicy, "deny"), src)
	}
	slices.Sort(by)
	why := "allowed by " + strings.Join(slices.Compact(by), ", ") + " on " + ref
	if anyOp {
		return Allow, why, nil
	}
	slices.SortFunc(ops, func(a, b Operation) int { return strings.Compare(a.String(), b.String()) })
	return Allow, why, slices.CompactFunc(ops, func(a, b Operation) bool { return a.String() == b.String() })
}

// linkerdAccess applies a default or access policy. audit lets everything through
// and flags it; once enforced (the model's enforced view) it is deny.
func (m *model) linkerdAccess(policy, why string, src *Workload) (Verdict, string, []Operation) {
	meshed := m.linkerdIdentity(src) != ""
	switch policy {
	case "all-unauthenticated", "cluster-unauthenticated":
		return Allow, why, nil
	case "all-authenticated", "cluster-authenticated":
		if meshed {
			return Allow, why, nil
		}
		return Deny, why + ": the source has no Linkerd identity", nil
	case "audit":
		if m.enforced {
			return Deny, why + " (deny once enforced)", nil
		}
		return Allow, why + ": not enforced, reported", nil
	}
	return Deny, why, nil
}

// linkerdAuthorizes says whether every authentication an AuthorizationPolicy requires
// holds for the source. A NetworkAuthentication is by address, which the report
// does not know for workloads: it is treated as not holding (as Istio's ipBlocks).
func (m *model) linkerdAuthorizes(a *linkerdAuthz, src *Workload) bool {
	if len(a.Spec.RequiredAuthenticationRefs) == 0 {
		return false
	}
	id := m.linkerdIdentity(src)
	for _, r := range a.Spec.RequiredAuthenticationRefs {
		ns := cmp.Or(r.Namespace, a.Metadata.Namespace)
		switch r.Kind {
		case "MeshTLSAuthentication":
			mt := m.linkerd.meshTLS[ns][r.Name]
			if mt == nil || id == "" || !m.meshTLSHolds(mt, src, id) {
				return false
			}
		case "NetworkAuthentication":
			m.note("authorizations by network (NetworkAuthentication, e.g. probe routes) do not match workloads in this report")
			return false
		case "ServiceAccount":
			if id == "" || src.ServiceAccount != r.Name || src.Namespace != ns {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (m *model) meshTLSHolds(mt *linkerdMeshTLS, src *Workload, id string) bool {
	for _, want := range mt.Spec.Identities {
		if want == "*" || want == id || (strings.HasPrefix(want, "*.") && strings.HasSuffix(id, want[1:])) {
			return true
		}
	}
	for _, r := range mt.Spec.IdentityRefs {
		ns := cmp.Or(r.Namespace, mt.Metadata.Namespace)
		switch r.Kind {
		case "ServiceAccount":
			if r.Name == src.ServiceAccount && ns == src.Namespace {
				return true
			}
		case "Namespace":
			if r.Name == src.Namespace || r.Name == "*" {
				return true
			}
		}
	}
	return false
}
