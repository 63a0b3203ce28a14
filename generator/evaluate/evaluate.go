// Package evaluate runs the jsonnet templates in lib/ in-process with go-jsonnet. It
// takes a cluster, a team and the team's intents (or the cluster and its team names,
// for the platform layer) as top-level arguments and gives the rendered objects,
// grouped by output file.
//
// The templates are the platform team's single place to change a security default:
// lib/team.jsonnet and lib/platform.jsonnet compose one .libsonnet per layer.
package evaluate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Entry points in lib/.
const (
	TeamEntry     = "team.jsonnet"
	PlatformEntry = "platform.jsonnet"
	// AppsEntry renders what a team renders alike on every cluster (its apps'
	// workloads): it takes only the team, so it is evaluated once per team and run,
	// and its files are added to those of each of the team's clusters. It is
	// optional.
	AppsEntry = "apps.jsonnet"
	// RuntimeEntry renders a team's Falco rules file on a cluster. It is an object:
	// `cluster` lists the fields of the cluster the rules read (dotted paths, e.g.
	// "spec.cni"), and `rules(cluster, team, intents)` is called with the cluster cut
	// down to those fields, so its value depends on nothing else and is evaluated once
	// per distinct team, intents and fields instead of once per cluster. It is
	// optional: without it the rules are team.jsonnet's `runtime`.
	RuntimeEntry = "runtime.jsonnet"
)

// Output is what one evaluation rendered.
type Output struct {
	// Tenant are the objects the cluster's reconciler applies for a team (its
	// namespace, RBAC and Flux tenant); empty for the platform layer.
	Tenant []*unstructured.Unstructured
	// Files maps a file name (e.g. "api.yaml") to its objects.
	Files map[string][]*unstructured.Unstructured
	// Runtime is Falco rules, macros and lists (lib/runtime.libsonnet): the team's
	// rules file, or for the platform layer the lists and macros every team's rules
	// use; empty where runtime detection is off.
	Runtime []map[string]any
}

// Evaluator evaluates the templates of one lib/ directory. It is safe for
// concurrent use: each evaluation takes a VM from a pool, and a VM keeps the parsed
// and evaluated lib/ files between evaluations (the templates read no external
// variables, so an import's value is the same for every team), so lib/ is parsed once
// per VM rather than once per team.
type Evaluator struct {
	lib      fs.FS
	libName  string
	importer *fsImporter
	vms      sync.Pool
}

// New returns an Evaluator for the templates in lib. libName is how the directory is
// named in error messages (usually "lib").
func New(lib fs.FS, libName string) *Evaluator {
	return &Evaluator{lib: lib, libName: libName, importer: &fsImporter{fsys: lib, name: libName, cache: map[string]*cached{}}}
}

// Arg is a top-level argument, parsed once: a cluster is parsed once for all its
// teams, and a team once for all its clusters.
type Arg struct {
	node ast.Node
	err  error
}

// ParseArg parses a JSON value as a top-level argument.
func ParseArg(name string, value json.RawMessage) Arg {
	node, err := jsonnet.SnippetToAST("<"+name+">", string(value))
	return Arg{node: node, err: err}
}

// Team renders one team on one cluster: team.jsonnet's output, with apps.jsonnet's
// files added.
func (e *Evaluator) Team(cluster, team, intents Arg) (*Output, error) {
	apps, err := e.Apps(team)
	if err != nil {
		return nil, err
	}
	return e.TeamWith(cluster, team, intents, apps)
}

// TeamWith is Team with apps.jsonnet's output (Apps) evaluated once for all of the
// team's clusters. apps is not changed: its objects are copied into the output.
func (e *Evaluator) TeamWith(cluster, team, intents Arg, apps *Output) (*Output, error) {
	args := []arg{{"cluster", cluster}, {"intents", intents}, {"team", team}}
	v, err := e.evaluate(TeamEntry, args, false)
	if err != nil {
		return nil, err
	}
	out, err := decodeValue(e.libName+"/"+TeamEntry, v)
	if err != nil || apps == nil {
		return out, err
	}
	for name, objs := range apps.Files {
		shared := make([]*unstructured.Unstructured, len(objs), len(objs)+len(out.Files[name]))
		for i, o := range objs {
			shared[i] = o.DeepCopy()
		}
		out.Files[name] = append(shared, out.Files[name]...)
	}
	return out, nil
}

