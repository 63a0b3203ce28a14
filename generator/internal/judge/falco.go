package judge

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The Falco judges check the rules files Rampart renders into the clusters' Falco
// ConfigMaps: against the JSON Schema Falco embeds (falco/rule_json_schema.json),
// and by compiling every condition, with its macros, lists and exceptions
// expanded, with libsinsp's own filter compiler (falco-filter, a few lines of C++
// in .ci/judges/falco-filter built against Debian's libfalcosecurity0-dev).

// FalcoFilterVersion is the libsinsp Debian ships (bookworm), which falco-filter is
// built against: the 2022 library, older than the Falco the chart runs.
const FalcoFilterVersion = "0.1.1dev+git20220316.e5c53d64"

// EnvFalcoFilter points the judge at a falco-filter binary.
const EnvFalcoFilter = "RAMPART_FALCO_FILTER"

// ErrMissingFalcoFilter is wrapped by [FindFalcoFilter] when falco-filter is not
// built; its message says how to build it.
var ErrMissingFalcoFilter = errors.New("the Falco condition judge is not installed: run `make judges` (bash .ci/install-judges; it needs Debian's libfalcosecurity0-dev, libtbb-dev, libjsoncpp-dev, libcurl4-openssl-dev and g++)")

// FindFalcoFilter looks for falco-filter in $RAMPART_FALCO_FILTER, then in the
// cache .ci/install-judges builds into, then on PATH.
func FindFalcoFilter() (string, error) {
	cached := ""
	if dir := JudgesDir(); dir != "" {
		cached = filepath.Join(dir, "falco-filter-"+FalcoFilterVersion, "falco-filter")
	}
	p, err := findBinary(EnvFalcoFilter, "falco-filter", cached)
	if err != nil {
		return "", fmt.Errorf("finding falco-filter: %w: %w", err, ErrMissingFalcoFilter)
	}
	return p, nil
}

//go:embed falco/rule_json_schema.json
var falcoRuleSchema []byte

// FalcoRuleSchema compiles Falco's rule schema.
func FalcoRuleSchema() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(falcoRuleSchema))
	if err != nil {
		return nil, fmt.Errorf("reading Falco's rule schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("falco-rule-schema.json", doc); err != nil {
		return nil, fmt.Errorf("reading Falco's rule schema: %w", err)
	}
	s, err := c.Compile("falco-rule-schema.json")
	if err != nil {
		return nil, fmt.Errorf("compiling Falco's rule schema: %w", err)
	}
	return s, nil
}

// FalcoItem is one item of a rules file: a rule, a macro or a list.
type FalcoItem struct {
	Rule       string            `json:"rule,omitempty"`
	Macro      string            `json:"macro,omitempty"`
	List       string            `json:"list,omitempty"`
	Items      []any             `json:"items,omitempty"`
	Desc       string            `json:"desc,omitempty"`
	Condition  string            `json:"condition,omitempty"`
	Output     string            `json:"output,omitempty"`
	Priority   string            `json:"priority,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Exceptions []FalcoException  `json:"exceptions,omitempty"`
	Override   map[string]string `json:"override,omitempty"`
}

// FalcoException is a rule's exception.
type FalcoException struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
	Comps  []string `json:"comps"`
	Values [][]any  `json:"values"`
}

// ReadFalcoRules validates a rules file against Falco's schema and decodes it.
func ReadFalcoRules(schema *jsonschema.Schema, name string, b []byte) ([]FalcoItem, error) {
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not YAML: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := schema.Validate(doc); err != nil {
		return nil, fmt.Errorf("%s: Falco's rule schema refuses it: %w", name, err)
	}
	var items []FalcoItem
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return items, nil
}

// FalcoCheck is one filter expression for falco-filter: a rule's condition with its
// macros and lists expanded and its exceptions applied, or an exception on its own.
type FalcoCheck struct {
	Name      string
	Condition string
}

// token splits a condition into quoted strings, words and single characters.
var token = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\-/\[\]:*]+|\s+|.`)

