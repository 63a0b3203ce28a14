package reach

import (
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/selection"

	securityapi "istio.io/api/security/v1beta1"
)

// Facts are what one rendered file tells of how its namespaces' workloads may meet
// other namespaces' workloads, by namespace. They let a report that touches a few
// namespaces of a large cluster evaluate only the namespaces that can matter
// (Neighbours), without reading the rest: a flow between namespaces A and B can be
// allowed only where a policy of A or B (or of the mesh's root namespace) names the
// other, is open to every namespace, or is missing.
type Facts map[string]*NamespaceFacts

// Clusterwide is the key of the facts of clusterwide policies: Wild4 there says a
// CiliumClusterwideNetworkPolicy allows something, anywhere.
const Clusterwide = ""

// NamespaceFacts are one file's facts about one namespace.
type NamespaceFacts struct {
	// Names4 are the other namespaces its NetworkPolicies' and CiliumNetworkPolicies'
	// allow rules name; Wild4 says a rule may match a namespace it does not name.
	Names4 []string `json:"names4,omitempty"`
	Wild4  bool     `json:"wild4,omitempty"`
	// Names7 are the namespaces its ALLOW AuthorizationPolicies' sources name; Wild7
	// says a source may be in a namespace it does not name.
	Names7 []string `json:"names7,omitempty"`
	Wild7  bool     `json:"wild7,omitempty"`
	// Isolated says a NetworkPolicy selects every pod of the namespace for ingress and
	// egress.
	Isolated bool `json:"isolated,omitempty"`
	// AllowPolicy says an ALLOW AuthorizationPolicy without a selector applies to every
	// workload of the namespace (in the root namespace: of the mesh), so only ALLOW
	// rules admit a source to them.
	AllowPolicy bool `json:"allowPolicy,omitempty"`
	// Labels are the Namespace object's labels that decide the mesh, when the file
	// holds it.
	Labels map[string]string `json:"labels,omitempty"`
	// Pods are, for each of its workloads, the pod labels that decide the mesh.
	Pods []map[string]string `json:"pods,omitempty"`
}

// FileFacts reads the facts of one decoded file, as Evaluate reads them.
func FileFacts(file *File, opts Options) Facts {
	return assemble([]*File{file}, opts.withDefaults()).facts(file.held)
}

// facts are the facts of the model's objects, with an entry for each of the held
// namespaces.
func (m *model) facts(held []string) Facts {
	f := Facts{}
	ns := func(n string) *NamespaceFacts {
		if f[n] == nil {
			f[n] = &NamespaceFacts{}
		}
		return f[n]
	}
	for _, n := range held {
		ns(n) // every namespace the file holds objects of, facts or not
	}
	for n, l := range m.namespaces {
		ns(n).Labels = meshLabels(l)
	}
	for _, w := range m.workloads {
		ns(w.Namespace).Pods = append(ns(w.Namespace).Pods, meshLabels(w.Labels))
	}
	for _, np := range m.netpols {
		nf := ns(np.Namespace)
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) == 0 && hasType(np, Ingress) && hasType(np, Egress) {
			nf.Isolated = true
		}
		var rules [][]networkingv1.NetworkPolicyPeer
		for _, r := range np.Spec.Ingress {
			rules = append(rules, r.From)
		}
		for _, r := range np.Spec.Egress {
			rules = append(rules, r.To)
		}
		for _, peers := range rules {
			if len(peers) == 0 {
				nf.Wild4 = true
			}
			for _, pe := range peers {
				if pe.IPBlock != nil || pe.NamespaceSelector == nil {
					continue // no pod, or a pod of the policy's own namespace
				}
				names, ok := namedBy(pe.NamespaceSelector, "kubernetes.io/metadata.name")
				nf.Names4 = append(nf.Names4, names...)
				nf.Wild4 = nf.Wild4 || !ok
			}
		}
	}
	for _, cp := range m.cnps {
		nf := ns(cp.Metadata.Namespace)
		for _, r := range cp.rules() {
			for _, pr := range slices.Concat(r.Ingress, r.Egress) {
				endpoints := slices.Concat(pr.FromEndpoints, pr.ToEndpoints)
				entities := slices.Concat(pr.FromEntities, pr.ToEntities)
				others := len(pr.FromCIDR) + len(pr.FromCIDRSet) + len(pr.ToCIDR) + len(pr.ToCIDRSet) + len(pr.ToFQDNs)
				if len(endpoints)+len(entities)+others == 0 || slices.Contains(entities, "all") || slices.Contains(entities, "cluster") {
					nf.Wild4 = true
				}
				for i := range endpoints {
					names, ok := ciliumNamespaces(&endpoints[i])
					nf.Names4 = append(nf.Names4, names...)
					nf.Wild4 = nf.Wild4 || !ok
				}
			}
		}
	}
	for _, cp := range m.ccnps {
		for _, r := range cp.rules() {
			if len(r.Ingress)+len(r.Egress) > 0 {
				// A clusterwide allow may join any two namespaces; its denies only
				// take allows away.
				ns(Clusterwide).Wild4 = true
			}
		}
	}
	for _, ap := range m.authzs {
		spec := &ap.Spec
		if spec.GetAction() != securityapi.AuthorizationPolicy_ALLOW {
			continue // DENY, AUDIT and CUSTOM never allow
		}
		nf := ns(ap.Namespace)
		if spec.GetSelector() == nil && len(spec.GetTargetRefs()) == 0 && spec.GetTargetRef() == nil {
			nf.AllowPolicy = true
		}
		for _, r := range spec.GetRules() {
			if len(r.GetFrom()) == 0 {
				nf.Wild7 = true
			}
			for _, from := range r.GetFrom() {
				names, ok := sourceNamespaces(from.GetSource())
				nf.Names7 = append(nf.Names7, names...)
				nf.Wild7 = nf.Wild7 || !ok
			}
		}
	}
	for _, nf := range f {
		nf.Names4 = slices.Compact(slices.Sorted(slices.Values(nf.Names4)))
		nf.Names7 = slices.Compact(slices.Sorted(slices.Values(nf.Names7)))
	}
	return f
}

