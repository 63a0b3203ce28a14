package review

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"path"
	"reflect"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/manifest"
)

// Action is what happened to an object.
type Action string

// Actions.
const (
	Added   Action = "added"
	Changed Action = "changed"
	Removed Action = "removed"
)

// ObjectChange is one object that differs between the base and the head.
type ObjectChange struct {
	Action    Action `json:"action"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// File is the object's file in the head (in the base when removed).
	File string `json:"file"`
	// Summary says what changed that matters for security, one line each.
	Summary []string `json:"summary,omitempty"`
}

// Ref names the object Kind/namespace/name.
func (o ObjectChange) Ref() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// TeamDiff is one team's changes on a cluster; Team is empty for the platform layer.
type TeamDiff struct {
	Team    string         `json:"team"`
	Objects []ObjectChange `json:"objects"`
}

// Label is the team's name, or "platform".
func (t TeamDiff) Label() string { return cmp.Or(t.Team, "platform") }

// ClusterDiff is one cluster's changes.
type ClusterDiff struct {
	Cluster string     `json:"cluster"`
	Teams   []TeamDiff `json:"teams"`
}

// Counts are objects added, changed and removed.
type Counts struct {
	Added   int `json:"added"`
	Changed int `json:"changed"`
	Removed int `json:"removed"`
}

// plus adds n to c.
func (c *Counts) plus(n Counts) {
	c.Added += n.Added
	c.Changed += n.Changed
	c.Removed += n.Removed
}

func (c *Counts) add(a Action) {
	switch a {
	case Added:
		c.Added++
	case Changed:
		c.Changed++
	case Removed:
		c.Removed++
	}
}

// Total is every object counted.
func (c Counts) Total() int { return c.Added + c.Changed + c.Removed }

// Diff is the change between two rendered trees.
type Diff struct {
	// Base names the base revision as given, and BaseCommit its commit id.
	Base       string `json:"base"`
	BaseCommit string `json:"baseCommit,omitempty"`
	// Head names the head ("working tree", "render" or a revision).
	Head     string        `json:"head"`
	Clusters []ClusterDiff `json:"clusters"`
	Counts   Counts        `json:"counts"`
	// Files counts the rendered files that differ, the only ones parsed.
	Files int `json:"filesChanged"`
}

// Teams are the distinct teams touched, platform excluded, sorted.
func (d *Diff) Teams() []string {
	seen := map[string]bool{}
	for _, c := range d.Clusters {
		for _, t := range c.Teams {
			if t.Team != "" {
				seen[t.Team] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Cluster returns the named cluster's diff, or nil.
func (d *Diff) Cluster(name string) *ClusterDiff {
	for i := range d.Clusters {
		if d.Clusters[i].Cluster == name {
			return &d.Clusters[i]
		}
	}
	return nil
}

// Counts counts the cluster's objects.
func (c *ClusterDiff) Counts() Counts {
	var n Counts
	for _, t := range c.Teams {
		for _, o := range t.Objects {
			n.add(o.Action)
		}
	}
	return n
}

// ChangedFiles are the rendered paths whose blob ids differ between base and head.
func ChangedFiles(base, head Tree) []string {
	var out []string
	hb := head.Blobs()
	bb := base.Blobs()
	both := 0
	for p, id := range hb {
		was, ok := bb[p]
		if ok {
			both++
		}
		if !ok || was != id {
			out = append(out, p)
		}
	}
	if both < len(bb) { // the base has paths the head has not
		for p := range bb {
			if _, ok := hb[p]; !ok {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Compare diffs two trees, reading and parsing only the files whose blob ids differ.
func Compare(ctx context.Context, base, head Tree) (*Diff, error) {
	return compareFiles(ctx, base, head, ChangedFiles(base, head))
}

// compareFiles is Compare on the files that differ, as ChangedFiles lists them. It
// goes cluster by cluster, a cluster per core, holding only those clusters' decoded
// objects (a platform-wide change touches every team's files), and decodes only the
// documents that differ: a document a file holds byte for byte at both sides is the
// same object, unchanged.
func compareFiles(ctx context.Context, base, head Tree, paths []string) (*Diff, error) {
	d := &Diff{Files: len(paths)}
	byCluster := objectFilesByCluster(paths)
	names := slices.Sorted(maps.Keys(byCluster))
	diffs := make([]ClusterDiff, len(names))
	counts := make([]Counts, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, name := range names {
		g.Go(func() error {
			var err error
			diffs[i], err = compareCluster(gctx, base, head, name, byCluster[name], &counts[i])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, cd := range diffs {
		d.Counts.plus(counts[i])
		if len(cd.Teams) > 0 {
			d.Clusters = append(d.Clusters, cd)
		}
	}
	return d, nil
}

// objectFilesByCluster are the paths of files of objects among paths, by cluster:
// a kustomization.yaml lists files, and the objects they hold are compared instead.
func objectFilesByCluster(paths []string) map[string][]string {
	out := map[string][]string{}
	for _, p := range paths {
		if path.Base(p) != "kustomization.yaml" {
			out[clusterOf(p)] = append(out[clusterOf(p)], p)
		}
	}
	return out
}

// compareCluster compares a cluster's files that differ, adding to counts.
func compareCluster(ctx context.Context, base, head Tree, cluster string, paths []string, counts *Counts) (ClusterDiff, error) {
	read := func(t Tree) (map[string][]byte, error) {
		var in []string
		for _, p := range paths {
			if _, ok := t.Blobs()[p]; ok {
				in = append(in, p)
			}
		}
		return t.Read(ctx, in)
	}
	bfiles, err := read(base)
	if err != nil {
		return ClusterDiff{}, err
	}
	hfiles, err := read(head)
	if err != nil {
		return ClusterDiff{}, err
	}
	// Objects move between files (an app renamed, a file split): match them by
	// Kind/namespace/name, not per file.
	bobjs, hobjs, err := decodeSides(bfiles, hfiles)
	if err != nil {
		return ClusterDiff{}, err
	}
	teams := map[string][]ObjectChange{}
	keys := slices.Sorted(maps.Keys(hobjs))
	for k := range bobjs {
		if _, ok := hobjs[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		b, inB := bobjs[k]
		h, inH := hobjs[k]
		var oc ObjectChange
		switch {
		case inB && inH:
			if reflect.DeepEqual(b.obj.Object, h.obj.Object) {
				continue
			}
			oc = change(Changed, h.obj, h.file)
			oc.Summary = Summarize(b.obj, h.obj)
		case inH:
			oc = change(Added, h.obj, h.file)
			oc.Summary = Summarize(nil, h.obj)
		default:
			oc = change(Removed, b.obj, b.file)
			oc.Summary = Summarize(b.obj, nil)
		}
		_, team := manifest.Classify(oc.File)
		teams[team] = append(teams[team], oc)
		counts.add(oc.Action)
	}
	cd := ClusterDiff{Cluster: cluster}
	for _, t := range slices.Sorted(maps.Keys(teams)) {
		objs := teams[t]
		slices.SortFunc(objs, func(a, b ObjectChange) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		cd.Teams = append(cd.Teams, TeamDiff{Team: t, Objects: objs})
	}
	return cd, nil
}

// documentSeparator separates the documents of a rendered file.
var documentSeparator = []byte("\n---\n")

// side is an object at one side of the diff, and the file that holds it.
type side struct {
	obj  *unstructured.Unstructured
	file string
}

// decodeSides decodes the objects of the files at the base (b) and the head (h),
// by Kind/namespace/name: of a file at both sides, only its documents that differ
// (differentDocuments), on every core. Paring a data block is a reading of the
// text; should what it leaves not decode, the file's differing documents are
// decoded whole, which says what is wrong if anything is.
func decodeSides(b, h map[string][]byte) (map[string]side, map[string]side, error) {
	paths := slices.Sorted(maps.Keys(b))
	for p := range h {
		if _, ok := b[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	type pair struct{ b, h []*unstructured.Unstructured }
	decoded := make([]pair, len(paths))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range paths {
		g.Go(func() error {
			bf, inB := b[p]
			hf, inH := h[p]
			decode := func(bf, hf []byte) (pair, error) {
				var out pair
				var err error
				if inB {
					if out.b, err = manifest.Decode(bf); err != nil {
						return out, fmt.Errorf("reading the base: decoding %s: %w", p, err)
					}
				}
				if inH {
					if out.h, err = manifest.Decode(hf); err != nil {
						return out, fmt.Errorf("reading the head: decoding %s: %w", p, err)
					}
				}
				return out, nil
			}
			if !inB || !inH {
				var err error
				decoded[i], err = decode(bf, hf)
				return err
			}
			var err error
			if decoded[i], err = decode(differentDocuments(bf, hf, true)); err != nil {
				decoded[i], err = decode(differentDocuments(bf, hf, false))
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	bobjs, hobjs := map[string]side{}, map[string]side{}
	add := func(m map[string]side, objs []*unstructured.Unstructured, file string) {
		for _, o := range objs {
			if len(o.Object) == 0 {
				continue // a document of comments only
			}
			m[objectKey(o)] = side{o, file}
		}
	}
	for i, p := range paths {
		add(bobjs, decoded[i].b, p)
		add(hobjs, decoded[i].h, p)
	}
	return bobjs, hobjs, nil
}

func objectKey(o *unstructured.Unstructured) string {
	return o.GroupVersionKind().GroupKind().String() + "/" + o.GetNamespace() + "/" + o.GetName()
}

func change(a Action, o *unstructured.Unstructured, file string) ObjectChange {
	return ObjectChange{Action: a, Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(), File: file}
}
