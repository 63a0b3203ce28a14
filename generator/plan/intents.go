package plan

import (
	"cmp"
	"slices"

	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// Intents are one team's resolved calls on a cluster, by app name: the edges its apps
// render as callers (Outgoing) and as callees (Incoming). The templates
// (lib/intents.libsonnet) read them instead of every peer team's spec, so evaluating a
// team costs the same however many teams share the cluster.
type Intents struct {
	Outgoing map[string][]Edge `json:"outgoing,omitempty"`
	Incoming map[string][]Edge `json:"incoming,omitempty"`
}

// Edge is one declared call that renders: the callee runs on the cluster, the app and
// port exist, and the callee consents.
type Edge struct {
	From    EdgeFrom `json:"from"`
	To      EdgeTo   `json:"to"`
	Methods []string `json:"methods"`
	Paths   []string `json:"paths"`
}

// EdgeFrom is the calling app.
type EdgeFrom struct {
	Team string `json:"team"`
	App  string `json:"app"`
}

// EdgeTo is the called app, its port, and its protocol as declared (empty means the
// templates' default).
type EdgeTo struct {
	Team     string        `json:"team"`
	App      string        `json:"app"`
	Port     int32         `json:"port"`
	Protocol spec.Protocol `json:"protocol,omitempty"`
}

// IntentGraph resolves every call of the teams on one cluster, once, and gives each
// team its edges. Incoming edges are sorted by caller (team/app), stably, so the
// output does not depend on the order teams are read in.
func IntentGraph(teams []*load.Team) map[string]Intents {
	byName := make(map[string]*load.Team, len(teams))
	for _, t := range teams {
		byName[t.Metadata.Name] = t
	}
	graph := make(map[string]Intents, len(teams))
	for _, t := range teams {
		graph[t.Metadata.Name] = Intents{}
	}
	add := func(m *map[string][]Edge, app string, e Edge) {
		if *m == nil {
			*m = map[string][]Edge{}
		}
		(*m)[app] = append((*m)[app], e)
	}
	for _, t := range teams {
		for ai := range t.Spec.Apps {
			a := &t.Spec.Apps[ai]
			for _, c := range a.Calls {
				e, ok := resolve(byName, t, a, c)
				if !ok {
					continue
				}
				caller := graph[t.Metadata.Name]
				add(&caller.Outgoing, a.Name, e)
				graph[t.Metadata.Name] = caller
				callee := graph[e.To.Team]
				add(&callee.Incoming, e.To.App, e)
				graph[e.To.Team] = callee
			}
		}
	}
	for _, in := range graph {
		for _, edges := range in.Incoming {
			slices.SortStableFunc(edges, func(a, b Edge) int {
				return cmp.Compare(a.From.Team+"/"+a.From.App, b.From.Team+"/"+b.From.App)
			})
		}
	}
	return graph
}

// resolve turns one call into its edge, or false when it renders nothing on this
// cluster: the callee's team does not run here, the app or port does not exist (the
// loader reports those), or the callee does not consent (an error the loader reports).
func resolve(teams map[string]*load.Team, t *load.Team, a *spec.App, c spec.Call) (Edge, bool) {
	calleeTeam := cmp.Or(c.Team, t.Metadata.Name)
	ct, ok := teams[calleeTeam]
	if !ok {
		return Edge{}, false
	}
	i := slices.IndexFunc(ct.Spec.Apps, func(x spec.App) bool { return x.Name == c.App })
	if i < 0 {
		return Edge{}, false
	}
	callee := &ct.Spec.Apps[i]
	port := cmp.Or(c.Port, callee.Port)
	if port != callee.Port || !load.Consents(calleeTeam, callee, t.Metadata.Name, a.Name) {
		return Edge{}, false
	}
	return Edge{
		From:    EdgeFrom{Team: t.Metadata.Name, App: a.Name},
		To:      EdgeTo{Team: calleeTeam, App: callee.Name, Port: port, Protocol: callee.Protocol},
		Methods: orEmpty(c.Methods),
		Paths:   orEmpty(c.Paths),
	}, true
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