// Expand replaces macros (by their expanded conditions, in parentheses) and lists
// (by their items) in a condition, the way Falco's rule loader does.
func Expand(cond string, macros map[string]string, lists map[string][]string) (string, error) {
	var out strings.Builder
	for _, t := range token.FindAllString(cond, -1) {
		switch {
		case lists[t] != nil:
			out.WriteString(strings.Join(lists[t], ", "))
		case macros[t] != "":
			out.WriteString("(" + macros[t] + ")")
		default:
			out.WriteString(t)
		}
	}
	return out.String(), nil
}

// ExceptionCondition is what Falco's rule loader makes of a rule's exceptions:
// an event matches an exception when every field compares true with its value.
func ExceptionCondition(exs []FalcoException) string {
	var any []string
	for _, ex := range exs {
		for _, vs := range ex.Values {
			var all []string
			for i, f := range ex.Fields {
				comp := "="
				if i < len(ex.Comps) {
					comp = ex.Comps[i]
				}
				all = append(all, f+" "+comp+" "+falcoValue(vs[i]))
			}
			any = append(any, "("+strings.Join(all, " and ")+")")
		}
	}
	return strings.Join(any, " or ")
}

func falcoValue(v any) string {
	switch t := v.(type) {
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = falcoValue(x)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case string:
		b, _ := json.Marshal(t)
		return string(b)
	}
	return fmt.Sprint(v)
}

// FalcoChecks are the expressions to compile for rules files loaded in order: every
// rule's full condition, and every exception appended to a rule defined elsewhere
// (an upstream rule), on its own. It also returns the upstream rules overridden.
func FalcoChecks(files [][]FalcoItem) (checks []FalcoCheck, overridden []string, err error) {
	macros, lists := map[string]string{}, map[string][]string{}
	defined := map[string]bool{}
	for _, items := range files {
		for _, it := range items {
			switch {
			case it.List != "":
				var xs []string
				for _, x := range it.Items {
					xs = append(xs, fmt.Sprint(x))
				}
				lists[it.List] = xs
			case it.Macro != "":
				c, err := Expand(it.Condition, macros, lists)
				if err != nil {
					return nil, nil, err
				}
				macros[it.Macro] = c
			case it.Rule != "" && len(it.Override) > 0:
				if defined[it.Rule] {
					return nil, nil, fmt.Errorf("rule %q overrides a rule of Rampart's own files", it.Rule)
				}
				overridden = append(overridden, it.Rule)
				for k, v := range it.Override {
					if v != "append" || (k != "exceptions" && k != "condition") {
						return nil, nil, fmt.Errorf("rule %q: override %s: %s; Rampart appends exceptions or conditions only", it.Rule, k, v)
					}
				}
				if len(it.Exceptions) > 0 {
					checks = append(checks, FalcoCheck{Name: it.Rule + " (exceptions appended)", Condition: ExceptionCondition(it.Exceptions)})
				}
			case it.Rule != "":
				if defined[it.Rule] {
					return nil, nil, fmt.Errorf("rule %q is defined twice", it.Rule)
				}
				defined[it.Rule] = true
				c, err := Expand(it.Condition, macros, lists)
				if err != nil {
					return nil, nil, err
				}
				if len(it.Exceptions) > 0 {
					c = "(" + c + ") and not (" + ExceptionCondition(it.Exceptions) + ")"
				}
				checks = append(checks, FalcoCheck{Name: it.Rule, Condition: c})
				var fields []string
				for _, m := range outputField.FindAllStringSubmatch(it.Output, -1) {
					fields = append(fields, m[1]+" exists")
				}
				if len(fields) > 0 {
					checks = append(checks, FalcoCheck{Name: it.Rule + " (output fields)", Condition: strings.Join(fields, " and ")})
				}
			}
		}
	}
	slices.Sort(overridden)
	return checks, slices.Compact(overridden), nil
}

