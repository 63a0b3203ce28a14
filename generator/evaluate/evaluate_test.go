package evaluate_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-jsonnet"

	"github.com/rampart-gitops/rampart/generator/evaluate"
)

func TestErrorsCarryTemplatePositions(t *testing.T) {
	tests := []struct {
		name string
		lib  fstest.MapFS
		want []string
	}{
		{
			name: "runtime error names the libsonnet line",
			lib: fstest.MapFS{
				"team.jsonnet":   {Data: []byte("local w = import 'work.libsonnet';\nfunction(cluster, team, intents) { tenant: [], files: { 'a.yaml': [w.obj(team)] } }\n")},
				"work.libsonnet": {Data: []byte("{\n  obj(team):: error 'replicas must be set for ' + team.name,\n}\n")},
			},
			want: []string{"lib/work.libsonnet:2", "replicas must be set for payments"},
		},
		{
			name: "syntax error names file line and column",
			lib: fstest.MapFS{
				"team.jsonnet": {Data: []byte("function(cluster, team, intents) {\n  tenant: [,\n}\n")},
			},
			want: []string{"lib/team.jsonnet:2"},
		},
		{
			name: "import outside lib is refused",
			lib: fstest.MapFS{
				"team.jsonnet": {Data: []byte("local x = import '../secrets.libsonnet';\nfunction(cluster, team, intents) x\n")},
			},
			want: []string{"leaves lib/"},
		},
		{
			name: "file names cannot leave the directory",
			lib: fstest.MapFS{
				"team.jsonnet": {Data: []byte("function(cluster, team, intents) { tenant: [], files: { '../../platform/x.yaml': [] } }\n")},
			},
			want: []string{"plain name ending in .yaml"},
		},
		{
			name: "objects need apiVersion kind and name",
			lib: fstest.MapFS{
				"team.jsonnet": {Data: []byte("function(cluster, team, intents) { tenant: [{ kind: 'Namespace' }], files: {} }\n")},
			},
			want: []string{"tenant[0]", "apiVersion, kind and metadata.name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := evaluate.New(tt.lib, "lib")
			_, err := ev.Team(evaluate.ParseArg("x", json.RawMessage(`{}`)), evaluate.ParseArg("x", json.RawMessage(`{"name": "payments"}`)), evaluate.ParseArg("x", json.RawMessage(`{}`)))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestTeamOutputGroupsObjectsByFile(t *testing.T) {
	lib := fstest.MapFS{
		"team.jsonnet": {Data: []byte(`function(cluster, team, intents) {
  tenant: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: team.name } }],
  files: { [a + '.yaml']: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: a, namespace: team.name } }] for a in team.apps },
}
`)},
	}
	out, err := evaluate.New(lib, "lib").Team(evaluate.ParseArg("x", json.RawMessage(`{}`)), evaluate.ParseArg("x", json.RawMessage(`{"name": "pay", "apps": ["api", "worker"]}`)), evaluate.ParseArg("x", json.RawMessage(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tenant) != 1 || out.Tenant[0].GetName() != "pay" {
		t.Errorf("tenant = %v", out.Tenant)
	}
	if len(out.Files) != 2 || out.Files["worker.yaml"][0].GetName() != "worker" {
		t.Errorf("files = %v", out.Files)
	}
}

// TestTeamValuesAreTheJSONValues: the values an entry point hands back through the
// native function are what encoding/json decodes from go-jsonnet's JSON text of the
// same value, numbers and strings alike.
func TestTeamValuesAreTheJSONValues(t *testing.T) {
	body := `{
  tenant: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: team.name }, data: {
    int: 3, neg: -7, zero: -0, frac: 0.1 + 0.2, big: 1e300, tiny: 5e-324, exp: 2e21,
    text: 'caf\u00e9 \u2603 "quoted" \\ tab\t nl\n \u0000 end', empty: '', t: true, f: false, n: null,
    list: [1, 'two', [3], { four: 4 }], nested: { a: { b: { c: [] } } },
  } }],
  files: { 'a.yaml': [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 8080 }] } }] },
  runtime: [{ rule: 'r', priority: 'WARNING' }],
}`
	lib := fstest.MapFS{"team.jsonnet": {Data: []byte("function(cluster, team, intents) " + body + "\n")}}
	got, err := evaluate.New(lib, "lib").Team(evaluate.ParseArg("x", json.RawMessage(`{}`)), evaluate.ParseArg("x", json.RawMessage(`{"name": "pay"}`)), evaluate.ParseArg("x", json.RawMessage(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	vm := jsonnet.MakeVM()
	js, err := vm.EvaluateAnonymousSnippet("want.jsonnet", "local team = {name: 'pay'};\n"+body)
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Tenant  []map[string]any            `json:"tenant"`
		Files   map[string][]map[string]any `json:"files"`
		Runtime []map[string]any            `json:"runtime"`
	}
	if err := json.Unmarshal([]byte(js), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Tenant[0].Object, want.Tenant[0]) {
		t.Errorf("tenant object\n got %#v\nwant %#v", got.Tenant[0].Object, want.Tenant[0])
	}
	if !reflect.DeepEqual(got.Files["a.yaml"][0].Object, want.Files["a.yaml"][0]) {
		t.Errorf("file object\n got %#v\nwant %#v", got.Files["a.yaml"][0].Object, want.Files["a.yaml"][0])
	}
	if !reflect.DeepEqual(got.Runtime, want.Runtime) {
		t.Errorf("runtime\n got %#v\nwant %#v", got.Runtime, want.Runtime)
	}
}

// TestResultShapeErrors: an entry point that returns something other than the
// output's shape gets an error saying what the shape is and what is wrong.
func TestResultShapeErrors(t *testing.T) {
	tests := []struct{ name, result, want string }{
		{"not an object", `[]`, "got a list"},
		{"unknown field", `{ tenant: [], files: {}, extra: 1 }`, `unknown field "extra"`},
		{"tenant not a list", `{ tenant: {}, files: {} }`, "tenant: got an object, want a list of objects"},
		{"element not an object", `{ tenant: ['x'], files: {} }`, "tenant: [0]: got a string, want an object"},
		{"files not an object", `{ tenant: [], files: [] }`, "files: got a list"},
		{"file not a list", `{ tenant: [], files: { 'a.yaml': 'x' } }`, `files["a.yaml"]: got a string`},
		{"runtime not a list", `{ tenant: [], files: {}, runtime: 1 }`, "runtime: got a number"},
		{"null object", `{ tenant: [null], files: {} }`, "tenant[0]: an object needs apiVersion"},
		{"wrong parameter", ``, "it must be a function(cluster, intents, team): function has no parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "function(cluster, team, intents) " + tt.result + "\n"
			if tt.result == "" {
				src = "function(cluster, team) {}\n"
			}
			lib := fstest.MapFS{"team.jsonnet": {Data: []byte(src)}}
			_, err := evaluate.New(lib, "lib").Team(evaluate.ParseArg("x", json.RawMessage(`{}`)), evaluate.ParseArg("x", json.RawMessage(`{}`)), evaluate.ParseArg("x", json.RawMessage(`{}`)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "lib/team.jsonnet") {
				t.Errorf("error %v, want one naming lib/team.jsonnet and containing %q", err, tt.want)
			}
		})
	}
}

// TestAppsFilesJoinEachCluster: apps.jsonnet renders once for the team, and each
// cluster's output holds copies of its objects beside team.jsonnet's, in the same
// file; a change to one cluster's copy does not reach another's.
func TestAppsFilesJoinEachCluster(t *testing.T) {
	lib := fstest.MapFS{
		"apps.jsonnet": {Data: []byte(`function(team) { files: { 'a.yaml': [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a', namespace: team.name } }] } }`)},
		"team.jsonnet": {Data: []byte(`function(cluster, team, intents) {
  tenant: [],
  files: { 'a.yaml': [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a-' + cluster.name, namespace: team.name } }] },
}`)},
	}
	ev := evaluate.New(lib, "lib")
	team := evaluate.ParseArg("team", json.RawMessage(`{"name": "pay"}`))
	apps, err := ev.Apps(team)
	if err != nil {
		t.Fatal(err)
	}
	var outs []*evaluate.Output
	for _, c := range []string{"dev", "prod"} {
		out, err := ev.TeamWith(evaluate.ParseArg("cluster", json.RawMessage(`{"name": "`+c+`"}`)), team, evaluate.ParseArg("x", json.RawMessage(`{}`)), apps)
		if err != nil {
			t.Fatal(err)
		}
		objs := out.Files["a.yaml"]
		if len(objs) != 2 || objs[0].GetKind() != "ServiceAccount" || objs[1].GetName() != "a-"+c {
			t.Fatalf("cluster %s: a.yaml holds %v", c, objs)
		}
		outs = append(outs, out)
	}
	outs[0].Files["a.yaml"][0].SetName("changed")
	if outs[1].Files["a.yaml"][0].GetName() != "a" || apps.Files["a.yaml"][0].GetName() != "a" {
		t.Error("the clusters share one object; each must get its own copy")
	}
	if whole, err := ev.Team(evaluate.ParseArg("cluster", json.RawMessage(`{"name": "dev"}`)), team, evaluate.ParseArg("x", json.RawMessage(`{}`))); err != nil || len(whole.Files["a.yaml"]) != 2 {
		t.Errorf("Team without the shared output: %v, %v", whole, err)
	}
}

// TestAppsRendersFilesOnly: what differs per cluster cannot come from apps.jsonnet.
func TestAppsRendersFilesOnly(t *testing.T) {
	lib := fstest.MapFS{"apps.jsonnet": {Data: []byte(`function(team) { tenant: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }], files: {} }`)}}
	_, err := evaluate.New(lib, "lib").Apps(evaluate.ParseArg("team", json.RawMessage(`{}`)))
	if err == nil || !strings.Contains(err.Error(), "lib/apps.jsonnet") || !strings.Contains(err.Error(), "files only") {
		t.Errorf("error %v, want one saying apps.jsonnet renders files only", err)
	}
}

// TestRuntimeSeesOnlyItsClusterFields: lib/runtime.jsonnet's rules get the cluster cut
// down to the fields its `cluster` lists, so a rule that reads another field fails
// loudly instead of making the rules differ between clusters the render shares them
// across.
func TestRuntimeSeesOnlyItsClusterFields(t *testing.T) {
	lib := fstest.MapFS{"runtime.jsonnet": {Data: []byte(`{
  cluster: ['spec.cni', 'spec.runtime.minimumPriority', 'spec.absent'],
  rules(cluster, team, intents):: [{ rule: team.name + ' on ' + cluster.spec.cni, priority: cluster.spec.runtime.minimumPriority, calls: std.length(intents.outgoing) }]
    + (if team.name == 'nosy' then [{ rule: cluster.metadata.name }] else []),
}`)}}
	ev := evaluate.New(lib, "lib")
	fields, ok, err := ev.RuntimeFields()
	if err != nil || !ok || !reflect.DeepEqual(fields, []string{"spec.cni", "spec.runtime.minimumPriority", "spec.absent"}) {
		t.Fatalf("RuntimeFields() = %v, %v, %v", fields, ok, err)
	}
	full := json.RawMessage(`{"metadata": {"name": "prod-weu"}, "spec": {"cni": "cilium", "environment": "production", "runtime": {"enabled": true, "minimumPriority": "ERROR", "shards": 3}}}`)
	projected, err := evaluate.ProjectCluster(full, fields)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"spec":{"cni":"cilium","runtime":{"minimumPriority":"ERROR"}}}`; string(projected) != want {
		t.Errorf("ProjectCluster = %s, want %s", projected, want)
	}
	cluster := evaluate.ParseArg("cluster", projected)
	intents := evaluate.ParseArg("intents", json.RawMessage(`{"outgoing": {"api": []}}`))
	rules, err := ev.Runtime(cluster, evaluate.ParseArg("team", json.RawMessage(`{"name": "pay"}`)), intents)
	if err != nil {
		t.Fatal(err)
	}
	if want := []map[string]any{{"rule": "pay on cilium", "priority": "ERROR", "calls": 1.0}}; !reflect.DeepEqual(rules, want) {
		t.Errorf("Runtime = %v, want %v", rules, want)
	}
	_, err = ev.Runtime(cluster, evaluate.ParseArg("team", json.RawMessage(`{"name": "nosy"}`)), intents)
	if err == nil || !strings.Contains(err.Error(), "metadata") || !strings.Contains(err.Error(), "lib/runtime.jsonnet") {
		t.Errorf("reading a field outside the projection: error %v, want one naming the field and lib/runtime.jsonnet", err)
	}
}

func TestRuntimeEntryIsOptionalAndChecked(t *testing.T) {
	if _, ok, err := evaluate.New(fstest.MapFS{}, "lib").RuntimeFields(); ok || err != nil {
		t.Errorf("without runtime.jsonnet: ok %v, err %v; want neither", ok, err)
	}
	for _, bad := range []string{`{ cluster: 'spec.cni', rules(cluster, team, intents):: [] }`, `{ cluster: ['spec..cni'], rules(cluster, team, intents):: [] }`, `{ cluster: [1], rules(cluster, team, intents):: [] }`} {
		_, _, err := evaluate.New(fstest.MapFS{"runtime.jsonnet": {Data: []byte(bad)}}, "lib").RuntimeFields()
		if err == nil || !strings.Contains(err.Error(), "lib/runtime.jsonnet") || !strings.Contains(err.Error(), "cluster") {
			t.Errorf("%s: error %v, want one naming lib/runtime.jsonnet's cluster field", bad, err)
		}
	}
	ev := evaluate.New(fstest.MapFS{"runtime.jsonnet": {Data: []byte(`{ cluster: [], rules: [] }`)}}, "lib")
	_, err := ev.Runtime(evaluate.ParseArg("cluster", json.RawMessage(`{}`)), evaluate.ParseArg("team", json.RawMessage(`{}`)), evaluate.ParseArg("intents", json.RawMessage(`{}`)))
	if err == nil || !strings.Contains(err.Error(), "rules must be a function(cluster, team, intents)") {
		t.Errorf("rules not a function: error %v", err)
	}
}