// nameOfNamespace is a Namespace object's name, else empty.
func nameOfNamespace(o object) string {
	if o.kind() == "Namespace" && o.apiVersion() == "v1" {
		return o.name()
	}
	return ""
}

// meshLabels are the labels of l that meshed reads (never nil).
func meshLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range meshKeys {
		if v, ok := l[k]; ok {
			out[k] = v
		}
	}
	return out
}

// namedBy gives the values a selector allows for key, and false when it allows a
// value it does not name (no requirement on key, or NotIn, Exists, DoesNotExist).
func namedBy(sel *metav1.LabelSelector, key string) ([]string, bool) {
	var names []string
	pinned := false
	if v, ok := sel.MatchLabels[key]; ok {
		names, pinned = append(names, v), true
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == key && selection.Operator(e.Operator) == selection.In {
			names, pinned = append(names, e.Values...), true
		}
	}
	return names, pinned
}

// ciliumNamespaces are the namespaces a Cilium endpoint selector (as a peer) may
// match: those it names, else only the policy's own (no namespace key at all).
func ciliumNamespaces(sel *metav1.LabelSelector) ([]string, bool) {
	norm := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	mentions := false
	for k, v := range sel.MatchLabels {
		if key, ok := ciliumKey(k); ok {
			norm.MatchLabels[key] = v
			mentions = mentions || key == "io.kubernetes.pod.namespace"
		}
	}
	for _, e := range sel.MatchExpressions {
		if key, ok := ciliumKey(e.Key); ok {
			e.Key = key
			norm.MatchExpressions = append(norm.MatchExpressions, e)
			mentions = mentions || key == "io.kubernetes.pod.namespace"
		}
	}
	if !mentions {
		return nil, true
	}
	return namedBy(norm, "io.kubernetes.pod.namespace")
}

// sourceNamespaces are the namespaces an ALLOW rule's source may match: those its
// principals, namespaces or service accounts pin; false when it may match others.
// A source by request principal or IP block matches no workload (sourceMatches).
func sourceNamespaces(s *securityapi.Source) ([]string, bool) {
	if s == nil {
		return nil, false
	}
	if len(s.GetRequestPrincipals())+len(s.GetIpBlocks())+len(s.GetRemoteIpBlocks()) > 0 {
		return nil, true
	}
	var names []string
	switch {
	case len(s.GetNamespaces()) > 0:
		for _, n := range s.GetNamespaces() {
			if strings.Contains(n, "*") {
				return nil, false
			}
			names = append(names, n)
		}
	case len(s.GetPrincipals()) > 0:
		for _, p := range s.GetPrincipals() {
			n, ok := principalNamespace(p)
			if !ok {
				return nil, false
			}
			names = append(names, n)
		}
	case len(s.GetServiceAccounts()) > 0:
		for _, sa := range s.GetServiceAccounts() {
			n, _, ok := strings.Cut(sa, "/")
			if !ok {
				return nil, false
			}
			names = append(names, n)
		}
	default:
		return nil, false
	}
	return names, true
}

// principalNamespace is the namespace a principal pattern pins: "<td>/ns/<ns>/sa/<sa>",
// or a prefix pattern that ends after "/sa/".
func principalNamespace(p string) (string, bool) {
	_, rest, ok := strings.Cut(p, "/ns/")
	if !ok || strings.HasPrefix(p, "*") {
		return "", false
	}
	ns, _, ok := strings.Cut(rest, "/sa/")
	if !ok || strings.Contains(ns, "*") || strings.Contains(strings.SplitN(p, "/ns/", 2)[0], "*") {
		return "", false
	}
	return ns, true
}

