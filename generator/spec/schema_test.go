package spec_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestSchemasUpToDate fails when schemas/ drifts from the Go types; `make schemas` fixes it.
func TestSchemasUpToDate(t *testing.T) {
	for _, kind := range spec.SchemaKinds {
		t.Run(kind, func(t *testing.T) {
			want, err := spec.Schema(kind)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "..", "schemas", spec.SchemaFile(kind))
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading %s: %v (run `make schemas`)", path, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is out of date with the Go types in generator/spec; run `make schemas` and commit it", path)
			}
		})
	}
}

func TestSchemaIsDeterministicAndDocumented(t *testing.T) {
	a, err := spec.Schema(spec.KindTeam)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := spec.Schema(spec.KindTeam)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two generations of the team schema differ")
		}
	}
	var s struct {
		Defs map[string]struct {
			Description          string                     `json:"description"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(a, &s); err != nil {
		t.Fatal(err)
	}
	app, ok := s.Defs["App"]
	if !ok {
		t.Fatal("no App definition in the team schema")
	}
	if app.Description == "" {
		t.Error("App has no description; doc comments are not reaching the schema")
	}
	if app.AdditionalProperties == nil || *app.AdditionalProperties {
		t.Error("App allows unknown fields; want additionalProperties: false")
	}
	var port struct {
		Description string `json:"description"`
		Minimum     int    `json:"minimum"`
	}
	if err := json.Unmarshal(app.Properties["port"], &port); err != nil {
		t.Fatal(err)
	}
	if port.Minimum != 1024 || port.Description == "" {
		t.Errorf("App.port = %+v; want minimum 1024 and a description", port)
	}
}
