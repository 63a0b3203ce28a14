package generator_test

import (
	"encoding/json"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/yaml"
)

// falcoRules reads every Falco rules item a render put in its clusters' rules
// ConfigMaps, as canonical JSON by cluster, file and item name.
func falcoRules(t *testing.T, files map[string][]byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, b := range files {
		if !strings.HasPrefix(path.Base(p), "falco-rules-") {
			continue
		}
		var cm struct {
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(b, &cm); err != nil {
			t.Fatal(err)
		}
		cluster := strings.Split(p, "/")[1]
		for key, rules := range cm.Data {
			var items []map[string]any
			if err := yaml.Unmarshal([]byte(rules), &items); err != nil {
				t.Fatalf("%s: %s: %v", p, key, err)
			}
			for _, it := range items {
				name, _ := it["rule"].(string)
				for _, k := range []string{"macro", "list"} {
					if n, ok := it[k].(string); ok {
						name = k + " " + n
					}
				}
				js, _ := json.Marshal(it)
				out[cluster+"/"+key+"/"+name] = string(js)
			}
		}
	}
	return out
}

// TestOutboundRuleFollowsItsApp: a change to one app's calls or egress changes that
// app's unexpected-outbound rule, on every cluster the team runs on where Falco
// runs, and no other Falco rule anywhere.
func TestOutboundRuleFollowsItsApp(t *testing.T) {
	dir := filepath.Join("testdata", "golden", "runtime")
	before := caseFS(t, dir)
	files, errText := renderCase(t, before)
	if errText != "" {
		t.Fatal(errText)
	}
	base := falcoRules(t, files)
	spec := string(before["teams/shop.yaml"].Data)
	for _, tc := range []struct {
		name, old, new, app string
	}{
		{
			name: "egress of web",
			old:  "        - cidr: 10.20.0.0/16\n",
			new:  "        - cidr: 10.30.0.0/16\n          ports: [{port: 6379}]\n        - cidr: 10.20.0.0/16\n",
			app:  "web",
		},
		{
			name: "calls of worker",
			old:  "      port: 8081\n      resources: {memory: 64Mi}\n",
			new:  "      port: 8081\n      resources: {memory: 64Mi}\n      calls:\n        - {app: web}\n",
			app:  "worker",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(spec, tc.old) {
				t.Fatalf("teams/shop.yaml no longer holds %q", tc.old)
			}
			after := fstest.MapFS{}
			for p, f := range before {
				after[p] = f
			}
			after["teams/shop.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(spec, tc.old, tc.new, 1))}
			files, errText := renderCase(t, after)
			if errText != "" {
				t.Fatal(errText)
			}
			got := falcoRules(t, files)
			var changed []string
			for _, k := range union2(base, got) {
				if base[k] != got[k] {
					changed = append(changed, k)
				}
			}
			rule := "rampart: unexpected-outbound (shop/" + tc.app + ")"
			var want []string
			for _, c := range []string{"dev", "prod"} {
				want = append(want, c+"/rampart-team-shop.yaml/"+rule)
			}
			if !slices.Equal(changed, want) {
				t.Errorf("changed Falco rules: %q; want only %q", changed, want)
			}
		})
	}
}

func union2(a, b map[string]string) []string {
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
