package review

import (
	"bytes"
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

// TestReachCacheRoundTrip: the examples' rendered files, kept in the cache and
// decoded from it, evaluate as the files decoded from their YAML.
func TestReachCacheRoundTrip(t *testing.T) {
	tree, err := readDirTree(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	c := openReachCache(t.TempDir())
	kept := 0
	for _, cluster := range []string{"dev-weu", "prod-weu", "stage-neu"} {
		paths := clusterFiles(tree, cluster)
		files, err := tree.Read(ctx, paths)
		if err != nil {
			t.Fatal(err)
		}
		var fromYAML, fromCache []*reach.File
		for _, p := range paths {
			objs, err := decodeReach(files[p])
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			f, err := reach.DecodeFile(p, objs)
			if err != nil {
				t.Fatal(err)
			}
			fromYAML = append(fromYAML, f)
			id := tree.Blobs()[p]
			if err := c.put(id, objs); err != nil {
				t.Fatal(err)
			}
			entry, ok := c.get(id)
			if !ok {
				t.Fatalf("%s: not in the cache after put", p)
			}
			if f, err = reach.DecodeFileJSON(p, entry); err != nil {
				t.Fatalf("%s: decoding the cache entry: %v", p, err)
			}
			fromCache = append(fromCache, f)
			kept += len(objs)
		}
		if got, want := reach.EvaluateFiles(cluster, fromCache, reach.Options{}), reach.EvaluateFiles(cluster, fromYAML, reach.Options{}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the files from the cache evaluate otherwise: %s", cluster, cmp.Diff(want, got))
		}
	}
	if kept < 20 {
		t.Fatalf("only %d documents: the examples did not reach the test", kept)
	}
}

// TestReachCacheUntrusted: an entry that is truncated, of another engine, not JSON,
// or JSON from this engine holding what reachability cannot decode (a damaged
// object) is not used: the file is decoded again, and its entry replaced.
func TestReachCacheUntrusted(t *testing.T) {
	p := "clusters/prod-weu/tenants/payments.yaml"
	b, err := os.ReadFile(filepath.Join(repoRoot, p))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeReach(b)
	if err != nil || len(objs) == 0 {
		t.Fatalf("decoding the payments tenant: %d objects, %v", len(objs), err)
	}
	want, err := reach.DecodeFile(p, objs)
	if err != nil {
		t.Fatal(err)
	}
	tree := newMemTree(map[string][]byte{p: b})
	id := tree.Blobs()[p]
	c := openReachCache(t.TempDir())
	if err := c.put(id, objs); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(c.path(id))
	if err != nil {
		t.Fatal(err)
	}
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
	undecodable, err := os.ReadFile(c.path(id))
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated":      good[:len(good)-10],
		"another engine": append([]byte("rampart-reach-v1 another-build\n"), good[len(c.header):]...),
		"not JSON":       append(bytes.Clone(c.header), "kind: Namespace\n"...),
		"undecodable":    undecodable,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(c.path(id), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			d := &decoder{decoded: map[string]*reach.File{}, cache: c, log: slog.New(slog.DiscardHandler)}
			if err := d.decode(ctx, tree, []string{p}); err != nil {
				t.Fatalf("the entry failed the decode: %v", err)
			}
			if !d.decoded[id].Same(want) {
				t.Error("the file was read from the entry")
			}
			if entry, err := os.ReadFile(c.path(id)); err != nil || !bytes.Equal(entry, good) {
				t.Errorf("the entry was not replaced (%v)", err)
			}
		})
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
