package generator

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sync"

	"github.com/rampart-gitops/rampart/generator/cache"
	"github.com/rampart-gitops/rampart/generator/chart"
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/evaluate"
	"github.com/rampart-gitops/rampart/generator/falco"
	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/plan"
	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/rampart-gitops/rampart/generator/transform"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// inputs are what the units share, encoded once per run: every team spec as the
// templates read it, the digest of lib/ and of every chart. A team's parsed spec and
// what it renders alike on every cluster (lib/apps.jsonnet) are kept while units of
// the team are pending, and dropped after the last.
type inputs struct {
	lib    string
	teams  map[string]json.RawMessage
	sums   map[string][sha256.Size]byte // of teams, for the units' keys
	charts map[string]string

	mu      sync.Mutex
	args    map[string]*teamArg
	pending map[string]int
}

// teamArg is a team's spec parsed for the templates, and apps.jsonnet's output for it,
// evaluated on first use.
type teamArg struct {
	evaluate.Arg
	once sync.Once
	apps *evaluate.Output
	err  error

	mu      sync.Mutex
	rules   map[[sha256.Size]byte]*teamRules
	intents map[string]evaluate.Arg
}

// intentsArg is the team's intents on a cluster parsed for the templates, parsed once
// per distinct intents: a team's clusters mostly give it the same.
func (a *teamArg) intentsArg(intents json.RawMessage) evaluate.Arg {
	a.mu.Lock()
	defer a.mu.Unlock()
	arg, ok := a.intents[string(intents)]
	if !ok {
		if a.intents == nil {
			a.intents = map[string]evaluate.Arg{}
		}
		arg = evaluate.ParseArg("intents", intents)
		a.intents[string(intents)] = arg
	}
	return arg
}

// teamRules is the team's Falco rules file for one projection of a cluster and one
// set of intents, encoded once.
type teamRules struct {
	once sync.Once
	data []byte
	err  error
}

// runtimeRules is the team's Falco rules file on cluster c (lib/runtime.jsonnet),
// evaluated and encoded once per distinct projection of the cluster and intents:
// the entry sees nothing else of the cluster, so clusters alike in those fields
// share it.
func (a *teamArg) runtimeRules(ev *evaluate.Evaluator, c *projectedCluster, intents json.RawMessage) ([]byte, error) {
	h := sha256.New()
	h.Write(c.sum[:])
	h.Write(intents)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	a.mu.Lock()
	if a.rules == nil {
		a.rules = map[[sha256.Size]byte]*teamRules{}
	}
	t := a.rules[key]
	if t == nil {
		t = &teamRules{}
		a.rules[key] = t
	}
	a.mu.Unlock()
	t.once.Do(func() {
		var rules []map[string]any
		if rules, t.err = ev.Runtime(c.arg, a.Arg, a.intentsArg(intents)); t.err == nil {
			t.data, t.err = falco.Encode(rules)
		}
	})
	return t.data, t.err
}

// shared is what the team renders alike on every cluster, evaluated once.
func (a *teamArg) shared(ev *evaluate.Evaluator) (*evaluate.Output, error) {
	a.once.Do(func() { a.apps, a.err = ev.Apps(a.Arg) })
	return a.apps, a.err
}

// hold counts one more pending unit of team.
func (in *inputs) hold(team string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.pending[team]++
}

// release counts a unit of team done, dropping the team's parsed spec after its
// last; it reports whether that was the last.
func (in *inputs) release(team string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pending[team]--; in.pending[team] <= 0 {
		delete(in.args, team)
		delete(in.pending, team)
		return true
	}
	return false
}

// arg is a team's spec parsed for the templates, parsed on first use.
func (in *inputs) arg(team string) *teamArg {
	in.mu.Lock()
	defer in.mu.Unlock()
	a, ok := in.args[team]
	if !ok {
		a = &teamArg{Arg: evaluate.ParseArg("team", in.teams[team])}
		in.args[team] = a
	}
	return a
}

