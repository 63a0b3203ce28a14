package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// MaxFileSize is the largest input file Load reads. Specs are small; a larger file is
// a mistake or an attack, refused before it is read.
const MaxFileSize = 1 << 20

// Paths of the inputs, relative to the repository root.
const (
	ConfigFile  = "rampart.yaml"
	ClustersDir = "clusters"
	TeamsDir    = "teams"
	ClusterFile = "cluster.yaml"
)

const (
	teamEmptyHint    = "a team file holds one Team document, see teams/ for examples"
	clusterEmptyHint = "a cluster file holds one Cluster document, see clusters/*/cluster.yaml for examples"
	configEmptyHint  = "rampart.yaml holds one Config document; remove the file if you need no settings"
)

// Load reads and checks every input of the repository at root, with no cache and
// today's date for the exceptions' expiry. On bad input it returns a diag.List with
// every error found, sorted, and a nil Inventory; other errors (a schema that does not
// compile) are returned wrapped.
func Load(root fs.FS) (*Inventory, error) {
	return LoadWith(root, Options{})
}

// Options configure a Load.
type Options struct {
	// Dir is root's directory on disk; with it, the load cache is kept under the
	// scan cache directory of rampart.yaml (<cacheDir>/load). Empty keeps no cache.
	Dir string
	// Engine identifies the running build: a cache written by another is not read.
	Engine string
	// Now is the day policy exceptions expire against (UTC); zero is today. An
	// exception whose last day is before it is marked expired (and not rendered), and
	// one that expires within ExpiryWarningDays is warned about.
	Now time.Time
}

// LoadWith is Load with options.
func LoadWith(root fs.FS, opts Options) (*Inventory, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	l := &loader{root: root, clock: now}
	inv := &Inventory{}
	if err := l.loadConfig(inv); err != nil {
		return nil, err
	}
	if dir := inv.Config.Scan.CacheDir; opts.Dir != "" && dir != "" && l.diags.Err() == nil {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(opts.Dir, filepath.FromSlash(dir))
		}
		l.cache = openLoadCache(filepath.Join(dir, "load"), opts.Engine)
	}
	if err := l.loadClusters(inv); err != nil {
		return nil, err
	}
	if err := l.loadTeams(inv); err != nil {
		return nil, err
	}
	l.summarize()
	inv.teamFiles = l.teamFiles
	inv.cache = l.cache
	slices.SortFunc(inv.Clusters, func(a, b Cluster) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(inv.Teams, func(a, b Team) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	inv.index()
	l.diags = append(l.diags, checkIngress(inv)...)
	l.diags = append(l.diags, checkNetwork(inv)...)
	l.diags = append(l.diags, checkEnforcement(inv)...)
	l.diags = append(l.diags, checkSecrets(inv)...)
	l.diags = append(l.diags, checkRegistries(inv)...)
	if err := l.diags.Err(); err != nil {
		// What parsed is worth remembering even so: the next load, once the input
		// is fixed, reads the other files from the cache.
		_ = l.cache.save()
		return nil, err
	}
	inv.Warnings = l.diags.Warnings().Sort()
	return inv, nil
}

type loader struct {
	root  fs.FS
	cache *loadCache // nil: none
	// clock is the day exceptions expire against.
	clock time.Time
	// mu guards diags and perFile: team files are read in parallel.
	mu      sync.Mutex
	diags   diag.List
	perFile map[string]int

	// clusterDirs are the names of the directories under clusters/, the clusters a
	// team may name, whether or not their cluster.yaml is valid.
	clusterDirs []string
	// teams are the team specs that decoded, valid or not, by name; teamFiles are the
	// names of every team file. Calls are checked against them.
	teams     map[string]*teamFile
	teamFiles map[string]bool
}

func (l *loader) now() time.Time { return l.clock }

// teamFile is a decoded team spec, valid or not, with its file's context.
type teamFile struct {
	team *spec.Team
	f    *fileCtx
}

// maxPerFile caps the diagnostics of one file. Past it, more of them help nobody: the
// file is broken throughout, or generated, and a count says so.
const maxPerFile = 100

func (l *loader) add(d diag.Diagnostic) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Severity == "" {
		d.Severity = diag.Error
	}
	if l.perFile == nil {
		l.perFile = map[string]int{}
	}
	l.perFile[d.File]++
	if l.perFile[d.File] > maxPerFile {
		return
	}
	l.diags = append(l.diags, d)
}