// Neighbours are the namespaces whose workloads a flow from or to the focus
// namespaces can involve, at either of two revisions of a cluster, from the facts of
// every file of both (keyed by anything, each revision's files once). all says no
// such bound holds (a focus namespace, or the mesh's root namespace, admits sources
// it does not name, or a meshed focus workload has no ALLOW policy): then every
// namespace may matter.
//
// Why it is enough (flows are reported where a layer allows them at a revision):
//   - L3/L4 needs both ends' policies to allow. A flow between a focus namespace F
//     and X is allowed at X's end only where X names F, admits any namespace (Wild4),
//     or is not isolated: those X are kept.
//   - L7 needs the destination's ALLOW rules (its own and the root namespace's) to
//     match the source. X → F: F's and the root's names are kept, and any source is
//     possible when F or the root is wild or F is meshed without an ALLOW policy
//     (all). F → X: X's names of F, X wild or X meshed without one are kept; the root
//     naming F allows F everywhere (all).
func Neighbours(focus []string, revisions [][]Facts, opts Options) (namespaces []string, all bool) {
	return newMeetings(revisions, opts).of(focus)
}

// meetings answer Neighbours for any focus, from the revisions' facts merged once:
// a comparison of two whole revisions asks for every namespace's.
type meetings struct {
	// all: a clusterwide allow, or a root namespace admitting sources it does not
	// name, at some revision; every namespace may meet every other.
	all  bool
	revs []revisionFacts
}

// revisionFacts are one revision's facts by namespace, and what every query reads.
type revisionFacts struct {
	nss  map[string]*NamespaceFacts
	root *NamespaceFacts
	// open are the namespaces a flow from or to any namespace may involve; namedBy
	// are, for each namespace, the namespaces whose allow rules name it.
	open    []string
	namedBy map[string][]string
}

func newMeetings(revisions [][]Facts, opts Options) *meetings {
	opts = opts.withDefaults()
	mt := &meetings{}
	for _, files := range revisions {
		nss := merge(files)
		if cw := nss[Clusterwide]; cw != nil && cw.Wild4 {
			mt.all = true
		}
		delete(nss, Clusterwide)
		root := nss[opts.RootNamespace]
		if root == nil {
			root = &NamespaceFacts{}
		}
		mt.all = mt.all || root.Wild7
		r := revisionFacts{nss: nss, root: root, namedBy: map[string][]string{}}
		for _, x := range slices.Sorted(maps.Keys(nss)) {
			nf := nss[x]
			open4 := !nf.Isolated && len(nf.Pods) > 0
			open7 := nf.meshed() && !nf.AllowPolicy && !root.AllowPolicy
			if nf.Wild4 || nf.Wild7 || open4 || open7 {
				r.open = append(r.open, x)
				continue
			}
			for _, n := range slices.Concat(nf.Names4, nf.Names7) {
				r.namedBy[n] = append(r.namedBy[n], x)
			}
		}
		mt.revs = append(mt.revs, r)
	}
	return mt
}

// of is Neighbours of the focus.
func (mt *meetings) of(focus []string) (namespaces []string, all bool) {
	if mt.all {
		return nil, true
	}
	keep := map[string]bool{}
	for _, f := range focus {
		keep[f] = true
	}
	for _, r := range mt.revs {
		for _, n := range r.root.Names7 {
			if slices.Contains(focus, n) {
				return nil, true
			}
			keep[n] = true
		}
		for _, f := range focus {
			nf := r.nss[f]
			if nf == nil {
				continue // not on the cluster at this revision
			}
			if nf.Wild7 || (nf.meshed() && !nf.AllowPolicy && !r.root.AllowPolicy) {
				return nil, true
			}
			for _, n := range slices.Concat(nf.Names4, nf.Names7) {
				keep[n] = true
			}
			for _, x := range r.namedBy[f] {
				keep[x] = true
			}
		}
		for _, x := range r.open {
			keep[x] = true
		}
	}
	return slices.Sorted(maps.Keys(keep)), false
}

// merge folds the files' facts into one per namespace.
func merge(files []Facts) map[string]*NamespaceFacts {
	out := map[string]*NamespaceFacts{}
	for _, f := range files {
		for n, nf := range f {
			o := out[n]
			if o == nil {
				o = &NamespaceFacts{}
				out[n] = o
			}
			o.Names4 = append(o.Names4, nf.Names4...)
			o.Names7 = append(o.Names7, nf.Names7...)
			o.Wild4, o.Wild7 = o.Wild4 || nf.Wild4, o.Wild7 || nf.Wild7
			o.Isolated, o.AllowPolicy = o.Isolated || nf.Isolated, o.AllowPolicy || nf.AllowPolicy
			if nf.Labels != nil {
				o.Labels = nf.Labels
			}
			o.Pods = append(o.Pods, nf.Pods...)
		}
	}
	return out
}

// meshed says whether a workload of the namespace may be in the mesh.
func (nf *NamespaceFacts) meshed() bool {
	for _, p := range nf.Pods {
		if meshed(nf.Labels, p) {
			return true
		}
	}
	return false
}
