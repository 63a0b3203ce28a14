package reach

import (
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rampart-gitops/rampart/generator/manifest"
)

// object is a rendered object as the model reads it (add): an unstructured one
// (DecodeFile), or its JSON (DecodeFileJSON), which decodes to the same values
// without building the unstructured maps first.
type object interface {
	apiVersion() string
	kind() string
	name() string
	namespace() string
	labels() map[string]string
	annotations() map[string]string
	// typed decodes the object into a Kubernetes type, JSON field names exact.
	typed(v any) error
	// loose decodes the object into one of the evaluator's partial types, with
	// encoding/json.
	loose(v any) error
	// podTemplate decodes a workload's pod template; false when it has none.
	podTemplate() (*corev1.PodTemplateSpec, bool, error)
}

// groupKind is an object's GroupKind as a string (Kind.group), as
// unstructured.Unstructured's GroupVersionKind gives it: none for an apiVersion
// that does not parse.
func groupKind(o object) string {
	gv, err := schema.ParseGroupVersion(o.apiVersion())
	if err != nil {
		return ""
	}
	return gv.WithKind(o.kind()).GroupKind().String()
}

// ref names an object in errors, Kind/namespace/name (manifest.Ref).
func ref(o object) string {
	if o.namespace() == "" {
		return o.kind() + "/" + o.name()
	}
	return o.kind() + "/" + o.namespace() + "/" + o.name()
}

// unstructuredObject is an object decoded into maps.
type unstructuredObject struct{ *unstructured.Unstructured }

func (o unstructuredObject) apiVersion() string { return o.GetAPIVersion() }
func (o unstructuredObject) kind() string       { return o.GetKind() }
func (o unstructuredObject) name() string       { return o.GetName() }
func (o unstructuredObject) namespace() string  { return o.GetNamespace() }

func (o unstructuredObject) labels() map[string]string      { return o.GetLabels() }
func (o unstructuredObject) annotations() map[string]string { return o.GetAnnotations() }

func (o unstructuredObject) typed(v any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, v)
}

func (o unstructuredObject) loose(v any) error {
	b, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (o unstructuredObject) podTemplate() (*corev1.PodTemplateSpec, bool, error) {
	return manifest.PodTemplate(o.Unstructured)
}

// jsonObject is an object as JSON, with the fields every object has decoded.
type jsonObject struct {
	raw    []byte
	header struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Namespace   string            `json:"namespace"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
}

func newJSONObject(raw []byte) (*jsonObject, error) {
	o := &jsonObject{raw: raw}
	if err := jsonv2.Unmarshal(raw, &o.header); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *jsonObject) apiVersion() string { return o.header.APIVersion }
func (o *jsonObject) kind() string       { return o.header.Kind }
func (o *jsonObject) name() string       { return o.header.Metadata.Name }
func (o *jsonObject) namespace() string  { return o.header.Metadata.Namespace }

func (o *jsonObject) labels() map[string]string      { return o.header.Metadata.Labels }
func (o *jsonObject) annotations() map[string]string { return o.header.Metadata.Annotations }

func (o *jsonObject) typed(v any) error { return jsonv2.Unmarshal(o.raw, v) }
func (o *jsonObject) loose(v any) error { return json.Unmarshal(o.raw, v) }

func (o *jsonObject) podTemplate() (*corev1.PodTemplateSpec, bool, error) {
	var w struct {
		Spec struct {
			Template *corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := jsonv2.Unmarshal(o.raw, &w); err != nil {
		return nil, false, fmt.Errorf("%s: decoding the pod template: %w", ref(o), err)
	}
	return w.Spec.Template, w.Spec.Template != nil, nil
}
