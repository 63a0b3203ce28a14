package load

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rampart-gitops/rampart/generator/diag"
)

// billionLaughs is the classic alias bomb: depth levels of width aliases each, which
// expands to width^depth scalars in a decoder that follows aliases.
func billionLaughs(depth, width int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: rampart.dev/v1alpha1\nkind: Team\nmetadata:\n  name: shop\nspec:\n")
	b.WriteString("  a0: &a0 [" + strings.TrimSuffix(strings.Repeat("lol, ", width), ", ") + "]\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), width), ", "))
	}
	return []byte(b.String())
}

// TestAliasBombIsCheap checks that a billion-laughs document (10^9 scalars if
// expanded) is refused with little work: go.yaml.in/yaml/v3 keeps aliases as nodes
// pointing at their anchor, and the loader never follows them. The bound is on
// memory, not time, so it holds on a slow machine.
func TestAliasBombIsCheap(t *testing.T) {
	root := fstest.MapFS{
		"clusters/dev/cluster.yaml": &fstest.MapFile{Data: []byte("apiVersion: rampart.dev/v1alpha1\nkind: Cluster\n")},
		"teams/shop.yaml":           &fstest.MapFile{Data: billionLaughs(9, 10)},
	}
	_, err := Load(root)
	var list diag.List
	if !errors.As(err, &list) {
		t.Fatalf("Load = %v, want a diag.List", err)
	}
	if !strings.Contains(list.Error(), "teams/shop.yaml:6:7: spec.a0: YAML anchors and aliases are not allowed") {
		t.Errorf("Load did not refuse the alias bomb:\n%s", list.Error())
	}
	// Warm up the schema compilation, which happens once per process.
	allocs := testing.AllocsPerRun(5, func() { _, _ = Load(root) })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _ = Load(root)
	runtime.ReadMemStats(&after)
	bytes := after.TotalAlloc - before.TotalAlloc
	t.Logf("alias bomb: %.0f allocations, %d bytes per Load", allocs, bytes)
	// Expanded, the bomb is 10^9 strings; refused, it costs about as much as a small
	// spec. The bounds leave room for the two clusters' schema errors.
	if allocs > 5_000 {
		t.Errorf("Load made %.0f allocations for the alias bomb, want at most 5000", allocs)
	}
	if bytes > 1<<20 {
		t.Errorf("Load allocated %d bytes for the alias bomb, want at most 1 MiB", bytes)
	}
}

// TestFileSizeRefusedBeforeReading checks that an oversized file is refused from its
// size, before its bytes are read, and that a file that reports a false size is cut
// off at the limit while it is read.
func TestFileSizeRefusedBeforeReading(t *testing.T) {
	tests := []struct {
		name string
		size int
		want string
	}{
		{name: "at the limit is read", size: MaxFileSize, want: "teams/shop.yaml:6:1: invalid YAML"},
		{name: "one byte over is refused", size: MaxFileSize + 1, want: "teams/shop.yaml: file is 1048577 bytes, over the limit of 1048576 bytes (1 MiB)"},
		{name: "far over is refused", size: 8 << 20, want: "teams/shop.yaml: file is 8388608 bytes, over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := "apiVersion: rampart.dev/v1alpha1\nkind: Team\nmetadata:\n  name: shop\nspec:\n"
			data := []byte(head + strings.Repeat("\t", tt.size-len(head)))
			root := fstest.MapFS{"teams/shop.yaml": &fstest.MapFile{Data: data}}
			_, err := Load(root)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// shrunkFS reports every file as one byte long, as a file that grows after its stat
// would look.
type shrunkFS struct{ fstest.MapFS }

type shrunkInfo struct{ fs.FileInfo }

func (shrunkInfo) Size() int64 { return 1 }

func (s shrunkFS) Stat(name string) (fs.FileInfo, error) {
	fi, err := s.MapFS.Stat(name)
	if err != nil {
		return nil, err
	}
	return shrunkInfo{fi}, nil
}

func TestFileSizeLimitWhileReading(t *testing.T) {
	data := []byte(strings.Repeat("#", 4*MaxFileSize))
	root := shrunkFS{fstest.MapFS{"teams/shop.yaml": &fstest.MapFile{Data: data}}}
	_, err := Load(root)
	want := "teams/shop.yaml: file is over the limit of 1048576 bytes (1 MiB)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load = %v, want it to contain %q", err, want)
	}
}

// TestDiagnosticsCappedPerFile checks that a file with thousands of mistakes gives a
// readable answer: the first ones and a count of the rest.
func TestDiagnosticsCappedPerFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: rampart.dev/v1alpha1\nkind: Team\nmetadata:\n  name: shop\nspec:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  field%d: x\n", i)
	}
	root := fstest.MapFS{"teams/shop.yaml": &fstest.MapFile{Data: []byte(b.String())}}
	_, err := Load(root)
	var list diag.List
	if !errors.As(err, &list) {
		t.Fatalf("Load = %v, want a diag.List", err)
	}
	shop := 0
	for _, d := range list {
		if d.File == "teams/shop.yaml" {
			shop++
		}
	}
	if shop != maxPerFile+1 {
		t.Errorf("got %d diagnostics for teams/shop.yaml, want %d and a summary", shop, maxPerFile)
	}
	if !strings.Contains(list.Error(), "teams/shop.yaml: 4903 more errors not shown") {
		t.Errorf("no summary of the rest in:\n%.2000s", list.Error())
	}
}
