package load

import (
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// Inventory is every input document of a repository, checked and sorted by name.
type Inventory struct {
	// Config is rampart.yaml, or the zero Config when the file is absent.
	Config spec.Config
	// Clusters are clusters/*/cluster.yaml, sorted by name.
	Clusters []Cluster
	// Teams are teams/*.yaml, sorted by name.
	Teams []Team
	// Warnings are the checks' findings that do not fail the load, sorted. (On bad
	// input they are in Load's diag.List with the errors.)
	Warnings diag.List
	// teamFiles are the names of every team file, whether or not it loaded.
	teamFiles map[string]bool
	// clusterByName and teamByName index Clusters and Teams (see index).
	clusterByName map[string]*Cluster
	teamByName    map[string]*Team
	cache         *loadCache // where this load's files are remembered
}

// teamExists says whether a team of that name has a file, valid or not: a reference
// to a team whose file has errors is not a reference to a team that does not exist.
func (inv *Inventory) teamExists(name string) bool {
	return inv.Team(name) != nil || inv.teamFiles[name]
}

// Team is a team spec with the file it came from.
type Team struct {
	*spec.Team
	// File is the path relative to the repository root, e.g. teams/payments.yaml.
	File string
	// Pos locates fields of the document, for later stages' diagnostics.
	Pos *Positions
}

// Cluster is a cluster inventory with the file it came from.
type Cluster struct {
	*spec.Cluster
	// File is the path relative to the repository root, e.g. clusters/prod-weu/cluster.yaml.
	File string
	// Pos locates fields of the document.
	Pos *Positions
}

// index builds the by-name lookups; call it again after Clusters or Teams move.
func (inv *Inventory) index() {
	inv.clusterByName = make(map[string]*Cluster, len(inv.Clusters))
	for i := range inv.Clusters {
		inv.clusterByName[inv.Clusters[i].Metadata.Name] = &inv.Clusters[i]
	}
	inv.teamByName = make(map[string]*Team, len(inv.Teams))
	for i := range inv.Teams {
		if _, dup := inv.teamByName[inv.Teams[i].Metadata.Name]; !dup {
			inv.teamByName[inv.Teams[i].Metadata.Name] = &inv.Teams[i]
		}
	}
}

// Cluster returns the cluster of that name, or nil.
func (inv *Inventory) Cluster(name string) *Cluster {
	if inv.clusterByName == nil {
		inv.index()
	}
	return inv.clusterByName[name]
}

// Team returns the team of that name, or nil.
func (inv *Inventory) Team(name string) *Team {
	if inv.teamByName == nil {
		inv.index()
	}
	return inv.teamByName[name]
}

// SaveCache remembers the files this load read, so the next load of the same bytes
// skips parsing them; call it once the run that loaded them is through.
func (inv *Inventory) SaveCache() error { return inv.cache.save() }