func newInputs(root fs.FS, inv *load.Inventory) (*inputs, error) {
	lib, err := cache.DirDigest(root, "lib")
	if err != nil {
		return nil, fmt.Errorf("reading lib/: %w", err)
	}
	in := &inputs{lib: lib, teams: map[string]json.RawMessage{}, sums: map[string][sha256.Size]byte{}, charts: map[string]string{}, args: map[string]*teamArg{}, pending: map[string]int{}}
	for i := range inv.Teams {
		t := &inv.Teams[i]
		b, err := json.Marshal(t.Team)
		if err != nil {
			return nil, fmt.Errorf("encoding team %q: %w", t.Metadata.Name, err)
		}
		in.teams[t.Metadata.Name] = b
		in.sums[t.Metadata.Name] = sha256.Sum256(b)
		for _, c := range t.Spec.Charts {
			if _, done := in.charts[c.Path]; done {
				continue
			}
			d, err := cache.DirDigest(root, c.Path)
			if err != nil {
				return nil, fmt.Errorf("reading chart %s: %w", c.Path, err)
			}
			in.charts[c.Path] = d
		}
	}
	return in, nil
}

// clusterRender is one cluster's render: its platform layer, the Checker its units
// are verified with, and its units.
type clusterRender struct {
	plan       *plan.Cluster
	clusterSum [sha256.Size]byte // of cluster.yaml's JSON, for the units' keys
	clusterArg evaluate.Arg
	// runtime is the cluster as lib/runtime.jsonnet sees it, made on first use.
	runtime func() (*projectedCluster, error)
	// platformCached says the platform layer (the templates' output and its
	// verification) came from the render cache.
	platformCached bool
	files          []*manifest.File // root, platform and tenants' kustomization
	objects        []verify.Object  // the platform's, for the duplicate check
	checker        *verify.Checker
	units          []*unitResult
	diags          diag.List
	// falco is the cluster's Falco rules layout, nil where runtime detection is
	// off; common is the file of lists and macros in its shard 0.
	falco  *falco.Layout
	common []byte
}

// projectedCluster is a cluster cut down to the fields lib/runtime.jsonnet reads,
// and the digest of its JSON.
type projectedCluster struct {
	arg evaluate.Arg
	sum [sha256.Size]byte
}

// unitResult is one unit's verified output, rendered now or taken from the cache.
type unitResult struct {
	unit   *plan.Unit
	cached bool
	// files are the unit's files; where the unit's cache entry holds their Data
	// (taken from the cache, or put there), it is nil, and loadFile(i) gives a
	// function that reads files[i]'s bytes from the entry each time, without
	// keeping them (fromCache).
	files    []cache.File
	loadFile func(i int) func() ([]byte, error)
	images   []string
	// objects are the unit's objects for the cluster-wide duplicate check, or nil
	// where its cache entry holds them (loadObjects reads them); sums are their keys'
	// digests, which is all the check reads unless two collide.
	objects     []verify.Object
	sums        []uint64
	loadObjects func() ([]verify.Object, error)
	diags       diag.List
}

// allObjects are the unit's objects, read from its cache entry where they are kept.
func (u *unitResult) allObjects() ([]verify.Object, error) {
	if u.objects != nil || u.loadObjects == nil {
		return u.objects, nil
	}
	objs, err := u.loadObjects()
	if err != nil {
		return nil, fmt.Errorf("the render cache entry of %s is damaged; run again with --no-cache: %w", u.unit.Name(), err)
	}
	return objs, nil
}