// summarize reports how many diagnostics the cap left out, file by file.
func (l *loader) summarize() {
	for _, file := range sortedKeys(l.perFile) {
		if n := l.perFile[file]; n > maxPerFile {
			l.diags = append(l.diags, diag.Diagnostic{
				File:     file,
				Message:  fmt.Sprintf("%d more errors not shown", n-maxPerFile),
				Hint:     "fix the ones listed and run again",
				Severity: diag.Error,
			})
		}
	}
}

func (l *loader) loadConfig(inv *Inventory) error {
	if _, err := fs.Stat(l.root, ConfigFile); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var cfg spec.Config
	f, ok, err := l.loadDocument(ConfigFile, spec.KindConfig, configEmptyHint, &cfg)
	if err != nil || f == nil {
		return err
	}
	if ok {
		inv.Config = cfg
	}
	return nil
}

func (l *loader) loadClusters(inv *Inventory) error {
	entries, err := fs.ReadDir(l.root, ClustersDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.add(diag.Diagnostic{File: ClustersDir, Message: fmt.Sprintf("reading the directory: %v", err)})
		return nil
	}
	found := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		dir := path.Join(ClustersDir, name)
		if !e.IsDir() {
			if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
				l.add(diag.Diagnostic{
					File:    dir,
					Message: "a cluster file directly under clusters/",
					Hint:    fmt.Sprintf("move it to clusters/%s/cluster.yaml: each cluster is a directory", strings.TrimSuffix(name, ext)),
				})
			}
			continue
		}
		file := path.Join(dir, ClusterFile)
		if _, err := fs.Stat(l.root, file); errors.Is(err, fs.ErrNotExist) {
			l.add(diag.Diagnostic{
				File:    dir,
				Message: "directory has no cluster.yaml",
				Hint:    fmt.Sprintf("every directory under clusters/ is a cluster: add %s, or remove the directory", file),
			})
			continue
		}
		found++
		l.clusterDirs = append(l.clusterDirs, name)
		c := new(spec.Cluster)
		f, ok, err := l.loadDocument(file, spec.KindCluster, clusterEmptyHint, c)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		l.checkCluster(f, name, c)
		if ok {
			inv.Clusters = append(inv.Clusters, Cluster{Cluster: c, File: file, Pos: f.pos})
		}
	}
	if found == 0 {
		l.add(diag.Diagnostic{
			File:    ClustersDir,
			Message: "no clusters: at least one cluster is required",
			Hint:    "add clusters/<name>/cluster.yaml, one directory per cluster",
		})
	}
	return nil
}

