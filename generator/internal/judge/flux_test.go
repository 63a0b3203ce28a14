package judge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/internal/judge"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// The Flux judge: every example cluster's rendered tree, served over Git, is
// reconciled by the real source-controller and kustomize-controller under Flux's
// multi-tenancy lockdown, against a real kube-apiserver of its own.
//
// What the served copy changes, and why: each tenant GitRepository's URL points
// at the test's Git server instead of the cluster's remote, and each tenant
// Kustomization's timeout (Flux's floor, 30s) and retry interval are seconds instead of minutes (no
// kubelet or controller manager runs, so Deployments never become available: the
// health check is judged by its reason, not by Ready). Nothing else changes.

var (
	gitRepositoryGVR       = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationGVR       = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	generatingGVR          = schema.GroupVersionResource{Group: "policies.kyverno.io", Version: "v1", Resource: "generatingpolicies"}
	secretGVR              = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	namespaceGVR           = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	saGVR                  = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	clusterRoleGVR         = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	crbGVR                 = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	roleBindingGVR         = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	subjectAccessReviewGVR = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "subjectaccessreviews"}
)

const (
	// tenantTimeout replaces the tenants' health-check timeout in the served copy:
	// kustomize-controller waits at least 30s, whatever the Kustomization says.
	tenantTimeout = "30s"
	// controlNamespace holds the negative controls, set up like a tenant.
	controlNamespace = "rampart-control"
	// reconcilerSA is the tenant reconciler's ServiceAccount (lib/defaults.libsonnet).
	reconcilerSA = "flux-reconciler"
	// kyvernoSA is the identity of Kyverno's background controller, which does
	// the cloning the rendered GeneratingPolicy asks for.
	kyvernoSA = "system:serviceaccount:kyverno:kyverno-background-controller"
	// kyvernoAggregationLabel marks the ClusterRoles Kyverno's Helm chart
	// aggregates into its background controller's role.
	kyvernoAggregationLabel = "rbac.kyverno.io/aggregate-to-background-controller"
)

