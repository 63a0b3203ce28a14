// Package cache is the render cache: a content-addressed store of each unit's (team ×
// cluster's) verified output, keyed by a hash of everything the unit reads — the team
// spec, the intents of the peers it touches, cluster.yaml, every file of lib/, its
// charts, and Rampart's own build. A unit whose key is in the cache is not evaluated
// or verified again; its files are reused byte for byte.
//
// Entries are written atomically (temporary file and rename) and carry their key and
// a CRC-32C of each of their three parts: the metadata (the files' names, sizes and
// digests, images, pins, the digests of the objects' keys, and warnings), which Get
// reads; the objects' keys, which LoadObjects reads only when two digests collide in a
// cluster; and the files' bytes, which Load reads only when a run needs them — a
// render whose files are on disk as they were, or a validate, never reads them. An entry that is corrupt,
// truncated, of another format or filed under another key is ignored and the unit is
// rendered again, never trusted.
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
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/atomicfile"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// format names the entry encoding; change it when Entry changes shape.
const format = "rampart-render-cache-v5\n"

// Key is a unit's content address.
type Key [sha256.Size]byte

func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Hasher builds a Key from labelled parts, so two different inputs cannot run together
// into the same bytes. The parts stream into the digest: a no-op render of a large
// fleet keys every unit, and buffering each unit's parts cost more than hashing them.
type Hasher struct{ h hash.Hash }

// NewHasher starts a key with Rampart's own build, so a new binary (new templates'
// semantics, new checks) never reuses an old one's output.
func NewHasher() *Hasher {
	k := &Hasher{h: sha256.New()}
	k.Add("engine", []byte(EngineID()))
	return k
}

// Add adds one labelled part.
func (k *Hasher) Add(label string, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	_, _ = io.WriteString(k.h, label) // a hash.Hash never fails to write
	k.h.Write([]byte{0})
	k.h.Write(n[:])
	k.h.Write(b)
}

// Key is the hash of the parts added so far.
func (k *Hasher) Key() Key {
	var key Key
	k.h.Sum(key[:0])
	return key
}

// File is one rendered file of a unit.
type File struct {
	Path  string
	Layer manifest.Layer
	Team  string
	// Sum is the SHA-256 of Data.
	Sum [sha256.Size]byte
	// Size is len(Data).
	Size int
	// Data is nil in an entry from Get until Load reads it.
	Data []byte
}

