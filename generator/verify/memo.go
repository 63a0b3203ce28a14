package verify

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/fluxbuild"
	"github.com/rampart-gitops/rampart/generator/manifest"
)

// Memo shares the verdicts on the teams' objects among the Checkers of one run.
//
// A fleet's clusters mostly render a team's objects alike: in a thousand-team,
// ten-cluster fleet, six documents in ten of the teams' directories and tenant files
// repeat on another cluster. An object's checks are a function of its document's
// bytes, its layer and team, and what the cluster's checks hold (the Pod Security
// level and version, the kinds the tenant reconciler is granted, the people roles the
// platform renders, production or not), so an object met again is not decoded or
// checked again.
//
// Flux's build is shared the same way, by document. A team's directory and a tenant
// file are resources of kustomizations that list resources and nothing else (the
// team's kustomization.yaml, checked to be so, and tenants/kustomization.yaml), and
// for those Flux's build is its files' builds put together, and a file's build its
// documents' (kustomize reads each document on its own; no transformer, generator
// or patch runs across them), failing only where two documents hold the same object,
// which Files reports itself. So each distinct document goes through Flux's build
// once, with the other new documents of its unit in one build; a build that fails is
// repeated document by document to say which. TestBuildComposes holds the composed
// verdict to the build of the whole directory.
//
// The verdicts are kept by team (a team's documents name its namespace, so no other
// team's unit meets them), and Forget drops a team's once its last unit is verified:
// a large fleet's run does not keep every document's verdict to the end.
//
// It is safe for concurrent use; the zero value is not usable: use NewMemo.
type Memo struct {
	mu    sync.Mutex
	teams map[string]*teamMemo
}

// teamMemo is the verdicts on one team's documents.
type teamMemo struct {
	checks map[checkKey]*checkVerdict
	builds map[[sha256.Size]byte]*buildVerdict
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo {
	return &Memo{teams: map[string]*teamMemo{}}
}

// team is the verdicts on team's documents; m.mu is held.
func (m *Memo) team(name string) *teamMemo {
	t := m.teams[name]
	if t == nil {
		t = &teamMemo{checks: map[checkKey]*checkVerdict{}, builds: map[[sha256.Size]byte]*buildVerdict{}}
		m.teams[name] = t
	}
	return t
}

// Forget drops the verdicts on team's documents. Call it when no unit of the team is
// being verified or will be; a unit verified after it checks everything again.
func (m *Memo) Forget(team string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.teams, team)
}

// checkKey identifies an object's checks within its team's verdicts: the Checker's
// rules, the file's layer, the document.
type checkKey struct {
	rules [sha256.Size]byte
	layer manifest.Layer
	sum   [sha256.Size]byte
}

// checkVerdict is what the checks of one object found, with the file's path left
// empty (each file it serves fills in its own).
type checkVerdict struct {
	once  sync.Once
	diags diag.List
}

// buildVerdict is Flux's build of one document: the error, or "" once done is closed.
type buildVerdict struct {
	done chan struct{}
	err  string
}

