package judge_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/internal/judge"
)

// upstreamRules are the rules of falco_rules.yaml, the file the Falco chart loads
// by default (falcosecurity/rules, falco-rules-5.1.0, rules/falco_rules.yaml; the
// chart's falcoctl installs falco-rules:5). Rampart's files may override only these:
// the sandbox and incubating files are not loaded by default.
var upstreamRules = []string{
	"Directory traversal monitored file read", "Read sensitive file trusted after startup",
	"Read sensitive file untrusted", "Run shell untrusted", "System user interactive",
	"Terminal shell in container", "Contact K8S API Server From Container",
	"Netcat Remote Code Execution in Container", "Search Private Keys or Passwords",
	"Clear Log Activities", "Remove Bulk Data from Disk", "Create Symlink Over Sensitive Files",
	"Create Hardlink Over Sensitive Files", "Packet socket created in container",
	"Redirect STDOUT/STDIN to Network Connection in Container", "Linux Kernel Module Injection Detected",
	"Debugfs Launched in Privileged Container", "Detect release_agent File Container Escapes",
	"PTRACE attached to process", "PTRACE anti-debug attempt", "Find AWS Credentials",
	"Execution from /dev/shm", "Drop and execute new binary in container",
	"Disallowed SSH Connection Non Standard Port", "Fileless execution via memfd_create",
}

// newerFields are fields current Falco (0.44) documents that the 2022 libsinsp
// falco-filter is built on does not know, each with a field of the same type the
// old library knows, which stands in for it so the rest of the condition compiles.
var newerFields = map[string]string{
	// proc.is_exe_upper_layer: the executable is in the overlay's upper layer, not
	// the image (Falco >= 0.36; falco.org/docs/reference/rules/supported-fields).
	"proc.is_exe_upper_layer": "proc.is_exe_writable",
}

// falcoCluster is one rendered cluster's Falco rules files, in the order Falco
// loads /etc/falco/rules.d (file name order across the shards).
type falcoCluster struct {
	dir   string
	names []string
	files map[string][]byte
}