func (l *loader) loadTeams(inv *Inventory) error {
	l.teams = map[string]*teamFile{}
	l.teamFiles = map[string]bool{}
	entries, err := fs.ReadDir(l.root, TeamsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		l.add(diag.Diagnostic{File: TeamsDir, Message: fmt.Sprintf("reading the directory: %v", err)})
		return nil
	}
	// Reading, parsing, schema validation and decoding are per file, and a fleet has
	// a thousand: they run in parallel; what links the files runs after, in order.
	type read struct {
		name, file, base string
		team             *spec.Team
		f                *fileCtx
		ok               bool
		err              error
	}
	var reads []*read
	for _, e := range entries {
		name := e.Name()
		// Subdirectories hold charts and other inputs; dot files are editor and VCS state.
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		file := path.Join(TeamsDir, name)
		base, ok := strings.CutSuffix(name, ".yaml")
		if !ok {
			hint := "teams/ holds only <team>.yaml files; put other files in a subdirectory of teams/"
			if ext := path.Ext(name); strings.EqualFold(ext, ".yml") || strings.EqualFold(ext, ".yaml") {
				hint = fmt.Sprintf("rename it to teams/%s.yaml: Rampart reads team files named <team>.yaml", strings.TrimSuffix(name, ext))
			}
			l.add(diag.Diagnostic{File: file, Message: "not a team file", Hint: hint})
			continue
		}
		l.teamFiles[base] = true
		reads = append(reads, &read{name: name, file: file, base: base, team: new(spec.Team)})
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, r := range reads {
		g.Go(func() error {
			r.f, r.ok, r.err = l.loadDocument(r.file, spec.KindTeam, teamEmptyHint, r.team)
			return nil
		})
	}
	_ = g.Wait()
	var files []*teamFile
	for _, r := range reads {
		if r.err != nil {
			return r.err
		}
		t, f := r.team, r.f
		if f == nil {
			continue
		}
		tf := &teamFile{team: t, f: f}
		files = append(files, tf)
		if t.Metadata.Name != "" && l.teams[t.Metadata.Name] == nil {
			l.teams[t.Metadata.Name] = tf
		}
		l.checkTeam(f, r.base, t)
		if r.ok {
			inv.Teams = append(inv.Teams, Team{Team: t, File: r.file, Pos: f.pos})
		}
	}
	for _, tf := range files {
		l.checkTeamRefs(tf)
	}
	return nil
}

// fileCtx is one input file being checked: where its diagnostics go and which fields
// already have one from the schema, so that a semantic check does not repeat them.
type fileCtx struct {
	l        *loader
	file     string
	pos      *Positions
	reported map[string]bool
}

func (f *fileCtx) report(p problem) {
	d := diag.Diagnostic{File: f.file, Field: p.field, Message: p.message, Hint: p.hint, Line: p.line, Column: p.col}
	if d.Line == 0 {
		if p.keyPos {
			d.Line, d.Column = f.pos.LookupKey(p.field)
		} else {
			d.Line, d.Column = f.pos.Lookup(p.field)
		}
	}
	if f.reported != nil {
		f.reported[p.field] = true
	}
	f.l.add(d)
}

// errorf reports a semantic finding on a field, unless the schema already did.
func (f *fileCtx) errorf(field, hint, format string, args ...any) {
	if f.reported[field] {
		return
	}
	line, col := f.pos.Lookup(field)
	f.l.add(diag.Diagnostic{File: f.file, Line: line, Column: col, Field: field, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// loadDocument reads, parses, checks and decodes one file into out. It returns the
// file's context when the file parsed (so semantic checks can run on what decoded),
// and ok when it also passed the schema and the strict decode. Findings go to the
// loader's diagnostics; err is for failures that are not the input's fault.
func (l *loader) loadDocument(file, kindName, emptyHint string, out any) (f *fileCtx, ok bool, err error) {
	data, readOK := l.readFile(file)
	if !readOK {
		return nil, false, nil
	}
	key := loadCacheKey(kindName, data)
	if entry, hit := l.cache.get(key); hit {
		raw, pos := splitLoadEntry(entry)
		f = &fileCtx{l: l, file: file, pos: lazyPositions(pos), reported: map[string]bool{}}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err == nil {
			return f, true, nil
		}
		// It passed before, so it decodes now; if not, read it afresh below.
	}
	doc, problems := parseDocument(data, emptyHint)
	f = &fileCtx{l: l, file: file, pos: newPositions()}
	if doc == nil {
		for _, p := range problems {
			f.report(p)
		}
		return nil, false, nil
	}
	f.pos = doc.pos
	if !f.checkKind(doc, kindName) {
		return nil, false, nil
	}
	problems, err = validateSchema(kindName, doc)
	if err != nil {
		return nil, false, err
	}
	f.reported = map[string]bool{}
	for _, p := range problems {
		f.report(p)
	}
	raw, err := json.Marshal(doc.value)
	if err != nil {
		f.report(problem{message: fmt.Sprintf("encoding the document: %v", err)})
		return nil, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if len(problems) == 0 {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(out); err != nil {
		if len(problems) == 0 {
			// The schema passed, so this is the spec types and the schema disagreeing.
			f.report(problem{message: fmt.Sprintf("decoding the %s: %v", kindName, err), hint: "the schema and the spec types disagree; report this to the platform team"})
		}
		return nil, false, nil
	}
	if len(problems) == 0 {
		l.cache.put(key, loadEntry(raw, doc.pos))
	}
	return f, len(problems) == 0, nil
}

// readFile reads a whole input file, refusing anything but a regular file of at most
// MaxFileSize bytes before reading it.
func (l *loader) readFile(file string) ([]byte, bool) {
	tooBig := func(size int64) {
		msg := fmt.Sprintf("file is %d bytes, over the limit of %d bytes (1 MiB) for an input file", size, MaxFileSize)
		if size < 0 {
			msg = fmt.Sprintf("file is over the limit of %d bytes (1 MiB) for an input file", MaxFileSize)
		}
		l.add(diag.Diagnostic{
			File:    file,
			Message: msg,
			Hint:    "a spec is a few kilobytes; split the file or remove what does not belong in it",
		})
	}
	st, err := fs.Stat(l.root, file)
	if err != nil {
		l.add(diag.Diagnostic{File: file, Message: fmt.Sprintf("reading the file: %v", err)})
		return nil, false
	}
	if !st.Mode().IsRegular() {
		l.add(diag.Diagnostic{File: file, Message: "not a regular file", Hint: "an input must be a plain file, not a device, pipe or directory"})
		return nil, false
	}
	if st.Size() > MaxFileSize {
		tooBig(st.Size())
		return nil, false
	}
	r, err := l.root.Open(file)
	if err != nil {
		l.add(diag.Diagnostic{File: file, Message: fmt.Sprintf("reading the file: %v", err)})
		return nil, false
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		l.add(diag.Diagnostic{File: file, Message: fmt.Sprintf("reading the file: %v", err)})
		return nil, false
	}
	if len(data) > MaxFileSize {
		// The file grew after its stat, or its file system does not know its size.
		tooBig(-1)
		return nil, false
	}
	return data, true
}

// checkKind makes sure the document is a mapping of the kind the file's place calls
// for, so a Cluster in teams/ is one clear error rather than a screen of schema ones.
func (f *fileCtx) checkKind(doc *document, want string) bool {
	m, isMap := doc.value.(map[string]any)
	if !isMap {
		f.report(problem{message: fmt.Sprintf("want a mapping with apiVersion, kind, metadata and spec, got %s", valueKind(doc.value))})
		return false
	}
	ok := true
	switch k, present := m["kind"]; {
	case !present:
		f.report(problem{field: "kind", message: "required", hint: "add: kind: " + want})
		ok = false
	case k != want:
		ks, isString := k.(string)
		hint := ""
		if where := kindPlace[ks]; isString && where != "" {
			hint = fmt.Sprintf("a %s belongs in %s; %s holds a %s", ks, where, kindPlace[want], want)
		}
		msg := fmt.Sprintf("want %s, got %s", want, display(k))
		f.report(problem{field: "kind", message: msg, hint: hint})
		ok = false
	}
	switch v, present := m["apiVersion"]; {
	case !present:
		f.report(problem{field: "apiVersion", message: "required", hint: "add: apiVersion: " + spec.APIVersion})
		ok = false
	case v != spec.APIVersion:
		f.report(problem{field: "apiVersion", message: fmt.Sprintf("unsupported apiVersion %s; want %s", display(v), spec.APIVersion)})
		ok = false
	}
	return ok
}

// kindPlace says where each kind of document lives.
var kindPlace = map[string]string{
	spec.KindTeam:    "teams/<team>.yaml",
	spec.KindCluster: "clusters/<cluster>/cluster.yaml",
	spec.KindConfig:  "rampart.yaml",
}

func valueKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "nothing"
	}
	return "a mapping"
}
