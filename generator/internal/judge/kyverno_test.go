package judge_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/internal/judge"
)

var update = flag.Bool("update", false, "rewrite the suites' copies of the rendered exceptions (testdata/kyverno/*/exceptions.yaml)")

// kyvernoCLI finds the Kyverno CLI. Without it the test skips, except in CI
// (CI=true), where it fails: .ci/install-judges builds it.
func kyvernoCLI(t *testing.T) *judge.Kyverno {
	t.Helper()
	k, err := judge.FindKyverno()
	if err != nil {
		if errors.Is(err, judge.ErrMissingBinaries) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return k
}

// renderedClusters are the rendered cluster directories: the example clusters/ and
// every golden case's.
func renderedClusters(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	for _, pattern := range []string{"clusters/*", "generator/testdata/golden/*/want/clusters/*"} {
		matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if _, err := os.Stat(filepath.Join(m, "platform", "admission.yaml")); err != nil {
				continue
			}
			rel, err := filepath.Rel(root, m)
			if err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, filepath.ToSlash(rel))
		}
	}
	return dirs
}

// policyNames are the names of the input's policies judging resources of a kind,
// by their policies.kyverno.io/subject annotation.
func policyNames(in judge.KyvernoInput, subject string) []string {
	var out []string
	for _, p := range in.Policies {
		if p.GetAnnotations()["policies.kyverno.io/subject"] == subject {
			out = append(out, p.GetName())
		}
	}
	return out
}

// TestKyvernoRenderedClusters applies each rendered cluster's admission policies and
// exceptions, with the real Kyverno CLI, to every workload the cluster's teams render
// (and the pod each workload's controller would create): nothing fails, nothing
// errs, and every policy judged every pod and controller, so the namespace selector
// and autogen reach the team namespaces. ImageValidatingPolicies verify signatures in
// the registries, which a test has none of: each is applied alone, to a pod whose
// image no signer covers, so the CLI compiles and evaluates it.
func TestKyvernoRenderedClusters(t *testing.T) {
	k := kyvernoCLI(t)
	root := repoRoot(t)
	dirs := renderedClusters(t, root)
	if len(dirs) == 0 {
		t.Fatal("no rendered cluster has platform/admission.yaml")
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			objs, err := judge.ReadTree(os.DirFS(root), dir)
			if err != nil {
				t.Fatal(err)
			}
			in, err := judge.KyvernoInputFor(objs)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			begin := time.Now()
			offline := in.Without("ImageValidatingPolicy")
			report, err := k.Apply(ctx, t.TempDir(), offline)
			if err != nil {
				t.Fatal(err)
			}
			// Golden cases render in memory without the scan, so their images are
			// not pinned: that one rule fails there by construction.
			golden := strings.HasPrefix(dir, "generator/testdata/golden/")
			unpinned := 0
			for _, r := range report.Results {
				switch {
				case golden && r.Result == "fail" && strings.Contains(r.Message, "[policy rampart-images, rule digest]"):
					unpinned++
				case r.Result == "fail" || r.Result == "error":
					t.Errorf("%s %s by %s: %s", r.Name(), r.Result, r.Policy, r.Message)
				}
			}
			if unpinned > 0 {
				t.Logf("%d results of rampart-images/digest: golden renders are not scanned, so not pinned", unpinned)
			}
			// Every pod and pod controller is judged by every pod policy, every
			// Service by the Service policy.
			judged := map[string][]string{}
			for _, r := range report.Results {
				judged[r.Name()] = append(judged[r.Name()], r.Policy)
			}
			for _, res := range offline.Resources {
				var want []string
				switch res.GetKind() {
				case "Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet":
					want = policyNames(offline, "Pod")
				case "Service":
					want = policyNames(offline, "Service")
				}
				name := res.GetKind() + "/" + res.GetNamespace() + "/" + res.GetName()
				// On an Enforce cluster each policy has an -audit copy for the teams
				// in admission audit: a resource is judged by exactly one of the two.
				for _, p := range want {
					if strings.HasSuffix(p, "-audit") {
						continue
					}
					by := slices.Contains(judged[name], p)
					byAudit := slices.Contains(judged[name], p+"-audit")
					switch {
					case by && byAudit:
						t.Errorf("%s was judged by both %s and %s-audit: the namespace selectors overlap", name, p, p)
					case !by && !byAudit:
						t.Errorf("%s was not judged by %s: is its namespace labelled for the team policies?", name, p)
					}
				}
			}
			s := report.Summary
			note := ""
			if unpinned > 0 {
				note = fmt.Sprintf(" (all %d rampart-images/digest: the golden render is unscanned, so unpinned)", unpinned)
			}
			fmt.Printf("kyverno judge: %s: %d policies, %d exceptions, %d resources: pass %d, fail %d%s, error %d, skip %d in %s\n",
				dir, len(offline.Policies), len(offline.Exceptions), len(offline.Resources), s.Pass, s.Fail, note, s.Error, s.Skip, time.Since(begin).Round(time.Millisecond))
			if s.Pass == 0 {
				t.Error("no policy passed anything: the policies judged nothing")
			}

			for _, p := range in.Policies {
				if p.GetKind() != "ImageValidatingPolicy" {
					continue
				}
				probe := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "v1", "kind": "Pod",
					"metadata": map[string]any{"name": "judge-probe", "namespace": in.Namespaces[0].GetName()},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "probe", "image": "judge.invalid/unsigned/probe:1@sha256:" + strings.Repeat("0", 64),
					}}},
				}}
				rep, err := k.Apply(ctx, t.TempDir(), judge.KyvernoInput{Policies: []*unstructured.Unstructured{p}, Resources: []*unstructured.Unstructured{probe}, Namespaces: in.Namespaces})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Summary.Pass != 1 || rep.Summary.Error+rep.Summary.Fail != 0 {
					t.Errorf("ImageValidatingPolicy %s on an image no signer covers: %+v %+v", p.GetName(), rep.Summary, rep.Results)
				}
			}
		})
	}
}