// Apps renders what a team renders alike on every cluster (lib/apps.jsonnet), or
// gives nil when lib/ has no apps.jsonnet. Its result holds files only.
func (e *Evaluator) Apps(team Arg) (*Output, error) {
	if _, _, err := e.importer.Import("", AppsEntry); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	v, err := e.evaluate(AppsEntry, []arg{{"team", team}}, false)
	if err != nil {
		return nil, err
	}
	entry := e.libName + "/" + AppsEntry
	out, err := decodeValue(entry, v)
	if err != nil {
		return nil, err
	}
	if len(out.Tenant) > 0 || len(out.Runtime) > 0 {
		return nil, fmt.Errorf("evaluating %s: it renders files only ({files: {name: [objects]}}); tenant objects and Falco rules depend on the cluster and belong to %s/%s", entry, e.libName, TeamEntry)
	}
	return out, nil
}

// RuntimeFields gives the fields of the cluster that lib/runtime.jsonnet's rules read
// (its `cluster` field: dotted paths such as "spec.cni"), or ok false when lib/ has
// no runtime.jsonnet.
func (e *Evaluator) RuntimeFields() (fields []string, ok bool, err error) {
	if _, _, err := e.importer.Import("", RuntimeEntry); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	v, err := e.call(RuntimeEntry, "cluster", nil, false)
	if err != nil {
		return nil, false, err
	}
	entry := e.libName + "/" + RuntimeEntry
	list, isList := v.([]any)
	if !isList {
		return nil, false, fmt.Errorf("evaluating %s: cluster must be a list of the cluster's fields the rules read (e.g. \"spec.cni\"), got %s", entry, jsonType(v))
	}
	for i, x := range list {
		f, _ := x.(string)
		if f == "" || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") {
			return nil, false, fmt.Errorf("evaluating %s: cluster[%d]: want the dotted path of a field such as \"spec.cni\", got %s %q", entry, i, jsonType(x), f)
		}
		fields = append(fields, f)
	}
	return fields, true, nil
}

// Runtime renders a team's Falco rules file with lib/runtime.jsonnet: its rules,
// called with the cluster cut down to the fields RuntimeFields gives (see
// ProjectCluster).
func (e *Evaluator) Runtime(cluster, team, intents Arg) ([]map[string]any, error) {
	v, err := e.call(RuntimeEntry, "rules", []arg{{"cluster", cluster}, {"team", team}, {"intents", intents}}, false)
	if err != nil {
		return nil, err
	}
	rules, err := objectList(v)
	if err != nil {
		return nil, fmt.Errorf("evaluating %s/%s: rules must return a list of Falco rules, macros and lists: %w", e.libName, RuntimeEntry, err)
	}
	return rules, nil
}

// ProjectCluster cuts a cluster's JSON down to the fields named by dotted paths: the
// cluster lib/runtime.jsonnet's rules see. A field the cluster does not set is left
// out.
func ProjectCluster(cluster json.RawMessage, fields []string) (json.RawMessage, error) {
	var full map[string]any
	if err := json.Unmarshal(cluster, &full); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, f := range fields {
		parts := strings.Split(f, ".")
		var v any = full
		for _, p := range parts {
			m, _ := v.(map[string]any)
			if v = m[p]; v == nil {
				break
			}
		}
		if v == nil {
			continue
		}
		dst := out
		for _, p := range parts[:len(parts)-1] {
			next, _ := dst[p].(map[string]any)
			if next == nil {
				next = map[string]any{}
				dst[p] = next
			}
			dst = next
		}
		dst[parts[len(parts)-1]] = v
	}
	return json.Marshal(out)
}

// Platform renders the cluster-wide platform layer; teams are the names of the teams
// on the cluster.
func (e *Evaluator) Platform(cluster Arg, teams []string) (*Output, error) {
	js, err := e.PlatformJSON(cluster, teams)
	if err != nil {
		return nil, err
	}
	return e.DecodePlatform(js)
}

// PlatformJSON renders the platform layer as the templates' JSON, for a caller that
// keeps it (the render caches it by its inputs); DecodePlatform reads it.
func (e *Evaluator) PlatformJSON(cluster Arg, teams []string) ([]byte, error) {
	names, err := json.Marshal(teams)
	if err != nil {
		return nil, fmt.Errorf("evaluating %s/%s: encoding the team names: %w", e.libName, PlatformEntry, err)
	}
	v, err := e.evaluate(PlatformEntry, []arg{{"cluster", cluster}, {"teams", ParseArg("teams", names)}}, true)
	if err != nil {
		return nil, err
	}
	return []byte(v.(string)), nil
}

