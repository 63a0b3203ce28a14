// Package digeststore is a one-file store of values by SHA-256 digest, for the caches
// that remember something about every file of a render (the load cache, a report's
// blob ids): one read for a thousand teams, rewritten with only the entries a run
// used, and only when that changes what the file holds. The file carries a header
// (its format and, where values depend on it, Rampart's build) and a CRC-32C; a
// missing, damaged or foreign file is an empty store.
package digeststore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/rampart-gitops/rampart/generator/internal/atomicfile"
)

// Key is a digest.
type Key = [sha256.Size]byte

// Store is the values of one file. A nil *Store stores nothing.
type Store struct {
	path   string
	header []byte

	mu      sync.Mutex
	entries map[Key][]byte
	used    map[Key]bool
	added   bool
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Open reads the store at path whose file starts with header.
func Open(path, header string) *Store {
	s := &Store{path: path, header: []byte(header), entries: map[Key][]byte{}, used: map[Key]bool{}}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < len(s.header)+4 || !bytes.HasPrefix(b, s.header) {
		return s
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return s
	}
	entries := map[Key][]byte{}
	for rest := body[len(s.header):]; len(rest) > 0; {
		if len(rest) < sha256.Size {
			return s
		}
		var k Key
		copy(k[:], rest)
		rest = rest[sha256.Size:]
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return s
		}
		entries[k] = rest[w : w+int(n) : w+int(n)]
		rest = rest[w+int(n):]
	}
	s.entries = entries
	return s
}

// Get returns the value under k, and marks it used.
func (s *Store) Get(k Key) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.entries[k]
	if ok {
		s.used[k] = true
	}
	return v, ok
}

// Put stores v under k, used.
func (s *Store) Put(k Key, v []byte) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[k], s.used[k], s.added = v, true, true
}

// Save rewrites the file with the entries used since Open, if that changes it.
func (s *Store) Save() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.added && len(s.used) == len(s.entries) {
		return nil
	}
	b := append([]byte{}, s.header...)
	keys := slices.SortedFunc(maps.Keys(s.entries), func(a, b Key) int { return bytes.Compare(a[:], b[:]) })
	for _, k := range keys {
		if !s.used[k] {
			continue
		}
		v := s.entries[k]
		b = append(b, k[:]...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return atomicfile.Write(s.path, b)
}
