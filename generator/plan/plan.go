// Package plan turns a loaded inventory into the render matrix: for every cluster, the
// teams that run on it. Every cluster is planned, even one with no teams, so its
// platform layer is rendered and stale tenants are pruned.
package plan

import (
	"slices"

	"github.com/rampart-gitops/rampart/generator/load"
)

// Cluster is one cluster and the teams that run on it, sorted by name.
type Cluster struct {
	Cluster *load.Cluster
	Teams   []*load.Team
}

// Make builds the matrix, clusters and teams in name order.
func Make(inv *load.Inventory) []Cluster {
	var out []Cluster
	for i := range inv.Clusters {
		c := &inv.Clusters[i]
		pc := Cluster{Cluster: c}
		for j := range inv.Teams {
			t := &inv.Teams[j]
			if slices.Contains(t.Spec.Clusters, c.Metadata.Name) {
				pc.Teams = append(pc.Teams, t)
			}
		}
		out = append(out, pc)
	}
	return out
}
