package manifest

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestMarshalYAMLMatches: the direct encoder writes what sigs.k8s.io/yaml writes, for
// the values objects hold (template output is float64, kustomize's is int64).
func TestMarshalYAMLMatches(t *testing.T) {
	values := []any{
		map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "labels": map[string]any{"a2": "1", "a10": "2", "A": "3"}},
			"data": map[string]any{"multi": "line one\nline two\n", "true": "true", "num": "8080", "empty": "", "colon": "a: b", "hash": "#x", "quote": "it's", "yes": "yes", "null": "null", "dash": "- x", "html": "<a href=\"x\">&</a>", "star": "*.example.com", "unicode": "é ✓"},
			"f":    8080.0, "g": 0.5, "h": int64(9090), "i": 1e21, "j": 1e-7, "k": -3.0, "l": nil, "m": []any{}, "n": map[string]any{}, "o": []any(nil), "p": map[string]any(nil),
			"q": []string{"a", "b"}, "r": []string(nil), "s": true, "t": []any{map[string]any{"x": 1.0}, []any{"y"}, nil},
		},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		values = append(values, random(rng, 4))
	}
	for i, v := range values {
		want, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalYAML(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("value %d:\ngot:\n%s\nwant:\n%s", i, got, want)
		}
	}
}

func random(rng *rand.Rand, depth int) any {
	strs := []string{"", "a", "true", "0", "1.5", "x: y", "- z", "multi\nline", " lead", "trail ", "~", "@at", "`tick`", "%p", "{b}", "[s]", "'q'", "\"d\"", "0x1F", "1e3", "on", "NO"}
	switch k := rng.IntN(8); {
	case depth == 0 || k < 3:
		switch rng.IntN(5) {
		case 0:
			return strs[rng.IntN(len(strs))]
		case 1:
			return float64(rng.IntN(100000)) - 50000
		case 2:
			return rng.Float64() * 1000
		case 3:
			return rng.IntN(2) == 0
		default:
			return nil
		}
	case k < 6:
		m := map[string]any{}
		for range rng.IntN(5) {
			m[strs[rng.IntN(len(strs))]+string(rune('a'+rng.IntN(26)))] = random(rng, depth-1)
		}
		return m
	default:
		var s []any
		for range rng.IntN(4) {
			s = append(s, random(rng, depth-1))
		}
		return s
	}
}
