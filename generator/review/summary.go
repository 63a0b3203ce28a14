package review

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Summarize says, in a few lines, what an object's change means for security. base is
// nil for an added object and head nil for a removed one.
func Summarize(base, head *unstructured.Unstructured) []string {
	o := head
	if o == nil {
		o = base
	}
	gk := o.GroupVersionKind().GroupKind()
	var lines []string
	switch gk.String() {
	case "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch", "CronJob.batch":
		lines = workload(base, head)
	case "NetworkPolicy.networking.k8s.io":
		lines = atomsDiff(networkPolicyAtoms, base, head)
	case "CiliumNetworkPolicy.cilium.io":
		lines = atomsDiff(ciliumAtoms, base, head)
	case "AuthorizationPolicy.security.istio.io":
		lines = atomsDiff(authzAtoms, base, head)
	case "PeerAuthentication.security.istio.io":
		lines = scalarDiff(base, head, "mtls", "spec", "mtls", "mode")
	case "PolicyException.policies.kyverno.io", "PolicyException.kyverno.io":
		lines = policyException(base, head)
	case "RoleBinding.rbac.authorization.k8s.io", "ClusterRoleBinding.rbac.authorization.k8s.io":
		lines = atomsDiff(bindingAtoms, base, head)
	case "Role.rbac.authorization.k8s.io", "ClusterRole.rbac.authorization.k8s.io":
		lines = atomsDiff(ruleAtoms, base, head)
	case "Service":
		lines = append(scalarDiff(base, head, "type", "spec", "type"), atomsDiff(servicePortAtoms, base, head)...)
	case "IngressRoute.traefik.io", "IngressRoute.traefik.containo.us":
		lines = atomsDiff(routeAtoms, base, head)
	case "Middleware.traefik.io", "Middleware.traefik.containo.us":
		lines = atomsDiff(middlewareAtoms, base, head)
	case "Namespace":
		lines = append(enforcementLine(base, head), atomsDiff(labelAtoms, base, head)...)
	case "ConfigMap":
		if o.GetLabels()["app.kubernetes.io/component"] == "falco-rules" {
			lines = falcoRules(base, head)
		}
	case "ValidatingPolicy.policies.kyverno.io":
		lines = append(scalarDiff(base, head, "validationActions", "spec", "validationActions"), scalarDiff(base, head, "failurePolicy", "spec", "failurePolicy")...)
	}
	if len(lines) == 0 && base != nil && head != nil {
		lines = fieldsChanged(base.Object, head.Object)
	}
	return lines
}

// atoms lists an object's allows, one comparable string each.
type atoms func(o *unstructured.Unstructured) []string

// atomsDiff prints "+atom" for each allow the head adds and "-atom" for each it drops.
func atomsDiff(f atoms, base, head *unstructured.Unstructured) []string {
	var b, h []string
	if base != nil {
		b = f(base)
	}
	if head != nil {
		h = f(head)
	}
	var out []string
	for _, a := range dedupe(h) {
		if !slices.Contains(b, a) {
			out = append(out, "+"+a)
		}
	}
	for _, a := range dedupe(b) {
		if !slices.Contains(h, a) {
			out = append(out, "-"+a)
		}
	}
	return out
}

func dedupe(s []string) []string { return slices.Compact(slices.Sorted(slices.Values(s))) }

