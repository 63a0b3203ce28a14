package review

import (
	"cmp"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// enforcementAnnotation is the Namespace annotation that names a team's layers in
// audit on a cluster (lib/namespace.libsonnet); without it every layer enforces.
const enforcementAnnotation = "rampart.dev/enforcement"

// enforcementPrefix starts a Namespace's summary line of an enforcement change.
const enforcementPrefix = "enforcement: "

// enforcementOf is a Namespace's enforcement: "audit: network, mesh" or "enforce".
func enforcementOf(o *unstructured.Unstructured) string {
	if o == nil {
		return ""
	}
	return cmp.Or(o.GetAnnotations()[enforcementAnnotation], "enforce")
}

// enforcementLine says how a team namespace's enforcement changed, if it did.
func enforcementLine(base, head *unstructured.Unstructured) []string {
	if base == nil || head == nil {
		return nil
	}
	b, h := enforcementOf(base), enforcementOf(head)
	if b == h {
		return nil
	}
	return []string{enforcementPrefix + b + " → " + h}
}

// EnforcementChange is a team's move between audit and enforce on a cluster: the
// switch a team makes in one line of its spec, which the review calls out with the
// flows it denies.
type EnforcementChange struct {
	Cluster string `json:"cluster"`
	Team    string `json:"team"`
	// From and To are "enforce" or "audit: <layers>".
	From string `json:"from"`
	To   string `json:"to"`
	// Denied are the team's flows the change denies (allowed in the base, denied in
	// the head), from the cluster's reachability change.
	Denied []ClosedFlow `json:"denied,omitempty"`
}

// Enforces says the change moves layers from audit to enforce.
func (e EnforcementChange) Enforces() bool {
	return strings.HasPrefix(e.From, "audit") && (e.To == "enforce" || len(e.To) < len(e.From))
}

// enforcementChanges reads the teams' enforcement changes from the diff's Namespace
// summaries, with the flows of each team that the reachability change denies.
func enforcementChanges(d *Diff, rc []ClusterReach) []EnforcementChange {
	var out []EnforcementChange
	for _, c := range d.Clusters {
		var cr *ClusterReach
		for i := range rc {
			if rc[i].Cluster == c.Cluster {
				cr = &rc[i]
			}
		}
		for _, t := range c.Teams {
			for _, o := range t.Objects {
				if o.Kind != "Namespace" || o.Action != Changed {
					continue
				}
				for _, l := range o.Summary {
					rest, ok := strings.CutPrefix(l, enforcementPrefix)
					if !ok {
						continue
					}
					from, to, _ := strings.Cut(rest, " → ")
					e := EnforcementChange{Cluster: c.Cluster, Team: o.Name, From: from, To: to}
					if cr != nil {
						for _, f := range cr.Closed {
							if strings.HasPrefix(f.From, o.Name+"/") || strings.HasPrefix(f.To, o.Name+"/") {
								e.Denied = append(e.Denied, f)
							}
						}
					}
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// writeEnforcement calls out the teams that move between audit and enforce.
func writeEnforcement(b *strings.Builder, changes []EnforcementChange) {
	if len(changes) == 0 {
		return
	}
	b.WriteString("\n### Enforcement changes\n\n")
	for _, e := range changes {
		verb := "moves"
		if e.Enforces() {
			verb = "**enforces**"
		}
		fmt.Fprintf(b, "- **%s** on **%s** %s: `%s` → `%s`", e.Team, e.Cluster, verb, e.From, e.To)
		if e.Enforces() {
			fmt.Fprintf(b, "; %d %s allowed in audit %s now denied (the would-deny flows of `rampart reach`)", len(e.Denied), plural(len(e.Denied), "flow", "flows"), plural(len(e.Denied), "is", "are"))
		}
		b.WriteString("\n")
		for _, f := range e.Denied {
			fmt.Fprintf(b, "  - `%s` → `%s` %s: %s\n", f.From, f.To, f.Port, f.Why)
		}
	}
}
