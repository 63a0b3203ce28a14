package transform_test

import (
	"strings"
	"testing"

	fluxapi "github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/transform"
)

func serviceAccount() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "api", "namespace": "payments"},
	}}
}

// TestPatchMayNotMakePolicyException: a patch that turns a team object into a Kyverno
// PolicyException is refused, naming the object; exceptions come only from the spec.
func TestPatchMayNotMakePolicyException(t *testing.T) {
	for _, tc := range []struct{ name, apiVersion string }{
		{"policies.kyverno.io", "policies.kyverno.io/v1"},
		{"kyverno.io", "kyverno.io/v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			team := &transform.Team{
				Name:  "payments",
				Files: map[string][]*unstructured.Unstructured{"api.yaml": {serviceAccount()}},
				Patches: []fluxapi.Patch{{
					Target: &fluxapi.Selector{Kind: "ServiceAccount", Name: "api"},
					Patch: `- op: replace
  path: /apiVersion
  value: ` + tc.apiVersion + `
- op: replace
  path: /kind
  value: PolicyException
`,
				}},
			}
			err := transform.Customize(team)
			if err == nil {
				t.Fatal("a patch made a PolicyException, and Customize took it")
			}
			for _, want := range []string{"PolicyException/payments/api", "spec.exceptions.policies"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
