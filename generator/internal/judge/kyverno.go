package judge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// KyvernoVersion is the Kyverno CLI release .ci/install-judges builds.
const KyvernoVersion = "v1.19.1"

// EnvKyverno points the harness at a Kyverno CLI binary.
const EnvKyverno = "RAMPART_KYVERNO"

// Kyverno runs the real Kyverno CLI (kubectl-kyverno) on rendered policies, the way
// Kyverno's admission controller and background scans evaluate them.
type Kyverno struct {
	// Path is the CLI binary.
	Path string
}

// FindKyverno looks for the CLI in $RAMPART_KYVERNO, then in the cache
// .ci/install-judges builds into, then on PATH (as kyverno). Its error wraps
// ErrMissingBinaries when there is none.
func FindKyverno() (*Kyverno, error) {
	cached := ""
	if dir := JudgesDir(); dir != "" {
		cached = filepath.Join(dir, "kyverno-"+KyvernoVersion, "kyverno")
	}
	p, err := findBinary(EnvKyverno, "kyverno", cached)
	if err != nil {
		return nil, fmt.Errorf("finding the Kyverno CLI: %w: %w", err, ErrMissingBinaries)
	}
	return &Kyverno{Path: p}, nil
}

// KyvernoInput is what one `kyverno apply` judges: policies, the exceptions to them,
// the resources they are applied to, and the namespaces those live in (their labels
// decide the policies' namespaceSelectors).
type KyvernoInput struct {
	Policies   []*unstructured.Unstructured
	Exceptions []*unstructured.Unstructured
	Resources  []*unstructured.Unstructured
	Namespaces []*unstructured.Unstructured
}

// policyKinds are the Kyverno policy kinds a rendered platform directory may hold that
// `kyverno apply` evaluates offline. ImageValidatingPolicies verify signatures in the
// images' registries, so they are judged on their own (KyvernoInput.Without).
var policyKinds = []string{"ValidatingPolicy", "ImageValidatingPolicy"}

// KyvernoInputFor sorts a rendered cluster's objects for `kyverno apply`: the Kyverno
// policies of its platform/ directory, the PolicyExceptions and Namespaces of its
// tenant files, and every object of its team directories, each workload with the Pod
// its controller would create (named after the workload). Nothing is fed twice: the
// CLI panics when two inputs share kind, namespace and name.
func KyvernoInputFor(objs []Object) (KyvernoInput, error) {
	var in KyvernoInput
	seen := map[string]string{}
	add := func(list *[]*unstructured.Unstructured, u *unstructured.Unstructured, file string) error {
		key := u.GetAPIVersion() + "/" + objectName(u)
		if other, dup := seen[key]; dup {
			return fmt.Errorf("%s is in %s and in %s; the Kyverno CLI takes each object once", objectName(u), other, file)
		}
		seen[key] = file
		*list = append(*list, u)
		return nil
	}
	for _, o := range objs {
		var err error
		dir := "/" + path.Dir(o.File) + "/"
		group := o.Data.GroupVersionKind().Group
		switch {
		case strings.Contains(dir, "/platform/") && group == "policies.kyverno.io" && slices.Contains(policyKinds, o.Data.GetKind()):
			err = add(&in.Policies, o.Data, o.File)
		case strings.Contains(dir, "/tenants/") && o.Data.GetKind() == "PolicyException":
			err = add(&in.Exceptions, o.Data, o.File)
		case strings.Contains(dir, "/tenants/") && o.Data.GetKind() == "Namespace" && group == "":
			err = add(&in.Namespaces, o.Data, o.File)
		case strings.Contains(dir, "/teams/"):
			if err = add(&in.Resources, o.Data, o.File); err != nil {
				break
			}
			pod, ok, perr := PodFromTemplate(o)
			switch {
			case perr != nil:
				err = fmt.Errorf("%s in %s: pod template: %w", o.Name(), o.File, perr)
			case ok:
				err = add(&in.Resources, pod, o.File+" (its pod)")
			}
		}
		if err != nil {
			return KyvernoInput{}, err
		}
	}
	return in, nil
}

// Without is the input less the policies of the given kinds.
func (in KyvernoInput) Without(kinds ...string) KyvernoInput {
	out := in
	out.Policies = slices.DeleteFunc(slices.Clone(in.Policies), func(u *unstructured.Unstructured) bool {
		return slices.Contains(kinds, u.GetKind())
	})
	return out
}