// TestFluxReconcilesRenderedClusters runs every example cluster through the real
// Flux controllers (see the top of this file).
func TestFluxReconcilesRenderedClusters(t *testing.T) {
	root := repoRoot(t)
	dirs, err := filepath.Glob(filepath.Join(root, "clusters", "*", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bins, err := judge.FindBinaries()
	var fluxBins judge.FluxBinaries
	if err == nil {
		fluxBins, err = judge.FindFluxBinaries()
	}
	if err != nil {
		if errors.Is(err, judge.ErrMissingBinaries) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	begin := time.Now()
	for _, file := range dirs {
		cluster := filepath.Base(filepath.Dir(file))
		t.Run(cluster, func(t *testing.T) {
			fluxJudge(t, root, cluster, bins, fluxBins)
		})
	}
	t.Logf("flux judge: %d clusters in %s", len(dirs), time.Since(begin).Round(time.Millisecond))
}

// clusterSetup is what the judge reads from a cluster's inventory.
type clusterSetup struct {
	name, fluxNamespace, rootName, branch, secretName string
}

func readCluster(t *testing.T, root, name string) clusterSetup {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "clusters", name, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c spec.Cluster
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("reading clusters/%s/cluster.yaml: %v", name, err)
	}
	s := clusterSetup{name: name, fluxNamespace: c.Spec.Flux.Namespace, rootName: c.Spec.Flux.RootKustomization,
		branch: c.Spec.Flux.Repository.Branch, secretName: c.Spec.Flux.Repository.SecretName}
	if s.fluxNamespace == "" {
		s.fluxNamespace = judge.FluxNamespace
	}
	if s.rootName == "" {
		s.rootName = "flux-system"
	}
	if s.branch == "" {
		s.branch = "main"
	}
	if s.secretName == "" {
		t.Fatalf("clusters/%s/cluster.yaml names no flux.repository.secretName; the judge's Git server requires a credential", name)
	}
	return s
}

func fluxJudge(t *testing.T, root, cluster string, bins judge.Binaries, fluxBins judge.FluxBinaries) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	setup := readCluster(t, root, cluster)
	stage := newStages(t)

	srv, err := judge.Start(ctx, judge.Options{Binaries: bins, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	stage.done("kube-apiserver with CRDs (" + srv.Timings.String() + ")")
	dyn, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}

	cred := judge.GitCredential{Username: "flux", Password: "read-only-" + cluster}
	git, err := judge.StartGitServer(cred)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := git.Stop(); err != nil {
			t.Error(err)
		}
	})
	tree, teams := servedTree(t, root, cluster, git.URL)
	revision, err := git.Publish(tree, setup.branch)
	if err != nil {
		t.Fatal(err)
	}

	// What `flux bootstrap` and the platform team leave on a cluster before the
	// first sync: Flux's namespace and its controllers' service accounts (the
	// kustomize-controller one cluster-admin, as Flux installs it), the
	// cluster's read-only Git credential, the namespaces the platform installs
	// itself, and Kyverno's background controller identity.
	objs, err := judge.ReadTree(os.DirFS(root), "clusters/"+cluster)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.EnsureNamespaces(ctx, append([]string{setup.fluxNamespace, "kyverno"}, judge.PlatformNamespaces(objs)...)); err != nil {
		t.Fatal(err)
	}
	mustCreate(ctx, t, dyn, saGVR, obj("v1", "ServiceAccount", setup.fluxNamespace, "kustomize-controller", nil))
	mustCreate(ctx, t, dyn, saGVR, obj("v1", "ServiceAccount", "kyverno", "kyverno-background-controller", nil))
	mustCreate(ctx, t, dyn, crbGVR, obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "cluster-reconciler-"+setup.fluxNamespace, map[string]any{
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "kustomize-controller", "namespace": setup.fluxNamespace}},
	}))
	mustCreate(ctx, t, dyn, secretGVR, obj("v1", "Secret", setup.fluxNamespace, setup.secretName, map[string]any{
		"type":       "Opaque",
		"stringData": map[string]any{"username": cred.Username, "password": cred.Password},
	}))

	flux, err := judge.StartFlux(ctx, srv, fluxBins)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(flux.Logs(40))
		}
		if err := flux.Stop(); err != nil {
			t.Error(err)
		}
	})
	stage.done("Git server and Flux controllers")

	// The root, as `flux bootstrap --path clusters/<cluster>` makes it, with the
	// lockdown's serviceAccountName: under --default-service-account it would
	// otherwise impersonate flux-system:default, which may do nothing.
	mustCreate(ctx, t, dyn, gitRepositoryGVR, obj("source.toolkit.fluxcd.io/v1", "GitRepository", setup.fluxNamespace, setup.rootName, map[string]any{
		"spec": map[string]any{
			"interval":  "1m",
			"url":       git.URL,
			"ref":       map[string]any{"branch": setup.branch},
			"secretRef": map[string]any{"name": setup.secretName},
		},
	}))
	mustCreate(ctx, t, dyn, kustomizationGVR, obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", setup.fluxNamespace, setup.rootName, map[string]any{
		"spec": map[string]any{
			"interval":           "10m",
			"path":               "./clusters/" + cluster,
			"prune":              true,
			"sourceRef":          map[string]any{"kind": "GitRepository", "name": setup.rootName},
			"serviceAccountName": "kustomize-controller",
		},
	}))
	rootKs := waitFor(ctx, t, dyn, kustomizationGVR, setup.fluxNamespace, setup.rootName, 3*time.Minute, func(u *unstructured.Unstructured) bool {
		c := condition(u, "Ready")
		return c.status == "True" && str(u, "status", "lastAppliedRevision") == revision
	})
	if rootKs == nil {
		t.Fatalf("the root Kustomization %s/%s did not become Ready at %s", setup.fluxNamespace, setup.rootName, revision)
	}
	stage.done("root Kustomization Ready")

	// Before the credential reaches a tenant namespace, its source cannot fetch:
	// under lockdown the one in Flux's namespace is out of reach.
	for _, team := range teams {
		u := waitFor(ctx, t, dyn, gitRepositoryGVR, team, "rampart", time.Minute, func(u *unstructured.Unstructured) bool {
			c := condition(u, "Ready")
			return c.status == "False" && strings.Contains(c.message, setup.secretName) && strings.Contains(c.message, "not found")
		})
		if u == nil {
			t.Errorf("GitRepository/%s/rampart did not report its missing credential %q before it was cloned", team, setup.secretName)
		} else {
			t.Logf("flux judge: %s: before the clone, GitRepository/%s/rampart: %s", cluster, team, condition(u, "Ready").message)
		}
	}
	cloned := kyvernoClone(ctx, t, srv, dyn)
	t.Logf("flux judge: %s: the GeneratingPolicy cloned %s/%s into %s", cluster, setup.fluxNamespace, setup.secretName, strings.Join(cloned, ", "))
	for _, team := range teams {
		if !slices.Contains(cloned, team) {
			t.Errorf("the rendered GeneratingPolicy does not clone the Git credential into team namespace %q", team)
		}
		u := waitFor(ctx, t, dyn, gitRepositoryGVR, team, "rampart", 2*time.Minute, func(u *unstructured.Unstructured) bool {
			return condition(u, "Ready").status == "True" && str(u, "status", "artifact", "revision") == revision
		})
		if u == nil {
			t.Errorf("GitRepository/%s/rampart did not fetch %s with the cloned credential", team, revision)
		}
	}
	stage.done("tenant sources fetched")

	mapper := restMapper(t, srv)
	for _, team := range teams {
		checkTenant(ctx, t, dyn, mapper, root, cluster, team, revision)
	}
	stage.done("tenant Kustomizations applied and health-checked")

	controls(ctx, t, srv, dyn, setup, git)
	stage.done("negative controls")

	checkAudit(t, srv, mapper, objsByTeam(t, root, cluster, teams))
	t.Logf("flux judge: %s: %s", cluster, stage)
}