// rulesDigest is the digest of what the checks of a team's or tenant's object read
// of the Checker.
func (c *Checker) rulesDigest() [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(c.lv.String()))
	if c.opts.Production {
		h.Write([]byte("\x00production"))
	}
	for _, g := range slices.Sorted(maps.Keys(c.grants)) {
		h.Write([]byte("\x00grant " + g))
	}
	for _, p := range slices.Sorted(maps.Keys(c.people)) {
		h.Write([]byte("\x00people " + p))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// memoized says whether f's objects are judged through the memo: a team's or a
// tenant's file of objects, sealed.
func (v *verifier) memoized(f *manifest.File) bool {
	return v.opts.Memo != nil && (f.Layer == manifest.LayerTeam || f.Layer == manifest.LayerTenant) &&
		f.Raw == nil && f.Held == nil && f.Sealed() != nil
}

// objectThroughMemo checks one object of f, whose document is doc, from the verdict
// on the same document when there is one, else by checking it (once, however many
// units ask at a time).
func (v *verifier) objectThroughMemo(f *manifest.File, o *unstructured.Unstructured, doc []byte) {
	m := v.opts.Memo
	key := checkKey{rules: v.rules, layer: f.Layer, sum: sha256.Sum256(doc)}
	m.mu.Lock()
	checks := m.team(f.Team).checks
	verdict := checks[key]
	if verdict == nil {
		verdict = &checkVerdict{}
		checks[key] = verdict
	}
	m.mu.Unlock()
	verdict.once.Do(func() {
		w := &verifier{Checker: v.Checker, files: v.files}
		w.object(f, o)
		for _, d := range w.diags {
			if d.File == f.Path {
				d.File = ""
			}
			verdict.diags = append(verdict.diags, d)
		}
	})
	for _, d := range verdict.diags {
		if d.File == "" {
			d.File = f.Path
		}
		v.diags = append(v.diags, d)
	}
}

// buildThroughMemo judges by Flux's build, through the memo, the tenant files among
// the files and the team directories whose kustomization.yaml lists their files and
// nothing else. It gives the directories it judged; the caller builds the others
// whole.
func (v *verifier) buildThroughMemo(dirs []string, encoded map[string][]byte) map[string]bool {
	var files []*manifest.File
	judged := map[string]bool{}
	for _, dir := range dirs {
		var members []*manifest.File
		for _, f := range v.files {
			if path.Dir(f.Path) == dir && path.Base(f.Path) != "kustomization.yaml" {
				members = append(members, f)
			}
		}
		if !slices.ContainsFunc(members, func(f *manifest.File) bool { return !v.memoized(f) }) &&
			resourcesOnly(encoded[path.Join(dir, "kustomization.yaml")], members) {
			judged[dir] = true
			files = append(files, members...)
		}
	}
	for _, f := range v.files {
		if f.Layer == manifest.LayerTenant && v.memoized(f) {
			files = append(files, f)
		}
	}
	type pending struct {
		f   *manifest.File
		ref string
		doc []byte
		v   *buildVerdict
	}
	var all, mine []pending
	m := v.opts.Memo
	m.mu.Lock()
	for _, f := range files {
		builds := m.team(f.Team).builds
		for i, doc := range f.Documents() {
			sum := sha256.Sum256(doc)
			verdict := builds[sum]
			if verdict == nil {
				verdict = &buildVerdict{done: make(chan struct{})}
				builds[sum] = verdict
				mine = append(mine, pending{f, manifest.Ref(f.Objects[i]), doc, verdict})
			}
			all = append(all, pending{f, manifest.Ref(f.Objects[i]), doc, verdict})
		}
	}
	m.mu.Unlock()
	if len(mine) > 0 {
		docs := make([][]byte, len(mine))
		for i, p := range mine {
			docs[i] = p.doc
		}
		if err := buildDocuments(docs...); err != "" {
			for _, p := range mine {
				p.v.err = buildDocuments(p.doc)
			}
		}
		for _, p := range mine {
			close(p.v.done)
		}
	}
	for _, p := range all {
		<-p.v.done
		if p.v.err != "" {
			v.add(diag.Diagnostic{File: p.f.Path, Object: p.ref, Message: "Flux's kustomize build fails: " + p.v.err})
		}
	}
	return judged
}

// resourcesOnly says whether the kustomization k lists exactly the members' files, in
// name order, and sets nothing else.
func resourcesOnly(k []byte, members []*manifest.File) bool {
	names := make([]string, len(members))
	for i, f := range members {
		names[i] = path.Base(f.Path)
	}
	slices.Sort(names)
	want, err := yaml.Marshal(manifest.Kustomization(names))
	if err != nil {
		return false
	}
	return bytes.Equal(k, append([]byte(manifest.Header), want...))
}

// buildDocuments runs Flux's build on a kustomization that lists one file holding
// the documents, and gives its error ("" when it builds).
func buildDocuments(docs ...[]byte) string {
	var b bytes.Buffer
	for _, d := range docs {
		b.WriteString("---\n")
		b.Write(d)
	}
	fs := filesys.MakeFsInMemory()
	k, err := yaml.Marshal(manifest.Kustomization([]string{"resources.yaml"}))
	if err == nil {
		err = errors.Join(fs.WriteFile("/dir/kustomization.yaml", k), fs.WriteFile("/dir/resources.yaml", b.Bytes()))
	}
	if err == nil {
		_, err = fluxbuild.Build(fs, "/dir")
	}
	if err != nil {
		return strings.TrimSpace(err.Error())
	}
	return ""
}
