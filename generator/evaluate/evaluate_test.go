package evaluate_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

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