// servedTree copies clusters/<cluster>/ as rendered, with the changes described
// at the top of this file, and adds the negative controls' directories. It
// returns the tree and the cluster's teams.
func servedTree(t *testing.T, root, cluster, gitURL string) (fstest.MapFS, []string) {
	t.Helper()
	tree := fstest.MapFS{}
	dir := "clusters/" + cluster
	var teams []string
	err := fs.WalkDir(os.DirFS(root), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path.Dir(p) == dir+"/teams" {
				teams = append(teams, d.Name())
			}
			return nil
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		if path.Dir(p) == dir+"/tenants" && path.Base(p) != "kustomization.yaml" {
			if data, err = retargetTenant(p, data, gitURL); err != nil {
				return err
			}
		}
		tree[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range controlTree {
		tree[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	sort.Strings(teams)
	return tree, teams
}

// retargetTenant points a tenant file's GitRepository at the test's server and
// shortens its Kustomization's health-check timeout and retry interval.
func retargetTenant(file string, data []byte, gitURL string) ([]byte, error) {
	objs, err := judge.ParseObjects(file, data)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, o := range objs {
		u := o.Data
		switch u.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository"}:
			if err := unstructured.SetNestedField(u.Object, gitURL, "spec", "url"); err != nil {
				return nil, err
			}
		case schema.GroupKind{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}:
			if err := unstructured.SetNestedField(u.Object, tenantTimeout, "spec", "timeout"); err != nil {
				return nil, err
			}
			if err := unstructured.SetNestedField(u.Object, "5s", "spec", "retryInterval"); err != nil {
				return nil, err
			}
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes(), nil
}

// checkTenant checks one team's Kustomization: it applied the whole team
// directory at the served revision (its inventory is exactly the directory's
// objects), and its health check ended on Deployments still in progress, as they
// must without a kubelet, never on an error or a Forbidden.
func checkTenant(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, root, cluster, team, revision string) {
	t.Helper()
	u := waitFor(ctx, t, dyn, kustomizationGVR, team, team, 2*time.Minute, func(u *unstructured.Unstructured) bool {
		c := condition(u, "Ready")
		return str(u, "status", "lastAttemptedRevision") == revision &&
			(c.status == "True" || (c.status == "False" && c.reason != "Progressing" && c.reason != "DependencyNotReady" && c.reason != "ArtifactFailed"))
	})
	if u == nil {
		t.Errorf("Kustomization/%s/%s reached no verdict at %s", team, team, revision)
		return
	}
	c := condition(u, "Ready")
	switch {
	case c.status == "True":
	case c.reason != "HealthCheckFailed":
		t.Errorf("Kustomization/%s/%s: Ready=False, reason %s: %s", team, team, c.reason, c.message)
	case strings.Contains(strings.ToLower(c.message), "forbidden") || strings.Contains(c.message, "Failed") || strings.Contains(c.message, "Unknown"):
		t.Errorf("Kustomization/%s/%s: the health check failed on something other than progress: %s", team, team, c.message)
	case !strings.Contains(c.message, "status: 'InProgress'"):
		t.Errorf("Kustomization/%s/%s: the health check's message names no object in progress: %s", team, team, c.message)
	}
	t.Logf("flux judge: %s: Kustomization/%s/%s: Ready=%s %s: %s", cluster, team, team, c.status, c.reason, c.message)

	var got []string
	entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok {
			id, _ := m["id"].(string)
			got = append(got, id)
		}
	}
	var want []string
	for _, o := range teamObjects(t, root, cluster, team) {
		gvk := o.Data.GroupVersionKind()
		want = append(want, strings.Join([]string{o.Data.GetNamespace(), o.Data.GetName(), gvk.Group, gvk.Kind}, "_"))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("Kustomization/%s/%s applied %d objects %v; the team directory holds %d: %v", team, team, len(got), got, len(want), want)
	}
	for _, o := range teamObjects(t, root, cluster, team) {
		m, err := mapper.RESTMapping(o.Data.GroupVersionKind().GroupKind(), o.Data.GroupVersionKind().Version)
		if err != nil {
			t.Errorf("mapping %s: %v", o.Name(), err)
			continue
		}
		if _, err := dyn.Resource(m.Resource).Namespace(o.Data.GetNamespace()).Get(ctx, o.Data.GetName(), metav1.GetOptions{}); err != nil {
			t.Errorf("%s from %s is not on the cluster: %v", o.Name(), o.File, err)
		}
	}
}

func teamObjects(t *testing.T, root, cluster, team string) []judge.Object {
	t.Helper()
	objs, err := judge.ReadTree(os.DirFS(root), "clusters/"+cluster+"/teams/"+team)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func objsByTeam(t *testing.T, root, cluster string, teams []string) map[string][]judge.Object {
	out := map[string][]judge.Object{}
	for _, team := range teams {
		out[team] = teamObjects(t, root, cluster, team)
	}
	return out
}

// kyvernoClone does what Kyverno's background controller does for the rendered
// GeneratingPolicies (Kyverno does not run in the harness): for every Namespace
// the policy selects, it gets the source Secret and creates its copy there, and it
// watches Secrets cluster-wide as Kyverno's watcher of generated resources does.
// It acts as Kyverno's service account, bound only to the ClusterRoles that carry
// Kyverno's aggregation label (the render's among them), so the rendered RBAC is
// judged too. It understands only the policy shape lib/gitcredential.libsonnet
// renders and fails on any other. It returns the namespaces it cloned into.
func kyvernoClone(ctx context.Context, t *testing.T, srv *judge.Server, dyn dynamic.Interface) []string {
	t.Helper()
	policies, err := dyn.Resource(generatingGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(policies.Items) == 0 {
		t.Fatal("the cluster holds no GeneratingPolicy: nothing would bring the Git credential to the tenants")
	}

	// Kyverno's chart aggregates every labelled ClusterRole into its
	// background controller's role; bind them to its service account directly
	// (no controller manager aggregates roles here).
	roles, err := dyn.Resource(clusterRoleGVR).List(ctx, metav1.ListOptions{LabelSelector: kyvernoAggregationLabel + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Items {
		crb := obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "kyverno-aggregated:"+r.GetName(), map[string]any{
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": r.GetName()},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "kyverno-background-controller", "namespace": "kyverno"}},
		})
		if _, err := dyn.Resource(crbGVR).Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	asKyverno := *srv.Config
	asKyverno.Impersonate.UserName = kyvernoSA
	kyverno, err := dynamic.NewForConfig(&asKyverno)
	if err != nil {
		t.Fatal(err)
	}
	// Kyverno's watcher of generated resources watches their kind everywhere.
	// The API server's authorizer sees the bindings just made once its RBAC
	// informers have, which on a loaded machine takes a moment: ask it with a
	// SubjectAccessReview (an answer, not a refusal in the audit log) until it
	// allows, then watch as Kyverno would.
	waitAllowed(ctx, t, dyn, kyvernoSA, "watch", "secrets")
	w, err := kyverno.Resource(secretGVR).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("as %s: watching Secrets cluster-wide, as Kyverno's watcher of generated resources does: %v", kyvernoSA, err)
	}
	w.Stop()

	var cloned []string
	for _, p := range policies.Items {
		sourceNS, sourceName, selector := parseClonePolicy(t, &p)
		source, err := kyverno.Resource(secretGVR).Namespace(sourceNS).Get(ctx, sourceName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("GeneratingPolicy/%s: as %s: getting the source: %v", p.GetName(), kyvernoSA, err)
		}
		nss, err := dyn.Resource(namespaceGVR).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range nss.Items {
			clone := obj("v1", "Secret", ns.GetName(), sourceName, map[string]any{"type": source.Object["type"], "data": source.Object["data"]})
			_, err := kyverno.Resource(secretGVR).Namespace(ns.GetName()).Get(ctx, sourceName, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				_, err = kyverno.Resource(secretGVR).Namespace(ns.GetName()).Create(ctx, clone, metav1.CreateOptions{})
			case err == nil:
				_, err = kyverno.Resource(secretGVR).Namespace(ns.GetName()).Update(ctx, clone, metav1.UpdateOptions{})
			}
			if err != nil {
				t.Fatalf("GeneratingPolicy/%s: as %s: cloning into %s: %v", p.GetName(), kyvernoSA, ns.GetName(), err)
			}
			cloned = append(cloned, ns.GetName())
		}
	}
	sort.Strings(cloned)
	return cloned
}

// waitAllowed waits until the API server's authorizer allows user to verb the
// resource cluster-wide, as a SubjectAccessReview reports it.
func waitAllowed(ctx context.Context, t *testing.T, dyn dynamic.Interface, user, verb, resource string) {
	t.Helper()
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SubjectAccessReview",
		"spec": map[string]any{
			"user":               user,
			"resourceAttributes": map[string]any{"verb": verb, "resource": resource},
		},
	}}
	var reason string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err := dyn.Resource(subjectAccessReviewGVR).Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview for %s %s %s: %v", user, verb, resource, err)
		}
		if allowed, _, _ := unstructured.NestedBool(got.Object, "status", "allowed"); allowed {
			return
		}
		reason, _, _ = unstructured.NestedString(got.Object, "status", "reason")
	}
	t.Fatalf("after 30s the API server still does not allow %s to %s %s cluster-wide (%s)", user, verb, resource, reason)
}

// parseClonePolicy reads the one policy shape the stand-in for Kyverno
// understands: triggered by Namespaces selected by labels, a source Secret got by
// name, applied into the triggering namespace.
func parseClonePolicy(t *testing.T, p *unstructured.Unstructured) (namespace, name, selector string) {
	t.Helper()
	fail := func(why string) {
		t.Fatalf("GeneratingPolicy/%s: the harness stands in for Kyverno only for the clone lib/gitcredential.libsonnet renders: %s", p.GetName(), why)
	}
	rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "matchConstraints", "resourceRules")
	if len(rules) != 1 || fmt.Sprint(rules[0].(map[string]any)["resources"]) != "[namespaces]" {
		fail("it is not triggered by Namespaces alone")
	}
	rawSel, found, _ := unstructured.NestedMap(p.Object, "spec", "matchConstraints", "objectSelector")
	if !found {
		fail("it has no objectSelector")
	}
	var sel metav1.LabelSelector
	b, _ := yaml.Marshal(rawSel)
	if err := yaml.Unmarshal(b, &sel); err != nil {
		fail(err.Error())
	}
	ls, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		fail(err.Error())
	}
	vars, _, _ := unstructured.NestedSlice(p.Object, "spec", "variables")
	gens, _, _ := unstructured.NestedSlice(p.Object, "spec", "generate")
	if len(vars) != 1 || len(gens) != 1 || gens[0].(map[string]any)["expression"] != "generator.Apply(object.metadata.name, [variables.source])" {
		fail("its variables or generate are not the rendered clone")
	}
	expr, _ := vars[0].(map[string]any)["expression"].(string)
	m := resourceGetSecret.FindStringSubmatch(expr)
	if m == nil {
		fail("its source is not resource.Get of one Secret: " + expr)
	}
	return m[1], m[2], ls.String()
}

// resourceGetSecret is the rendered policy's source: one Secret by namespace and name.
var resourceGetSecret = regexp.MustCompile(`^resource\.Get\("v1", "secrets", "([^"]+)", "([^"]+)"\)$`)

// controlTree holds the negative controls' directories, served next to the
// rendered tree.
var controlTree = map[string]string{
	"controls/allowed/kustomization.yaml":        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [configmap.yaml]\n",
	"controls/allowed/configmap.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: allowed\ndata:\n  a: b\n",
	"controls/cluster-scoped/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [binding.yaml]\n",
	"controls/cluster-scoped/binding.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: escalate\n" +
		"roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\n" +
		"subjects:\n  - kind: ServiceAccount\n    name: " + reconcilerSA + "\n    namespace: " + controlNamespace + "\n",
	"controls/broken/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n",
}

// controls sets up one more tenant the way the render does (namespace with the
// team label, reconciler bound to the tenant role, its own GitRepository) and
// checks that the lockdown and the role refuse what they must: a cross-namespace
// sourceRef (AccessDenied), a cluster-scoped object in a team directory
// (Forbidden), a directory that does not build (BuildFailed), and a source
// without the credential (the Git server refuses it). A harmless directory
// becomes Ready, so each refusal is the fault's own.
func controls(ctx context.Context, t *testing.T, srv *judge.Server, dyn dynamic.Interface, setup clusterSetup, git *judge.GitServer) {
	t.Helper()
	ns := controlNamespace
	mustCreate(ctx, t, dyn, namespaceGVR, obj("v1", "Namespace", "", ns, map[string]any{
		"metadata": map[string]any{"name": ns, "labels": map[string]any{"rampart.dev/team": ns}},
	}))
	mustCreate(ctx, t, dyn, saGVR, obj("v1", "ServiceAccount", ns, reconcilerSA, nil))
	mustCreate(ctx, t, dyn, roleBindingGVR, obj("rbac.authorization.k8s.io/v1", "RoleBinding", ns, reconcilerSA, map[string]any{
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "rampart:tenant-reconciler"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": reconcilerSA, "namespace": ns}},
	}))
	if cloned := kyvernoClone(ctx, t, srv, dyn); !slices.Contains(cloned, ns) {
		t.Fatalf("the GeneratingPolicy does not clone the credential into the new team namespace %s", ns)
	}
	for name, secret := range map[string]bool{"rampart": true, "no-credential": false} {
		spec := map[string]any{"interval": "10m", "url": git.URL, "ref": map[string]any{"branch": setup.branch}}
		if secret {
			spec["secretRef"] = map[string]any{"name": setup.secretName}
		}
		mustCreate(ctx, t, dyn, gitRepositoryGVR, obj("source.toolkit.fluxcd.io/v1", "GitRepository", ns, name, map[string]any{"spec": spec}))
	}
	kustomization := func(name, path string, sourceRef map[string]any) {
		mustCreate(ctx, t, dyn, kustomizationGVR, obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", ns, name, map[string]any{
			"spec": map[string]any{
				"interval": "10m", "retryInterval": "5s", "timeout": tenantTimeout,
				"path": path, "prune": true, "wait": true,
				"sourceRef":          sourceRef,
				"serviceAccountName": reconcilerSA,
				"targetNamespace":    ns,
			},
		}))
	}
	own := map[string]any{"kind": "GitRepository", "name": "rampart"}
	kustomization("allowed", "./controls/allowed", own)
	kustomization("cross-namespace", "./controls/allowed", map[string]any{"kind": "GitRepository", "name": setup.rootName, "namespace": setup.fluxNamespace})
	kustomization("cluster-scoped", "./controls/cluster-scoped", own)
	kustomization("broken", "./controls/broken", own)

	sa := "system:serviceaccount:" + ns + ":" + reconcilerSA
	for _, c := range []struct {
		name, status, reason string
		message              []string
	}{
		{"allowed", "True", "ReconciliationSucceeded", nil},
		{"cross-namespace", "False", "AccessDenied", []string{"cross-namespace references have been blocked"}},
		{"cluster-scoped", "False", "ReconciliationFailed", []string{"ClusterRoleBinding/escalate", "forbidden", sa}},
		{"broken", "False", "BuildFailed", []string{"missing.yaml"}},
	} {
		u := waitFor(ctx, t, dyn, kustomizationGVR, ns, c.name, 2*time.Minute, func(u *unstructured.Unstructured) bool {
			got := condition(u, "Ready")
			return got.status == c.status && got.reason == c.reason
		})
		got := condition(u, "Ready")
		if u == nil {
			t.Errorf("control Kustomization/%s/%s: want Ready=%s %s", ns, c.name, c.status, c.reason)
			continue
		}
		for _, m := range c.message {
			if !strings.Contains(got.message, m) {
				t.Errorf("control Kustomization/%s/%s: Ready=%s %s: the message does not mention %q: %s", ns, c.name, got.status, got.reason, m, got.message)
			}
		}
		t.Logf("flux judge: %s: control Kustomization/%s/%s: Ready=%s %s: %s", setup.name, ns, c.name, got.status, got.reason, got.message)
	}
	u := waitFor(ctx, t, dyn, gitRepositoryGVR, ns, "no-credential", time.Minute, func(u *unstructured.Unstructured) bool {
		c := condition(u, "Ready")
		return c.status == "False" && strings.Contains(c.message, "authentication required")
	})
	if u == nil || git.Refused() == 0 {
		t.Errorf("control GitRepository/%s/no-credential fetched without the credential (refused requests: %d)", ns, git.Refused())
	} else {
		t.Logf("flux judge: %s: control GitRepository/%s/no-credential: %s (%d requests refused)", setup.name, ns, condition(u, "Ready").message, git.Refused())
	}
}

