package judge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object and where it came from.
type Object struct {
	// File is the path the object was read from, as shown in results.
	File string
	// Doc is the object's 1-based position among the file's YAML documents.
	Doc int
	// Data is the object itself.
	Data *unstructured.Unstructured
}

// Name names the object as Kind/namespace/name (Kind/name when it has no
// namespace).
func (o Object) Name() string {
	return objectName(o.Data)
}

func objectName(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetName()
}

// Files that live among the rendered output but are not API objects:
// cluster.yaml is Rampart's own input, kustomization.yaml is kustomize's.
var notObjects = map[string]bool{
	"cluster.yaml":       true,
	"kustomization.yaml": true,
}

// ReadTree reads every *.yaml file below dir in fsys (in lexical order),
// except cluster.yaml and kustomization.yaml, and returns the objects of all
// their YAML documents. File names in the result are dir-relative paths
// joined to dir, as fs.WalkDir gives them.
func ReadTree(fsys fs.FS, dir string) ([]Object, error) {
	var objs []Object
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".yaml" || notObjects[d.Name()] {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		got, err := ParseObjects(p, data)
		if err != nil {
			return err
		}
		objs = append(objs, got...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading objects under %s: %w", dir, err)
	}
	return objs, nil
}

// ParseObjects splits multi-document YAML into objects; documents that hold
// only comments are skipped. Every other document must be an object with
// apiVersion and kind.
func ParseObjects(file string, data []byte) ([]Object, error) {
	var objs []Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s document %d: %w", file, doc, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("parsing %s document %d: %w", file, doc, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("decoding %s document %d: %w", file, doc, err)
		}
		if u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("decoding %s document %d: no apiVersion", file, doc)
		}
		objs = append(objs, Object{File: file, Doc: doc, Data: u})
	}
	return objs, nil
}
