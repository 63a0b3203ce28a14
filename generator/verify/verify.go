// Package verify judges a cluster's rendered tree before anything is written. It takes
// a manifest.Cluster and gives diagnostics naming each bad object as Kind/ns/name:
//   - every object decodes strictly into its upstream Go type;
//   - every pod template passes the Pod Security Standard "restricted" level, checked
//     by k8s.io/pod-security-admission (after the team's patches);
//   - tenant isolation: a team's directory holds only namespaced objects in the team's
//     namespace, of kinds its Flux reconciler is granted, and never a Kyverno
//     PolicyException; a tenant file holds only the team's namespace and objects in
//     it; the reconciler's role grants nothing on Kyverno's policy kinds;
//   - people: a tenant binds only Rampart's own roles (rampart:viewer, on production,
//     or rampart:developer, for the team's groups; the reconciler's role for its
//     service account), and those roles grant no Secrets, no token requests, no RBAC,
//     no escalation, and writes only where lib/people.libsonnet says (pods/exec and
//     the like for the developer, never on production);
//   - no object is rendered twice, and every directory builds with Flux's own build.
package verify

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/internal/fluxbuild"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// TenantReconcilerRole is the ClusterRole the platform layer renders for every team's
// Flux reconciler; it bounds what a team directory may contain.
const TenantReconcilerRole = defaults.TenantReconcilerRole

// Options say what the cluster expects.
type Options struct {
	// KubernetesVersion is the cluster's minor version, e.g. "1.33", for the Pod
	// Security checks.
	KubernetesVersion string
	// Production says the cluster is a production one: people are bound to the
	// viewer role only, and no role may debug (exec, attach, port-forward).
	Production bool
	// Memo, when set, shares verdicts on team files among the run's Checkers.
	Memo *Memo
}

// pssEvaluator is the Pod Security evaluator, made once: its checks are stateless.
var pssEvaluator = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// Checker verifies the files of one cluster. It is made once per cluster from the
// cluster's platform layer (which grants what tenant reconcilers may manage) and is
// safe for concurrent use, so the units of a cluster are verified in parallel.
type Checker struct {
	cluster string
	lv      psaapi.LevelVersion
	pss     policy.Evaluator
	grants  map[string]bool // "group/resource"
	// roleFile and role are the platform's tenant reconciler ClusterRole.
	roleFile *manifest.File
	role     *rbacv1.ClusterRole
	// people are the platform's people roles by name (viewer, developer).
	people map[string]*rbacv1.ClusterRole
	opts   Options
	// rules is the digest of what the checks of a team file read (Memo's key).
	rules [32]byte
}

// New returns the Checker of a cluster whose platform layer is platform.
func New(cluster string, platform []*manifest.File, opts Options) (*Checker, diag.List) {
	c := &Checker{cluster: cluster, opts: opts}
	c.lv = psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	if opts.KubernetesVersion != "" {
		ver, err := psaapi.ParseVersion("v" + opts.KubernetesVersion)
		if err != nil {
			return nil, diag.List{{File: path.Join("clusters", cluster, "cluster.yaml"), Field: "spec.kubernetesVersion", Message: err.Error(), Severity: diag.Error}}
		}
		c.lv.Version = ver
	}
	evaluator, err := pssEvaluator()
	if err != nil {
		return nil, diag.List{{Message: fmt.Sprintf("loading the Pod Security checks: %v", err), Severity: diag.Error}}
	}
	c.pss = evaluator
	c.roleFile, c.role = tenantRole(platform)
	c.grants = tenantGrants(c.role)
	c.people = peopleRoles(platform)
	if opts.Memo != nil {
		c.rules = c.rulesDigest()
	}
	return c, nil
}

// Cluster verifies a whole rendered cluster at once (the render verifies unit by
// unit with a Checker; this is the same checks over every file).
func Cluster(c *manifest.Cluster, opts Options) diag.List {
	var platform []*manifest.File
	for _, f := range c.Files {
		if f.Layer == manifest.LayerPlatform {
			platform = append(platform, f)
		}
	}
	ch, diags := New(c.Name, platform, opts)
	if ch == nil {
		return diags
	}
	diags, _ = ch.Files(c.Files)
	return diags
}

// Object identifies one rendered object, for the check that nothing is rendered
// twice across the units of a cluster.
type Object struct {
	// Key is apiVersion/Kind/namespace/name.
	Key string `json:"key"`
	// Ref is Kind/namespace/name, for messages.
	Ref string `json:"ref"`
	// File is the path of the file that holds it.
	File string `json:"file"`
}

