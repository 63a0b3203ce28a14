package judge

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
)

// crdFS holds the upstream CRDs that .ci/update-crds copies from the
// projects' Go modules (see crds/SOURCES.md).
//
//go:embed crds
var crdFS embed.FS

func upstreamCRDs() fs.FS {
	sub, err := fs.Sub(crdFS, "crds")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "crds" is valid.
		return crdFS
	}
	return sub
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdWaitTimeout bounds the wait for the CRDs to be Established and served.
const crdWaitTimeout = 90 * time.Second

// readCRDs returns every CustomResourceDefinition in the *.yaml and *.yml
// files of fsys, sorted by name.
func readCRDs(fsys fs.FS) ([]*unstructured.Unstructured, error) {
	var crds []*unstructured.Unstructured
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		objs, err := ParseObjects(p, data)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.Data.GetKind() != "CustomResourceDefinition" {
				return fmt.Errorf("%s document %d: %s is not a CustomResourceDefinition", p, o.Doc, o.Name())
			}
			crds = append(crds, o.Data)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading CRDs: %w", err)
	}
	if len(crds) == 0 {
		return nil, errors.New("reading CRDs: none found")
	}
	sort.Slice(crds, func(i, j int) bool { return crds[i].GetName() < crds[j].GetName() })
	return crds, nil
}

// installCRDs creates the CRDs for real, waits until every one is
// Established and its kinds are in discovery, and builds the RESTMapper.
func (s *Server) installCRDs(ctx context.Context, fsys fs.FS) error {
	crds, err := readCRDs(fsys)
	if err != nil {
		return err
	}
	s.crdCount = len(crds)

	client := s.dynamic.Resource(crdGVR)
	errs := make([]error, len(crds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, crd := range crds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := client.Create(ctx, crd, metav1.CreateOptions{FieldManager: fieldManager})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				errs[i] = fmt.Errorf("creating CustomResourceDefinition/%s: %w", crd.GetName(), err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	want := servedKinds(crds)
	ctx, cancel := context.WithTimeout(ctx, crdWaitTimeout)
	defer cancel()
	for {
		pending, err := s.pendingCRDs(ctx, want)
		if err == nil && len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("waiting for the CRDs: %w", err)
			}
			return fmt.Errorf("waiting for the CRDs: still not established and served after %s: %s", crdWaitTimeout, strings.Join(pending, ", "))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// servedKinds lists the group, version and kind of every served version.
func servedKinds(crds []*unstructured.Unstructured) map[string]schema.GroupVersionKind {
	want := map[string]schema.GroupVersionKind{}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if served, _ := vm["served"].(bool); !served {
				continue
			}
			name, _ := vm["name"].(string)
			gvk := schema.GroupVersionKind{Group: group, Version: name, Kind: kind}
			want[crd.GetName()+"@"+name] = gvk
		}
	}
	return want
}

// pendingCRDs names the CRDs not yet Established or whose kinds discovery
// does not list yet; when none are pending it has refreshed the mapper.
func (s *Server) pendingCRDs(ctx context.Context, want map[string]schema.GroupVersionKind) ([]string, error) {
	list, err := s.dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing CRDs: %w", err)
	}
	established := map[string]bool{}
	for _, item := range list.Items {
		conds, _, _ := unstructured.NestedSlice(item.Object, "status", "conditions")
		for _, c := range conds {
			cm, ok := c.(map[string]any)
			if ok && cm["type"] == "Established" && cm["status"] == "True" {
				established[item.GetName()] = true
			}
		}
	}
	var pending []string
	for key := range want {
		name, _, _ := strings.Cut(key, "@")
		if !established[name] {
			pending = append(pending, name+" (not Established)")
		}
	}
	if len(pending) > 0 {
		sort.Strings(pending)
		return pending, nil
	}

	m, err := newMapper(s.disco)
	if err != nil {
		return nil, err
	}
	for key, gvk := range want {
		if _, err := m.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			pending = append(pending, key+" (not in discovery)")
		}
	}
	if len(pending) > 0 {
		sort.Strings(pending)
		return pending, nil
	}
	s.mapper = &mapper{disco: s.disco, m: m, missed: map[schema.GroupVersionKind]bool{}}
	return nil, nil
}

// mapper maps kinds to resources from the server's discovery, refreshed on a
// miss (a rendered object may be of a kind the server learnt of later).
type mapper struct {
	mu     sync.Mutex
	disco  discovery.DiscoveryInterface
	m      meta.RESTMapper
	missed map[schema.GroupVersionKind]bool // unknown even after a refresh
}

func newMapper(disco discovery.DiscoveryInterface) (meta.RESTMapper, error) {
	groups, err := restmapper.GetAPIGroupResources(disco)
	if err != nil {
		return nil, fmt.Errorf("reading the API groups: %w", err)
	}
	return restmapper.NewDiscoveryRESTMapper(groups), nil
}

func (m *mapper) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mapping, err := m.m.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) || m.missed[gvk] {
		return mapping, err
	}
	fresh, ferr := newMapper(m.disco)
	if ferr != nil {
		return nil, ferr
	}
	m.m = fresh
	mapping, err = m.m.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		m.missed[gvk] = true
	}
	return mapping, err
}
