package plan

import (
	"testing"

	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestQuarantinedAppsHaveNoEdges: a call to or from a quarantined app renders on
// neither side; the other calls stay.
func TestQuarantinedAppsHaveNoEdges(t *testing.T) {
	q := &spec.Quarantine{Reason: "a reverse shell from pods"}
	team := func(apps ...spec.App) *load.Team {
		return &load.Team{Team: &spec.Team{Metadata: spec.Metadata{Name: "shop"}, Spec: spec.TeamSpec{Apps: apps}}}
	}
	app := func(name string, quarantine *spec.Quarantine, calls ...string) spec.App {
		a := spec.App{Name: name, Port: 8080, Quarantine: quarantine}
		for _, c := range calls {
			a.Calls = append(a.Calls, spec.Call{App: c})
		}
		return a
	}
	graph := IntentGraph([]*load.Team{team(
		app("web", nil, "api", "cart"),
		app("api", q, "cart"),
		app("cart", nil),
	)})["shop"]
	if got := graph.Outgoing["web"]; len(got) != 1 || got[0].To.App != "cart" {
		t.Errorf("web's calls: %+v, want only cart", got)
	}
	if got := graph.Outgoing["api"]; len(got) != 0 {
		t.Errorf("quarantined api still calls: %+v", got)
	}
	if got := graph.Incoming["api"]; len(got) != 0 {
		t.Errorf("quarantined api is still called: %+v", got)
	}
	if got := graph.Incoming["cart"]; len(got) != 1 || got[0].From.App != "web" {
		t.Errorf("cart's callers: %+v, want only web", got)
	}
}