// renderPlatform evaluates a cluster's platform layer (or takes it and its
// verification from the render cache), lays out the cluster's own files and
// verifies them, and prepares the Checker for its units.
func (r *run) renderPlatform(pc *plan.Cluster) *clusterRender {
	c := &clusterRender{plan: pc}
	for _, u := range pc.Units {
		c.units = append(c.units, &unitResult{unit: u})
	}
	cl := pc.Cluster
	name := pc.Name()
	fail := func(format string, args ...any) *clusterRender {
		c.diags = append(c.diags, diag.Diagnostic{File: cl.File, Message: fmt.Sprintf(format, args...), Severity: diag.Error})
		return c
	}
	b, err := json.Marshal(cl.Cluster)
	if err != nil {
		return fail("encoding cluster %q: %v", name, err)
	}
	c.clusterSum = sha256.Sum256(b)
	c.clusterArg = evaluate.ParseArg("cluster", b)
	teams := pc.Teams()
	names, err := json.Marshal(teams)
	if err != nil {
		return fail("encoding the teams of cluster %q: %v", name, err)
	}
	h := cache.NewHasher()
	h.Add("layer", []byte("platform"))
	h.Add("lib", []byte(r.inputs.lib))
	h.Add("cluster", c.clusterSum[:])
	h.Add("teams", names)
	key := h.Key()
	platform, entry := r.cachedPlatform(key)
	c.platformCached = platform != nil
	if platform == nil {
		js, err := r.ev.PlatformJSON(c.clusterArg, teams)
		if err == nil {
			platform, err = r.ev.DecodePlatform(js)
		}
		if err != nil {
			return fail("rendering the platform layer of cluster %q: %v", name, err)
		}
		entry = &cache.Entry{Files: []cache.File{cache.NewFile(platformEntry, manifest.LayerPlatform, "", js)}}
	}
	if c.falco = falco.LayoutOf(cl.Cluster); c.falco != nil {
		if c.common, err = falco.Encode(platform.Runtime); err != nil {
			return fail("rendering the Falco rules of cluster %q: %v", name, err)
		}
		c.runtime = sync.OnceValues(func() (*projectedCluster, error) {
			fields, _, err := r.runtimeFields()
			if err != nil {
				return nil, err
			}
			projected, err := evaluate.ProjectCluster(b, fields)
			if err != nil {
				return nil, fmt.Errorf("encoding cluster %q for lib/%s: %w", name, evaluate.RuntimeEntry, err)
			}
			return &projectedCluster{arg: evaluate.ParseArg("cluster", projected), sum: sha256.Sum256(projected)}, nil
		})
		// The shards' ConfigMaps are verified with the platform layer as they are
		// laid out, without data: encode fills in the teams' rules files.
		for i := range c.falco.Shards {
			platform.Files[c.falco.File(i)] = append(platform.Files[c.falco.File(i)], c.falco.Object(i, nil))
		}
	}
	c.files = transform.ClusterFiles(name, platform.Files, teams)
	var platformFiles []*manifest.File
	for _, f := range c.files {
		if f.Layer == manifest.LayerPlatform {
			platformFiles = append(platformFiles, f)
		}
	}
	checker, diags := verify.New(name, platformFiles, verify.Options{KubernetesVersion: cl.Spec.KubernetesVersion, Production: cl.Spec.Environment == spec.Production, Memo: r.memo})
	c.diags = append(c.diags, diags...)
	if checker == nil {
		return c
	}
	c.checker = checker
	if c.platformCached {
		c.objects = entry.Objects
		c.diags = append(c.diags, entry.Warnings...)
		return c
	}
	diags, c.objects = checker.Files(platformFiles)
	c.diags = append(c.diags, diags...)
	if diags.Err() == nil {
		entry.Objects, entry.Warnings = c.objects, diags
		if err := r.cache.Put(key, entry); err != nil {
			r.log.Warn("render cache not written", "cluster", name, "error", err)
		}
	}
	return c
}

// cachedPlatform reads a cluster's platform layer back from the render cache: the
// templates' output and its verification, stored under the layer's inputs (lib/, the
// cluster, its teams' names). On a large fleet evaluating and verifying the layer
// (the admission policies' CEL, a list of every team) costs more than all else a
// render that changes nothing does for the cluster. It returns nil when the entry is
// missing or cannot be trusted.
func (r *run) cachedPlatform(key cache.Key) (*evaluate.Output, *cache.Entry) {
	e, ok := r.cache.Get(key)
	if !ok || len(e.Files) != 1 || r.cache.Load(key, e) != nil {
		return nil, nil
	}
	if _, err := r.cache.LoadObjects(key, e); err != nil {
		return nil, nil
	}
	out, err := r.ev.DecodePlatform(e.Files[0].Data)
	if err != nil {
		return nil, nil
	}
	return out, e
}

