package verify

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	sigsyaml "sigs.k8s.io/yaml"
)

// upstreamCRDs holds verbatim copies of the upstream CRDs the judge tests install
// (generator/internal/judge/crds, see SOURCES.md there); a test keeps them equal.
// The CRD-checked kinds of every layer read their schemas from here.
//
//go:embed crds
var upstreamCRDs embed.FS

// crdKind is a kind whose objects are checked against the schema of the CRD in file
// (under crds/) that serves it: for kinds whose upstream Go module cannot be added.
func crdKind(namespaced bool, resource, file string) kind {
	return kind{namespaced: namespaced, resource: resource, newObject: func() any {
		return &schemaObject{file: file}
	}}
}

// schemaObject is what a CRD-backed kind decodes into. The verify stage decodes
// every object into its kind's type with runtime.DefaultUnstructuredConverter, which
// hands a json.Unmarshaler the object's JSON: UnmarshalJSON is where the schema check
// runs, and its error is the decode error the stage reports.
type schemaObject struct {
	file   string
	Object map[string]any
}

// UnmarshalJSON checks the object against its CRD's schema for the object's version.
func (o *schemaObject) UnmarshalJSON(data []byte) error {
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return err
	}
	apiVersion, _ := obj["apiVersion"].(string)
	k, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return err
	}
	schemas, err := loadCRDSchemas(o.file)
	if err != nil {
		return err
	}
	s, ok := schemas[gv.WithKind(k)]
	if !ok {
		return fmt.Errorf("no version %s of %s is served by %s", apiVersion, k, o.file)
	}
	if err := s.check(obj); err != nil {
		return err
	}
	o.Object = obj
	return nil
}

// crdSchema is one served version of a CRD, ready to check objects.
type crdSchema struct {
	namespaced bool
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
}

// check reports every way obj fails the schema: unknown fields first (the API
// server would silently prune them, so a rendered field would never take effect),
// then ObjectMeta, then the schema's rules and CEL rules.
func (s *crdSchema) check(obj map[string]any) error {
	var errs []string
	clone := runtime.DeepCopyJSON(obj)
	for _, f := range pruning.PruneWithOptions(clone, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, fmt.Sprintf("unknown field %q", f))
	}
	if m, ok := obj["metadata"].(map[string]any); ok {
		var meta metav1.ObjectMeta
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, &meta, true); err != nil {
			errs = append(errs, "metadata: "+err.Error())
		} else {
			for _, msg := range k8svalidation.IsDNS1123Subdomain(meta.Name) {
				errs = append(errs, "metadata.name: "+msg)
			}
		}
	} else {
		errs = append(errs, "metadata: required")
	}
	var rules []string
	for _, e := range validation.ValidateCustomResource(nil, obj, s.validator) {
		rules = append(rules, e.Error())
	}
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range celErrs {
		rules = append(rules, e.Error())
	}
	slices.Sort(rules)
	errs = append(errs, rules...)
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// loadCRDSchemas parses a CRD file once and gives the schema of every served
// version of every CRD in it, by group, version and kind.
func loadCRDSchemas(file string) (map[schema.GroupVersionKind]*crdSchema, error) {
	once, _ := crdSchemaCache.LoadOrStore(file, sync.OnceValues(func() (map[schema.GroupVersionKind]*crdSchema, error) {
		out, err := parseCRDSchemas(file)
		if err != nil {
			return nil, fmt.Errorf("reading the upstream CRD %s: %w", file, err)
		}
		return out, nil
	}))
	return once.(func() (map[schema.GroupVersionKind]*crdSchema, error))()
}

var crdSchemaCache sync.Map // file → func() (schemas, error)

func parseCRDSchemas(file string) (map[schema.GroupVersionKind]*crdSchema, error) {
	data, err := upstreamCRDs.ReadFile(path.Join("crds", file))
	if err != nil {
		return nil, err
	}
	out := map[schema.GroupVersionKind]*crdSchema{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.UnmarshalStrict(doc, &crd); err != nil {
			return nil, err
		}
		if crd.Kind == "" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s version %s: %w", crd.Name, v.Name, err)
			}
			structural, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s version %s is not structural: %w", crd.Name, v.Name, err)
			}
			validator, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s version %s: %w", crd.Name, v.Name, err)
			}
			out[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = &crdSchema{
				namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				structural: structural,
				validator:  validator,
				cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no served version with a schema")
	}
	return out, nil
}
