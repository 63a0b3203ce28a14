package load

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// loadCache remembers the team files that passed parsing and the schema, by the
// digest of their bytes (and the kind they were read as): a file read again unchanged
// skips both and is decoded from the JSON they produced. Its position index is
// parsed only if a diagnostic asks for it. Every semantic check still runs on every
// file, cached or not, and the strict decode still refuses what the types do not know.
//
// It is one file, so a fleet of a thousand teams costs one read; it is rewritten,
// with only the entries of this run, when anything changed. A missing, damaged or
// foreign file (another Rampart build: a new schema) is an empty cache.
type loadCache struct {
	path   string
	header []byte

	mu      sync.Mutex
	entries map[[sha256.Size]byte][]byte
	used    map[[sha256.Size]byte]bool
	added   bool
}

const loadCacheFormat = "rampart-load-cache-v1\n"

func openLoadCache(path, engine string) *loadCache {
	c := &loadCache{
		path:    path,
		header:  []byte(loadCacheFormat + engine + "\n"),
		entries: map[[sha256.Size]byte][]byte{},
		used:    map[[sha256.Size]byte]bool{},
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < len(c.header)+4 || !bytes.HasPrefix(b, c.header) {
		return c
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return c
	}
	entries := map[[sha256.Size]byte][]byte{}
	for rest := body[len(c.header):]; len(rest) > 0; {
		if len(rest) < sha256.Size {
			return c
		}
		var k [sha256.Size]byte
		copy(k[:], rest)
		rest = rest[sha256.Size:]
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return c
		}
		entries[k] = rest[w : w+int(n) : w+int(n)]
		rest = rest[w+int(n):]
	}
	c.entries = entries
	return c
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
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, ok := c.entries[k]
	if ok {
		c.used[k] = true
	}
	return raw, ok
}

// put remembers the JSON of a file that passed.
func (c *loadCache) put(k [sha256.Size]byte, raw []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[k], c.used[k], c.added = raw, true, true
}

// save rewrites the cache with this run's entries, if it changed.
func (c *loadCache) save() error {
	if c == nil || (!c.added && len(c.used) == len(c.entries)) {
		return nil
	}
	b := append([]byte{}, c.header...)
	keys := slices.SortedFunc(maps.Keys(c.entries), func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	for _, k := range keys {
		if !c.used[k] {
			continue
		}
		raw := c.entries[k]
		b = append(b, k[:]...)
		b = binary.AppendUvarint(b, uint64(len(raw)))
		b = append(b, raw...)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}
