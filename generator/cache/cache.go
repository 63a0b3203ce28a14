// Package cache is the render cache: a content-addressed store of each unit's (team ×
// cluster's) verified output, keyed by a hash of everything the unit reads — the team
// spec, the intents of the peers it touches, cluster.yaml, every file of lib/, its
// charts, and Rampart's own build. A unit whose key is in the cache is not evaluated
// or verified again; its files are reused byte for byte.
//
// Entries are written atomically (temporary file and rename) and carry their key and
// a CRC-32C of their payload: an entry that is corrupt, truncated, of another format or
// filed under another key is ignored and the unit is rendered again, never trusted.
// (The checksum is against accidents — a disk, a copy, a crash. Whoever can write the
// cache directory can write clusters/ too; a cryptographic hash would not stop them.)
package cache

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// format names the entry encoding; change it when Entry changes shape.
const format = "rampart-render-cache-v3\n"

// Key is a unit's content address.
type Key [sha256.Size]byte

func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Hasher builds a Key from labelled parts, so two different inputs cannot run together
// into the same bytes.
type Hasher struct{ h []byte }

// NewHasher starts a key with Rampart's own build, so a new binary (new templates'
// semantics, new checks) never reuses an old one's output.
func NewHasher() *Hasher {
	k := &Hasher{}
	k.Add("engine", []byte(EngineID()))
	return k
}

// Add adds one labelled part.
func (k *Hasher) Add(label string, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	k.h = append(k.h, label...)
	k.h = append(k.h, 0)
	k.h = append(k.h, n[:]...)
	k.h = append(k.h, b...)
}

// Key is the hash of the parts added so far.
func (k *Hasher) Key() Key { return sha256.Sum256(k.h) }

// File is one rendered file of a unit.
type File struct {
	Path  string
	Layer manifest.Layer
	Team  string
	Data  []byte
}

// Entry is a unit's verified output.
type Entry struct {
	// Files are the unit's encoded files (its tenant file and team directory).
	Files []File
	// Images are the images its pod templates run, as written (before pinning).
	Images []string
	// Pins are the pinned references Files carry, by image; nil when unpinned
	// (validate, or --skip-scan).
	Pins map[string]string
	// Objects identify its objects, for the cluster-wide duplicate check.
	Objects []verify.Object
	// Warnings are the unit's verification warnings.
	Warnings diag.List
}

// Cache is a directory of entries. A nil *Cache caches nothing.
type Cache struct {
	dir string
}

// Open returns the cache in dir (created on first write); an empty dir gives nil.
func Open(dir string) *Cache {
	if dir == "" {
		return nil
	}
	return &Cache{dir: dir}
}

func (c *Cache) path(k Key) string {
	s := k.String()
	return filepath.Join(c.dir, s[:2], s[2:])
}

// Get returns the entry under k, or false when there is none or it cannot be trusted.
func (c *Cache) Get(k Key) (*Entry, bool) {
	if c == nil {
		return nil, false
	}
	b, err := os.ReadFile(c.path(k))
	if err != nil {
		return nil, false
	}
	e, err := decode(k, b)
	if err != nil {
		return nil, false
	}
	return e, true
}

// Put stores e under k, atomically.
func (c *Cache) Put(k Key, e *Entry) error {
	if c == nil {
		return nil
	}
	payload, err := marshalEntry(e)
	if err != nil {
		return fmt.Errorf("encoding the render cache entry of %s: %w", k, err)
	}
	var b bytes.Buffer
	b.Grow(len(format) + sha256.Size + 4 + len(payload))
	b.WriteString(format)
	b.Write(k[:])
	b.Write(binary.BigEndian.AppendUint32(nil, crc32.Checksum(payload, castagnoli)))
	b.Write(payload)
	p := c.path(k)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing the render cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the render cache: %w", err)
	}
	_, err = tmp.Write(b.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing the render cache: %w", err)
	}
	return nil
}

var errUntrusted = errors.New("render cache entry cannot be trusted")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func decode(k Key, b []byte) (*Entry, error) {
	head := len(format) + sha256.Size + 4
	if len(b) < head || string(b[:len(format)]) != format {
		return nil, errUntrusted
	}
	b = b[len(format):]
	if !bytes.Equal(b[:sha256.Size], k[:]) {
		return nil, errUntrusted
	}
	sum, payload := binary.BigEndian.Uint32(b[sha256.Size:]), b[sha256.Size+4:]
	if crc32.Checksum(payload, castagnoli) != sum {
		return nil, errUntrusted
	}
	e, err := unmarshalEntry(payload)
	if err != nil {
		return nil, errUntrusted
	}
	return e, nil
}

// DirDigest hashes every file under dir of fsys, names and contents: lib/ and each
// chart directory key the units that read them.
func DirDigest(fsys fs.FS, dir string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, path.Clean(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// EngineID identifies the running Rampart build: the Go build ID of its executable,
// which changes with any change to its code or dependencies. Where that cannot be
// read, the module build information stands in.
var EngineID = sync.OnceValue(func() string {
	if exe, err := os.Executable(); err == nil {
		if f, err := elf.Open(exe); err == nil {
			defer f.Close()
			if s := f.Section(".note.go.buildid"); s != nil {
				if b, err := s.Data(); err == nil && len(b) > 0 {
					sum := sha256.Sum256(b)
					return "buildid:" + hex.EncodeToString(sum[:])
				}
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		sum := sha256.Sum256([]byte(bi.String()))
		return "buildinfo:" + hex.EncodeToString(sum[:])
	}
	return "unknown"
})
