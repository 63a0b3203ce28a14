package manifest

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBlockYAMLMatchesGoYAML: wherever the block encoder takes a value, it writes
// go-yaml's bytes; and it takes most of what Rampart renders (the committed example
// output), so the fast path is not silently lost.
func TestBlockYAMLMatchesGoYAML(t *testing.T) {
	var objects []map[string]any
	err := filepath.WalkDir("../../clusters", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || !strings.Contains(p, "/teams/") && !strings.Contains(p, "/tenants/") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		objs, err := Decode(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, o := range objs {
			objects = append(objects, o.Object)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	examples := len(objects)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		if m, ok := random(rng, 5).(map[string]any); ok {
			objects = append(objects, m)
		}
	}
	fast := 0
	for i, o := range objects {
		got, ok := appendBlockYAML(nil, o)
		if !ok {
			continue
		}
		if i < examples {
			fast++
		}
		want, err := slowYAML(o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("object %d:\ngot:\n%s\nwant:\n%s", i, got, want)
		}
	}
	// The teams' and tenants' objects are nearly all the block encoder's (the
	// platform's admission policies, CEL with quotes, are go-yaml's).
	if fast*100 < examples*85 {
		t.Errorf("the block encoder took %d of the %d example objects; it should take most", fast, examples)
	}
}

// TestKeyOrderMatchesGoYAML: keys sort as go-yaml sorts them, digits, zeros, case and
// punctuation included.
func TestKeyOrderMatchesGoYAML(t *testing.T) {
	keys := []string{"a", "A", "_", "a_b", "aB", "a-b", "a.b", "a/b", "a1", "a2", "a10", "a01", "a001", "a0", "a00", "a1b", "a1a", "a10b",
		"team-0003", "team-0030", "team-3", "team-10", "x9y", "x09y", "x90", "z", "Z", "~x", "x~", "b0c", "b00c", "b000", "10", "9", "09", "0", "1.5", "1_0"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		m := map[string]any{}
		for range 2 + rng.IntN(6) {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 {
				k += keys[rng.IntN(len(keys))]
			}
			m[k] = "v"
		}
		got, ok := appendBlockYAML(nil, m)
		if !ok {
			continue
		}
		want, err := slowYAML(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("keys %v:\ngot:\n%s\nwant:\n%s", m, got, want)
		}
	}
}

// FuzzBlockYAML compares the block encoder with go-yaml on strings anywhere in a
// nested value: as keys, values, list items, at several depths.
func FuzzBlockYAML(f *testing.F) {
	for _, s := range []string{"plain", "8080", "1.33", "10.0.0.0/8", "128Mi", "a b c", "x: y", "Host(`a.example.com`)", "2024-01-01", "0x1F", "1_000", "+1", ".5", "1:20", "yes", "", strings.Repeat("word ", 20)} {
		f.Add(s, "key", 1)
	}
	f.Fuzz(func(t *testing.T, s, k string, depth int) {
		if k == "" {
			k = "k"
		}
		var v any = map[string]any{k: s, "list": []any{s, map[string]any{k: []any{s}}}, s + "x": 1.0}
		for range depth % 6 {
			v = map[string]any{k: v, "s": []any{v, s}}
		}
		m := v.(map[string]any)
		got, ok := appendBlockYAML(nil, m)
		if !ok {
			return
		}
		want, err := slowYAML(m)
		if err != nil {
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got:\n%s\nwant:\n%s", got, want)
		}
	})
}
