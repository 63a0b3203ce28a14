package generator

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/manifest"
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
	add := func(p string, layer manifest.Layer) error {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(b), manifest.Header) {
			return nil // not ours; the writer leaves it alone anyway
		}
		c.Files = append(c.Files, &manifest.File{Path: p, Layer: layer, Team: team, Held: b})
		return nil
	}
	if err := add(tenantFile, manifest.LayerTenant); err != nil {
		return err
	}
	err := filepath.WalkDir(filepath.Join(dir, filepath.FromSlash(teamDir)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return add(filepath.ToSlash(rel), manifest.LayerTeam)
	})
	if err != nil {
		return err
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
