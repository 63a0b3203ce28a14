package load

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/rampart-gitops/rampart/generator/internal/digeststore"
)

// loadCache remembers the team files that passed parsing and the schema, by the
// digest of their bytes (and the kind they were read as): a file read again unchanged
// skips both and is decoded from the JSON they produced. Its position index is
// parsed only if a diagnostic asks for it. Every semantic check still runs on every
// file, cached or not, and the strict decode still refuses what the types do not know.
//
// It is one file (a digeststore.Store), so a fleet of a thousand teams costs one read;
// it is rewritten, with only the entries of this run, when anything changed. A
// missing, damaged or foreign file (another Rampart build: a new schema) is an empty
// cache. A nil *loadCache caches nothing.
type loadCache struct{ store *digeststore.Store }

const loadCacheFormat = "rampart-load-cache-v2\n"

func openLoadCache(path, engine string) *loadCache {
	return &loadCache{store: digeststore.Open(path, loadCacheFormat+engine+"\n")}
}

// loadEntry is what the cache keeps of a file: its JSON and its positions.
func loadEntry(raw []byte, pos *Positions) []byte {
	b := binary.AppendUvarint(nil, uint64(len(raw)))
	b = append(b, raw...)
	return appendPositions(b, pos)
}

// splitLoadEntry splits an entry into its JSON and its positions' encoding (an entry
// that does not split gives JSON that fails to decode, and the file is read afresh).
func splitLoadEntry(e []byte) (raw, pos []byte) {
	n, k := binary.Uvarint(e)
	if k <= 0 || n > uint64(len(e)-k) {
		return nil, nil
	}
	return e[k : k+int(n)], e[k+int(n):]
}

func loadCacheKey(kind string, data []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(data)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// get returns the JSON of a file that passed before.
func (c *loadCache) get(k [sha256.Size]byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	return c.store.Get(k)
}

// put remembers the JSON of a file that passed.
func (c *loadCache) put(k [sha256.Size]byte, raw []byte) {
	if c != nil {
		c.store.Put(k, raw)
	}
}

// save rewrites the cache with this run's entries, if it changed.
func (c *loadCache) save() error {
	if c == nil {
		return nil
	}
	return c.store.Save()
}
