package review

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/reach"
)

func sampleFacts() map[string]reach.Facts {
	return map[string]reach.Facts{
		strings.Repeat("ab", 20): {
			"payments": {
				Names4: []string{"ledger", "storefront"}, Names7: []string{"storefront"},
				Isolated: true, AllowPolicy: true,
				Labels: map[string]string{"istio-injection": "enabled"},
				Pods:   []map[string]string{{}, {"sidecar.istio.io/inject": "false"}},
			},
			reach.Clusterwide: {Wild4: true},
		},
		strings.Repeat("01", 20): {
			"ledger": {Wild7: true, Labels: map[string]string{}, Pods: []map[string]string{{}}},
		},
		strings.Repeat("ff", 20): {"storefront": {}},
	}
}

// TestFactsFileRoundTrip: the facts come back as they went in, labels an empty
// Namespace gave included (they override what another file said).
func TestFactsFileRoundTrip(t *testing.T) {
	in := sampleFacts()
	b, err := encodeFacts(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeFacts(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("decoded %+v, want %+v", out, in)
	}
	again, _ := encodeFacts(out)
	if string(again) != string(b) {
		t.Error("encoding the same facts twice gave different bytes")
	}
	if _, err := encodeFacts(map[string]reach.Facts{"not-a-blob-id": {}}); err == nil {
		t.Error("facts keyed by something other than a blob id were encoded")
	}
}

// TestFactsFileDamaged: a facts file cut short, or with any byte changed, decodes
// to an error or to facts, never a panic or a huge allocation; readFacts then
// reads it as empty.
func TestFactsFileDamaged(t *testing.T) {
	b, err := encodeFacts(sampleFacts())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := decodeFacts(b[:n]); err == nil {
			t.Errorf("cut to %d of %d bytes: no error", n, len(b))
		}
	}
	for i := range b {
		for _, v := range []byte{0x00, 0x7f, 0xff} {
			c := []byte(string(b))
			c[i] = v
			_, _ = decodeFacts(c)
		}
	}
	if _, err := decodeFacts(append([]byte(string(b)), 0)); err == nil {
		t.Error("a byte past the end: no error")
	}

	dir := t.TempDir()
	if err := writeFacts(dir, "prod", sampleFacts()); err != nil {
		t.Fatal(err)
	}
	if got := readFacts(dir, "prod"); !reflect.DeepEqual(got, sampleFacts()) {
		t.Errorf("readFacts = %+v", got)
	}
	if got := readFacts(dir, "elsewhere"); len(got) != 0 {
		t.Errorf("a missing facts file read as %+v", got)
	}
}

// TestFactsFileKept: the neighbourhood reads a cluster's facts from its file, adds
// the files it lacks, drops what no revision holds once the file outgrows both, and
// leaves a file that holds every file it reads alone.
func TestFactsFileKept(t *testing.T) {
	tree, err := readDirTree(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := &decoder{decoded: map[string]*reach.File{}, dir: dir, log: slog.New(slog.DiscardHandler)}
	const cluster = "prod-weu"
	paths := clusterFiles(tree, cluster)
	o := reach.Options{Focus: []string{"payments"}}
	neighbourhood := func() {
		t.Helper()
		if _, _, err := d.neighbourhood(ctx, tree, tree, cluster, paths, paths, o); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []string {
		return slices.Sorted(maps.Keys(readFacts(dir, cluster)))
	}
	var want []string
	for _, p := range paths {
		want = append(want, tree.Blobs()[p])
	}
	want = slices.Compact(slices.Sorted(slices.Values(want)))

	neighbourhood() // no file: every file's facts are read, and kept
	if got := ids(); !slices.Equal(got, want) {
		t.Fatalf("facts of %d files kept, want %d", len(got), len(want))
	}
	info, err := os.Stat(filepath.Join(dir, cluster))
	if err != nil {
		t.Fatal(err)
	}
	neighbourhood() // nothing new: the file is not written again
	if again, _ := os.Stat(filepath.Join(dir, cluster)); !again.ModTime().Equal(info.ModTime()) || again.Size() != info.Size() {
		t.Error("a facts file that held every file was written again")
	}

	stale := readFacts(dir, cluster)
	for i := range 2 * len(paths) {
		stale[fmt.Sprintf("%040x", i)] = reach.Facts{"gone": {}}
	}
	if err := writeFacts(dir, cluster, stale); err != nil {
		t.Fatal(err)
	}
	neighbourhood() // more entries than both revisions' files: pruned
	if got := ids(); !slices.Equal(got, want) {
		t.Errorf("after pruning, facts of %d files kept, want %d", len(got), len(want))
	}
}
