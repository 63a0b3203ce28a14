package review

import (
	"crypto/sha256"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rampart-gitops/rampart/generator/gitcli"
	"github.com/rampart-gitops/rampart/generator/reach"
)

// TestReachCacheRoundTrip: every rendered example file's documents come back from
// the cache exactly as decoded from the file (numbers of the same Go types).
func TestReachCacheRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "clusters", "*", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(repoRoot, "clusters", "*", "teams", "*", "*.yaml"))
	files = append(files, more...)
	c := openReachCache(t.TempDir())
	kept := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeReach(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id := gitcli.BlobID(b)
		if err := c.put(id, want); err != nil {
			t.Fatal(err)
		}
		got, ok := c.get(id)
		if !ok {
			t.Fatalf("%s: not in the cache after put", f)
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: the cache gives back other documents than the file's: %s", f, cmp.Diff(want, got))
		}
		kept += len(want)
	}
	if kept < 20 {
		t.Fatalf("only %d documents in %d files: the examples did not reach the test", kept, len(files))
	}
}

// TestReachCacheUntrusted: an entry that is truncated, of another engine or not
// JSON is not used.
func TestReachCacheUntrusted(t *testing.T) {
	dir := t.TempDir()
	c := openReachCache(dir)
	b, err := os.ReadFile(filepath.Join(repoRoot, "clusters", "prod-weu", "tenants", "payments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeReach(b)
	if err != nil || len(objs) == 0 {
		t.Fatalf("decoding the payments tenant: %d objects, %v", len(objs), err)
	}
	id := gitcli.BlobID(b)
	if err := c.put(id, objs); err != nil {
		t.Fatal(err)
	}
	entry, err := os.ReadFile(c.path(id))
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated":      entry[:len(entry)-10],
		"another engine": append([]byte("rampart-reach-v1 another-build\n"), entry[len(c.header):]...),
		"not JSON":       append(c.header, "kind: Namespace\n"...),
	} {
		if err := os.WriteFile(c.path(id), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.get(id); ok {
			t.Errorf("%s entry was used", name)
		}
	}
	var none *reachCache
	if _, ok := none.get(id); ok || none.put(id, objs) != nil {
		t.Errorf("a nil cache cached something")
	}
}

// TestBlobIDs: ids round-trip through their file, the file keeps only the ids a run
// used, and a damaged file reads as empty.
func TestBlobIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob-ids")
	a, b := []byte("a: 1\n"), []byte("b: 2\n")
	ids := OpenBlobIDs(path)
	ids.put(sha256.Sum256(a), gitcli.BlobID(a))
	ids.put(sha256.Sum256(b), gitcli.BlobID(b))
	if err := ids.Save(); err != nil {
		t.Fatal(err)
	}
	again := OpenBlobIDs(path)
	if id, ok := again.get(sha256.Sum256(a)); !ok || id != gitcli.BlobID(a) {
		t.Fatalf("id of a = %q, %v after a round trip", id, ok)
	}
	if err := again.Save(); err != nil { // only a was used
		t.Fatal(err)
	}
	if _, ok := OpenBlobIDs(path).get(sha256.Sum256(b)); ok {
		t.Error("an id no run used was kept")
	}
	if err := os.WriteFile(path, []byte(blobIDsHeader+"zz not-an-id\n0000"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := OpenBlobIDs(path).get(sha256.Sum256(a)); ok {
		t.Error("a damaged file was trusted")
	}
}

// TestReachCacheUndecodable: an entry that is JSON from this engine but holds what
// reachability cannot read (a damaged object) is not trusted either: the file is
// decoded again, and its entry replaced.
func TestReachCacheUndecodable(t *testing.T) {
	p := "clusters/prod-weu/teams/payments/api.yaml"
	b, err := os.ReadFile(filepath.Join(repoRoot, p))
	if err != nil {
		t.Fatal(err)
	}
	tree := NewMemTree(map[string][]byte{p: b})
	id := tree.Blobs()[p]
	dir := t.TempDir()
	c := openReachCache(dir)
	damaged := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "api", "namespace": "payments"},
		"spec": map[string]any{"ports": "not a list"},
	}}
	if _, err := reach.DecodeFile(p, []*unstructured.Unstructured{damaged}); err == nil {
		t.Fatal("the damaged Service decodes: the test proves nothing")
	}
	if err := c.put(id, []*unstructured.Unstructured{damaged}); err != nil {
		t.Fatal(err)
	}
	d := &decoder{decoded: map[string]*reach.File{}, cache: c, log: slog.New(slog.DiscardHandler)}
	if err := d.decode(ctx, tree, []string{p}); err != nil {
		t.Fatalf("a damaged entry failed the decode: %v", err)
	}
	objs, err := decodeReach(b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := reach.DecodeFile(p, objs)
	if err != nil {
		t.Fatal(err)
	}
	if !d.decoded[id].Same(want) {
		t.Error("the file was read from the damaged entry")
	}
	if got, ok := c.get(id); !ok || !reflect.DeepEqual(got, objs) {
		t.Error("the damaged entry was not replaced")
	}
}
