// Package transform turns evaluated objects into rendered files. It takes a team's
// tenant and team objects (or a cluster's platform layer), applies the team's
// Flux-format patches and image overrides with Flux's kustomize build, stamps the
// standard labels, lays the files out under clusters/<cluster>/ with their
// kustomization.yaml files, and sorts everything.
package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	fluxapi "github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/internal/fluxbuild"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// Labels every rendered object carries.
const (
	LabelManagedBy = defaults.LabelManagedBy
	LabelPartOf    = defaults.LabelPartOf
	ManagedBy      = defaults.ManagedBy
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
	res, err := fluxbuild.Build(fs, dir)
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
		if gvk := u.GroupVersionKind(); gvk.Kind == "PolicyException" && slices.Contains(exceptionGroups, gvk.Group) {
			errs = append(errs, fmt.Errorf("%s: a patch may not render a policy exception; declare it under spec.exceptions.policies, with a reason and an expiry date", manifest.Ref(u)))
			continue
		}
		name, ok := fileOf[identity(u)]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: a patch may change objects but not add, rename or move them", manifest.Ref(u)))
			continue
		}
		if orig, ok := protected[identity(u)]; ok && !sameJSON(orig.Object, u.Object) {
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

// sameJSON says whether two objects encode to the same JSON. Objects from the
// templates hold float64 numbers and kustomize's output int64 ones, so a structural
// comparison would call every object changed.
func sameJSON(a, b map[string]any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// identity is an object's apiVersion, kind, namespace and name.
func identity(o *unstructured.Unstructured) string {
	return o.GetAPIVersion() + "/" + manifest.Ref(o)
}

// exceptionGroups are the API groups of Kyverno's PolicyExceptions, which only
// spec.exceptions.policies renders (in the tenant file, out of a patch's reach).
var exceptionGroups = []string{"policies.kyverno.io", "kyverno.io"}

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

// TeamFiles lays out one team on a cluster: its tenant file, tenants/<team>.yaml
// (applied by the cluster's reconciler), and its directory, teams/<team>/, with the
// directory's kustomization.yaml (applied by the team's own Flux Kustomization).
// Objects get the standard labels and are sorted; files are sorted by path.
func TeamFiles(cluster string, t *Team) []*manifest.File {
	root := path.Join("clusters", cluster)
	tenant := slices.Clone(t.Tenant)
	for _, o := range tenant {
		stamp(o, t.Name)
	}
	files := []*manifest.File{{Path: path.Join(root, "tenants", t.Name+".yaml"), Layer: manifest.LayerTenant, Team: t.Name, Objects: tenant}}
	files = append(files, directory(path.Join(root, "teams", t.Name), manifest.LayerTeam, t.Name, t.Files)...)
	sortFiles(files)
	return files
}

// ClusterFiles lays out what a cluster has besides its teams: the root
// kustomization.yaml, which lists only platform/ and tenants/ (team directories are
// applied by each team's own Flux Kustomization, never by the cluster's reconciler),
// the platform directory, and the kustomization.yaml that lists the tenant files of
// the given teams.
func ClusterFiles(cluster string, platform map[string][]*unstructured.Unstructured, tenants []string) []*manifest.File {
	root := path.Join("clusters", cluster)
	files := []*manifest.File{{Path: path.Join(root, "kustomization.yaml"), Layer: manifest.LayerRoot, Raw: manifest.Kustomization([]string{"platform", "tenants"})}}
	files = append(files, directory(path.Join(root, "platform"), manifest.LayerPlatform, "", platform)...)
	names := make([]string, len(tenants))
	for i, t := range tenants {
		names[i] = t + ".yaml"
	}
	slices.Sort(names)
	files = append(files, &manifest.File{Path: path.Join(root, "tenants", "kustomization.yaml"), Layer: manifest.LayerTenant, Raw: manifest.Kustomization(names)})
	sortFiles(files)
	return files
}

// directory lays out the files of one directory and its kustomization.yaml.
func directory(dir string, layer manifest.Layer, team string, files map[string][]*unstructured.Unstructured) []*manifest.File {
	var out []*manifest.File
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		objs := slices.Clone(files[name])
		for _, o := range objs {
			stamp(o, team)
		}
		out = append(out, &manifest.File{Path: path.Join(dir, name), Layer: layer, Team: team, Objects: objs})
	}
	return append(out, &manifest.File{Path: path.Join(dir, "kustomization.yaml"), Layer: layer, Team: team, Raw: manifest.Kustomization(names)})
}

func sortFiles(files []*manifest.File) {
	slices.SortFunc(files, func(a, b *manifest.File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range files {
		manifest.SortObjects(f.Objects)
	}
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