// platformEntry names the one file of a platform layer's cache entry: the JSON the
// templates returned.
const platformEntry = "platform.json"

// clusterFiles are the cluster's own files, the tenants' kustomization.yaml listing
// the tenant files of the given teams.
func (c *clusterRender) clusterFiles(tenants []string) []*manifest.File {
	names := make([]string, len(tenants))
	for i, t := range tenants {
		names[i] = t + ".yaml"
	}
	slices.Sort(names)
	kustomization := path.Join("clusters", c.plan.Name(), "tenants", "kustomization.yaml")
	out := slices.Clone(c.files)
	for i, f := range out {
		if f.Path == kustomization {
			g := *f
			g.Raw = manifest.Kustomization(names)
			out[i] = &g
		}
	}
	return out
}

// finish collects the units' diagnostics and checks that no object is rendered twice
// across the cluster: by the digests of the objects' keys, and by the objects
// themselves (read back from the cache) only when two digests are equal.
func (c *clusterRender) finish() {
	sums := [][]uint64{verify.KeySums(c.objects)}
	for _, u := range c.units {
		c.diags = append(c.diags, u.diags...)
		if u.sums == nil {
			u.sums = verify.KeySums(u.objects)
		}
		sums = append(sums, u.sums)
	}
	if !verify.SumsCollide(sums...) {
		return
	}
	all := [][]verify.Object{c.objects}
	for _, u := range c.units {
		objs, err := u.allObjects()
		if err != nil {
			c.diags = append(c.diags, diag.Diagnostic{File: u.unit.Team.File, Message: err.Error(), Severity: diag.Error})
			return
		}
		all = append(all, objs)
	}
	c.diags = append(c.diags, verify.Duplicates(all...)...)
}

func (c *clusterRender) count(cached bool) int {
	n := 0
	for _, u := range c.units {
		if u.cached == cached {
			n++
		}
	}
	return n
}

// key is a unit's content address: everything its output depends on.
func (r *run) key(c *clusterRender, u *plan.Unit) cache.Key {
	// The intents are encoded into a buffer kept for the next unit: most units come
	// from the cache, and their intents serve only the key.
	buf := intentsBuffers.Get().(*[]byte)
	defer intentsBuffers.Put(buf)
	*buf = u.Intents.AppendJSON((*buf)[:0])
	h := cache.NewHasher()
	h.Add("lib", []byte(r.inputs.lib))
	// The cluster's and the team's JSON enter by digest: each is hashed once, not
	// once per unit.
	h.Add("cluster", c.clusterSum[:])
	team := r.inputs.sums[u.Team.Metadata.Name]
	h.Add("team", team[:])
	h.Add("intents", *buf)
	for _, ch := range u.Team.Spec.Charts {
		h.Add("chart", []byte(ch.Path+"\x00"+r.inputs.charts[ch.Path]))
	}
	return h.Key()
}

var intentsBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// pins are the pinned references of images, or nil when the run pins nothing
// (validate, --skip-scan).
func (r *run) pins(images []string) map[string]string {
	if r.resolver == nil {
		return nil
	}
	return r.resolver.Pins(images)
}

