package plan

import (
	"cmp"
	"encoding/json/jsontext"
	"maps"
	"slices"
	"strconv"
	"strings"

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
// loader reports those), the callee does not consent (an error the loader reports),
// or either app is quarantined.
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
	if a.Quarantine != nil || callee.Quarantine != nil {
		// A quarantined app calls nothing and is called by nothing: no layer renders
		// the call on either side (lib/quarantine.libsonnet).
		return Edge{}, false
	}
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

// MarshalJSON encodes the intents as encoding/json would, byte for byte, without
// reflection: every unit of a fleet encodes its intents for its cache key.
func (in Intents) MarshalJSON() ([]byte, error) {
	return in.AppendJSON(make([]byte, 0, 256)), nil
}

// AppendJSON appends the intents' JSON encoding to b.
func (in Intents) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	for _, side := range []struct {
		name  string
		edges map[string][]Edge
	}{{"outgoing", in.Outgoing}, {"incoming", in.Incoming}} {
		if len(side.edges) == 0 {
			continue // omitempty
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, side.name...)
		b = append(b, `":{`...)
		for i, app := range slices.Sorted(maps.Keys(side.edges)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, app)
			b = append(b, ':')
			b = appendEdges(b, side.edges[app])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendEdges(b []byte, edges []Edge) []byte {
	if edges == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range edges {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"from":{"team":`...)
		b = appendString(b, e.From.Team)
		b = append(b, `,"app":`...)
		b = appendString(b, e.From.App)
		b = append(b, `},"to":{"team":`...)
		b = appendString(b, e.To.Team)
		b = append(b, `,"app":`...)
		b = appendString(b, e.To.App)
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(e.To.Port), 10)
		if e.To.Protocol != "" {
			b = append(b, `,"protocol":`...)
			b = appendString(b, string(e.To.Protocol))
		}
		b = append(b, `},"methods":`...)
		b = appendStrings(b, e.Methods)
		b = append(b, `,"paths":`...)
		b = appendStrings(b, e.Paths)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string, escaped as encoding/json escapes it.
func appendString(b []byte, s string) []byte {
	q, err := jsontext.AppendQuote(b, s)
	if err != nil {
		// Invalid UTF-8: encoding/json replaces it, and so does this.
		q, _ = jsontext.AppendQuote(b, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return q
}
