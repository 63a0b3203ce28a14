package generator

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/cache"
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/falco"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/plan"
	"github.com/rampart-gitops/rampart/generator/write"
)

// shardMember is one team's rules file in a Falco rules shard.
type shardMember struct {
	team string
	file cache.File
	load func() ([]byte, error) // reads file's Data from the render cache; nil when it is there
	data []byte                 // a held team's file, from the shard on disk
}

func (m *shardMember) bytes() ([]byte, error) {
	if m.data != nil {
		return m.data, nil
	}
	if m.file.Data == nil && m.load != nil {
		return m.load()
	}
	return m.file.Data, nil
}

// falcoShards assembles the cluster's Falco rules ConfigMaps from its units' rules
// files, each shard's file by its path. A shard is keyed in the render cache by its
// members' digests, so one whose teams did not change is neither read nor encoded
// again; a team the scan gate holds keeps the rules it has on disk.
func (r *run) falcoShards(c *clusterRender, held map[*plan.Unit]bool) (map[string]*write.File, error) {
	l := c.falco
	if l == nil {
		return nil, nil
	}
	cluster := c.plan.Name()
	members := make([][]*shardMember, l.Shards)
	for _, u := range c.units {
		team := u.unit.Team.Metadata.Name
		i := l.Shard(team)
		if held[u.unit] {
			b, err := heldRules(r.disk, l, cluster, team)
			if err != nil {
				return nil, err
			}
			if b != nil {
				members[i] = append(members[i], &shardMember{team: team, file: cache.NewFile("", manifest.LayerRuntime, team, b), data: b})
			}
			continue
		}
		for j := range u.files {
			if f := &u.files[j]; f.Layer == manifest.LayerRuntime {
				m := &shardMember{team: team, file: *f}
				if f.Data == nil && u.loadFile != nil {
					m.load = u.loadFile(j)
				}
				members[i] = append(members[i], m)
			}
		}
	}
	out := map[string]*write.File{}
	var problems diag.List
	for i := range l.Shards {
		p := l.Path(cluster, i)
		sizes := map[string]int{}
		if i == 0 {
			sizes[falco.CommonKey] = len(c.common)
		}
		h := cache.NewHasher()
		h.Add("layer", []byte("falco-shard"))
		h.Add("layout", []byte(l.Namespace+"\x00"+l.Name(i)))
		if i == 0 {
			h.Add("common", c.common)
		}
		for _, m := range members[i] {
			sizes[falco.TeamKey(m.team)] = m.file.Size
			h.Add("team", []byte(m.team))
			h.Add("rules", m.file.Sum[:])
		}
		if n := falco.Size(sizes); n > falco.MaxConfigMapData {
			problems = append(problems, tooLarge(c, l, i, n, members[i]))
			continue
		}
		key := h.Key()
		// As for a unit: the entry's bytes are read now unless the disk state vouches
		// for the file on disk, and an entry whose bytes are damaged is built again.
		if e, ok := r.cache.Get(key); ok && len(e.Files) == 1 && e.Files[0].Path == shardEntry &&
			(r.readsOnDemand() || r.state.Unchanged(r.disk, p, e.Files[0].Sum) || r.cache.Load(key, e) == nil) {
			load := fromCache(r.cache, key, e, 0, p)
			if data := e.Files[0].Data; data != nil {
				load = func() ([]byte, error) { return data, nil }
			}
			out[p] = write.Lazy(e.Files[0].Sum, load)
			continue
		}
		b, err := c.encodeShard(i, members[i])
		if err != nil {
			return nil, err
		}
		entry := &cache.Entry{Files: []cache.File{cache.NewFile(shardEntry, manifest.LayerPlatform, "", b)}}
		if r.cache == nil {
			out[p] = write.Bytes(b)
			continue
		}
		if err := r.cache.Put(key, entry); err != nil {
			r.log.Warn("render cache not written", "file", p, "error", err)
			out[p] = write.Bytes(b)
			continue
		}
		// Like a unit's files, read back from the cache when written.
		entry.Files[0].Data = nil
		out[p] = write.Lazy(entry.Files[0].Sum, fromCache(r.cache, key, entry, 0, p))
	}
	if len(problems) > 0 {
		return nil, &BadInputError{Diagnostics: problems.Sort()}
	}
	return out, nil
}

