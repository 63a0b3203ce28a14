package review

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/cache"
	"github.com/rampart-gitops/rampart/generator/internal/atomicfile"
	"github.com/rampart-gitops/rampart/generator/internal/digeststore"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// reachCache keeps, for each rendered file by blob id, the documents reachability
// reads from it, as JSON: decoding a rendered cluster's YAML is most of a report's
// work, and reach.DecodeFileJSON decodes the JSON straight into reachability's
// types, to what decoding the file gives. A blob id names its content, so an entry
// never goes stale; each carries the engine that wrote it (another Rampart's
// decoding may differ) and one that is unreadable, of another engine, not JSON or
// not what reachability can decode is decoded again from the file and replaced,
// never trusted. A nil *reachCache caches nothing.
type reachCache struct {
	dir    string
	header []byte
}

// openReachCache returns the cache in dir (created on first write); an empty dir
// gives nil.
func openReachCache(dir string) *reachCache {
	if dir == "" {
		return nil
	}
	return &reachCache{dir: dir, header: []byte("rampart-reach-v1 " + cache.EngineID() + "\n")}
}

func (c *reachCache) path(id string) string {
	return filepath.Join(c.dir, id[:2], id[2:])
}

// get returns the documents of the file with that blob id, a JSON array for
// reach.DecodeFileJSON, or false; the caller decodes them and judges them.
func (c *reachCache) get(id string) ([]byte, bool) {
	if c == nil || len(id) < 3 {
		return nil, false
	}
	b, err := os.ReadFile(c.path(id))
	if err != nil {
		return nil, false
	}
	return bytes.CutPrefix(b, c.header)
}

// put records the documents of the file with that blob id.
func (c *reachCache) put(id string, objs []*unstructured.Unstructured) error {
	if c == nil || len(id) < 3 {
		return nil
	}
	docs := make([]map[string]any, len(objs))
	for i, o := range objs {
		docs[i] = o.Object
	}
	body, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	return atomicfile.Write(c.path(id), append(bytes.Clone(c.header), body...))
}

// factsHeader starts a cluster's facts file: the facts of each of its files, by blob
// id (reach.FileFacts), for reach.Neighbours, encoded by encodeFacts. Like the
// decoded files, they are trusted only from this engine.
func factsHeader() []byte { return []byte("rampart-reach-facts-v2 " + cache.EngineID() + "\n") }

// readFacts reads the facts file of a cluster; a missing, damaged or foreign one
// reads as empty (every file's facts are read again).
func readFacts(dir, cluster string) map[string]reach.Facts {
	if dir == "" {
		return map[string]reach.Facts{}
	}
	b, err := os.ReadFile(filepath.Join(dir, cluster))
	if err != nil {
		return map[string]reach.Facts{}
	}
	body, ok := bytes.CutPrefix(b, factsHeader())
	if !ok {
		return map[string]reach.Facts{}
	}
	facts, err := decodeFacts(body)
	if err != nil {
		return map[string]reach.Facts{}
	}
	return facts
}

// writeFacts replaces the facts file of a cluster with facts: those of its files
// now, so it never grows beyond the cluster.
func writeFacts(dir, cluster string, facts map[string]reach.Facts) error {
	if dir == "" {
		return nil
	}
	body, err := encodeFacts(facts)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, cluster), append(factsHeader(), body...))
}

// BlobIDs remembers the git blob id of rendered files by their SHA-256, which the
// render cache knows without reading them: a report on a large fleet then reads and
// hashes only the files the render made anew. The ids live in one file
// (digeststore), holding the ids of the last report's files. A nil *BlobIDs
// remembers nothing.
type BlobIDs struct{ store *digeststore.Store }

const blobIDsHeader = "rampart-blob-ids-v1\n"

// OpenBlobIDs reads the ids kept at path (empty: none kept).
func OpenBlobIDs(path string) *BlobIDs {
	if path == "" {
		return nil
	}
	return &BlobIDs{store: digeststore.Open(path, blobIDsHeader)}
}

func (b *BlobIDs) get(sum [sha256.Size]byte) (string, bool) {
	if b == nil {
		return "", false
	}
	id, ok := b.store.Get(sum)
	if !ok || len(id) != 40 {
		return "", false
	}
	return string(id), true
}

func (b *BlobIDs) put(sum [sha256.Size]byte, id string) {
	if b != nil {
		b.store.Put(sum, []byte(id))
	}
}

// Save writes the ids used since Open, when they differ from what was read.
func (b *BlobIDs) Save() error {
	if b == nil {
		return nil
	}
	return b.store.Save()
}
