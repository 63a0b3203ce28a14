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

// Cluster returns the cluster of that name, or nil.
func (inv *Inventory) Cluster(name string) *Cluster {
	for i := range inv.Clusters {
		if inv.Clusters[i].Metadata.Name == name {
			return &inv.Clusters[i]
		}
	}
	return nil
}

// Team returns the team of that name, or nil.
func (inv *Inventory) Team(name string) *Team {
	for i := range inv.Teams {
		if inv.Teams[i].Metadata.Name == name {
			return &inv.Teams[i]
		}
	}
	return nil
}
