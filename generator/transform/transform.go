// Package transform turns evaluated objects into a cluster's rendered tree. It takes
// the platform layer and each team's tenant and team objects, applies the team's
// Flux-format patches and image overrides with Flux's own kustomize build, stamps the
// standard labels, lays the files out under clusters/<cluster>/ with their
// kustomization.yaml files, and sorts everything.
package transform

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	fluxapi "github.com/fluxcd/pkg/apis/kustomize"
	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/manifest"
)

// Labels every rendered object carries.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	ManagedBy      = "rampart"
)

// Team is one team's evaluated objects on a cluster.
type Team struct {
	Name string
	// Tenant objects go to tenants/<team>.yaml.
	Tenant []*unstructured.Unstructured
	// Files go to teams/<team>/<file>.
	Files map[string][]*unstructured.Unstructured
	// Patches and Images are the team's Flux-format customisations.
	Patches []fluxapi.Patch
	Images  []fluxapi.Image
}

// Customize applies the team's patches and image overrides to its team-layer objects
// (never to its tenant objects, which the platform owns), with the same kustomize
// build Flux runs. Objects keep their files.
func Customize(t *Team) error {
	if len(t.Patches) == 0 && len(t.Images) == 0 {
		return nil
	}
	fs := filesys.MakeFsInMemory()
	dir := "/" + t.Name
	var resources []string
	// fileOf remembers each object's file by its identity, which patches cannot change
	// without the object counting as new.
	fileOf := map[string]string{}
	protected := map[string]*unstructured.Unstructured{}
	for _, name := range slices.Sorted(maps.Keys(t.Files)) {
		var b strings.Builder
		for _, o := range t.Files[name] {
			fileOf[identity(o)] = name
			if slices.Contains(protectedGroups, o.GroupVersionKind().Group) {
				protected[identity(o)] = o
			}
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				return fmt.Errorf("customizing team %q: encoding %s: %w", t.Name, manifest.Ref(o), err)
			}
			b.WriteString("---\n")
			b.Write(y)
		}
		if err := fs.WriteFile(path.Join(dir, name), []byte(b.String())); err != nil {
			return fmt.Errorf("customizing team %q: %w", t.Name, err)
		}
		resources = append(resources, name)
	}
	k := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: resources,
	}
	for _, p := range t.Patches {
		k.Patches = append(k.Patches, kustypes.Patch{Patch: p.Patch, Target: selector(p.Target)})
	}
	for _, img := range t.Images {
		k.Images = append(k.Images, kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	ky, err := yaml.Marshal(k)
	if err != nil {
		return fmt.Errorf("customizing team %q: %w", t.Name, err)
	}
	if err := fs.WriteFile(path.Join(dir, "kustomization.yaml"), ky); err != nil {
		return fmt.Errorf("customizing team %q: %w", t.Name, err)
	}
	res, err := fluxkustomize.Build(fs, dir)
	if err != nil {
		return fmt.Errorf("applying the patches and images of team %q: %w", t.Name, err)
	}
	files := map[string][]*unstructured.Unstructured{}
	var errs []error
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		name, ok := fileOf[identity(u)]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: a patch may change objects but not add, rename or move them", manifest.Ref(u)))
			continue
		}
		if orig, ok := protected[identity(u)]; ok && !equality.Semantic.DeepEqual(orig.Object, u.Object) {
			errs = append(errs, fmt.Errorf("%s: a patch may not change %s objects; set the app's expose fields instead", manifest.Ref(u), u.GroupVersionKind().Group))
			continue
		}
		files[name] = append(files[name], u)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("applying the patches of team %q: %w", t.Name, err)
	}
	t.Files = files
	return nil
}

// identity is an object's apiVersion, kind, namespace and name.
func identity(o *unstructured.Unstructured) string {
	return o.GetAPIVersion() + "/" + manifest.Ref(o)
}

// protectedGroups are API groups whose objects carry platform protections a team's
// patch may not change: its routes, middlewares (rate limits, allow lists, security
// headers) and certificates are checked against every other team's when loading.
var protectedGroups = []string{"traefik.io", "cert-manager.io"}

func selector(s *fluxapi.Selector) *kustypes.Selector {
	if s == nil {
		return nil
	}
	return &kustypes.Selector{
		ResId: resid.ResId{
			Gvk:       resid.Gvk{Group: s.Group, Version: s.Version, Kind: s.Kind},
			Name:      s.Name,
			Namespace: s.Namespace,
		},
		AnnotationSelector: s.AnnotationSelector,
		LabelSelector:      s.LabelSelector,
	}
}

// Layout places a cluster's platform files and its teams into the cluster's
// directory, with a kustomization.yaml in each directory. The cluster root lists
// only platform/ and tenants/: team directories are applied by each team's own Flux
// Kustomization, never by the cluster's reconciler.
func Layout(cluster string, platform map[string][]*unstructured.Unstructured, teams []*Team) *manifest.Cluster {
	c := &manifest.Cluster{Name: cluster}
	root := c.Dir()
	add := func(dir string, layer manifest.Layer, team string, files map[string][]*unstructured.Unstructured) {
		names := slices.Sorted(maps.Keys(files))
		for _, name := range names {
			objs := slices.Clone(files[name])
			for _, o := range objs {
				stamp(o, team)
			}
			c.Files = append(c.Files, &manifest.File{Path: path.Join(dir, name), Layer: layer, Team: team, Objects: objs})
		}
		c.Files = append(c.Files, &manifest.File{Path: path.Join(dir, "kustomization.yaml"), Layer: layer, Team: team, Raw: manifest.Kustomization(names)})
	}
	c.Files = append(c.Files, &manifest.File{Path: path.Join(root, "kustomization.yaml"), Layer: manifest.LayerRoot, Raw: manifest.Kustomization([]string{"platform", "tenants"})})
	add(path.Join(root, "platform"), manifest.LayerPlatform, "", platform)
	tenants := map[string][]*unstructured.Unstructured{}
	for _, t := range teams {
		tenants[t.Name+".yaml"] = t.Tenant
	}
	// Tenant files share one kustomization.yaml; each file still belongs to its team.
	add(path.Join(root, "tenants"), manifest.LayerTenant, "", tenants)
	for _, f := range c.Files {
		if f.Layer == manifest.LayerTenant && f.Raw == nil {
			f.Team = strings.TrimSuffix(path.Base(f.Path), ".yaml")
			for _, o := range f.Objects {
				stamp(o, f.Team)
			}
		}
	}
	for _, t := range teams {
		add(path.Join(root, "teams", t.Name), manifest.LayerTeam, t.Name, t.Files)
	}
	c.Sort()
	return c
}

// stamp sets the labels every rendered object carries.
func stamp(o *unstructured.Unstructured, team string) {
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedBy
	if team != "" {
		labels[LabelPartOf] = team
	}
	o.SetLabels(labels)
}