// renderUnit renders one unit, or takes it from the cache when its key is there and
// its images still pin to the same digests.
func (r *run) renderUnit(c *clusterRender, u *unitResult) {
	key := r.key(c, u.unit)
	if e, ok := r.cache.Get(key); ok && (r.opts.Mode == Validate || maps.Equal(r.pins(e.Images), e.Pins)) && r.cached(key, e) {
		u.cached, u.files, u.images, u.sums, u.diags = true, e.Files, e.Images, e.Sums, e.Warnings
		u.loadFile = func(i int) func() ([]byte, error) { return fromCache(r.cache, key, e, i, u.unit.Name()) }
		u.loadObjects = func() ([]verify.Object, error) { return r.cache.LoadObjects(key, e) }
		return
	}
	files, rules, diags := r.buildUnit(c, u.unit, json.RawMessage(u.unit.Intents.AppendJSON(nil)))
	if diags.Err() != nil {
		u.diags = diags
		return
	}
	// Pin first, so the objects are final and one encoding serves verify's build and
	// the output: verification does not read image names, and the gate scans after
	// every unit has verified.
	seen := map[string]bool{}
	for _, f := range files {
		for _, o := range f.Objects {
			manifest.Images(o, func(img string) string { seen[img] = true; return img })
		}
	}
	u.images = slices.Sorted(maps.Keys(seen))
	pins := r.pins(u.images)
	for _, f := range files {
		if len(pins) > 0 {
			for _, o := range f.Objects {
				manifest.Images(o, func(img string) string {
					if p, ok := pins[img]; ok {
						return p
					}
					return img
				})
			}
		}
		b, err := f.Seal()
		if err != nil {
			u.diags = append(u.diags, diag.Diagnostic{File: f.Path, Message: err.Error(), Severity: diag.Error})
			return
		}
		u.files = append(u.files, cache.NewFile(f.Path, f.Layer, f.Team, b))
	}
	if rules != nil {
		u.files = append(u.files, cache.NewFile(falcoPath(u.unit), manifest.LayerRuntime, u.unit.Team.Metadata.Name, rules))
	}
	diags, u.objects = c.checker.Files(files)
	u.diags = diags
	if diags.Err() != nil {
		return
	}
	if r.cache == nil {
		return // --no-cache: the bytes stay here
	}
	entry := &cache.Entry{Files: u.files, Images: u.images, Pins: pins, Objects: u.objects, Warnings: u.diags}
	if err := r.cache.Put(key, entry); err != nil {
		r.log.Warn("render cache not written", "unit", u.unit.Name(), "error", err)
		return
	}
	// The entry now holds the bytes: drop them until the write (or the Falco shards)
	// asks, so a cold render of a large fleet does not keep every unit's output on
	// the heap (the collector would run ever more often as the heap grows). Reading
	// them back checks them like any cached entry.
	for i := range u.files {
		u.files[i].Data = nil
	}
	u.loadFile = func(i int) func() ([]byte, error) { return fromCache(r.cache, key, entry, i, u.unit.Name()) }
	// Likewise the objects: their keys' digests serve the duplicate check.
	u.sums, u.objects, entry.Objects = entry.Sums, nil, nil
	u.loadObjects = func() ([]verify.Object, error) { return r.cache.LoadObjects(key, entry) }
}

// cached reports whether a unit can be taken from the cache entry e under key: its
// files' bytes are read now when the run will compare or write them (the disk state
// does not vouch for each), and an entry whose bytes are damaged is rendered again.
// A validate or an in-memory run reads them only if something asks for them.
func (r *run) cached(key cache.Key, e *cache.Entry) bool {
	if r.readsOnDemand() {
		return true
	}
	for _, f := range e.Files {
		if f.Layer == manifest.LayerRuntime {
			continue // not a file on disk: its shard is checked on its own
		}
		if !r.state.Unchanged(r.disk, f.Path, f.Sum) {
			return r.cache.Load(key, e) == nil
		}
	}
	return true
}

// readsOnDemand says whether the run reads a cached file's bytes only when something
// asks for them (validate, and an in-memory render, compare nothing with the disk),
// so a cached entry is trusted until then; a damaged one is named when read.
func (r *run) readsOnDemand() bool { return r.opts.Mode == Validate || r.opts.Mode == Memory }

