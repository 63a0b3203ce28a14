package digeststore

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

// TestStore: values round-trip through the file; the file keeps only what a run
// used and is not rewritten when nothing changed; a damaged or foreign file is empty.
func TestStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	s := Open(path, "test-v1\n")
	s.Put(a, []byte("value a"))
	s.Put(b, []byte("value b"))
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s = Open(path, "test-v1\n")
	if v, ok := s.Get(a); !ok || string(v) != "value a" {
		t.Fatalf("a = %q, %v after a round trip", v, ok)
	}
	if err := s.Save(); err != nil { // only a was used
		t.Fatal(err)
	}
	if _, ok := Open(path, "test-v1\n").Get(b); ok {
		t.Error("a value no run used was kept")
	}
	before, _ := os.Stat(path)
	s = Open(path, "test-v1\n")
	s.Get(a)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		t.Error("a run that changed nothing rewrote the file")
	}
	if _, ok := Open(path, "test-v2\n").Get(a); ok {
		t.Error("a file of another header was trusted")
	}
	data, _ := os.ReadFile(path)
	data[len(data)-6] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Open(path, "test-v1\n").Get(a); ok {
		t.Error("a damaged file was trusted")
	}
	var none *Store
	none.Put(a, nil)
	if _, ok := none.Get(a); ok || none.Save() != nil {
		t.Error("a nil store stored something")
	}
}