// DecodePlatform reads what PlatformJSON returned.
func (e *Evaluator) DecodePlatform(js []byte) (*Output, error) {
	entry := e.libName + "/" + PlatformEntry
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", entry, err)
	}
	return decodeValue(entry, v)
}

// arg is one named top-level argument.
type arg struct {
	name  string
	value Arg
}

// vm is a pooled jsonnet VM with the native function that hands it the value an
// evaluation returns.
type vm struct {
	*jsonnet.VM
	result any
}

// resultNative is the native function the entry point's value is passed to: go-jsonnet
// gives a native function its arguments as Go values (maps, slices, float64, string,
// bool, nil), the same values encoding/json decodes from its JSON text, without
// printing the text and parsing it back.
const resultNative = "rampart.result"

func (e *Evaluator) vm() *vm {
	if v, ok := e.vms.Get().(*vm); ok {
		return v
	}
	v := &vm{VM: jsonnet.MakeVM()}
	v.Importer(e.importer)
	v.ErrorFormatter.SetMaxStackTraceSize(8)
	v.NativeFunction(&jsonnet.NativeFunction{
		Name:   resultNative,
		Params: ast.Identifiers{"result"},
		Func: func(args []any) (any, error) {
			v.result = args[0]
			return true, nil
		},
	})
	return v
}

// evaluate calls the entry point with args: its value as Go values, or as JSON text
// (a string) when asJSON is set.
func (e *Evaluator) evaluate(entry string, args []arg, asJSON bool) (result any, err error) {
	return e.call(entry, "", args, asJSON)
}

// call calls the entry point, or its field named field when field is set, with args:
// its value as Go values, or as JSON text (a string) when asJSON is set (for an
// entry point only). With nil args it gives the entry's or field's value itself.
func (e *Evaluator) call(entry, field string, args []arg, asJSON bool) (result any, err error) {
	vm := e.vm()
	defer func() {
		// go-jsonnet is not expected to panic, but a panic must not cross our
		// boundary, and a VM that panicked is not reused.
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluating %s/%s: internal jsonnet error: %v", e.libName, entry, r)
			return
		}
		vm.result = nil
		e.vms.Put(vm)
	}()
	vm.TLAReset()
	var names []string
	if args != nil {
		names = make([]string, len(args))
	}
	for i, a := range args {
		if a.value.err != nil {
			return nil, fmt.Errorf("evaluating %s/%s: argument %s: %w", e.libName, entry, a.name, a.value.err)
		}
		vm.TLANode(a.name, a.value.node)
		names[i] = a.name
	}
	_, foundAt, err := e.importer.Import("", entry)
	if err != nil {
		return nil, fmt.Errorf("evaluating %s/%s: %w", e.libName, entry, err)
	}
	// Importing the entry point, rather than evaluating its text, lets the VM keep
	// its parsed form between evaluations like any other file of lib/.
	file, snippet := foundAt, fmt.Sprintf("import %q", entry)
	if !asJSON {
		file, snippet = resultFile, resultSnippet(entry, field, names)
	}
	out, err := vm.EvaluateAnonymousSnippet(file, snippet)
	if err != nil {
		// go-jsonnet's message already carries file:line:col of every frame.
		msg, inLib := cleanJsonnetError(err)
		if !inLib && !asJSON && names != nil {
			what := "it"
			if field != "" {
				what = "its field " + field
			}
			return nil, fmt.Errorf("evaluating %s: %s must be a function(%s): %s", foundAt, what, strings.Join(names, ", "), msg)
		}
		return nil, fmt.Errorf("evaluating %s: %s", foundAt, msg)
	}
	if asJSON {
		return out, nil
	}
	return vm.result, nil
}

// resultFile names the snippet that calls an entry point; cleanJsonnetError drops
// its frames from a stack trace.
const resultFile = "<rampart>"

// resultSnippet calls the entry point (or its field, when field is set) with the
// top-level arguments named, by name, and passes its value to the result native
// function. With no names it passes the entry's (or field's) value itself.
func resultSnippet(entry, field string, names []string) string {
	callee := "(import " + strconv.Quote(entry) + ")"
	if field != "" {
		callee += "." + field
	}
	result := "std.native('" + resultNative + "')"
	if names == nil {
		return result + "(" + callee + ")"
	}
	args := make([]string, len(names))
	for i, n := range names {
		args[i] = n + "=" + n
	}
	return "function(" + strings.Join(names, ", ") + ") " + result + "(" + callee + "(" + strings.Join(args, ", ") + "))"
}

// outputShape is what decodeValue's errors say the entry points must return.
const outputShape = "the result must be {tenant: [objects], files: {name: [objects]}, runtime: [Falco rules]}"