func renderedFalco(t *testing.T) []falcoCluster {
	t.Helper()
	root := repoRoot(t)
	var out []falcoCluster
	for _, pattern := range []string{"clusters/*", "generator/testdata/golden/*/want/clusters/*"} {
		dirs, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range dirs {
			shards, _ := filepath.Glob(filepath.Join(dir, "platform", "falco-rules-*.yaml"))
			if len(shards) == 0 {
				continue
			}
			rel, _ := filepath.Rel(root, dir)
			c := falcoCluster{dir: filepath.ToSlash(rel), files: map[string][]byte{}}
			for _, s := range shards {
				b, err := os.ReadFile(s)
				if err != nil {
					t.Fatal(err)
				}
				var cm struct {
					Kind string            `json:"kind"`
					Data map[string]string `json:"data"`
				}
				if err := yaml.Unmarshal(b, &cm); err != nil || cm.Kind != "ConfigMap" {
					t.Fatalf("%s: not a ConfigMap: %v", s, err)
				}
				for k, v := range cm.Data {
					if _, dup := c.files[k]; dup {
						t.Errorf("%s: %s is in two shards: the projected volume would refuse it", s, k)
					}
					c.files[k] = []byte(v)
					c.names = append(c.names, k)
				}
			}
			slices.Sort(c.names)
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatal("no rendered Falco rules under clusters/*/platform or the golden cases")
	}
	return out
}

// TestFalcoRuleSchema validates every rendered rules file against the JSON Schema
// Falco itself validates rules files with, and checks what the schema cannot: the
// common file loads first, every rule of Rampart's names its team and app and has
// what a rule needs, and only rules of falco_rules.yaml are overridden.
func TestFalcoRuleSchema(t *testing.T) {
	schema, err := judge.FalcoRuleSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range renderedFalco(t) {
		t.Run(c.dir, func(t *testing.T) {
			if c.names[0] != "rampart-common.yaml" {
				t.Errorf("Falco loads %s before rampart-common.yaml, whose macros it uses", c.names[0])
			}
			rules := 0
			for _, name := range c.names {
				items, err := judge.ReadFalcoRules(schema, name, c.files[name])
				if err != nil {
					t.Error(err)
					continue
				}
				team := strings.TrimSuffix(strings.TrimPrefix(name, "rampart-team-"), ".yaml")
				for _, it := range items {
					switch {
					case it.Rule != "" && len(it.Override) > 0:
						if !slices.Contains(upstreamRules, it.Rule) {
							t.Errorf("%s: rule %q overrides a rule falco_rules.yaml does not define", name, it.Rule)
						}
					case it.Rule != "":
						rules++
						if it.Desc == "" || it.Condition == "" || it.Output == "" || it.Priority == "" {
							t.Errorf("%s: rule %q lacks desc, condition, output or priority", name, it.Rule)
						}
						if !strings.Contains(it.Desc, "Team "+team+", app ") || !strings.Contains(it.Output, " in "+team+"/") {
							t.Errorf("%s: rule %q does not name team %s and its app in desc and output", name, it.Rule, team)
						}
						if !slices.ContainsFunc(it.Tags, func(s string) bool { return strings.HasPrefix(s, "mitre_") }) {
							t.Errorf("%s: rule %q has no MITRE ATT&CK tag", name, it.Rule)
						}
					}
				}
			}
			t.Logf("%d files, %d rules of Rampart's, valid under Falco's rule schema", len(c.names), rules)
		})
	}
}

// falcoFilter finds falco-filter, or builds it from .ci/judges/falco-filter where
// libsinsp's headers and g++ are installed. Without it the test skips, except in
// CI (CI=true), where it fails.
func falcoFilter(t *testing.T) string {
	t.Helper()
	bin, err := judge.FindFalcoFilter()
	if err == nil {
		return bin
	}
	built := filepath.Join(t.TempDir(), "falco-filter")
	if berr := judge.BuildFalcoFilter(repoRoot(t), built); berr == nil {
		return built
	} else if os.Getenv("CI") == "true" {
		t.Fatal(err, berr)
	} else {
		t.Skip(err, "; ", berr)
	}
	return ""
}

// TestFalcoConditionsCompile compiles every rendered rule's condition, with its
// macros and lists expanded and its exceptions applied as Falco's loader applies
// them, every exception appended to an upstream rule, and every output's fields,
// with libsinsp's own filter compiler. Fields the 2022 library does not know are
// reported, and must be ones current Falco documents (newerFields).
func TestFalcoConditionsCompile(t *testing.T) {
	bin := falcoFilter(t)
	known, err := judge.FalcoFilterFields(bin)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := judge.FalcoRuleSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range renderedFalco(t) {
		t.Run(c.dir, func(t *testing.T) {
			var files [][]judge.FalcoItem
			for _, name := range c.names {
				items, err := judge.ReadFalcoRules(schema, name, c.files[name])
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, items)
			}
			checks, overridden, err := judge.FalcoChecks(files)
			if err != nil {
				t.Fatal(err)
			}
			newer := map[string]int{}
			for i := range checks {
				for _, f := range judge.Fields(checks[i].Condition) {
					if known[f] {
						continue
					}
					stand, ok := newerFields[f]
					if !ok {
						t.Errorf("%s: field %s is unknown to libsinsp %s and not one current Falco documents", checks[i].Name, f, judge.FalcoFilterVersion)
						continue
					}
					newer[f]++
					checks[i].Condition = judge.Substitute(checks[i].Condition, f, stand)
				}
			}
			results, err := judge.CompileFalco(bin, checks)
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, r := range results {
				if r.Error != "" {
					failed++
					t.Errorf("%s: %s", r.Name, r.Error)
				}
			}
			for _, f := range slices.Sorted(maps.Keys(newer)) {
				t.Logf("falco judge: %s is unknown to libsinsp %s (documented for current Falco); compiled with %s in its place, in %d conditions", f, judge.FalcoFilterVersion, newerFields[f], newer[f])
			}
			t.Logf("falco judge: %d conditions compiled by libsinsp %s (%d failed); upstream rules appended to: %s", len(results), judge.FalcoFilterVersion, failed, strings.Join(overridden, ", "))
		})
	}
}