// NewFile is a rendered file with its size and digest.
func NewFile(path string, layer manifest.Layer, team string, data []byte) File {
	return File{Path: path, Layer: layer, Team: team, Sum: sha256.Sum256(data), Size: len(data), Data: data}
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
	// Objects identify its objects, for the cluster-wide duplicate check; nil in an
	// entry from Get until LoadObjects reads them.
	Objects []verify.Object
	// Sums are the digests of the Objects' keys (verify.KeySums), set by Put and Get:
	// the duplicate check compares these and reads Objects only when two are equal.
	Sums []uint64
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

// head is the fixed part of an entry: format, key, and the length and CRC-32C of
// the metadata, of the objects and of the data.
const head = len(format) + sha256.Size + 24

// Get returns the metadata of the entry under k (its files without their Data), or
// false when there is none or it cannot be trusted.
func (c *Cache) Get(k Key) (*Entry, bool) {
	if c == nil {
		return nil, false
	}
	// A no-op render of a large fleet opens every entry: plain system calls, without
	// the runtime poller's registration of an *os.File.
	fd, err := unix.Open(c.path(k), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, false
	}
	// The metadata is decoded from a copy (newDecoder), so the read buffer is reused.
	pooled := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(pooled)
	buf := (*pooled)[:min(st.Size, int64(len(*pooled)))]
	if n, err := unix.Pread(fd, buf, 0); err != nil || n != len(buf) {
		return nil, false
	}
	h, ok := readHead(k, buf, st.Size)
	if !ok {
		return nil, false
	}
	meta := buf[head:min(len(buf), head+h.metaLen)]
	if len(meta) < h.metaLen {
		meta = make([]byte, h.metaLen)
		if n, err := unix.Pread(fd, meta, int64(head)); err != nil || n != len(meta) {
			return nil, false
		}
	}
	if crc32.Checksum(meta, castagnoli) != h.metaSum {
		return nil, false
	}
	e, err := unmarshalEntry(meta)
	if err != nil {
		return nil, false
	}
	total := 0
	for _, f := range e.Files {
		total += f.Size
	}
	if total != h.dataLen {
		return nil, false
	}
	return e, true
}

var readBuffers = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// open opens the entry under k and checks its fixed part: the caller closes fd.
func (c *Cache) open(k Key) (fd int, h entryHead, err error) {
	fd, err = unix.Open(c.path(k), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, h, fmt.Errorf("reading the render cache entry %s: %w", k, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return -1, h, fmt.Errorf("reading the render cache entry %s: %w", k, err)
	}
	b := make([]byte, head)
	ok := false
	if n, err := unix.Pread(fd, b, 0); err == nil && n == head {
		h, ok = readHead(k, b, st.Size)
	}
	if !ok {
		_ = unix.Close(fd)
		return -1, h, errUntrusted
	}
	return fd, h, nil
}

// LoadObjects reads the Objects of e, e as Get returned it under k. An error means
// the entry cannot be trusted after all.
func (c *Cache) LoadObjects(k Key, e *Entry) ([]verify.Object, error) {
	if c == nil {
		return nil, errUntrusted
	}
	fd, h, err := c.open(k)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, h.objLen)
	if n, err := unix.Pread(fd, b, int64(head+h.metaLen)); err != nil || n != len(b) || crc32.Checksum(b, castagnoli) != h.objSum {
		return nil, errUntrusted
	}
	objs, err := unmarshalObjects(b)
	if err != nil || !slices.Equal(verify.KeySums(objs), e.Sums) {
		return nil, errUntrusted
	}
	e.Objects = objs
	return objs, nil
}

// Load reads the Data of e's files, e as Get returned it under k. An error means the
// entry cannot be trusted after all: render the unit again.
func (c *Cache) Load(k Key, e *Entry) error {
	if c == nil {
		return errUntrusted
	}
	b, err := os.ReadFile(c.path(k))
	if err != nil {
		return fmt.Errorf("reading the render cache entry %s: %w", k, err)
	}
	h, ok := readHead(k, b, int64(len(b)))
	if !ok {
		return errUntrusted
	}
	data := b[head+h.metaLen+h.objLen:]
	if crc32.Checksum(data, castagnoli) != h.dataSum || len(data) != h.dataLen {
		return errUntrusted
	}
	for i := range e.Files {
		f := &e.Files[i]
		if f.Size > len(data) {
			return errUntrusted
		}
		f.Data, data = data[:f.Size:f.Size], data[f.Size:]
	}
	if len(data) != 0 {
		return errUntrusted
	}
	return nil
}

// LoadFile reads the Data of e's file i, e as Get returned it under k, without
// keeping it: a write that streams a large fleet's files to disk holds one at a time.
// The bytes are checked against the file's SHA-256; an error means the entry cannot
// be trusted after all.
func (c *Cache) LoadFile(k Key, e *Entry, i int) ([]byte, error) {
	if c == nil || i < 0 || i >= len(e.Files) {
		return nil, errUntrusted
	}
	fd, h, err := c.open(k)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	start := 0
	for _, f := range e.Files[:i] {
		start += f.Size
	}
	f := e.Files[i]
	if start+f.Size > h.dataLen {
		return nil, errUntrusted
	}
	off := head + h.metaLen + h.objLen + start
	data := make([]byte, f.Size)
	if n, err := unix.Pread(fd, data, int64(off)); err != nil || n != len(data) || sha256.Sum256(data) != f.Sum {
		return nil, errUntrusted
	}
	return data, nil
}

// Put stores e under k, atomically. Its files are made by NewFile (their Sum and Size
// are stored as they are).
func (c *Cache) Put(k Key, e *Entry) error {
	if c == nil {
		return nil
	}
	e.Sums = verify.KeySums(e.Objects)
	meta, err := marshalEntry(e)
	if err != nil {
		return fmt.Errorf("encoding the render cache entry of %s: %w", k, err)
	}
	objs := marshalObjects(e.Objects)
	dataLen := 0
	for _, f := range e.Files {
		dataLen += f.Size
	}
	b := make([]byte, 0, head+len(meta)+len(objs)+dataLen)
	b = append(b, format...)
	b = append(b, k[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(meta)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(meta, castagnoli))
	b = binary.BigEndian.AppendUint32(b, uint32(len(objs)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(objs, castagnoli))
	b = binary.BigEndian.AppendUint32(b, uint32(dataLen))
	dataSum := uint32(0)
	for _, f := range e.Files {
		dataSum = crc32.Update(dataSum, castagnoli, f.Data)
	}
	b = binary.BigEndian.AppendUint32(b, dataSum)
	b = append(b, meta...)
	b = append(b, objs...)
	for _, f := range e.Files {
		b = append(b, f.Data...)
	}
	if err := atomicfile.Write(c.path(k), b); err != nil {
		return fmt.Errorf("writing the render cache: %w", err)
	}
	return nil
}

var errUntrusted = errors.New("render cache entry cannot be trusted")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entryHead is an entry's fixed part, decoded.
type entryHead struct {
	metaLen, objLen, dataLen int
	metaSum, objSum, dataSum uint32
}

// readHead checks the fixed part at the start of b, an entry of size bytes filed
// under k.
func readHead(k Key, b []byte, size int64) (entryHead, bool) {
	if len(b) < head || string(b[:len(format)]) != format {
		return entryHead{}, false
	}
	b = b[len(format):]
	if !bytes.Equal(b[:sha256.Size], k[:]) {
		return entryHead{}, false
	}
	b = b[sha256.Size:]
	h := entryHead{
		metaLen: int(binary.BigEndian.Uint32(b[0:])), metaSum: binary.BigEndian.Uint32(b[4:]),
		objLen: int(binary.BigEndian.Uint32(b[8:])), objSum: binary.BigEndian.Uint32(b[12:]),
		dataLen: int(binary.BigEndian.Uint32(b[16:])), dataSum: binary.BigEndian.Uint32(b[20:]),
	}
	if int64(head)+int64(h.metaLen)+int64(h.objLen)+int64(h.dataLen) != size {
		return entryHead{}, false
	}
	return h, true
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
