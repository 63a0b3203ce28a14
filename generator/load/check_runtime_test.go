package load_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-jsonnet"

	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestRuntimeRulesAgreeWithLib: the loader's copy of the runtime rules' names is
// lib/runtime.libsonnet's, in its order.
func TestRuntimeRulesAgreeWithLib(t *testing.T) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../../lib"}})
	js, err := vm.EvaluateAnonymousSnippet("runtime_test.jsonnet", `(import 'runtime.libsonnet').kinds`)
	if err != nil {
		t.Fatal(err)
	}
	var lib []spec.RuntimeRule
	if err := json.Unmarshal([]byte(js), &lib); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lib, load.RuntimeRules) {
		t.Errorf("lib/runtime.libsonnet renders rules %v, load.RuntimeRules says %v: change both", lib, load.RuntimeRules)
	}
}
