package load_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-jsonnet"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestEnforcementAgreesWithLib: lib/enforcement.libsonnet resolves a layer's mode as
// spec.Effective does (the loader's warnings and the review read the Go one).
func TestEnforcementAgreesWithLib(t *testing.T) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../../lib"}})
	modes := []spec.Enforcement{"", spec.EnforcementAudit, spec.EnforcementEnforce}
	for _, cluster := range modes {
		for _, mode := range modes {
			for _, override := range modes {
				for _, layer := range []spec.Layer{spec.LayerNetwork, spec.LayerMesh, spec.LayerAdmission} {
					te := &spec.TeamEnforcement{Mode: mode}
					switch layer {
					case spec.LayerNetwork:
						te.Network = override
					case spec.LayerMesh:
						te.Mesh = override
					case spec.LayerAdmission:
						te.Admission = override
					}
					team, _ := json.Marshal(map[string]any{"spec": map[string]any{"enforcement": te}})
					cl, _ := json.Marshal(map[string]any{"spec": map[string]any{"enforcement": cluster}})
					if cluster == "" {
						cl = []byte(`{"spec": {}}`)
					}
					snippet := fmt.Sprintf(`(import 'enforcement.libsonnet').mode(%s, %s, %q)`, team, cl, layer)
					out, err := vm.EvaluateAnonymousSnippet("enforcement_test.jsonnet", snippet)
					if err != nil {
						t.Fatal(err)
					}
					var got spec.Enforcement
					if err := json.Unmarshal([]byte(out), &got); err != nil {
						t.Fatal(err)
					}
					if want := spec.Effective(te, cluster, layer); got != want {
						t.Errorf("cluster %q, mode %q, %s %q: lib says %q, spec.Effective %q", cluster, mode, layer, override, got, want)
					}
				}
			}
		}
	}
}
