package verify_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/fluxbuild"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// verifySealed verifies c as the render does: its files sealed, with opts (and its
// memo).
func verifySealed(t *testing.T, c *manifest.Cluster, opts verify.Options) diag.List {
	t.Helper()
	for _, f := range c.Files {
		if _, err := f.Seal(); err != nil {
			t.Fatal(err)
		}
	}
	return verify.Cluster(c, opts)
}

// TestMemoSharesVerdictsAcrossClusters: two clusters whose Checkers hold the same
// rules share the verdicts on the same documents, and reach the same diagnostics,
// each naming its own files; a cluster with other rules (production) gets its own.
// A third cluster, verified after the run forgot the team's verdicts, checks them
// again and reaches the same.
func TestMemoSharesVerdictsAcrossClusters(t *testing.T) {
	memo := verify.NewMemo()
	var got []string
	for _, name := range []string{"dev", "dev2", "dev3"} {
		if name == "dev3" {
			memo.Forget("payments")
		}
		cl := testCluster()
		cl.Metadata.Name = name
		team := testTeam()
		team.Spec.Clusters = []string{name}
		c, err := renderOn(t, cl, team)
		if err != nil {
			t.Fatal(err)
		}
		// A privileged container, refused on both.
		for _, f := range c.Files {
			for _, o := range f.Objects {
				if o.GetKind() == "Deployment" {
					containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
					_ = unstructured.SetNestedField(containers[0].(map[string]any), true, "securityContext", "privileged")
					_ = unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
				}
			}
		}
		diags := verifySealed(t, c, verify.Options{KubernetesVersion: "1.33", Memo: memo})
		want := verify.Cluster(c, verify.Options{KubernetesVersion: "1.33"})
		if diags.Error() != want.Error() {
			t.Errorf("cluster %s: through the memo\n%s\nwithout\n%s", name, diags.Error(), want.Error())
		}
		if !strings.Contains(diags.Error(), "clusters/"+name+"/teams/payments/api.yaml: Deployment/payments/api: violates Pod Security") {
			t.Errorf("cluster %s: the privileged Deployment is not refused in its own file:\n%s", name, diags.Error())
		}
		got = append(got, strings.ReplaceAll(diags.Error(), "clusters/"+name+"/", "clusters/C/"))
	}
	for i := 1; i < len(got); i++ {
		if got[0] != got[i] {
			t.Errorf("two clusters' diagnostics differ beyond their paths:\n%s\n---\n%s", got[0], got[i])
		}
	}
}

// TestBuildComposes: for the directories Rampart renders (a team's directory, whose
// kustomization lists its files and nothing else; a tenant file, one resource of
// tenants/), Flux's build of the whole is the builds of its documents put together:
// it succeeds exactly when each document builds on its own and no two hold the same
// object, and it gives the documents' resources. Checked on every team directory
// and tenant file of the examples, and on broken ones.
func TestBuildComposes(t *testing.T) {
	type dir struct {
		name  string
		files map[string][]byte // name → content, kustomization.yaml included
	}
	var dirs []dir
	root := "../../clusters"
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 || parts[1] != "teams" {
			return nil
		}
		files := map[string][]byte{}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(p, e.Name()))
			if err != nil {
				return err
			}
			files[e.Name()] = b
		}
		dirs = append(dirs, dir{rel, files})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tenants, _ := filepath.Glob(filepath.Join(root, "*", "tenants", "*.yaml"))
	for _, p := range tenants {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir{p, map[string][]byte{"kustomization.yaml": kustomization(t, "tenant.yaml"), "tenant.yaml": b}})
	}
	if len(dirs) < 10 {
		t.Fatalf("found %d directories in the examples", len(dirs))
	}
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: t\n"
	}
	dirs = append(dirs,
		dir{"the same object in two files", map[string][]byte{"kustomization.yaml": kustomization(t, "a.yaml", "b.yaml"), "a.yaml": []byte("---\n" + cm("x")), "b.yaml": []byte("---\n" + cm("x"))}},
		dir{"the same object twice in a file", map[string][]byte{"kustomization.yaml": kustomization(t, "a.yaml"), "a.yaml": []byte("---\n" + cm("x") + "---\n" + cm("x"))}},
		dir{"an object without a name", map[string][]byte{"kustomization.yaml": kustomization(t, "a.yaml"), "a.yaml": []byte("---\n" + cm("y") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: t\n")}},
		dir{"an object without a kind", map[string][]byte{"kustomization.yaml": kustomization(t, "a.yaml", "b.yaml"), "a.yaml": []byte("---\n" + cm("y")), "b.yaml": []byte("---\napiVersion: v1\nmetadata:\n  name: z\n")}},
	)
	for _, d := range dirs {
		t.Run(d.name, func(t *testing.T) {
			whole, wholeErr := build(t, d.files)
			var ids []string
			docsOK := true
			for name, b := range d.files {
				if name == "kustomization.yaml" {
					continue
				}
				for _, doc := range strings.Split("\n"+string(b), "\n---\n")[1:] {
					got, err := build(t, map[string][]byte{"kustomization.yaml": kustomization(t, "r.yaml"), "r.yaml": []byte("---\n" + doc)})
					if err != nil {
						docsOK = false
						continue
					}
					ids = append(ids, got...)
				}
			}
			slices.Sort(ids)
			unique := len(slices.Compact(slices.Clone(ids))) == len(ids)
			if composed := docsOK && unique; composed != (wholeErr == nil) {
				t.Fatalf("the documents build: %v (unique: %v), the whole: %v", docsOK, unique, wholeErr)
			}
			if wholeErr == nil && !slices.Equal(whole, ids) {
				t.Errorf("the whole built %v, the documents %v", whole, ids)
			}
		})
	}
}

func kustomization(t *testing.T, resources ...string) []byte {
	t.Helper()
	b, err := yaml.Marshal(manifest.Kustomization(resources))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// build runs Flux's build on a directory and gives the ids of what it built, sorted.
func build(t *testing.T, files map[string][]byte) ([]string, error) {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	for name, b := range files {
		if err := fsys.WriteFile(path.Join("/d", name), b); err != nil {
			t.Fatal(err)
		}
	}
	res, err := fluxbuild.Build(fsys, "/d")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range res.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		ids = append(ids, fmt.Sprintf("%s %s", r.CurId(), y))
	}
	slices.Sort(ids)
	return ids, nil
}
