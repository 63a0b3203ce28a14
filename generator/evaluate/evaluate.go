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

// Team renders one team on one cluster.
func (e *Evaluator) Team(cluster, team, intents Arg) (*Output, error) {
	return e.eval(TeamEntry, []arg{{"cluster", cluster}, {"intents", intents}, {"team", team}})
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
	return e.evalJSON(PlatformEntry, []arg{{"cluster", cluster}, {"teams", ParseArg("teams", names)}})
}

// DecodePlatform reads what PlatformJSON returned.
func (e *Evaluator) DecodePlatform(js []byte) (*Output, error) {
	return decode(e.libName+"/"+PlatformEntry, js)
}

// arg is one named top-level argument.
type arg struct {
	name  string
	value Arg
}

func (e *Evaluator) vm() *jsonnet.VM {
	if vm, ok := e.vms.Get().(*jsonnet.VM); ok {
		return vm
	}
	vm := jsonnet.MakeVM()
	vm.Importer(e.importer)
	vm.ErrorFormatter.SetMaxStackTraceSize(8)
	return vm
}

func (e *Evaluator) eval(entry string, args []arg) (*Output, error) {
	js, err := e.evalJSON(entry, args)
	if err != nil {
		return nil, err
	}
	return decode(e.libName+"/"+entry, js)
}

func (e *Evaluator) evalJSON(entry string, args []arg) (js []byte, err error) {
	vm := e.vm()
	defer func() {
		// go-jsonnet is not expected to panic, but a panic must not cross our
		// boundary, and a VM that panicked is not reused.
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluating %s/%s: internal jsonnet error: %v", e.libName, entry, r)
			return
		}
		e.vms.Put(vm)
	}()
	vm.TLAReset()
	for _, a := range args {
		if a.value.err != nil {
			return nil, fmt.Errorf("evaluating %s/%s: argument %s: %w", e.libName, entry, a.name, a.value.err)
		}
		vm.TLANode(a.name, a.value.node)
	}
	_, foundAt, err := e.importer.Import("", entry)
	if err != nil {
		return nil, fmt.Errorf("evaluating %s/%s: %w", e.libName, entry, err)
	}
	// Importing the entry point, rather than evaluating its text, lets the VM keep
	// its parsed form between evaluations like any other file of lib/.
	out, err := vm.EvaluateAnonymousSnippet(foundAt, fmt.Sprintf("import %q", entry))
	if err != nil {
		// go-jsonnet's message already carries file:line:col of every frame.
		return nil, fmt.Errorf("evaluating %s: %w", foundAt, cleanJsonnetError(err))
	}
	return []byte(out), nil
}

// rawOutput is the shape the entry points return.
type rawOutput struct {
	Tenant  []map[string]any            `json:"tenant"`
	Files   map[string][]map[string]any `json:"files"`
	Runtime []map[string]any            `json:"runtime,omitempty"`
}

func decode(entry string, js []byte) (*Output, error) {
	var raw rawOutput
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("evaluating %s: the result must be {tenant: [objects], files: {name: [objects]}, runtime: [Falco rules]}: %w", entry, err)
	}
	out := &Output{Files: map[string][]*unstructured.Unstructured{}, Runtime: raw.Runtime}
	var errs []error
	for i, o := range raw.Tenant {
		u, err := toObject(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("evaluating %s: tenant[%d]: %w", entry, i, err))
			continue
		}
		out.Tenant = append(out.Tenant, u)
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Files)) {
		if err := checkFileName(name); err != nil {
			errs = append(errs, fmt.Errorf("evaluating %s: files[%q]: %w", entry, name, err))
			continue
		}
		for i, o := range raw.Files[name] {
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

func cleanJsonnetError(err error) error {
	return errors.New(strings.TrimSpace(strings.TrimPrefix(err.Error(), "RUNTIME ERROR: ")))
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