func get(o map[string]any, fields ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(o, fields...)
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64, float64, bool, int:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func scalarDiff(base, head *unstructured.Unstructured, label string, fields ...string) []string {
	var b, h string
	if base != nil {
		b = str(get(base.Object, fields...))
	}
	if head != nil {
		h = str(get(head.Object, fields...))
	}
	if b == h || (base == nil && h == "") {
		return nil
	}
	switch {
	case base == nil:
		return []string{fmt.Sprintf("%s %s", label, h)}
	case head == nil:
		return nil
	}
	return []string{fmt.Sprintf("%s %s → %s", label, orNone(b), orNone(h))}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// selector prints a label selector as k=v,k=v (or "all pods").
func selector(v any) string {
	m := obj(v)
	if m == nil {
		return ""
	}
	var parts []string
	ml := obj(m["matchLabels"])
	for _, k := range slices.Sorted(maps.Keys(ml)) {
		parts = append(parts, k+"="+str(ml[k]))
	}
	for _, e := range list(m["matchExpressions"]) {
		e := obj(e)
		var vals []string
		for _, v := range list(e["values"]) {
			vals = append(vals, str(v))
		}
		// Kubernetes' own selector syntax (kubectl -l): !key, key, key in (a,b).
		switch key := str(e["key"]); str(e["operator"]) {
		case "DoesNotExist":
			parts = append(parts, "!"+key)
		case "Exists":
			parts = append(parts, key)
		default:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", key, strings.ToLower(str(e["operator"])), strings.Join(vals, ",")))
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, ",")
}

func npPeer(p map[string]any) string {
	if ib := obj(p["ipBlock"]); ib != nil {
		s := str(ib["cidr"])
		for _, e := range list(ib["except"]) {
			s += " except " + str(e)
		}
		return s
	}
	var parts []string
	if ns, ok := p["namespaceSelector"]; ok {
		parts = append(parts, "ns["+shortSelector(ns)+"]")
	}
	if pod, ok := p["podSelector"]; ok {
		parts = append(parts, "pods["+shortSelector(pod)+"]")
	}
	return strings.Join(parts, " ")
}

// shortSelector drops the label prefixes every rendered selector carries.
func shortSelector(v any) string {
	s := selector(v)
	s = strings.ReplaceAll(s, "kubernetes.io/metadata.name=", "")
	s = strings.ReplaceAll(s, "app.kubernetes.io/name=", "app=")
	return s
}

func npPorts(l []any) []string {
	if len(l) == 0 {
		return []string{"any port"}
	}
	var out []string
	for _, p := range l {
		p := obj(p)
		proto := str(p["protocol"])
		if proto == "" {
			proto = "TCP"
		}
		port := str(p["port"])
		if end := str(p["endPort"]); end != "" {
			port += "-" + end
		}
		if port == "" {
			port = "*"
		}
		out = append(out, port+"/"+proto)
	}
	return out
}

func networkPolicyAtoms(o *unstructured.Unstructured) []string {
	var out []string
	sel := "pods[" + shortSelector(get(o.Object, "spec", "podSelector")) + "]"
	for _, dir := range []struct{ field, peers, word string }{{"ingress", "from", "ingress"}, {"egress", "to", "egress"}} {
		rules := list(get(o.Object, "spec", dir.field))
		for _, r := range rules {
			r := obj(r)
			peers := list(r[dir.peers])
			ports := npPorts(list(r["ports"]))
			names := []string{}
			for _, p := range peers {
				names = append(names, npPeer(obj(p)))
			}
			if len(peers) == 0 {
				names = append(names, "anywhere")
			}
			for _, n := range names {
				for _, p := range ports {
					if dir.word == "ingress" {
						out = append(out, fmt.Sprintf("ingress %s → %s:%s", n, sel, p))
					} else {
						out = append(out, fmt.Sprintf("egress %s → %s:%s", sel, n, p))
					}
				}
			}
		}
	}
	for _, t := range list(get(o.Object, "spec", "policyTypes")) {
		out = append(out, "isolates "+strings.ToLower(str(t))+" of "+sel)
	}
	return out
}

func ciliumAtoms(o *unstructured.Unstructured) []string {
	var out []string
	sel := "pods[" + shortSelector(get(o.Object, "spec", "endpointSelector")) + "]"
	for _, dir := range []string{"egress", "ingress", "egressDeny", "ingressDeny"} {
		for _, r := range list(get(o.Object, "spec", dir)) {
			r := obj(r)
			var peers []string
			for _, k := range []string{"toFQDNs", "toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities"} {
				for _, p := range list(r[k]) {
					switch x := p.(type) {
					case string:
						peers = append(peers, x)
					case map[string]any:
						switch {
						case x["matchName"] != nil:
							peers = append(peers, str(x["matchName"]))
						case x["matchPattern"] != nil:
							peers = append(peers, str(x["matchPattern"]))
						case x["cidr"] != nil:
							peers = append(peers, str(x["cidr"]))
						default:
							peers = append(peers, "endpoints["+shortSelector(x)+"]")
						}
					}
				}
			}
			if len(peers) == 0 {
				peers = []string{"anywhere"}
			}
			var ports []string
			for _, tp := range list(r["toPorts"]) {
				for _, p := range list(obj(tp)["ports"]) {
					p := obj(p)
					ports = append(ports, str(p["port"])+"/"+str(p["protocol"]))
				}
			}
			if len(ports) == 0 {
				ports = []string{"any port"}
			}
			for _, pe := range peers {
				for _, p := range ports {
					if strings.HasPrefix(dir, "egress") {
						out = append(out, fmt.Sprintf("%s %s → %s:%s", dir, sel, pe, p))
					} else {
						out = append(out, fmt.Sprintf("%s %s → %s:%s", dir, pe, sel, p))
					}
				}
			}
		}
	}
	return out
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, str(x))
	}
	return out
}

func authzAtoms(o *unstructured.Unstructured) []string {
	action := str(get(o.Object, "spec", "action"))
	if action == "" {
		action = "ALLOW"
	}
	target := "namespace"
	if s := get(o.Object, "spec", "selector"); s != nil {
		target = "pods[" + shortSelector(s) + "]"
	}
	rules := list(get(o.Object, "spec", "rules"))
	if len(rules) == 0 {
		if action == "ALLOW" {
			return []string{"ALLOW nothing to " + target}
		}
		return []string{action + " everything to " + target}
	}
	var out []string
	for _, r := range rules {
		r := obj(r)
		var from []string
		for _, f := range list(r["from"]) {
			src := obj(obj(f)["source"])
			for _, k := range slices.Sorted(maps.Keys(src)) {
				for _, v := range strs(src[k]) {
					from = append(from, k+"="+v)
				}
			}
		}
		if len(from) == 0 {
			from = []string{"any source"}
		}
		var to []string
		for _, t := range list(r["to"]) {
			op := obj(obj(t)["operation"])
			m, p, ports := strings.Join(strs(op["methods"]), ","), strings.Join(strs(op["paths"]), ","), strings.Join(strs(op["ports"]), ",")
			s := strings.TrimSpace(fmt.Sprintf("%s %s", orStar(m), orStar(p)))
			if ports != "" {
				s += " port " + ports
			}
			to = append(to, s)
		}
		if len(to) == 0 {
			to = []string{"any operation"}
		}
		for _, f := range from {
			for _, t := range to {
				out = append(out, fmt.Sprintf("%s %s → %s: %s", action, f, target, t))
			}
		}
	}
	return out
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func bindingAtoms(o *unstructured.Unstructured) []string {
	ref := obj(get(o.Object, "roleRef"))
	var out []string
	for _, s := range list(get(o.Object, "subjects")) {
		s := obj(s)
		subj := str(s["kind"]) + " " + str(s["name"])
		if ns := str(s["namespace"]); ns != "" {
			subj = str(s["kind"]) + " " + ns + "/" + str(s["name"])
		}
		out = append(out, fmt.Sprintf("%s bound to %s %s", subj, str(ref["kind"]), str(ref["name"])))
	}
	return out
}

func ruleAtoms(o *unstructured.Unstructured) []string {
	var out []string
	for _, r := range list(get(o.Object, "rules")) {
		r := obj(r)
		verbs := strings.Join(strs(r["verbs"]), ",")
		var res []string
		groups := strs(r["apiGroups"])
		for _, g := range groups {
			for _, x := range strs(r["resources"]) {
				if g == "" {
					res = append(res, x)
				} else {
					res = append(res, x+"."+g)
				}
			}
		}
		res = append(res, strs(r["nonResourceURLs"])...)
		names := ""
		if n := strs(r["resourceNames"]); len(n) > 0 {
			names = " named " + strings.Join(n, ",")
		}
		for _, x := range res {
			out = append(out, fmt.Sprintf("%s on %s%s", verbs, x, names))
		}
	}
	return out
}

func servicePortAtoms(o *unstructured.Unstructured) []string {
	var out []string
	for _, p := range list(get(o.Object, "spec", "ports")) {
		p := obj(p)
		out = append(out, fmt.Sprintf("port %s/%s → %s", str(p["port"]), orDefault(str(p["protocol"]), "TCP"), orDefault(str(p["targetPort"]), str(p["port"]))))
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func routeAtoms(o *unstructured.Unstructured) []string {
	var out []string
	for _, r := range list(get(o.Object, "spec", "routes")) {
		r := obj(r)
		var mws []string
		for _, m := range list(r["middlewares"]) {
			mws = append(mws, str(obj(m)["name"]))
		}
		route := "route " + str(r["match"])
		if len(mws) > 0 {
			route += " via " + strings.Join(mws, ",")
		}
		out = append(out, route)
	}
	for _, e := range strs(get(o.Object, "spec", "entryPoints")) {
		out = append(out, "entry point "+e)
	}
	return out
}

func middlewareAtoms(o *unstructured.Unstructured) []string {
	var out []string
	spec := obj(get(o.Object, "spec"))
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		out = append(out, leaves(k, spec[k])...)
	}
	return out
}

func labelAtoms(o *unstructured.Unstructured) []string {
	var out []string
	l := o.GetLabels()
	for _, k := range slices.Sorted(maps.Keys(l)) {
		out = append(out, "label "+k+"="+l[k])
	}
	return out
}

// leaves prints a value's scalar leaves as path=value.
func leaves(prefix string, v any) []string {
	switch x := v.(type) {
	case map[string]any:
		var out []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out = append(out, leaves(prefix+"."+k, x[k])...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			if _, scalar := e.(map[string]any); !scalar {
				out = append(out, prefix+"="+str(e))
				continue
			}
			out = append(out, leaves(prefix+"[]", e)...)
		}
		return out
	}
	return []string{prefix + "=" + str(v)}
}

func policyException(base, head *unstructured.Unstructured) []string {
	describe := func(o *unstructured.Unstructured) string {
		var pols []string
		for _, r := range list(get(o.Object, "spec", "policyRefs")) {
			pols = append(pols, str(obj(r)["name"]))
		}
		for _, e := range list(get(o.Object, "spec", "exceptions")) { // kyverno.io/v2
			pols = append(pols, str(obj(e)["policyName"]))
		}
		// An Enforce cluster's -audit copy of a policy (for teams in admission audit)
		// is the same policy to the team: name it once.
		named := slices.Clone(pols)
		pols = slices.DeleteFunc(pols, func(p string) bool {
			base, ok := strings.CutSuffix(p, "-audit")
			return ok && slices.Contains(named, base)
		})
		s := "waives " + strings.Join(pols, ",")
		if rules := strs(get(o.Object, "spec", "allowedValues")); len(rules) > 0 {
			s += " (rules " + strings.Join(rules, ",") + ")"
		}
		return s
	}
	expires := func(o *unstructured.Unstructured) string {
		if e := str(get(o.Object, "spec", "properties", "expires")); e != "" {
			return e
		}
		return orNone(str(get(o.Object, "spec", "expiresAt")))
	}
	switch {
	case base == nil:
		return []string{fmt.Sprintf("added, expires %s; %s", expires(head), describe(head))}
	case head == nil:
		return []string{fmt.Sprintf("removed (expired %s); %s", expires(base), describe(base))}
	}
	var out []string
	if b, h := expires(base), expires(head); b != h {
		out = append(out, fmt.Sprintf("expiry %s → %s", b, h))
	}
	if b, h := describe(base), describe(head); b != h {
		out = append(out, fmt.Sprintf("%s → %s", b, h))
	}
	if b, h := str(get(base.Object, "spec", "properties", "reason")), str(get(head.Object, "spec", "properties", "reason")); b != h {
		out = append(out, "reason changed: "+h)
	}
	if !reflect.DeepEqual(get(base.Object, "spec", "matchConditions"), get(head.Object, "spec", "matchConditions")) {
		out = append(out, "matches other objects (spec.matchConditions changed)")
	}
	if b, h := str(get(base.Object, "spec", "properties", "source")), str(get(head.Object, "spec", "properties", "source")); len(out) == 0 && b != h {
		out = append(out, fmt.Sprintf("written at %s now (was %s); the exception itself is the same", h, b))
	}
	return out
}

// workload summarises a pod controller: images (tag and digest), replicas, the
// service account, token mounting, host access and security contexts.
func workload(base, head *unstructured.Unstructured) []string {
	images := func(o *unstructured.Unstructured) map[string]string {
		m := map[string]string{}
		if o == nil {
			return m
		}
		spec := podSpec(o)
		for _, k := range []string{"initContainers", "containers"} {
			for _, c := range list(spec[k]) {
				c := obj(c)
				m[str(c["name"])] = str(c["image"])
			}
		}
		return m
	}
	bi, hi := images(base), images(head)
	var out []string
	names := slices.Sorted(maps.Keys(hi))
	for n := range bi {
		if _, ok := hi[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		b, h := bi[n], hi[n]
		switch {
		case b == h:
		case b == "":
			out = append(out, fmt.Sprintf("container %s: image %s", n, describeImage(h)))
		case h == "":
			if head != nil {
				out = append(out, fmt.Sprintf("container %s removed", n))
			}
		default:
			out = append(out, fmt.Sprintf("container %s: image %s", n, imageChange(b, h)))
		}
	}
	if base == nil || head == nil {
		return out
	}
	bs, hs := podSpec(base), podSpec(head)
	for _, f := range []struct{ label, key string }{
		{"service account", "serviceAccountName"},
		{"automountServiceAccountToken", "automountServiceAccountToken"},
		{"hostNetwork", "hostNetwork"}, {"hostPID", "hostPID"}, {"hostIPC", "hostIPC"},
	} {
		if b, h := str(bs[f.key]), str(hs[f.key]); b != h {
			out = append(out, fmt.Sprintf("%s %s → %s", f.label, orNone(b), orNone(h)))
		}
	}
	if !reflect.DeepEqual(bs["securityContext"], hs["securityContext"]) {
		out = append(out, "pod securityContext changed: "+strings.Join(leafChange("securityContext", bs["securityContext"], hs["securityContext"]), "; "))
	}
	bc, hc := containersByName(bs), containersByName(hs)
	for _, n := range slices.Sorted(maps.Keys(hc)) {
		b, ok := bc[n]
		if !ok {
			continue
		}
		h := hc[n]
		if !reflect.DeepEqual(b["securityContext"], h["securityContext"]) {
			out = append(out, fmt.Sprintf("container %s securityContext: %s", n, strings.Join(leafChange("securityContext", b["securityContext"], h["securityContext"]), "; ")))
		}
		if !reflect.DeepEqual(b["env"], h["env"]) {
			out = append(out, fmt.Sprintf("container %s env changed", n))
		}
		if !reflect.DeepEqual(b["resources"], h["resources"]) {
			out = append(out, fmt.Sprintf("container %s resources: %s", n, strings.Join(leafChange("resources", b["resources"], h["resources"]), "; ")))
		}
	}
	if b, h := volumes(bs), volumes(hs); !slices.Equal(b, h) {
		for _, v := range h {
			if !slices.Contains(b, v) {
				out = append(out, "+volume "+v)
			}
		}
		for _, v := range b {
			if !slices.Contains(h, v) {
				out = append(out, "-volume "+v)
			}
		}
	}
	if b, h := str(get(base.Object, "spec", "replicas")), str(get(head.Object, "spec", "replicas")); b != h {
		out = append(out, fmt.Sprintf("replicas %s → %s", orNone(b), orNone(h)))
	}
	return out
}

func podSpec(o *unstructured.Unstructured) map[string]any {
	if o.GetKind() == "CronJob" {
		return obj(get(o.Object, "spec", "jobTemplate", "spec", "template", "spec"))
	}
	return obj(get(o.Object, "spec", "template", "spec"))
}

func containersByName(spec map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, c := range list(spec["containers"]) {
		c := obj(c)
		m[str(c["name"])] = c
	}
	return m
}

func volumes(spec map[string]any) []string {
	var out []string
	for _, v := range list(spec["volumes"]) {
		v := obj(v)
		kinds := slices.DeleteFunc(slices.Sorted(maps.Keys(v)), func(k string) bool { return k == "name" })
		out = append(out, fmt.Sprintf("%s (%s)", str(v["name"]), strings.Join(kinds, ",")))
	}
	sort.Strings(out)
	return out
}

// leafChange prints the leaves that differ between two values, as path a → b.
func leafChange(prefix string, b, h any) []string {
	bl, hl := leafMap(prefix, b), leafMap(prefix, h)
	keys := slices.Sorted(maps.Keys(hl))
	for k := range bl {
		if _, ok := hl[k]; !ok {
			keys = append(keys, k)
		}
	}
	var out []string
	for _, k := range keys {
		if bl[k] != hl[k] {
			out = append(out, fmt.Sprintf("%s %s → %s", k, orNone(bl[k]), orNone(hl[k])))
		}
	}
	return out
}

func leafMap(prefix string, v any) map[string]string {
	m := map[string]string{}
	for _, l := range leaves(prefix, v) {
		k, val, _ := strings.Cut(l, "=")
		if val == "" && v == nil {
			continue
		}
		m[k] = val
	}
	return m
}

func describeImage(ref string) string {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return ref
	}
	repo := r.Context().Name()
	tag, digest := tagAndDigest(ref)
	s := repo
	if tag != "" {
		s += ":" + tag
	}
	if digest != "" {
		s += " (digest " + shortDigest(digest) + ")"
	}
	return s
}

func tagAndDigest(ref string) (tag, digest string) {
	rest := ref
	if i := strings.Index(rest, "@"); i >= 0 {
		digest = rest[i+1:]
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		tag = rest[i+1:]
	}
	return tag, digest
}

func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

func repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func imageChange(b, h string) string {
	bt, bd := tagAndDigest(b)
	ht, hd := tagAndDigest(h)
	var s string
	if repository(b) != repository(h) {
		s = fmt.Sprintf("%s → %s", describeImage(b), describeImage(h))
		return s
	}
	switch {
	case bt != ht:
		s = fmt.Sprintf("%s %s → %s", repository(h), orNone(bt), orNone(ht))
	default:
		s = fmt.Sprintf("%s:%s", repository(h), ht)
	}
	if bd != hd {
		s += fmt.Sprintf(" (digest %s → %s)", orNone(shortDigest(bd)), orNone(shortDigest(hd)))
	}
	return s
}

// fieldsChanged is the fallback summary: the top fields that differ, at most five.
func fieldsChanged(b, h map[string]any) []string {
	var paths []string
	var walk func(prefix string, b, h any, depth int)
	walk = func(prefix string, b, h any, depth int) {
		if reflect.DeepEqual(b, h) {
			return
		}
		bm, bok := b.(map[string]any)
		hm, hok := h.(map[string]any)
		if !bok || !hok || depth == 3 {
			paths = append(paths, prefix)
			return
		}
		keys := slices.Sorted(maps.Keys(hm))
		for k := range bm {
			if _, ok := hm[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, bm[k], hm[k], depth+1)
		}
	}
	walk("", b, h, 0)
	if len(paths) > 5 {
		paths = append(paths[:5], fmt.Sprintf("and %d more fields", len(paths)-5))
	}
	if len(paths) == 0 {
		return nil
	}
	return []string{"changed: " + strings.Join(paths, ", ")}
}