// suites are the kyverno test suites of the repository: testdata/kyverno/*/.
func suites(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join("testdata", "kyverno", "*", "kyverno-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) == 0 {
		t.Fatal("no kyverno-test.yaml under testdata/kyverno/")
	}
	return matches
}

var testSummary = regexp.MustCompile(`Test Summary: \d+ tests? passed and \d+ tests? failed`)

// TestKyvernoSuites runs the repository's kyverno test suites (testdata/kyverno) with
// the real CLI: each cluster's rendered policies and the payments team's rendered
// exception against the hostile fixtures.
func TestKyvernoSuites(t *testing.T) {
	k := kyvernoCLI(t)
	for _, file := range suites(t) {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			begin := time.Now()
			out, err := k.Test(ctx, dir)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			fmt.Printf("kyverno judge: kyverno test %s: %s in %s\n", dir, testSummary.FindString(out), time.Since(begin).Round(time.Millisecond))
		})
	}
}

// fixtures reads the hostile and exception fixtures of the suites.
func fixtures(t *testing.T) (resources, namespaces []*unstructured.Unstructured) {
	t.Helper()
	for _, f := range []string{"hostile.yaml", "exceptions.yaml"} {
		p := filepath.Join("testdata", "kyverno", "fixtures", f)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := judge.ParseObjects(p, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			resources = append(resources, o.Data)
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "kyverno", "fixtures", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Namespaces []map[string]any `json:"namespaces"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	for _, ns := range values.Namespaces {
		namespaces = append(namespaces, &unstructured.Unstructured{Object: ns})
	}
	return resources, namespaces
}

// TestKyvernoHostileRules applies each example cluster's rendered policies and
// exceptions to the hostile fixtures and checks more than kyverno test can: each
// fixture is denied by exactly the policy its judge.rampart.dev/denied-by annotation
// names, for that rule (named in the message, with the team, the app and the spec
// file to change), and passes every other policy; what the exception covers passes;
// a pod in a platform namespace is not judged at all.
func TestKyvernoHostileRules(t *testing.T) {
	k := kyvernoCLI(t)
	root := repoRoot(t)
	resources, namespaces := fixtures(t)
	for _, cluster := range []string{"prod-weu", "dev-weu"} {
		t.Run(cluster, func(t *testing.T) {
			objs, err := judge.ReadTree(os.DirFS(root), "clusters/"+cluster)
			if err != nil {
				t.Fatal(err)
			}
			rendered, err := judge.KyvernoInputFor(objs)
			if err != nil {
				t.Fatal(err)
			}
			in := judge.KyvernoInput{Policies: rendered.Without("ImageValidatingPolicy").Policies, Exceptions: rendered.Exceptions, Resources: resources, Namespaces: namespaces}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			begin := time.Now()
			report, err := k.Apply(ctx, t.TempDir(), in)
			if err != nil {
				t.Fatal(err)
			}
			byResource := map[string][]judge.KyvernoResult{}
			for _, r := range report.Results {
				byResource[r.Name()] = append(byResource[r.Name()], r)
			}
			denials := 0
			for _, res := range resources {
				name := res.GetKind() + "/" + res.GetNamespace() + "/" + res.GetName()
				results := byResource[name]
				ann := res.GetAnnotations()
				if res.GetNamespace() == "kube-system" {
					if len(results) > 0 {
						t.Errorf("%s is in a platform namespace, yet judged: %+v", name, results)
					}
					continue
				}
				if len(results) == 0 {
					t.Errorf("%s was judged by no policy", name)
					continue
				}
				policy, rule, denied := strings.Cut(ann["judge.rampart.dev/denied-by"], "/")
				for _, r := range results {
					switch {
					case denied && r.Policy == policy:
						denials++
						if r.Result != "fail" {
							t.Errorf("%s: %s gave %s, want fail (rule %s)", name, policy, r.Result, rule)
							continue
						}
						tag := fmt.Sprintf("[policy %s, rule %s]", policy, rule)
						spec := fmt.Sprintf("deploy through teams/%s.yaml", res.GetNamespace())
						if !strings.Contains(r.Message, tag) || !strings.Contains(r.Message, spec) || !strings.HasPrefix(r.Message, res.GetNamespace()+"/") {
							t.Errorf("%s: %s denied it, but the message does not name team/app, rule %s and the spec file:\n%s", name, policy, rule, r.Message)
						}
					case r.Result != "pass":
						t.Errorf("%s: %s gave %s, want pass: %s", name, r.Policy, r.Result, r.Message)
					}
				}
				if denied && !slices.ContainsFunc(results, func(r judge.KyvernoResult) bool { return r.Policy == policy }) {
					t.Errorf("%s: not judged by %s", name, policy)
				}
			}
			fmt.Printf("kyverno judge: hostile fixtures against %s: %d resources, %d denied as expected, in %s\n",
				cluster, len(resources), denials, time.Since(begin).Round(time.Millisecond))
		})
	}
}

// TestKyvernoSuiteExceptions keeps each suite's exceptions.yaml equal to the
// PolicyExceptions rendered into its cluster's payments tenant file: the CLI loads
// exceptions only from a file that holds nothing else, so the suite keeps a copy.
func TestKyvernoSuiteExceptions(t *testing.T) {
	root := repoRoot(t)
	for _, file := range suites(t) {
		dir := filepath.Dir(file)
		cluster := filepath.Base(dir)
		t.Run(cluster, func(t *testing.T) {
			tenant := filepath.Join("clusters", cluster, "tenants", "payments.yaml")
			data, err := os.ReadFile(filepath.Join(root, tenant))
			if err != nil {
				t.Fatal(err)
			}
			objs, err := judge.ParseObjects(tenant, data)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "# The PolicyExceptions of %s, as rendered (the CLI loads\n", filepath.ToSlash(tenant))
			b.WriteString("# exceptions only from files that hold nothing else). TestKyvernoSuiteExceptions keeps\n")
			b.WriteString("# this copy equal; go test ./generator/internal/judge -run TestKyvernoSuiteExceptions -update\n# rewrites it.\n")
			n := 0
			for _, o := range objs {
				if o.Data.GetKind() != "PolicyException" {
					continue
				}
				y, err := yaml.Marshal(o.Data.Object)
				if err != nil {
					t.Fatal(err)
				}
				b.WriteString("---\n")
				b.Write(y)
				n++
			}
			if n == 0 {
				t.Fatalf("%s renders no PolicyException: the suite's exception checks would prove nothing", tenant)
			}
			copyPath := filepath.Join(dir, "exceptions.yaml")
			if *update {
				if err := os.WriteFile(copyPath, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			have, err := os.ReadFile(copyPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(have, b.Bytes()) {
				t.Errorf("%s differs from the PolicyExceptions of %s (run go test ./generator/internal/judge -run TestKyvernoSuiteExceptions -update)", copyPath, tenant)
			}
		})
	}
}
