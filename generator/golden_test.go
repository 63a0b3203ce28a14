package generator_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rampart-gitops/rampart/generator"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden/*/want")

// caseFS is a golden case's inputs with the repository's own lib/, in memory.
func caseFS(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	add := func(root, prefix string, skip func(string) bool) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if skip != nil && skip(rel) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[path.Join(prefix, rel)] = &fstest.MapFile{Data: b}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(filepath.Join(dir, "input"), "", nil)
	if _, err := os.Stat(filepath.Join(dir, "input", "lib")); errors.Is(err, fs.ErrNotExist) {
		add(filepath.Join("..", "lib"), "lib", nil)
	}
	return m
}

// shuffledFS lists directories in a random order, so a test can prove the output does
// not depend on the order the inputs are read in.
type shuffledFS struct {
	fstest.MapFS
	rng *rand.Rand
}

func (s shuffledFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := s.MapFS.ReadDir(name)
	s.rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	return entries, err
}

// renderCase renders a case in memory and returns its files, or the error text.
func renderCase(t *testing.T, fsys fs.FS) (map[string][]byte, string) {
	t.Helper()
	res, err := generator.Generate(context.Background(), generator.Options{Dir: t.TempDir(), FS: fsys, Mode: generator.Validate})
	if err != nil {
		return nil, err.Error() + "\n"
	}
	files := map[string][]byte{}
	for _, c := range res.Clusters {
		contents, err := c.Contents()
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(files, contents)
	}
	return files, ""
}

func TestGolden(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", "golden", c.Name())
			inputs := caseFS(t, dir)
			files, errText := renderCase(t, inputs)

			// Determinism: five more renders, each reading directories in another order.
			for i := range 5 {
				f2, e2 := renderCase(t, shuffledFS{inputs, rand.New(rand.NewPCG(uint64(i), 42))})
				if e2 != errText || !equalFiles(files, f2) {
					t.Fatalf("render %d with shuffled input order differs from the first", i+2)
				}
			}

			want := filepath.Join(dir, "want")
			if *update {
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
				writeTree(t, want, files, errText)
				return
			}
			wantFiles, wantErr := readTree(t, want)
			if errText != wantErr {
				t.Errorf("error output differs from %s/error.txt (run with -update):\ngot:\n%s\nwant:\n%s", want, errText, wantErr)
			}
			for _, p := range union(files, wantFiles) {
				if !bytes.Equal(files[p], wantFiles[p]) {
					t.Errorf("%s differs from the golden (run `go test ./generator -update` and review the diff)", p)
				}
			}
		})
	}
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for p, x := range a {
		if !bytes.Equal(x, b[p]) {
			return false
		}
	}
	return true
}

func union(a, b map[string][]byte) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func writeTree(t *testing.T, dir string, files map[string][]byte, errText string) {
	t.Helper()
	if errText != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "error.txt"), []byte(errText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, b := range files {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readTree(t *testing.T, dir string) (map[string][]byte, string) {
	t.Helper()
	files := map[string][]byte{}
	var errText string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "error.txt" {
			errText = string(b)
			return nil
		}
		files[rel] = b
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files, strings.TrimSuffix(errText, "\n") + map[bool]string{true: "\n", false: ""}[errText != ""]
}