// buildUnit evaluates one team on one cluster, renders its charts, applies its
// patches and lays out its files; rules is the team's Falco rules file on a cluster
// with runtime detection (nil elsewhere).
func (r *run) buildUnit(c *clusterRender, u *plan.Unit, intents json.RawMessage) (files []*manifest.File, rules []byte, _ diag.List) {
	t, cluster := u.Team, u.Cluster
	name := cluster.Metadata.Name
	fail := func(err error) diag.List {
		return diag.List{{File: t.File, Message: fmt.Sprintf("rendering team %q for cluster %q: %v", t.Metadata.Name, name, err), Severity: diag.Error}}
	}
	arg := r.inputs.arg(t.Metadata.Name)
	apps, err := arg.shared(r.ev)
	if err != nil {
		return nil, nil, fail(err)
	}
	out, err := r.ev.TeamWith(c.clusterArg, arg.Arg, arg.intentsArg(intents), apps)
	if err != nil {
		return nil, nil, fail(err)
	}
	if c.falco != nil {
		if rules, err = r.rules(c, arg, out, intents); err != nil {
			return nil, nil, fail(err)
		}
	}
	if diags := renderCharts(r.root, cluster, t, out); len(diags) > 0 {
		return nil, nil, diags
	}
	tt := &transform.Team{Name: t.Metadata.Name, Tenant: out.Tenant, Files: out.Files, Patches: t.Spec.Patches, Images: t.Spec.Images}
	if err := transform.Customize(tt); err != nil {
		line, col := t.Pos.Lookup("spec.patches")
		return nil, nil, diag.List{{File: t.File, Line: line, Column: col, Field: "spec.patches", Message: err.Error(), Severity: diag.Error}}
	}
	return transform.TeamFiles(name, tt), rules, nil
}

// rules is the team's Falco rules file on a cluster with runtime detection: from
// lib/runtime.jsonnet, shared among the clusters alike in what it reads, or else
// from team.jsonnet's output.
func (r *run) rules(c *clusterRender, arg *teamArg, out *evaluate.Output, intents json.RawMessage) ([]byte, error) {
	_, entry, err := r.runtimeFields()
	switch {
	case err != nil:
		return nil, err
	case !entry:
		return falco.Encode(out.Runtime)
	case len(out.Runtime) > 0:
		return nil, fmt.Errorf("lib/%s returns runtime, and lib/%s renders the Falco rules: keep one of them", evaluate.TeamEntry, evaluate.RuntimeEntry)
	}
	projected, err := c.runtime()
	if err != nil {
		return nil, err
	}
	return arg.runtimeRules(r.ev, projected, intents)
}

// falcoPath names a unit's Falco rules file in its cache entry; it is never written
// at that path.
func falcoPath(u *plan.Unit) string {
	return path.Join("clusters", u.Cluster.Metadata.Name, "falco", u.Team.Metadata.Name+".yaml")
}

// renderCharts renders a team's Helm charts into its directory, chart-<name>.yaml each.
func renderCharts(root fs.FS, cluster *load.Cluster, t *load.Team, out *evaluate.Output) diag.List {
	var diags diag.List
	for i, c := range t.Spec.Charts {
		objs, err := chart.Render(root, chart.Release{
			Dir: c.Path, Name: c.Name, Namespace: t.Metadata.Name, Values: c.Values,
			KubeVersion: cluster.Spec.KubernetesVersion, Namespaced: verify.Namespaced,
		})
		field := fmt.Sprintf("spec.charts[%d]", i)
		if err != nil {
			line, col := t.Pos.Lookup(field)
			diags = append(diags, diag.Diagnostic{File: t.File, Line: line, Column: col, Field: field, Message: err.Error(), Severity: diag.Error})
			continue
		}
		file := "chart-" + c.Name + ".yaml"
		if _, clash := out.Files[file]; clash {
			line, col := t.Pos.Lookup(field + ".name")
			diags = append(diags, diag.Diagnostic{File: t.File, Line: line, Column: col, Field: field + ".name", Message: fmt.Sprintf("%s is already rendered by an app; rename the chart", file), Severity: diag.Error})
			continue
		}
		out.Files[file] = objs
	}
	return diags
}
