package review

import (
	"encoding/json"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// falcoRules says which Falco rules, macros and lists a rules ConfigMap's change
// adds (+), changes (~) and removes (-), by name: a reviewer sees that one app's
// outbound rule moved, not that a file of a hundred rules did.
func falcoRules(base, head *unstructured.Unstructured) []string {
	b, h := falcoItems(base), falcoItems(head)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(h)) {
		switch was, ok := b[name]; {
		case !ok:
			out = append(out, "+falco "+name)
		case was != h[name]:
			out = append(out, "~falco "+name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b)) {
		if _, ok := h[name]; !ok {
			out = append(out, "-falco "+name)
		}
	}
	return out
}

// falcoItems reads a rules ConfigMap's items as canonical JSON, by kind and name
// ("rule 'rampart: shell (payments/api)'"); an upstream rule a team appends to is
// named with its file, as each team's file appends its own exception.
func falcoItems(o *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	if o == nil {
		return out
	}
	data, _, _ := unstructured.NestedStringMap(o.Object, "data")
	for key, text := range data {
		var items []map[string]any
		if yaml.Unmarshal([]byte(text), &items) != nil {
			out["file "+key] = text
			continue
		}
		for _, it := range items {
			name := ""
			for _, k := range []string{"rule", "macro", "list"} {
				if n, ok := it[k].(string); ok {
					name = k + " '" + n + "'"
				}
			}
			if _, ok := it["override"]; ok {
				name += " (appended by " + key + ")"
			}
			js, _ := json.Marshal(it)
			out[name] = string(js)
		}
	}
	return out
}
