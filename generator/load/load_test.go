package load

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rampart-gitops/rampart/generator/diag"
)

var update = flag.Bool("update", false, "rewrite the want.txt goldens under testdata/")

// generated adds files to a case that are too large to commit.
var generated = map[string]func(fstest.MapFS){
	"file-too-big": func(m fstest.MapFS) {
		// A valid start, then padding past the limit: the size alone must refuse it.
		data := []byte("apiVersion: rampart.dev/v1alpha1\nkind: Team\n")
		data = append(data, strings.Repeat("# padding\n", MaxFileSize/10)...)
		m["teams/huge.yaml"] = &fstest.MapFile{Data: data}
	},
}

// readCase reads a testdata case directory into a MapFS, without its want.txt.
func readCase(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "want.txt" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatalf("reading case %s: %v", dir, err)
	}
	return m
}

// render turns Load's result into the golden text: one diagnostic a line, or
// nothing for a valid repository.
func render(t *testing.T, inv *Inventory, err error) string {
	t.Helper()
	if err == nil {
		if inv == nil {
			t.Fatal("Load returned neither an inventory nor an error")
		}
		return ""
	}
	if inv != nil {
		t.Error("Load returned an inventory with an error")
	}
	var list diag.List
	if !errors.As(err, &list) {
		t.Fatalf("Load returned %T, not a diag.List: %v", err, err)
	}
	var b strings.Builder
	for _, d := range list {
		// Every diagnostic names a file; one about a field also has its line.
		if d.File == "" || d.Field != "" && d.Line == 0 {
			t.Errorf("diagnostic without a position: %s", d)
		}
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestLoadGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			root := readCase(t, dir)
			if gen := generated[name]; gen != nil {
				gen(root)
			}
			inv, err := Load(root)
			got := render(t, inv, err)
			// Load must be deterministic: the same input gives the same bytes.
			for range 4 {
				inv2, err2 := Load(root)
				if again := render(t, inv2, err2); again != got {
					t.Fatalf("second Load differs:\n%s\nvs\n%s", again, got)
				}
			}
			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading the golden (run go test ./generator/load -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s (run go test ./generator/load -update after checking):\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
