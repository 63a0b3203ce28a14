package judge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/rampart-gitops/rampart/generator/manifest"
)

// fieldManager owns every field the harness applies.
const fieldManager = "rampart"

// parallel is how many requests the harness has in flight at once.
const parallel = 4

// Severity says whether a result fails the render.
type Severity string

const (
	// SeverityError is a rejection, or a warning that the cluster would turn
	// into one (a pod template that violates the namespace's Pod Security
	// level).
	SeverityError Severity = "error"
	// SeverityWarning is any other warning the server sent back, such as a
	// deprecated API version.
	SeverityWarning Severity = "warning"
)

// Result is the server's verdict on one object: a rejection or a warning.
type Result struct {
	// Object is Kind/namespace/name (Kind/name when cluster-scoped).
	Object string
	// File is the file the object was read from.
	File string
	// Message is the server's own message.
	Message  string
	Severity Severity
}

func (r Result) String() string {
	return fmt.Sprintf("%s: %s: %s: %s", r.File, r.Object, r.Severity, r.Message)
}

// Errors returns the results of SeverityError.
func Errors(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.Severity == SeverityError {
			out = append(out, r)
		}
	}
	return out
}

// podSecurityWarning marks the warning PodSecurity admission gives for a
// workload whose pod template the namespace's enforce level would reject.
const podSecurityWarning = "would violate PodSecurity"

// Kinds created for real, before everything else, because admission of other
// objects looks them up: pods need their ServiceAccount and PriorityClass,
// and every namespaced object its Namespace.
var (
	gkNamespace      = schema.GroupKind{Kind: "Namespace"}
	gkServiceAccount = schema.GroupKind{Kind: "ServiceAccount"}
	gkPriorityClass  = schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"}
)

var podGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
var serviceAccountGVR = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}

// Judge sends objects to the API server and returns every rejection and
// warning, sorted by file and object. Namespaces, ServiceAccounts and
// PriorityClasses are applied for real (each Namespace also gets the "default"
// ServiceAccount the controller manager would create); every other object is
// applied with server-side apply, dryRun=All and fieldValidation=Strict. Then
// each pod template is dry-run created as a Pod in its namespace, so the
// PodSecurity admission plugin enforces the namespace's level on it.
//
// The error is for the harness failing (the server gone, the context done),
// never for a verdict.
func (s *Server) Judge(ctx context.Context, objs []Object) ([]Result, error) {
	var first, rest []Object
	for _, o := range objs {
		switch o.Data.GroupVersionKind().GroupKind() {
		case gkNamespace, gkServiceAccount, gkPriorityClass:
			first = append(first, o)
		default:
			rest = append(rest, o)
		}
	}
	// Namespaces before what lives in them.
	sort.SliceStable(first, func(i, j int) bool {
		return first[i].Data.GetKind() == "Namespace" && first[j].Data.GetKind() != "Namespace"
	})

	var results []Result
	for _, o := range first {
		rs, err := s.apply(ctx, o, false)
		if err != nil {
			return nil, err
		}
		results = append(results, rs...)
		if o.Data.GetKind() == "Namespace" && len(Errors(rs)) == 0 {
			if err := s.ensureDefaultServiceAccount(ctx, o.Data.GetName()); err != nil {
				return nil, err
			}
		}
	}

	rs, err := forEach(ctx, rest, func(ctx context.Context, o Object) ([]Result, error) {
		return s.apply(ctx, o, true)
	})
	if err != nil {
		return nil, err
	}
	results = append(results, rs...)

	rs, err = forEach(ctx, objs, s.judgePodTemplate)
	if err != nil {
		return nil, err
	}
	results = append(results, rs...)

	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Message < b.Message
	})
	return results, nil
}

// forEach runs judge over objs, a few at a time, and gathers the results in
// the order of objs.
func forEach(ctx context.Context, objs []Object, judge func(context.Context, Object) ([]Result, error)) ([]Result, error) {
	out := make([][]Result, len(objs))
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i, o := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = judge(ctx, o)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var results []Result
	for _, rs := range out {
		results = append(results, rs...)
	}
	return results, nil
}