// Files verifies the given files of the cluster: every object (strict types, Pod
// Security, isolation, not rendered twice among them), and Flux's build of each
// directory among them (a team's directory, the platform directory) and of each
// tenant file on its own. It returns the objects it saw, for Duplicates.
func (c *Checker) Files(files []*manifest.File) (diag.List, []Object) {
	v := &verifier{Checker: c, files: files}
	var objects []Object
	seen := map[string]string{}
	for _, f := range files {
		objs := v.objects(f)
		for _, o := range objs {
			if other, dup := seen[o.Key]; dup {
				v.add(diag.Diagnostic{File: f.Path, Object: o.Ref, Message: fmt.Sprintf("rendered twice (also in %s); object names must be unique", other)})
			}
			seen[o.Key] = f.Path
		}
		objects = append(objects, objs...)
	}
	v.healthChecks()
	v.reconcilerManagesNoExceptions()
	v.build()
	return v.diags.Sort(), objects
}

// Duplicates reports objects rendered twice across a cluster's units (each unit's
// Files already reports those within it). The cluster root's build (platform/ and
// tenants/) is the builds of its parts plus this check: its kustomizations list
// resources and nothing else.
func Duplicates(units ...[]Object) diag.List {
	var out diag.List
	n := 0
	for _, objs := range units {
		n += len(objs)
	}
	seen := make(map[string]string, n)
	for _, objs := range units {
		for _, o := range objs {
			if other, dup := seen[o.Key]; dup {
				out = append(out, diag.Diagnostic{File: o.File, Object: o.Ref, Message: fmt.Sprintf("rendered twice (also in %s); object names must be unique", other), Severity: diag.Error})
				continue
			}
			seen[o.Key] = o.File
		}
	}
	return out.Sort()
}

// KeySums are the 64-bit FNV-1a digests of the objects' keys. A fleet's render keeps
// these for every unit rather than the objects: when no two of a cluster's digests
// are equal no object is rendered twice there, and only when two are does
// Duplicates need the objects themselves.
func KeySums(objs []Object) []uint64 {
	if objs == nil {
		return nil
	}
	out := make([]uint64, len(objs))
	for i, o := range objs {
		h := uint64(14695981039346656037) // FNV-1a, 64-bit
		for j := 0; j < len(o.Key); j++ {
			h = (h ^ uint64(o.Key[j])) * 1099511628211
		}
		out[i] = h
	}
	return out
}

// SumsCollide says whether any two of the digests (KeySums of a cluster's parts) are
// equal, so that Duplicates must look at the objects.
func SumsCollide(parts ...[]uint64) bool {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	seen := make(map[uint64]struct{}, n)
	for _, p := range parts {
		for _, s := range p {
			if _, dup := seen[s]; dup {
				return true
			}
			seen[s] = struct{}{}
		}
	}
	return false
}

// objects checks each object of f (through the memo when it has one) and lists them.
func (v *verifier) objects(f *manifest.File) []Object {
	var docs [][]byte
	if v.memoized(f) {
		docs = f.Documents()
	}
	out := make([]Object, 0, len(f.Objects))
	for i, o := range f.Objects {
		apiVersion := o.GetAPIVersion()
		key := apiVersion + "/" + manifest.Ref(o)
		out = append(out, Object{Key: key, Ref: key[len(apiVersion)+1:], File: f.Path})
		if docs != nil {
			v.objectThroughMemo(f, o, docs[i])
		} else {
			v.object(f, o)
		}
	}
	return out
}

type verifier struct {
	*Checker
	files []*manifest.File
	diags diag.List
}

func (v *verifier) add(d diag.Diagnostic) {
	if d.Severity == "" {
		d.Severity = diag.Error
	}
	v.diags = append(v.diags, d)
}

func (v *verifier) obj(f *manifest.File, o *unstructured.Unstructured, msg, hint string) {
	v.add(diag.Diagnostic{File: f.Path, Object: manifest.Ref(o), Message: msg, Hint: hint})
}

func (v *verifier) object(f *manifest.File, o *unstructured.Unstructured) {
	if v.teamException(f, o) {
		return
	}
	gvk := o.GroupVersionKind()
	k, known := kinds[gvk]
	if !known {
		v.obj(f, o, fmt.Sprintf("kind %s %s is not one Rampart may render", o.GetAPIVersion(), o.GetKind()),
			"a layer that renders a new kind registers its upstream Go type in generator/verify/kinds.go")
		return
	}
	typed := k.newObject()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, typed, true); err != nil {
		v.obj(f, o, fmt.Sprintf("does not decode into %s: %v", gvk.Kind, err), "fix the template or patch that sets this field")
		return
	}
	v.isolation(f, o, k)
	if f.Layer == manifest.LayerPlatform {
		v.checkRole(f, o)
	}
	v.checkBinding(f, o)
	v.checkQuarantine(f, o)
	if tmpl, ok, err := manifest.PodTemplate(o); err != nil {
		v.obj(f, o, err.Error(), "")
	} else if ok {
		v.podSecurity(f, o, &tmpl.ObjectMeta, &tmpl.Spec)
	}
}

