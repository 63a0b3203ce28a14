package load

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestLoadValidInventory loads the valid case from disk, as the CLI does, and checks
// what later stages rely on: sorted clusters and teams, files, positions, config.
func TestLoadValidInventory(t *testing.T) {
	inv, err := Load(os.DirFS(filepath.Join("testdata", "valid")))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if inv.Config.Kind != spec.KindConfig {
		t.Errorf("Config.Kind = %q, want %q", inv.Config.Kind, spec.KindConfig)
	}
	var clusters, teams []string
	for _, c := range inv.Clusters {
		clusters = append(clusters, c.Metadata.Name+"="+c.File)
	}
	for _, tm := range inv.Teams {
		teams = append(teams, tm.Metadata.Name+"="+tm.File)
	}
	if want := []string{"dev=clusters/dev/cluster.yaml", "prod=clusters/prod/cluster.yaml"}; !slices.Equal(clusters, want) {
		t.Errorf("clusters = %v, want %v", clusters, want)
	}
	if want := []string{"ledger=teams/ledger.yaml", "shop=teams/shop.yaml"}; !slices.Equal(teams, want) {
		t.Errorf("teams = %v, want %v", teams, want)
	}
	shop := inv.Team("shop")
	if shop == nil || inv.Cluster("prod") == nil {
		t.Fatal("Inventory.Team or Inventory.Cluster did not find a loaded document")
	}
	tests := []struct {
		name      string
		field     string
		line, col int
	}{
		{name: "value", field: "spec.apps[1].resources.memory", line: 44, col: 17},
		{name: "absent field", field: "spec.apps[0].resources.memoryLimit", line: 16, col: 9},
		{name: "list item", field: "spec.apps[0].calls[1]", line: 34, col: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if l, c := shop.Pos.Lookup(tt.field); l != tt.line || c != tt.col {
				t.Errorf("Lookup(%q) = %d:%d, want %d:%d", tt.field, l, c, tt.line, tt.col)
			}
		})
	}
	if got := shop.Spec.Exceptions.Vulnerabilities[0].Expires; got != "2027-01-31" {
		t.Errorf("an unquoted date decoded as %q, want 2027-01-31", got)
	}
	if got := shop.Spec.Charts[0].Values["replicas"]; got != float64(2) {
		t.Errorf("chart values decoded %v (%T), want 2", got, got)
	}
}

// TestLoadShuffledOrder loads the same repository from file systems that list their
// entries in different orders and wants the same inventory.
func TestLoadShuffledOrder(t *testing.T) {
	root := readCase(t, filepath.Join("testdata", "valid"))
	want, err := Load(root)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	names := func(inv *Inventory) string {
		var b strings.Builder
		for _, c := range inv.Clusters {
			b.WriteString(c.File + " ")
		}
		for _, tm := range inv.Teams {
			b.WriteString(tm.File + " ")
		}
		return b.String()
	}
	for i := range 5 {
		got, err := Load(reversedFS{root, i%2 == 0})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if names(got) != names(want) {
			t.Errorf("order %d: %s, want %s", i, names(got), names(want))
		}
	}
}

// reversedFS lists directories in reverse order, as no sorted file system would.
type reversedFS struct {
	fstest.MapFS
	reverse bool
}

func (r reversedFS) ReadDir(name string) ([]os.DirEntry, error) {
	entries, err := r.MapFS.ReadDir(name)
	if r.reverse {
		slices.Reverse(entries)
	}
	return entries, err
}

// TestLoadRepositoryExamples loads the repository's own teams/ and clusters/: the
// examples must always be valid.
func TestLoadRepositoryExamples(t *testing.T) {
	if _, err := os.Stat("../../teams"); err != nil {
		t.Skip("no teams/ in the repository yet")
	}
	inv, err := Load(os.DirFS("../.."))
	if err != nil {
		t.Fatalf("the repository's examples do not load:\n%v", err)
	}
	if len(inv.Clusters) == 0 {
		t.Error("no clusters loaded")
	}
}

// TestLoadKeepsWarnings: a repository with only warnings loads, and the warnings
// reach the caller in Inventory.Warnings.
func TestLoadKeepsWarnings(t *testing.T) {
	inv, err := Load(readCase(t, filepath.Join("testdata", "network-warnings")))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(inv.Warnings) == 0 {
		t.Fatal("no warnings in the inventory")
	}
	for _, d := range inv.Warnings {
		if d.Severity != "warning" || d.File == "" || d.Line == 0 {
			t.Errorf("not a located warning: %s", d)
		}
	}
}
