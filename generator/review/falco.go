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
//
// Only the files (data keys) whose text differs are parsed: a shard holds the
// rules of dozens of teams, and a change touches one or two.
func falcoRules(base, head *unstructured.Unstructured) []string {
	bd, hd := falcoData(base), falcoData(head)
	for key, text := range hd {
		if was, ok := bd[key]; ok && was == text {
			delete(bd, key)
			delete(hd, key)
		}
	}
	b, h := falcoItems(bd), falcoItems(hd)
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

// falcoData are a rules ConfigMap's files, by key (none for nil).
func falcoData(o *unstructured.Unstructured) map[string]string {
	if o == nil {
		return map[string]string{}
	}
	data, _, _ := unstructured.NestedStringMap(o.Object, "data")
	if data == nil {
		data = map[string]string{}
	}
	return data
}

// falcoItems reads the items of a rules ConfigMap's files as canonical JSON, by
// kind and name ("rule 'rampart: shell (payments/api)'"); an upstream rule a team
// appends to is named with its file, as each team's file appends its own
// exception.
func falcoItems(data map[string]string) map[string]string {
	out := map[string]string{}
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
