package review

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// FlowChange is a flow between two rendered workloads that one layer now allows or
// no longer allows (or allows with other HTTP operations).
type FlowChange struct {
	Change Action `json:"change"`
	// Layer is "L3/L4" (network policies) or "L7" (the mesh's authorization).
	Layer  string `json:"layer"`
	From   string `json:"from"`
	To     string `json:"to"`
	Port   string `json:"port"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// OutsideChange is an allow to or from a peer beyond the rendered workloads (a CIDR,
// a host name, an ingress controller) that appeared or went away.
type OutsideChange struct {
	Change Action `json:"change"`
	reach.OutsideFlow
}

// ClusterReach is the reachability change of one cluster.
type ClusterReach struct {
	Cluster string          `json:"cluster"`
	Flows   []FlowChange    `json:"flows"`
	Outside []OutsideChange `json:"outside"`
	// Closed are the flows allowed in the base (every layer) and denied in the head,
	// with the head's reason: what a move from audit to enforce denies.
	Closed []ClosedFlow `json:"closed,omitempty"`
}

// ClosedFlow is a flow the head denies that the base allowed.
type ClosedFlow struct {
	From string `json:"from"`
	To   string `json:"to"`
	Port string `json:"port"`
	Why  string `json:"why"`
}

// Counts are the flows and outside allows added and removed (a change of L7
// operations counts as changed).
func (c *ClusterReach) Counts() Counts {
	var n Counts
	for _, f := range c.Flows {
		n.add(f.Change)
	}
	for _, o := range c.Outside {
		n.add(o.Change)
	}
	return n
}

// reachKinds are the kinds generator/reach reads.
var reachKinds = map[string]bool{
	"Namespace": true, "Service": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true,
	"NetworkPolicy": true, "CiliumNetworkPolicy": true, "PeerAuthentication": true, "AuthorizationPolicy": true,
	// Calico's (staged policies of teams in audit, the baseline) and Linkerd's.
	"StagedKubernetesNetworkPolicy": true, "GlobalNetworkPolicy": true, "GlobalNetworkSet": true, "Tier": true,
	"Server": true, "HTTPRoute": true, "MeshTLSAuthentication": true, "NetworkAuthentication": true,
}

// decodeReach decodes the documents of a rendered file whose kind reachability
// reads.
func decodeReach(b []byte) ([]*unstructured.Unstructured, error) {
	return decodeKinds(b, func(kind string) bool { return reachKinds[kind] })
}

// decodeKinds decodes the documents of a rendered file whose kind keep accepts.
// Rendered files are written with sorted keys, so a document's kind is its
// top-level "kind: X" line; other documents are not parsed.
func decodeKinds(b []byte, keep func(kind string) bool) ([]*unstructured.Unstructured, error) {
	var docs [][]byte
	for _, doc := range bytes.Split(b, documentSeparator) {
		kind := ""
		for _, line := range bytes.Split(doc, []byte("\n")) {
			if k, ok := bytes.CutPrefix(line, []byte("kind: ")); ok {
				kind = string(bytes.TrimSpace(k))
				break
			}
		}
		if keep(kind) {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		return nil, nil
	}
	objs, err := manifest.Decode(bytes.Join(docs, documentSeparator))
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return len(o.Object) == 0 }), nil
}

func flowKey(f reach.Flow) string { return f.From + " " + f.To + " " + f.Port.String() }

func ops(f reach.Flow) string {
	switch {
	case f.L7 == reach.None:
		return "not in the mesh"
	case f.L7 == reach.Deny:
		return "denied"
	case len(f.Operations) == 0:
		return "any operation"
	}
	s := make([]string, len(f.Operations))
	for i, o := range f.Operations {
		s[i] = o.String()
	}
	return strings.Join(s, "; ")
}

// compareReach is the change between two reports of a cluster.
func compareReach(cluster string, b, h *reach.Report) ClusterReach {
	cr := ClusterReach{Cluster: cluster}
	cr.compareFlows(b.Flows, h.Flows)
	cr.compareOutside(b, h)
	return cr
}

// compareFlows adds the changes between the flows of the base, b, and of the head,
// h, in the order of their keys: called with all flows at once, or with one source's
// at a time in the order of the sources followed by a space (reach.CompareFiles),
// it adds the same changes in the same order.
func (cr *ClusterReach) compareFlows(b, h []reach.Flow) {
	bf := map[string]reach.Flow{}
	for _, f := range b {
		bf[flowKey(f)] = f
	}
	hf := map[string]reach.Flow{}
	for _, f := range h {
		hf[flowKey(f)] = f
	}
	keys := slices.Sorted(maps.Keys(hf))
	for k := range bf {
		if _, ok := hf[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		bo, inB := bf[k]
		ho, inH := hf[k]
		f := ho
		if !inH {
			f = bo
		}
		ch := FlowChange{From: f.From, To: f.To, Port: f.Port.String()}
		if inB && inH && bo.Allowed() && !ho.Allowed() {
			why := ho.L4Why
			if ho.L4 == reach.Allow {
				why = ho.L7Why
			}
			cr.Closed = append(cr.Closed, ClosedFlow{From: f.From, To: f.To, Port: ch.Port, Why: why})
		}
		bl4 := inB && bo.L4 == reach.Allow
		hl4 := inH && ho.L4 == reach.Allow
		if bl4 != hl4 {
			c := ch
			c.Layer, c.Before, c.After = "L3/L4", verdictOf(bl4), verdictOf(hl4)
			c.Change = Added
			if bl4 {
				c.Change = Removed
			}
			cr.Flows = append(cr.Flows, c)
		}
		bl7, hl7 := "not in the mesh", "not in the mesh"
		if inB {
			bl7 = ops(bo)
		}
		if inH {
			hl7 = ops(ho)
		}
		ballow := inB && bo.L7 == reach.Allow
		hallow := inH && ho.L7 == reach.Allow
		if bl7 != hl7 && (ballow || hallow) {
			c := ch
			c.Layer, c.Before, c.After = "L7", bl7, hl7
			switch {
			case !ballow:
				c.Change = Added
			case !hallow:
				c.Change = Removed
			default:
				c.Change = Changed
			}
			cr.Flows = append(cr.Flows, c)
		}
	}
}

// compareOutside adds the changes of the allows to and from outside peers.
func (cr *ClusterReach) compareOutside(b, h *reach.Report) {
	outKey := func(o reach.OutsideFlow) string {
		return strings.Join([]string{o.Workload, string(o.Direction), o.Layer, o.Peer, o.Ports, o.Policy}, "\x00")
	}
	bo := map[string]reach.OutsideFlow{}
	for _, o := range b.Outside {
		bo[outKey(o)] = o
	}
	ho := map[string]reach.OutsideFlow{}
	for _, o := range h.Outside {
		ho[outKey(o)] = o
	}
	for _, k := range slices.Sorted(maps.Keys(ho)) {
		if _, ok := bo[k]; !ok {
			cr.Outside = append(cr.Outside, OutsideChange{Added, ho[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(bo)) {
		if _, ok := ho[k]; !ok {
			cr.Outside = append(cr.Outside, OutsideChange{Removed, bo[k]})
		}
	}
	slices.SortStableFunc(cr.Outside, func(a, b OutsideChange) int {
		return cmp.Or(cmp.Compare(a.Workload, b.Workload), cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Peer, b.Peer))
	})
}

func verdictOf(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// Mermaid draws the changed flows as a Mermaid flowchart (GitHub renders it): a solid
// green edge for an allow added, a dashed red one for an allow removed, amber for
// changed L7 operations.
func (c *ClusterReach) Mermaid() string {
	if len(c.Flows)+len(c.Outside) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	ids := map[string]string{}
	node := func(name string, outside bool) string {
		key := fmt.Sprint(outside, name)
		if id, ok := ids[key]; ok {
			return id
		}
		id := fmt.Sprintf("n%d", len(ids))
		ids[key] = id
		if outside {
			fmt.Fprintf(&b, "  %s([%q])\n", id, mermaidText(name))
		} else {
			fmt.Fprintf(&b, "  %s[%q]\n", id, mermaidText(name))
		}
		return id
	}
	type edge struct {
		from, to, label string
		change          Action
	}
	var edges []edge
	for _, f := range c.Flows {
		label := f.Layer + " " + f.Port
		if f.Layer == "L7" && f.Change != Removed {
			label += " " + f.After
		}
		edges = append(edges, edge{node(f.From, false), node(f.To, false), label, f.Change})
	}
	for _, o := range c.Outside {
		w, p := node(o.Workload, false), node(o.Peer, true)
		from, to := w, p
		if o.Direction == reach.Ingress {
			from, to = p, w
		}
		edges = append(edges, edge{from, to, strings.ToUpper(o.Layer[:1]) + o.Layer[1:] + " " + o.Ports, o.Change})
	}
	var styles []string
	for i, e := range edges {
		prefix := map[Action]string{Added: "+ ", Removed: "- ", Changed: "~ "}[e.change]
		label := fmt.Sprintf("%q", mermaidText(prefix+e.label))
		switch e.change {
		case Removed:
			fmt.Fprintf(&b, "  %s -. %s .-> %s\n", e.from, label, e.to)
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:#d1242f,stroke-dasharray:4\n", i))
		case Changed:
			fmt.Fprintf(&b, "  %s -->|%s| %s\n", e.from, label, e.to)
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:#bf8700\n", i))
		default:
			fmt.Fprintf(&b, "  %s ==>|%s| %s\n", e.from, label, e.to)
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:#1a7f37\n", i))
		}
	}
	for _, s := range styles {
		b.WriteString(s)
	}
	b.WriteString("```\n")
	return b.String()
}

// mermaidText keeps a label inside its quotes.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "`", "'", "\n", " ").Replace(s)
}
