// Package plan turns a loaded inventory into the render matrix: for every cluster, the
// units to render (one per team that runs there) and the cross-team intent graph,
// computed once per cluster, so each unit carries only the edges it touches. Every
// cluster is planned, even one with no teams, so its platform layer is rendered and
// stale tenants are pruned.
package plan

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/load"
)

// Cluster is one cluster and its units, sorted by team name.
type Cluster struct {
	Cluster *load.Cluster
	Units   []*Unit
}

// Name is the cluster's name.
func (c *Cluster) Name() string { return c.Cluster.Metadata.Name }

// Teams are the names of the teams on the cluster, sorted.
func (c *Cluster) Teams() []string {
	names := make([]string, len(c.Units))
	for i, u := range c.Units {
		names[i] = u.Team.Metadata.Name
	}
	return names
}

// Unit is one team on one cluster: what a render evaluates, verifies and caches as one.
type Unit struct {
	Cluster *load.Cluster
	Team    *load.Team
	// Intents are the team's resolved calls on this cluster, both directions.
	Intents Intents
}

// Name is the unit's name, cluster/team, for logs and progress.
func (u *Unit) Name() string { return u.Cluster.Metadata.Name + "/" + u.Team.Metadata.Name }

// Make builds the matrix, clusters and teams in name order. only, when not empty,
// restricts it to the clusters named there (a CI matrix renders a shard); naming a
// cluster that does not exist is an error.
func Make(inv *load.Inventory, only []string) ([]*Cluster, error) {
	var unknown []string
	for _, name := range only {
		if inv.Cluster(name) == nil {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		var known []string
		for i := range inv.Clusters {
			known = append(known, inv.Clusters[i].Metadata.Name)
		}
		return nil, fmt.Errorf("no cluster %s; clusters: %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	var out []*Cluster
	for i := range inv.Clusters {
		c := &inv.Clusters[i]
		if len(only) > 0 && !slices.Contains(only, c.Metadata.Name) {
			continue
		}
		out = append(out, &Cluster{Cluster: c})
	}
	// Each cluster's intents are its own: the clusters' graphs are resolved on every
	// core.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, pc := range out {
		g.Go(func() error {
			var teams []*load.Team
			for j := range inv.Teams {
				t := &inv.Teams[j]
				if slices.Contains(t.Spec.Clusters, pc.Cluster.Metadata.Name) {
					teams = append(teams, t)
				}
			}
			graph := IntentGraph(teams)
			for _, t := range teams {
				pc.Units = append(pc.Units, &Unit{Cluster: pc.Cluster, Team: t, Intents: graph[t.Metadata.Name]})
			}
			return nil
		})
	}
	_ = g.Wait()
	return out, nil
}
