// Package fluxbuild runs Flux's kustomize build (github.com/fluxcd/pkg/kustomize.Build)
// for many directories in parallel. Flux's Build serialises every build behind a
// process-wide mutex and resets and re-parses kustomize's built-in OpenAPI schema for
// each one, to isolate builds that bring their own schema (a kustomization's openapi
// field). Rampart writes every kustomization it builds itself and none has an openapi
// field (Build refuses one), so every build would start from the same schema: this
// package parses it once and then builds with exactly Flux's krusty options, which is
// the same result (TestSameAsFlux) at a fraction of the cost, on every core.
package fluxbuild

import (
	"fmt"
	"path"
	"sync"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"
)

var (
	schemaOnce sync.Once
	// fluxMu keeps Flux's own Build, which resets the shared schema, from running
	// beside ours (only tests call it).
	fluxMu sync.RWMutex
)

// options are the krusty options of Flux's Build.
func options() *krusty.Options {
	return &krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	}
}

// Build builds the kustomization in dir of fs as Flux's kustomize-controller does. It
// is safe for concurrent use.
func Build(fs filesys.FileSystem, dir string) (res resmap.ResMap, err error) {
	if err := checkNoOpenAPI(fs, dir); err != nil {
		return nil, err
	}
	schemaOnce.Do(func() {
		openapi.ResetOpenAPI()
		_ = openapi.Schema()
	})
	fluxMu.RLock()
	defer fluxMu.RUnlock()
	// kustomize can panic on unexpected object data; Flux recovers the same way.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize build panic: %v", r)
		}
	}()
	return krusty.MakeKustomizer(options()).Run(fs, dir)
}

// FluxBuild is Flux's own Build, for tests that compare the two.
func FluxBuild(fs filesys.FileSystem, dir string) (resmap.ResMap, error) {
	fluxMu.Lock()
	defer fluxMu.Unlock()
	defer func() {
		// Flux's Build leaves the schema reset; parse it again for Build.
		openapi.ResetOpenAPI()
		_ = openapi.Schema()
	}()
	return fluxkustomize.Build(fs, dir)
}

// checkNoOpenAPI refuses a kustomization that brings its own OpenAPI schema: that is
// the one case where sharing the parsed schema between builds would differ from Flux.
func checkNoOpenAPI(fs filesys.FileSystem, dir string) error {
	b, err := fs.ReadFile(path.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil // krusty reports a missing kustomization itself
	}
	var k struct {
		OpenAPI map[string]any `json:"openapi"`
	}
	if err := yaml.Unmarshal(b, &k); err == nil && len(k.OpenAPI) > 0 {
		return fmt.Errorf("%s/kustomization.yaml sets openapi; Rampart's kustomizations never bring their own schema", dir)
	}
	return nil
}
