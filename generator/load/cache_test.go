package load_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/load"
)

// copyExamples copies the repository's example inputs into a new directory.
func copyExamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, src := range []string{"rampart.yaml", "teams", "clusters"} {
		err := filepath.WalkDir(filepath.Join("..", "..", src), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join("..", ".."), p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dir, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadCacheGivesTheSameAnswer: a load from the cache gives the same inventory as
// a fresh one, and a cached file's semantic errors still carry their line and column.
func TestLoadCacheGivesTheSameAnswer(t *testing.T) {
	dir := copyExamples(t)
	opts := load.Options{Dir: dir, Engine: "test"}
	fresh, err := load.LoadWith(os.DirFS(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.SaveCache(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".rampart", "cache", "load")); err != nil {
		t.Fatalf("no load cache written: %v", err)
	}
	cached, err := load.LoadWith(os.DirFS(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cached.Teams) != len(fresh.Teams) {
		t.Fatalf("cached load has %d teams, fresh %d", len(cached.Teams), len(fresh.Teams))
	}
	for i := range fresh.Teams {
		if !reflect.DeepEqual(cached.Teams[i].Team, fresh.Teams[i].Team) {
			t.Errorf("team %s differs when loaded from the cache", fresh.Teams[i].Metadata.Name)
		}
		if l, c := cached.Teams[i].Pos.Lookup("spec.apps[0].name"); l == 0 || c == 0 {
			t.Errorf("team %s from the cache has no positions", fresh.Teams[i].Metadata.Name)
		}
	}

	// A call to a team that does not exist passes the schema (so it is cached) and
	// fails the semantic check, at the same place both times.
	p := filepath.Join(dir, "teams", "payments.yaml")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), "team: ledger", "team: nosuchteam", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var runs [2]diag.List
	for i := range runs {
		_, err := load.LoadWith(os.DirFS(dir), opts) // saves the cache even so
		if err == nil {
			t.Fatal("a call to a missing team loaded")
		}
		runs[i] = err.(diag.List)
	}
	if !reflect.DeepEqual(runs[0], runs[1]) || len(runs[0]) == 0 || runs[0][0].Line == 0 {
		t.Errorf("fresh and cached loads disagree:\n%v\n%v", runs[0], runs[1])
	}

	// A damaged cache is no cache.
	if err := os.WriteFile(filepath.Join(dir, ".rampart", "cache", "load"), []byte("rampart-load-cache-v1\ntest\nxx"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load.LoadWith(os.DirFS(dir), opts); err == nil || !reflect.DeepEqual(err.(diag.List), runs[0]) {
		t.Errorf("with a damaged cache: %v", err)
	}
}