// KyvernoReport is the policy report `kyverno apply --policy-report` prints: a summary
// and one result per policy and resource.
type KyvernoReport struct {
	Summary struct {
		Pass  int `json:"pass"`
		Fail  int `json:"fail"`
		Warn  int `json:"warn"`
		Error int `json:"error"`
		Skip  int `json:"skip"`
	} `json:"summary"`
	Results []KyvernoResult `json:"results"`
}

// KyvernoResult is one policy's verdict on one resource.
type KyvernoResult struct {
	Policy    string               `json:"policy"`
	Result    string               `json:"result"`
	Message   string               `json:"message"`
	Resources []KyvernoResourceRef `json:"resources"`
}

// KyvernoResourceRef names the resource of a result.
type KyvernoResourceRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

// Name is the result's resource as Kind/namespace/name.
func (r KyvernoResult) Name() string {
	if len(r.Resources) == 0 {
		return ""
	}
	ref := r.Resources[0]
	if ref.Namespace == "" {
		return ref.Kind + "/" + ref.Name
	}
	return ref.Kind + "/" + ref.Namespace + "/" + ref.Name
}

// Apply runs `kyverno apply` on the input, in a temporary directory under dir, and
// returns its policy report. Failed results are not an error (the report has them);
// a run that gives no report is, with the CLI's output.
func (k *Kyverno) Apply(ctx context.Context, dir string, in KyvernoInput) (*KyvernoReport, error) {
	if len(in.Policies) == 0 {
		return nil, errors.New("applying Kyverno policies: no policies")
	}
	work, err := os.MkdirTemp(dir, "kyverno-apply-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	write := func(name string, objs []*unstructured.Unstructured) (string, error) {
		var b bytes.Buffer
		for _, u := range objs {
			y, err := yaml.Marshal(u.Object)
			if err != nil {
				return "", fmt.Errorf("encoding %s: %w", objectName(u), err)
			}
			b.WriteString("---\n")
			b.Write(y)
		}
		p := filepath.Join(work, name)
		return p, os.WriteFile(p, b.Bytes(), 0o644)
	}
	policies, err := write("policies.yaml", in.Policies)
	if err != nil {
		return nil, err
	}
	args := []string{"apply", policies, "--policy-report", "--output-format", "json", "--remove-color"}
	if len(in.Resources) > 0 {
		p, err := write("resources.yaml", in.Resources)
		if err != nil {
			return nil, err
		}
		args = append(args, "--resource", p)
	}
	if len(in.Exceptions) > 0 {
		p, err := write("exceptions.yaml", in.Exceptions)
		if err != nil {
			return nil, err
		}
		args = append(args, "--exception", p)
	}
	if len(in.Namespaces) > 0 {
		p, err := writeValues(work, in.Namespaces)
		if err != nil {
			return nil, err
		}
		args = append(args, "--values-file", p)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, k.Path, args...)
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	out := stdout.Bytes()
	start := bytes.IndexByte(out, '{')
	if start < 0 {
		return nil, fmt.Errorf("kyverno apply gave no report (%v):\n%s%s", runErr, out, stderr.Bytes())
	}
	var report KyvernoReport
	if err := json.Unmarshal(out[start:], &report); err != nil {
		return nil, fmt.Errorf("reading the report of kyverno apply (%v): %w\n%s", runErr, err, stderr.Bytes())
	}
	return &report, nil
}

// writeValues writes the CLI's values file: the namespaces, with their labels.
func writeValues(dir string, namespaces []*unstructured.Unstructured) (string, error) {
	values := map[string]any{
		"apiVersion": "cli.kyverno.io/v1alpha1",
		"kind":       "Value",
		"metadata":   map[string]any{"name": "values"},
	}
	var list []any
	for _, ns := range namespaces {
		list = append(list, map[string]any{
			"apiVersion": "v1",
			"kind":       "Namespace",
			"metadata":   map[string]any{"name": ns.GetName(), "labels": ns.GetLabels()},
		})
	}
	values["namespaces"] = list
	y, err := yaml.Marshal(values)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "values.yaml")
	return p, os.WriteFile(p, y, 0o644)
}

// Test runs `kyverno test` on a directory of suites (kyverno-test.yaml files) and
// returns its output; err is set when a test failed or the CLI could not run them.
func (k *Kyverno) Test(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, k.Path, "test", dir, "--remove-color", "--detailed-results")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kyverno test %s: %w", dir, err)
	}
	return string(out), nil
}
