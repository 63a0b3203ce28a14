package write

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/atomicfile"
)

// stateFormat names the encoding of a cluster's state file.
const stateFormat = "rampart-disk-state-v1\n"

// racyWindow is how long after a stat a file's modification time must lie before
// the stat can vouch for it: a file changed within the file system's timestamp
// granularity of being stamped could keep its stamp (git calls such entries racily
// clean).
const racyWindow = 2 * time.Second

// State remembers the rendered files on disk: for each, the stamp it had when Rampart
// wrote or last compared it (size, modification and change times, inode) and the
// digest of its content. A file whose stamp still matches, and whose digest is the
// one the render wants, is unchanged without reading it. Anything else — no state,
// a missing or damaged state file, a file touched since, a file system without
// inode numbers — is read and compared. A nil *State vouches for nothing.
//
// It is kept per cluster under a directory of the cache (the shards of a CI matrix
// each keep their own clusters').
type State struct {
	dir string
	now func() time.Time

	mu       sync.Mutex
	clusters map[string]*clusterState
}

type clusterState struct {
	once  sync.Once
	mu    sync.Mutex
	files map[string]stateEntry
	dirty bool
	// seen are the files this run already found unchanged, so that the render's
	// units and Diff stat each once.
	seen map[string][sha256.Size]byte
}

type stateEntry struct {
	stamp stamp
	at    int64 // when the stamp was taken, Unix nanoseconds
	sum   [sha256.Size]byte
}

type stamp struct {
	size, mtime, ctime int64
	ino                uint64
}

// OpenState returns the state kept in dir; an empty dir gives nil.
func OpenState(dir string) *State {
	if dir == "" {
		return nil
	}
	return &State{dir: dir, now: time.Now, clusters: map[string]*clusterState{}}
}

// clusterOf is the cluster a path under clusters/ belongs to.
func clusterOf(p string) string {
	rest, ok := strings.CutPrefix(p, "clusters/")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return name
}

func (s *State) cluster(name string) *clusterState {
	s.mu.Lock()
	c, ok := s.clusters[name]
	if !ok {
		c = &clusterState{}
		s.clusters[name] = c
	}
	s.mu.Unlock()
	c.once.Do(func() {
		c.files = readState(filepath.Join(s.dir, name))
	})
	return c
}

func stampOf(disk fs.FS, p string) (stamp, bool) {
	fi, err := fs.Stat(disk, p)
	if err != nil || !fi.Mode().IsRegular() {
		return stamp{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Ino == 0 {
		return stamp{}, false
	}
	return stamp{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}, true
}

// Unchanged reports whether the file at p on disk is known to have content of digest
// sum without reading it.
func (s *State) Unchanged(disk fs.FS, p string, sum [sha256.Size]byte) bool {
	if s == nil {
		return false
	}
	name := clusterOf(p)
	if name == "" {
		return false
	}
	c := s.cluster(name)
	c.mu.Lock()
	e, ok := c.files[p]
	seen, done := c.seen[p]
	c.mu.Unlock()
	if done && seen == sum {
		return true
	}
	if !ok || e.sum != sum {
		return false
	}
	st, ok := stampOf(disk, p)
	if !ok || st != e.stamp || st.mtime >= e.at-int64(racyWindow) {
		return false
	}
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[string][sha256.Size]byte{}
	}
	c.seen[p] = sum
	c.mu.Unlock()
	return true
}

// record remembers that the file at p now has content of digest sum.
func (s *State) record(disk fs.FS, p string, sum [sha256.Size]byte) {
	if s == nil {
		return
	}
	name := clusterOf(p)
	if name == "" {
		return
	}
	at := s.now().UnixNano()
	st, ok := stampOf(disk, p)
	c := s.cluster(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, p)
	if !ok {
		if _, had := c.files[p]; had {
			delete(c.files, p)
			c.dirty = true
		}
		return
	}
	if c.files == nil {
		c.files = map[string]stateEntry{}
	}
	c.files[p] = stateEntry{stamp: st, at: at, sum: sum}
	c.dirty = true
}

// forget drops the file at p.
func (s *State) forget(p string) {
	if s == nil {
		return
	}
	name := clusterOf(p)
	if name == "" {
		return
	}
	c := s.cluster(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, p)
	if _, ok := c.files[p]; ok {
		delete(c.files, p)
		c.dirty = true
	}
}

// Save writes the state of every cluster that changed, each atomically.
func (s *State) Save() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.clusters {
		c.mu.Lock()
		dirty, files := c.dirty, c.files
		c.dirty = false
		c.mu.Unlock()
		if !dirty {
			continue
		}
		if err := writeState(filepath.Join(s.dir, name), files); err != nil {
			return fmt.Errorf("saving the disk state of cluster %q: %w", name, err)
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func writeState(p string, files map[string]stateEntry) error {
	b := []byte(stateFormat)
	for path, e := range files {
		b = binary.AppendUvarint(b, uint64(len(path)))
		b = append(b, path...)
		b = binary.AppendVarint(b, e.stamp.size)
		b = binary.AppendVarint(b, e.stamp.mtime)
		b = binary.AppendVarint(b, e.stamp.ctime)
		b = binary.AppendUvarint(b, e.stamp.ino)
		b = binary.AppendVarint(b, e.at)
		b = append(b, e.sum[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return atomicfile.Write(p, b)
}

var errBadState = errors.New("damaged disk state")

// readState reads a cluster's state file; a missing or damaged one is empty.
func readState(p string) map[string]stateEntry {
	b, err := os.ReadFile(p)
	if err != nil || len(b) < len(stateFormat)+4 || !bytes.HasPrefix(b, []byte(stateFormat)) {
		return map[string]stateEntry{}
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return map[string]stateEntry{}
	}
	files, err := decodeState(body[len(stateFormat):])
	if err != nil {
		return map[string]stateEntry{}
	}
	return files
}

func decodeState(b []byte) (map[string]stateEntry, error) {
	// The paths are slices of one copy of the file's text, not a copy each.
	text := string(b)
	files := make(map[string]stateEntry, len(b)/128)
	uvarint := func() uint64 {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			b = nil
			return 0
		}
		b = b[k:]
		return n
	}
	varint := func() int64 {
		n, k := binary.Varint(b)
		if k <= 0 {
			b = nil
			return 0
		}
		b = b[k:]
		return n
	}
	for len(b) > 0 {
		n := uvarint()
		if n > uint64(len(b)) {
			return nil, errBadState
		}
		off := len(text) - len(b)
		path := text[off : off+int(n)]
		b = b[n:]
		var e stateEntry
		e.stamp.size, e.stamp.mtime, e.stamp.ctime = varint(), varint(), varint()
		e.stamp.ino = uvarint()
		e.at = varint()
		if len(b) < sha256.Size {
			return nil, errBadState
		}
		copy(e.sum[:], b)
		b = b[sha256.Size:]
		files[path] = e
	}
	return files, nil
}