// resourceFor finds the client for an object, or a result saying why the
// server cannot take it.
func (s *Server) resourceFor(o Object) (dynamic.ResourceInterface, *Result, error) {
	u := o.Data
	fail := func(msg string) (dynamic.ResourceInterface, *Result, error) {
		return nil, &Result{Object: o.Name(), File: o.File, Message: msg, Severity: SeverityError}, nil
	}
	if u.GetName() == "" {
		return fail("metadata.name is empty")
	}
	gvk := u.GroupVersionKind()
	mapping, err := s.mapper.mapping(gvk)
	if meta.IsNoMatchError(err) {
		return fail(fmt.Sprintf("the API server does not serve %s (is its CRD in crds/?)", gvk))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", o.Name(), err)
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	switch {
	case namespaced && u.GetNamespace() == "":
		return fail(fmt.Sprintf("%s is namespaced but metadata.namespace is empty", gvk.Kind))
	case !namespaced && u.GetNamespace() != "":
		return fail(fmt.Sprintf("%s is cluster-scoped but metadata.namespace is %q", gvk.Kind, u.GetNamespace()))
	case namespaced:
		return s.dynamic.Resource(mapping.Resource).Namespace(u.GetNamespace()), nil, nil
	default:
		return s.dynamic.Resource(mapping.Resource), nil, nil
	}
}

// apply server-side applies one object, for real or as a dry run, and turns
// the answer and its warnings into results.
func (s *Server) apply(ctx context.Context, o Object, dryRun bool) ([]Result, error) {
	client, verdict, err := s.resourceFor(o)
	if err != nil || verdict != nil {
		return resultList(verdict), err
	}
	body, err := o.Data.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", o.Name(), err)
	}
	opts := metav1.PatchOptions{
		FieldManager:    fieldManager,
		Force:           new(true),
		FieldValidation: metav1.FieldValidationStrict,
	}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	ctx, warnings := withWarnings(ctx)
	_, err = client.Patch(ctx, o.Data.GetName(), types.ApplyPatchType, body, opts)
	return s.verdict(o, "", err, warnings.list())
}

// verdict turns a server answer into results; prefix says what was sent
// when it was not the object itself.
func (s *Server) verdict(o Object, prefix string, err error, warnings []string) ([]Result, error) {
	var results []Result
	if err != nil {
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			return nil, fmt.Errorf("sending %s from %s: %w", o.Name(), o.File, err)
		}
		results = append(results, Result{Object: o.Name(), File: o.File, Message: prefix + err.Error(), Severity: SeverityError})
	}
	for _, w := range warnings {
		sev := SeverityWarning
		if strings.Contains(w, podSecurityWarning) {
			sev = SeverityError
		}
		results = append(results, Result{Object: o.Name(), File: o.File, Message: prefix + w, Severity: sev})
	}
	return results, nil
}

func resultList(r *Result) []Result {
	if r == nil {
		return nil
	}
	return []Result{*r}
}

// ensureDefaultServiceAccount creates the namespace's "default"
// ServiceAccount, as the controller manager (which does not run here) would.
func (s *Server) ensureDefaultServiceAccount(ctx context.Context, namespace string) error {
	sa := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ServiceAccount",
		"metadata":   map[string]any{"name": "default", "namespace": namespace},
	}}
	_, err := s.dynamic.Resource(serviceAccountGVR).Namespace(namespace).Create(ctx, sa, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount/%s/default: %w", namespace, err)
	}
	return nil
}