// checkAudit reads the API server's audit log: every write to a team
// directory's objects was made by kustomize-controller impersonating that team's
// reconciler and nobody else, and no request anywhere was answered 403, health
// checks included, but the negative controls'.
func checkAudit(t *testing.T, srv *judge.Server, mapper meta.RESTMapper, teams map[string][]judge.Object) {
	t.Helper()
	events, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	control := "system:serviceaccount:" + controlNamespace + ":" + reconcilerSA
	writes := map[string][]string{} // resource/ns/name -> "user as impersonated"
	var forbidden []string
	controlForbidden := 0
	for _, e := range events {
		if e.Stage != auditv1.StageResponseComplete || e.ObjectRef == nil {
			continue
		}
		as := ""
		if e.ImpersonatedUser != nil {
			as = e.ImpersonatedUser.Username
		}
		if e.ResponseStatus != nil && e.ResponseStatus.Code == 403 {
			if as == control {
				controlForbidden++
			} else {
				forbidden = append(forbidden, fmt.Sprintf("%s %s %s/%s by %s (%s) as %q: %s", e.Verb, e.ObjectRef.Resource, e.ObjectRef.Namespace, e.ObjectRef.Name, e.User.Username, e.UserAgent, as, e.ResponseStatus.Message))
			}
		}
		switch e.Verb {
		case "create", "update", "patch", "delete":
		default:
			continue
		}
		if strings.HasPrefix(e.UserAgent, "rampart-judge") {
			continue // the harness's own setup
		}
		key := e.ObjectRef.APIGroup + "/" + e.ObjectRef.Resource + "/" + e.ObjectRef.Namespace + "/" + e.ObjectRef.Name
		writes[key] = append(writes[key], strings.SplitN(e.UserAgent, " ", 2)[0]+" as "+as)
	}
	if len(forbidden) > 0 {
		counts := map[string]int{}
		for _, f := range forbidden {
			counts[f]++
		}
		var lines []string
		for _, f := range slices.Sorted(maps.Keys(counts)) {
			lines = append(lines, fmt.Sprintf("%d× %s", counts[f], f))
		}
		t.Errorf("the API server answered %d requests Forbidden outside the negative controls:\n%s", len(forbidden), strings.Join(lines, "\n"))
	}
	if controlForbidden == 0 {
		t.Error("the cluster-scoped control was refused, but not by the API server as the control's reconciler")
	}
	for team, objs := range teams {
		want := "system:serviceaccount:" + team + ":" + reconcilerSA
		for _, o := range objs {
			gvk := o.Data.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Errorf("mapping %s: %v", o.Name(), err)
				continue
			}
			key := gvk.Group + "/" + m.Resource.Resource + "/" + o.Data.GetNamespace() + "/" + o.Data.GetName()
			ws := writes[key]
			if len(ws) == 0 {
				t.Errorf("%s: no write to it in the audit log", o.Name())
			}
			for _, w := range ws {
				if !strings.HasPrefix(w, "kustomize-controller/") || !strings.HasSuffix(w, " as "+want) {
					t.Errorf("%s was written by %s, not by kustomize-controller as %s", o.Name(), w, want)
				}
			}
		}
	}
	t.Logf("flux judge: audit: %d events, %d Forbidden (all %d the cluster-scoped control's)", len(events), controlForbidden+len(forbidden), controlForbidden)
}