// fromCache reads file i of the cache entry e under key, each time it is called; what
// names the file or unit in its error.
func fromCache(c *cache.Cache, key cache.Key, e *cache.Entry, i int, what string) func() ([]byte, error) {
	return func() ([]byte, error) {
		b, err := c.LoadFile(key, e, i)
		if err != nil {
			return nil, fmt.Errorf("the render cache entry of %s is damaged; run again with --no-cache: %w", what, err)
		}
		return b, nil
	}
}

// shardEntry names the one file of a shard's cache entry. A shard's bytes name no
// cluster, so clusters whose shards hold the same teams' files (every cluster of a
// fleet where every team runs everywhere, on the same Falco settings) share the
// entry; its key holds everything the bytes depend on.
const shardEntry = "falco-shard.yaml"

// encodeShard encodes shard i's ConfigMap: the platform layer's object with the
// rules files as its data.
func (c *clusterRender) encodeShard(i int, members []*shardMember) ([]byte, error) {
	p := c.falco.Path(c.plan.Name(), i)
	var base *manifest.File
	for _, f := range c.files {
		if f.Path == p {
			base = f
		}
	}
	if base == nil || len(base.Objects) != 1 {
		return nil, fmt.Errorf("laying out %s: the platform layer has no ConfigMap %s", p, c.falco.Name(i))
	}
	o := base.Objects[0].DeepCopy()
	data := map[string]any{}
	if i == 0 {
		data[falco.CommonKey] = string(c.common)
	}
	for _, m := range members {
		b, err := m.bytes()
		if err != nil {
			return nil, err
		}
		data[falco.TeamKey(m.team)] = string(b)
	}
	o.Object["data"] = data
	f := &manifest.File{Path: p, Layer: manifest.LayerPlatform, Objects: []*unstructured.Unstructured{o}}
	return f.Encode()
}

// tooLarge says a shard would exceed the API server's limit, and what to raise.
func tooLarge(c *clusterRender, l *falco.Layout, i, size int, members []*shardMember) diag.Diagnostic {
	total := len(c.common)
	for _, u := range c.units {
		for _, f := range u.files {
			if f.Layer == manifest.LayerRuntime {
				total += f.Size
			}
		}
	}
	teams := make([]string, len(members))
	for j, m := range members {
		teams[j] = m.team
	}
	// Three quarters full on average leaves room for the hash's unevenness.
	want := max(l.Shards+1, (total+falco.MaxConfigMapData*3/4-1)/(falco.MaxConfigMapData*3/4))
	line, col := c.plan.Cluster.Pos.Lookup("spec.runtime")
	return diag.Diagnostic{
		File: c.plan.Cluster.File, Line: line, Column: col, Field: "spec.runtime.shards", Severity: diag.Error,
		Message: fmt.Sprintf("ConfigMap/%s/%s would hold %d bytes of Falco rules (teams %s), over the API server's limit of %d: %v",
			l.Namespace, l.Name(i), size, strings.Join(teams, ", "), falco.MaxConfigMapData, falco.ErrTooLarge),
		Hint: fmt.Sprintf("raise spec.runtime.shards from %d to %s or more (the cluster's rules total %d bytes), and mount the new ConfigMaps in the Falco chart's values",
			l.Shards, strconv.Itoa(want), total),
	}
}

// heldRules is a team's rules file as the shard on disk holds it, or nil.
func heldRules(disk write.FS, l *falco.Layout, cluster, team string) ([]byte, error) {
	b, err := fs.ReadFile(disk, l.Path(cluster, l.Shard(team)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the Falco rules team %q has on disk: %w", team, err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		return nil, fmt.Errorf("reading the Falco rules team %q has on disk: %w", team, err)
	}
	if s, ok := cm.Data[falco.TeamKey(team)]; ok {
		return []byte(s), nil
	}
	return nil, nil
}