// outputField finds the %fields of an output.
var outputField = regexp.MustCompile(`%([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?:\[[^\]]*\])?)`)

// fieldToken is a field name in a condition: dotted words, not in quotes.
var fieldToken = regexp.MustCompile(`^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?:\[[^\]]*\])?$`)

// Fields are the fields a condition uses, sorted.
func Fields(cond string) []string {
	var out []string
	for _, t := range token.FindAllString(cond, -1) {
		if fieldToken.MatchString(t) {
			out = append(out, strings.SplitN(t, "[", 2)[0])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Substitute replaces the field old by new wherever a condition uses it.
func Substitute(cond, old, new string) string {
	var out strings.Builder
	for _, t := range token.FindAllString(cond, -1) {
		if t == old {
			t = new
		}
		out.WriteString(t)
	}
	return out.String()
}

// FalcoFilterFields lists the fields falco-filter's library knows.
func FalcoFilterFields(bin string) (map[string]bool, error) {
	out, err := exec.Command(bin, "fields").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s fields: %w", bin, err)
	}
	known := map[string]bool{}
	for _, f := range strings.Fields(string(out)) {
		known[f] = true
	}
	return known, nil
}

// FalcoCompileResult is falco-filter's verdict on one check.
type FalcoCompileResult struct {
	Name  string
	Error string // empty when it compiled
}

// CompileFalco compiles every check with falco-filter.
func CompileFalco(bin string, checks []FalcoCheck) ([]FalcoCompileResult, error) {
	var in bytes.Buffer
	for i, c := range checks {
		if strings.ContainsAny(c.Condition, "\t\n") {
			return nil, fmt.Errorf("check %q holds a tab or a newline", c.Name)
		}
		fmt.Fprintf(&in, "%d\t%s\n", i, c.Condition)
	}
	cmd := exec.Command(bin, "compile")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, fmt.Errorf("running %s compile: %w", bin, err)
	}
	var results []FalcoCompileResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		var i int
		if len(parts) < 2 {
			continue
		}
		if _, err := fmt.Sscan(parts[1], &i); err != nil || i < 0 || i >= len(checks) {
			return nil, fmt.Errorf("falco-filter answered %q", sc.Text())
		}
		r := FalcoCompileResult{Name: checks[i].Name}
		if parts[0] != "ok" {
			r.Error = "did not compile"
			if len(parts) == 3 {
				r.Error = parts[2]
			}
		}
		results = append(results, r)
	}
	if len(results) != len(checks) {
		return nil, fmt.Errorf("falco-filter judged %d of %d conditions (%s)", len(results), len(checks), strings.TrimSpace(stderr.String()))
	}
	return results, nil
}

// BuildFalcoFilter compiles .ci/judges/falco-filter/falco-filter.cpp from the
// repository root into out with g++, as .ci/install-judges does.
func BuildFalcoFilter(root, out string) error {
	inc := "/usr/include/falcosecurity-libs"
	if _, err := os.Stat(filepath.Join(inc, "userspace", "libsinsp", "filter.h")); err != nil {
		return fmt.Errorf("libsinsp's headers are not installed (%s): %w", inc, ErrMissingFalcoFilter)
	}
	if _, err := exec.LookPath("g++"); err != nil {
		return fmt.Errorf("g++ is not installed: %w", ErrMissingFalcoFilter)
	}
	args := []string{"-std=c++17", "-O1", "-o", out, filepath.Join(root, ".ci", "judges", "falco-filter", "falco-filter.cpp")}
	for _, d := range []string{"userspace/libsinsp", "userspace/libscap", "userspace", "common", ""} {
		args = append(args, "-I"+filepath.Join(inc, d))
	}
	args = append(args, "-I/usr/include/jsoncpp", "-lsinsp", "-lscap")
	if b, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("building falco-filter: %w: %s", err, b)
	}
	return nil
}