// judgePodTemplate dry-run creates a Pod from a workload's pod template, in
// the workload's namespace, so admission (PodSecurity above all) judges the
// pod the controller would create. Warnings are left out: the workload's own
// apply already reported them.
func (s *Server) judgePodTemplate(ctx context.Context, o Object) ([]Result, error) {
	pod, ok, err := PodFromTemplate(o)
	if err != nil {
		return []Result{{Object: o.Name(), File: o.File, Severity: SeverityError, Message: "pod template: " + err.Error()}}, nil
	}
	if !ok {
		return nil, nil
	}
	ctx, _ = withWarnings(ctx)
	_, err = s.dynamic.Resource(podGVR).Namespace(o.Data.GetNamespace()).Create(ctx, pod, metav1.CreateOptions{
		DryRun:          []string{metav1.DryRunAll},
		FieldManager:    fieldManager,
		FieldValidation: metav1.FieldValidationStrict,
	})
	return s.verdict(o, "pod template: ", err, nil)
}

// PodFromTemplate is the Pod a workload's controller would create from its pod
// template: the workload's name and namespace, the template's labels, annotations and
// spec. ok is false for objects that are not namespaced workloads of apps or batch.
func PodFromTemplate(o Object) (pod *unstructured.Unstructured, ok bool, err error) {
	group := o.Data.GroupVersionKind().Group
	tmplPath := manifest.PodTemplatePath(o.Data.GetKind())
	if tmplPath == nil || (group != "apps" && group != "batch") || o.Data.GetNamespace() == "" || o.Data.GetName() == "" {
		return nil, false, nil
	}
	tmpl, found, err := unstructured.NestedMap(o.Data.Object, tmplPath...)
	if err != nil || !found {
		return nil, false, fmt.Errorf("no %s", strings.Join(tmplPath, "."))
	}
	tmplMeta, _, _ := unstructured.NestedMap(tmpl, "metadata")
	podMeta := map[string]any{"name": o.Data.GetName(), "namespace": o.Data.GetNamespace()}
	for _, k := range []string{"labels", "annotations"} {
		if v, ok := tmplMeta[k]; ok {
			podMeta[k] = v
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   podMeta,
		"spec":       tmpl["spec"],
	}}, true, nil
}

// warningsKey carries a request's warning sink in its context.
type warningsKey struct{}

// warningSink collects the warnings of one request.
type warningSink struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningSink) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

func withWarnings(ctx context.Context) (context.Context, *warningSink) {
	sink := &warningSink{}
	return context.WithValue(ctx, warningsKey{}, sink), sink
}

// warningCollector is the client's warning handler: it hands each warning to
// the sink in the request's context, so concurrent requests keep theirs apart.
type warningCollector struct{}

func (warningCollector) HandleWarningHeaderWithContext(ctx context.Context, code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	if sink, ok := ctx.Value(warningsKey{}).(*warningSink); ok {
		sink.mu.Lock()
		sink.msgs = append(sink.msgs, text)
		sink.mu.Unlock()
	}
}

// EnsureNamespaces creates namespaces for real, with their default ServiceAccount,
// when they do not exist: those the platform installs itself (istio-system,
// traefik, ...) and rendered platform objects live in without rendering them.
func (s *Server) EnsureNamespaces(ctx context.Context, names []string) error {
	for _, name := range names {
		ns := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1",
			"kind":       "Namespace",
			"metadata":   map[string]any{"name": name},
		}}
		_, err := s.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{FieldManager: fieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Namespace/%s: %w", name, err)
		}
		if err := s.ensureDefaultServiceAccount(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// PlatformNamespaces are the namespaces objects in a platform/ directory live in
// that no object in objs creates: the platform installs them with its own tools.
func PlatformNamespaces(objs []Object) []string {
	rendered := map[string]bool{}
	for _, o := range objs {
		if o.Data.GetKind() == "Namespace" && o.Data.GetAPIVersion() == "v1" {
			rendered[o.Data.GetName()] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, o := range objs {
		ns := o.Data.GetNamespace()
		if ns == "" || rendered[ns] || seen[ns] || !strings.Contains("/"+o.File, "/platform/") {
			continue
		}
		seen[ns] = true
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}
