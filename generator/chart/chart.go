// Package chart renders a team's Helm charts in-process with Helm's own engine. It
// takes a chart directory from the repository, the release name, the team's namespace,
// values and the cluster's Kubernetes version, and gives the chart's objects, every
// one in the team's namespace. There is no cluster client: `lookup` finds nothing and
// the render depends only on its inputs. Hooks and tests are refused: Flux applies
// plain objects, and the verify stage judges what a chart renders like everything else.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// MaxChartSize bounds the bytes a chart directory may hold.
const MaxChartSize = 4 << 20

// Release is one chart to render.
type Release struct {
	// Dir is the chart's directory in fsys, e.g. teams/charts/echo.
	Dir string
	// Name is the release name.
	Name string
	// Namespace is the team's namespace.
	Namespace string
	// Values override the chart's values.yaml.
	Values map[string]any
	// KubeVersion is the cluster's minor version, e.g. "1.33".
	KubeVersion string
	// Namespaced says whether a kind is namespaced; objects of namespaced (or unknown)
	// kinds without a namespace are put in Namespace, as `helm template` does.
	Namespaced func(apiVersion, kind string) (namespaced, known bool)
}

// Render renders the release's chart.
func Render(fsys fs.FS, r Release) (objs []*unstructured.Unstructured, err error) {
	defer func() {
		// Template functions can panic on hostile input; never across our boundary.
		if p := recover(); p != nil {
			err = fmt.Errorf("rendering chart %s: %v", r.Dir, p)
		}
	}()
	files, err := readChart(fsys, r.Dir)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", r.Dir, err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	if r.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion("v" + r.KubeVersion + ".0")
		if err != nil {
			return nil, fmt.Errorf("rendering chart %s: %w", r.Dir, err)
		}
		caps.KubeVersion = *kv
	}
	vals, err := chartutil.ToRenderValues(ch, r.Values, chartutil.ReleaseOptions{Name: r.Name, Namespace: r.Namespace, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", r.Dir, err)
	}
	out, err := engine.Engine{Strict: true}.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", r.Dir, err)
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, ".txt") || strings.TrimSpace(out[name]) == "" {
			continue
		}
		docs, err := parse(name, out[name])
		if err != nil {
			return nil, fmt.Errorf("rendering chart %s: %w", r.Dir, err)
		}
		for _, o := range docs {
			if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
				return nil, fmt.Errorf("rendering chart %s: %s: %s is a Helm hook; Flux applies plain objects, so charts may not use hooks", r.Dir, name, o.GetKind()+"/"+o.GetName())
			}
			if o.GetNamespace() == "" && r.namespaced(o) {
				o.SetNamespace(r.Namespace)
			}
			objs = append(objs, o)
		}
	}
	return objs, nil
}

func (r Release) namespaced(o *unstructured.Unstructured) bool {
	if r.Namespaced == nil {
		return true
	}
	namespaced, known := r.Namespaced(o.GetAPIVersion(), o.GetKind())
	return namespaced || !known
}

// readChart reads every file under dir, bounded in size, with names relative to dir.
func readChart(fsys fs.FS, dir string) ([]*loader.BufferedFile, error) {
	var files []*loader.BufferedFile
	total := 0
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if total += len(b); total > MaxChartSize {
			return fmt.Errorf("the chart is larger than %d bytes", MaxChartSize)
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, dir+"/"), Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading chart %s: %w", dir, err)
	}
	return files, nil
}

func parse(name, text string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(text), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("%s: an object needs kind and metadata.name", name)
		}
		out = append(out, u)
	}
}
