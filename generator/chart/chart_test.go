package chart_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rampart-gitops/rampart/generator/chart"
)

func chartFS(templates map[string]string) fstest.MapFS {
	m := fstest.MapFS{
		"c/Chart.yaml":  {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
		"c/values.yaml": {Data: []byte("greeting: hello\n")},
	}
	for name, text := range templates {
		m["c/templates/"+name] = &fstest.MapFile{Data: []byte(text)}
	}
	return m
}

func TestRender(t *testing.T) {
	tests := []struct {
		name      string
		templates map[string]string
		values    map[string]any
		want      []string // Kind/ns/name, in order
		wantErr   string
	}{
		{
			name: "values override, namespace defaulted, files in order",
			templates: map[string]string{
				"b.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-b\ndata:\n  g: {{ .Values.greeting }}\n",
				"a.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-a\n",
				"NOTES.txt": "hi",
			},
			values: map[string]any{"greeting": "hej"},
			want:   []string{"ConfigMap/team/rel-a", "ConfigMap/team/rel-b"},
		},
		{
			name:      "lookup finds nothing: no cluster is asked",
			templates: map[string]string{"a.yaml": "{{- $s := lookup \"v1\" \"Secret\" \"kube-system\" \"x\" }}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: found-{{ len $s }}\n"},
			want:      []string{"ConfigMap/team/found-0"},
		},
		{
			name:      "hooks are refused",
			templates: map[string]string{"job.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n"},
			wantErr:   "Helm hook",
		},
		{
			name:      "missing value in strict mode",
			templates: map[string]string{"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n"},
			wantErr:   `map has no entry for key "nope"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := chart.Render(chartFS(tt.templates), chart.Release{Dir: "c", Name: "rel", Namespace: "team", Values: tt.values, KubeVersion: "1.33"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("objects = %v, want %v", got, tt.want)
			}
			if tt.values != nil {
				if g, _ := objs[1].Object["data"].(map[string]any)["g"].(string); g != "hej" {
					t.Errorf("values did not override: g = %q", g)
				}
			}
		})
	}
}
