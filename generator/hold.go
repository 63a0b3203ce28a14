package generator

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/write"
)

// holdTeam replaces a team's freshly rendered files on a cluster with what is on disk,
// so a team that failed the scan gate keeps its previous output (or none, if it never
// rendered) while the other teams move on. The tenants' kustomization.yaml is rebuilt
// to list exactly the tenant files that remain.
func holdTeam(dir string, c *manifest.Cluster, team string) error {
	c.Files = slices.DeleteFunc(c.Files, func(f *manifest.File) bool {
		return f.Team == team && (f.Layer == manifest.LayerTenant || f.Layer == manifest.LayerTeam)
	})
	tenantFile := path.Join(c.Dir(), "tenants", team+".yaml")
	teamDir := path.Join(c.Dir(), "teams", team)
	rendered, err := write.Rendered(dir, c.Name)
	if err != nil {
		return err
	}
	for _, p := range rendered {
		var layer manifest.Layer
		switch {
		case p == tenantFile:
			layer = manifest.LayerTenant
		case strings.HasPrefix(p, teamDir+"/"):
			layer = manifest.LayerTeam
		default:
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		c.Files = append(c.Files, &manifest.File{Path: p, Layer: layer, Team: team, Held: b})
	}
	tenantsDir := path.Join(c.Dir(), "tenants")
	var tenants []string
	var kustomization *manifest.File
	for _, f := range c.Files {
		switch {
		case f.Layer != manifest.LayerTenant || path.Dir(f.Path) != tenantsDir:
		case path.Base(f.Path) == "kustomization.yaml":
			kustomization = f
		default:
			tenants = append(tenants, path.Base(f.Path))
		}
	}
	if kustomization != nil {
		slices.Sort(tenants)
		kustomization.Raw = manifest.Kustomization(tenants)
	}
	c.Sort()
	return nil
}
