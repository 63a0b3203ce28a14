package spec

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"strings"
	"sync"

	"github.com/invopop/jsonschema"
)

// sources holds this package's own Go files, so the JSON Schemas carry the doc
// comments of the types as descriptions without a generated file to keep in sync.
//
//go:embed team.go cluster.go config.go
var sources embed.FS

// SchemaBaseURL is where the published schemas live; editors only need the relative
// path in the yaml-language-server modeline.
const SchemaBaseURL = "https://rampart.dev/schemas/"

// SchemaFile returns the schema's file name for a document kind, e.g. team.schema.json.
func SchemaFile(kind string) string {
	return strings.ToLower(kind) + ".schema.json"
}

// Schema returns the JSON Schema (draft 2020-12) of a document kind, generated from
// the Go types. The bytes are deterministic.
func Schema(kind string) ([]byte, error) {
	var v any
	switch kind {
	case KindTeam:
		v = &Team{}
	case KindCluster:
		v = &Cluster{}
	case KindConfig:
		v = &Config{}
	default:
		return nil, fmt.Errorf("generating schema: unknown kind %q", kind)
	}
	docs, err := loadDocs()
	if err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{
		LookupComment: func(t reflect.Type, field string) string {
			if t.PkgPath() != reflect.TypeFor[Team]().PkgPath() {
				return ""
			}
			if field == "" {
				return docs[t.Name()]
			}
			return docs[t.Name()+"."+field]
		},
	}
	s := r.Reflect(v)
	s.ID = jsonschema.ID(SchemaBaseURL + SchemaFile(kind))
	s.Title = "Rampart " + kind
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("generating schema for %s: %w", kind, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("generating schema for %s: %w", kind, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// SchemaKinds are the document kinds that have a schema, in the order they are written.
var SchemaKinds = []string{KindCluster, KindConfig, KindTeam}

// JSONSchema describes a Date as a calendar day.
func (Date) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:        "string",
		Format:      "date",
		Pattern:     `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`,
		Description: "A calendar day, YYYY-MM-DD.",
	}
}

var (
	docsOnce sync.Once
	docsMap  map[string]string
	docsErr  error
)

// loadDocs maps "Type" and "Type.Field" to their doc comments, from the embedded sources.
func loadDocs() (map[string]string, error) {
	docsOnce.Do(func() {
		docsMap = map[string]string{}
		fset := token.NewFileSet()
		docsErr = fs.WalkDir(sources, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			src, err := sources.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
			if err != nil {
				return fmt.Errorf("parsing %s: %w", path, err)
			}
			collectDocs(f, docsMap)
			return nil
		})
	})
	return docsMap, docsErr
}

func collectDocs(f *ast.File, into map[string]string) {
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, s := range gen.Specs {
			ts := s.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gen.Doc
			}
			into[ts.Name.Name] = cleanDoc(doc)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				for _, name := range field.Names {
					into[ts.Name.Name+"."+name.Name] = cleanDoc(field.Doc)
				}
			}
		}
	}
}

func cleanDoc(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}
