package manifest

import (
	"encoding/json"
	"math"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// marshalYAML encodes v exactly as sigs.k8s.io/yaml.Marshal does (which encodes to
// JSON, decodes that with go-yaml to pick number types, and encodes with go-yaml),
// without the round trip through JSON: the values are converted the way that round
// trip converts them, then encoded by go-yaml directly. Encoding is most of what a
// render writes, so this is worth its TestMarshalYAMLMatches.
func marshalYAML(v any) ([]byte, error) {
	return appendYAML(nil, v)
}

// appendYAML appends marshalYAML's encoding of v to dst.
func appendYAML(dst []byte, v any) ([]byte, error) {
	if m, ok := v.(map[string]any); ok {
		if out, ok := appendBlockYAML(dst, m); ok {
			return out, nil
		}
	}
	y, err := slowYAML(v)
	return append(dst, y...), err
}

// slowYAML is marshalYAML by go-yaml.
func slowYAML(v any) ([]byte, error) {
	n, ok := normalize(v)
	if !ok {
		return yaml.Marshal(v)
	}
	return yamlv2.Marshal(n)
}

// normalize converts a JSON-shaped value to what go-yaml decodes from its JSON: whole
// numbers become int, absent (nil) maps and slices become null. It reports false for
// a value it does not know, which then takes the JSON round trip.
func normalize(v any) (any, bool) {
	switch t := v.(type) {
	case nil, string, bool:
		return t, true
	case map[string]any:
		if t == nil {
			return nil, true
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			n, ok := normalize(x)
			if !ok {
				return nil, false
			}
			out[k] = n
		}
		return out, true
	case []any:
		if t == nil {
			return nil, true
		}
		out := make([]any, len(t))
		for i, x := range t {
			n, ok := normalize(x)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	case []string:
		if t == nil {
			return nil, true
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = x
		}
		return out, true
	case float64:
		return number(t)
	case float32:
		return number(float64(t))
	case int:
		return t, true
	case int64:
		return int(t), true
	case int32:
		return int(t), true
	case json.Number:
		return nil, false
	}
	return nil, false
}

// number is a float as go-yaml decodes its JSON encoding: an int when encoding/json
// writes it without a fraction or exponent, else the float.
func number(f float64) (any, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false // encoding/json refuses these
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		if math.Abs(f) < 1<<53 {
			return int(f), true
		}
		return nil, false
	}
	return f, true
}