// decodeValue reads what an entry point returned, as JSON values.
func decodeValue(entry string, v any) (*Output, error) {
	bad := func(format string, args ...any) (*Output, error) {
		return nil, fmt.Errorf("evaluating %s: %s: %s", entry, outputShape, fmt.Sprintf(format, args...))
	}
	top, ok := v.(map[string]any)
	if !ok {
		return bad("got %s", jsonType(v))
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if k != "tenant" && k != "files" && k != "runtime" {
			return bad("unknown field %q", k)
		}
	}
	tenant, err := objectList(top["tenant"])
	if err != nil {
		return bad("tenant: %v", err)
	}
	runtime, err := objectList(top["runtime"])
	if err != nil {
		return bad("runtime: %v", err)
	}
	files := map[string][]map[string]any{}
	switch f := top["files"].(type) {
	case nil:
	case map[string]any:
		for name, list := range f {
			if files[name], err = objectList(list); err != nil {
				return bad("files[%q]: %v", name, err)
			}
		}
	default:
		return bad("files: got %s", jsonType(f))
	}
	out := &Output{Files: map[string][]*unstructured.Unstructured{}, Runtime: runtime}
	var errs []error
	for i, o := range tenant {
		u, err := toObject(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("evaluating %s: tenant[%d]: %w", entry, i, err))
			continue
		}
		out.Tenant = append(out.Tenant, u)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := checkFileName(name); err != nil {
			errs = append(errs, fmt.Errorf("evaluating %s: files[%q]: %w", entry, name, err))
			continue
		}
		for i, o := range files[name] {
			u, err := toObject(o)
			if err != nil {
				errs = append(errs, fmt.Errorf("evaluating %s: files[%q][%d]: %w", entry, name, i, err))
				continue
			}
			out.Files[name] = append(out.Files[name], u)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// objectList reads a list of objects (null is an empty list, and a null element an
// object with no fields).
func objectList(v any) ([]map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("got %s, want a list of objects", jsonType(v))
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		switch o := x.(type) {
		case nil:
		case map[string]any:
			out[i] = o
		default:
			return nil, fmt.Errorf("[%d]: got %s, want an object", i, jsonType(x))
		}
	}
	return out, nil
}

// jsonType names a JSON value's type for an error.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func toObject(o map[string]any) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: o}
	if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
		return nil, fmt.Errorf("an object needs apiVersion, kind and metadata.name (got %q %q %q)", u.GetAPIVersion(), u.GetKind(), u.GetName())
	}
	return u, nil
}

// checkFileName allows plain YAML file names only, so a template cannot write
// outside its directory.
func checkFileName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || path.Ext(name) != ".yaml" || name == "kustomization.yaml" {
		return errors.New("a file name must be a plain name ending in .yaml (not kustomization.yaml), with no directory")
	}
	return nil
}

// cleanJsonnetError drops go-jsonnet's prefix and the frames of the snippet that
// calls the entry point (they name no file of lib/). inLib says whether any frame
// was in lib/; when none was, the call itself failed and only the message is kept.
func cleanJsonnetError(err error) (msg string, inLib bool) {
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(err.Error(), "RUNTIME ERROR: ")), "\n")
	kept := lines[:1]
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "\t"+resultFile+":") || l == "\tTop-level function call" {
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n"), len(kept) > 1 || len(lines) == 1
}

// fsImporter resolves imports inside lib/ only. An import that leaves the directory
// is refused.
type fsImporter struct {
	fsys  fs.FS
	name  string
	mu    sync.Mutex
	cache map[string]*cached
}

type cached struct {
	contents jsonnet.Contents
	err      error
}

func (i *fsImporter) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	dir := "."
	if importedFrom != "" {
		dir = path.Dir(strings.TrimPrefix(importedFrom, i.name+"/"))
	}
	p := path.Clean(path.Join(dir, importedPath))
	if path.IsAbs(importedPath) || !fs.ValidPath(p) {
		return jsonnet.Contents{}, "", fmt.Errorf("import %q leaves %s/; templates may import only files inside it", importedPath, i.name)
	}
	foundAt := i.name + "/" + p
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.cache[p]; ok {
		return c.contents, foundAt, c.err
	}
	b, err := fs.ReadFile(i.fsys, p)
	c := &cached{}
	if err != nil {
		c.err = fmt.Errorf("reading %s: %w", foundAt, err)
	} else {
		c.contents = jsonnet.MakeContentsRaw(b)
	}
	i.cache[p] = c
	return c.contents, foundAt, c.err
}