// --- small helpers ---

func obj(apiVersion, kind, namespace, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}

func mustCreate(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, u *unstructured.Unstructured) {
	t.Helper()
	var c dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns := u.GetNamespace(); ns != "" {
		c = dyn.Resource(gvr).Namespace(ns)
	}
	if _, err := c.Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating %s/%s: %v", u.GetKind(), u.GetName(), err)
	}
}

type cond struct{ status, reason, message string }

func condition(u *unstructured.Unstructured, typ string) cond {
	if u == nil {
		return cond{}
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return cond{s, r, msg}
		}
	}
	return cond{}
}

func str(u *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	return s
}

// waitFor polls an object until done says so, and returns it; on timeout it logs
// the object's last conditions and returns nil.
func waitFor(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, timeout time.Duration, done func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *unstructured.Unstructured
	var lastErr error
	for {
		u, err := dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = u
			if done(u) {
				return u
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				conds, _, _ := unstructured.NestedSlice(last.Object, "status", "conditions")
				t.Logf("%s %s/%s after %s: conditions %v", gvr.Resource, namespace, name, timeout, conds)
			} else {
				t.Logf("%s %s/%s after %s: %v", gvr.Resource, namespace, name, timeout, lastErr)
			}
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func restMapper(t *testing.T, srv *judge.Server) meta.RESTMapper {
	t.Helper()
	disco, err := discovery.NewDiscoveryClientForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(disco)
	if err != nil {
		t.Fatal(err)
	}
	return restmapper.NewDiscoveryRESTMapper(groups)
}

// stages times the judge's stages for the log.
type stages struct {
	last  time.Time
	parts []string
}

func newStages(*testing.T) *stages { return &stages{last: time.Now()} }

func (s *stages) done(what string) {
	s.parts = append(s.parts, fmt.Sprintf("%s %s", what, time.Since(s.last).Round(time.Millisecond)))
	s.last = time.Now()
}

func (s *stages) String() string { return strings.Join(s.parts, "; ") }