// isolation enforces what each layer may contain.
func (v *verifier) isolation(f *manifest.File, o *unstructured.Unstructured, k kind) {
	ns := o.GetNamespace()
	switch f.Layer {
	case manifest.LayerTeam:
		switch {
		case !k.namespaced:
			v.obj(f, o, "a team directory may not contain cluster-scoped objects", "cluster-wide objects belong to the platform layer (lib/platform.libsonnet)")
		case ns != f.Team:
			v.obj(f, o, fmt.Sprintf("is outside namespace %q; a team's objects stay in its own namespace", f.Team), "remove the namespace override from the spec, patch or chart")
		case !v.grants[o.GroupVersionKind().Group+"/"+k.resource]:
			v.obj(f, o, fmt.Sprintf("the team's Flux reconciler may not manage %s (it is not granted in ClusterRole %s)", k.resource, TenantReconcilerRole),
				"render it in the platform or tenant layer, or grant it in lib/platform.libsonnet's tenantRules")
		}
	case manifest.LayerTenant:
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
			if o.GetName() != f.Team {
				v.obj(f, o, fmt.Sprintf("a tenant file may only create the team's own namespace %q", f.Team), "")
			}
		} else if !k.namespaced || ns != f.Team {
			v.obj(f, o, fmt.Sprintf("a tenant file may only hold objects in namespace %q", f.Team), "")
		}
	}
}

func (v *verifier) podSecurity(f *manifest.File, o *unstructured.Unstructured, meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	results := v.pss.EvaluatePod(v.lv, meta, spec)
	for _, r := range results {
		if r.Allowed {
			continue
		}
		v.obj(f, o, fmt.Sprintf("violates Pod Security %q (%s): %s: %s", v.lv.Level, v.lv.Version, r.ForbiddenReason, r.ForbiddenDetail),
			"pods must run as non-root with no privilege escalation, all capabilities dropped and the RuntimeDefault seccomp profile; a patch may not weaken this")
	}
}

// tenantGrants reads what the tenant reconciler role grants, as "group/resource".
func tenantGrants(role *rbacv1.ClusterRole) map[string]bool {
	grants := map[string]bool{}
	if role == nil {
		return grants
	}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				grants[g+"/"+res] = true
			}
		}
	}
	return grants
}

// build runs Flux's kustomize build, in memory, on every directory among the files
// that has a kustomization.yaml (a team's directory, the platform directory) and on
// every tenant file alone.
func (v *verifier) build() {
	fs := filesys.MakeFsInMemory()
	var dirs []string
	encoded := map[string][]byte{}
	for _, f := range v.files {
		b, err := f.Encode()
		if err != nil {
			v.add(diag.Diagnostic{File: f.Path, Message: err.Error()})
			return
		}
		encoded[f.Path] = b
		if err := fs.WriteFile("/"+f.Path, b); err != nil {
			v.add(diag.Diagnostic{File: f.Path, Message: err.Error()})
			return
		}
		switch {
		case f.Layer == manifest.LayerTenant && f.Raw == nil && v.memoized(f):
			// judged by document, below
		case f.Layer == manifest.LayerTenant && f.Raw == nil:
			// A tenant file builds on its own, as one resource of tenants/.
			dir := "/tenant-" + strings.TrimSuffix(path.Base(f.Path), ".yaml")
			k, err := yaml.Marshal(manifest.Kustomization([]string{path.Base(f.Path)}))
			if err == nil {
				err = errors.Join(fs.WriteFile(dir+"/kustomization.yaml", k), fs.WriteFile(dir+"/"+path.Base(f.Path), b))
			}
			if err != nil {
				v.add(diag.Diagnostic{File: f.Path, Message: err.Error()})
				return
			}
			if _, err := fluxbuild.Build(fs, dir); err != nil {
				v.add(diag.Diagnostic{File: f.Path, Message: "Flux's kustomize build fails: " + strings.TrimSpace(err.Error())})
			}
		case path.Base(f.Path) == "kustomization.yaml" && (f.Layer == manifest.LayerTeam || f.Layer == manifest.LayerPlatform):
			dirs = append(dirs, path.Dir(f.Path))
		}
	}
	slices.Sort(dirs)
	var judged map[string]bool
	if v.opts.Memo != nil {
		var teamDirs []string
		for _, dir := range dirs {
			if strings.HasPrefix(dir, path.Join("clusters", v.cluster, "teams")+"/") {
				teamDirs = append(teamDirs, dir)
			}
		}
		judged = v.buildThroughMemo(teamDirs, encoded)
	}
	for _, dir := range dirs {
		if judged[dir] {
			continue
		}
		if _, err := fluxbuild.Build(fs, "/"+dir); err != nil {
			v.add(diag.Diagnostic{File: dir + "/kustomization.yaml", Message: "Flux's kustomize build fails: " + strings.TrimSpace(err.Error())})
		}
	}
}
