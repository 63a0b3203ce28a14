package load

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// dnsLabelPattern is the schema pattern of every name that must be a DNS label; a
// pattern failure on it gets the DNS-label message rather than the regular expression.
const dnsLabelPattern = `^[a-z]([-a-z0-9]*[a-z0-9])?$`

// compiled holds each kind's schema, compiled once from spec.Schema.
var compiled = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	out := map[string]*jsonschema.Schema{}
	for _, k := range spec.SchemaKinds {
		raw, err := spec.Schema(k)
		if err != nil {
			return nil, fmt.Errorf("compiling the %s schema: %w", k, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("compiling the %s schema: %w", k, err)
		}
		url := spec.SchemaBaseURL + spec.SchemaFile(k)
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("compiling the %s schema: %w", k, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compiling the %s schema: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
})

// validateSchema checks a document against its kind's JSON Schema and turns every
// failing leaf into a finding on a field path.
func validateSchema(kindName string, doc *document) ([]problem, error) {
	schemas, err := compiled()
	if err != nil {
		return nil, err
	}
	s := schemas[kindName]
	if s == nil {
		return nil, fmt.Errorf("validating: no schema for kind %q", kindName)
	}
	err = s.Validate(doc.value)
	if err == nil {
		return nil, nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return nil, fmt.Errorf("validating against the %s schema: %w", kindName, err)
	}
	var out []problem
	for _, leaf := range leaves(verr, nil) {
		out = append(out, describe(s, doc, leaf)...)
	}
	return out, nil
}

func leaves(e *jsonschema.ValidationError, into []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(into, e)
	}
	for _, c := range e.Causes {
		into = leaves(c, into)
	}
	return into
}

// fieldPath turns a JSON pointer's tokens into a field path, reading the value to
// tell list indexes from mapping keys. It also returns the value at the location.
func fieldPath(root any, loc []string) (string, any) {
	field, v := "", root
	for _, tok := range loc {
		switch cur := v.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur) {
				return Field(field, tok), nil
			}
			field, v = Index(field, i), cur[i]
		case map[string]any:
			field, v = Field(field, tok), cur[tok]
		default:
			return Field(field, tok), nil
		}
	}
	return field, v
}

// schemaAt finds the schema that applies at an instance location, following $ref,
// properties and items. It returns nil where the schema does not say.
func schemaAt(s *jsonschema.Schema, root any, loc []string) *jsonschema.Schema {
	v := root
	for _, tok := range loc {
		s = deref(s)
		if s == nil {
			return nil
		}
		switch cur := v.(type) {
		case []any:
			i, _ := strconv.Atoi(tok)
			if i >= 0 && i < len(cur) {
				v = cur[i]
			}
			s = s.Items2020
		case map[string]any:
			v = cur[tok]
			if p, ok := s.Properties[tok]; ok {
				s = p
			} else if ap, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
				s = ap
			} else {
				return nil
			}
		default:
			return nil
		}
	}
	return deref(s)
}

func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for i := 0; s != nil && s.Ref != nil && i < 32; i++ {
		s = s.Ref
	}
	return s
}

// describe turns one failing schema keyword into findings a person can act on.
func describe(root *jsonschema.Schema, doc *document, e *jsonschema.ValidationError) []problem {
	field, got := fieldPath(doc.value, e.InstanceLocation)
	name := lastName(field)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		var out []problem
		for _, m := range k.Missing {
			f := Field(field, m)
			out = append(out, problem{field: f, message: "required", hint: requiredHint(m)})
		}
		return out
	case *kind.AdditionalProperties:
		var allowed []string
		if s := schemaAt(root, doc.value, e.InstanceLocation); s != nil {
			for p := range s.Properties {
				allowed = append(allowed, p)
			}
		}
		sort.Strings(allowed)
		var out []problem
		for _, p := range k.Properties {
			out = append(out, problem{
				field: Field(field, p), keyPos: true,
				message: fmt.Sprintf("unknown field %q", p),
				hint:    unknownFieldHint(p, allowed),
			})
		}
		return out
	case *kind.Type:
		p := problem{field: field, message: fmt.Sprintf("want %s, got %s", typeNames(k.Want), article(k.Got))}
		if slices.Contains(k.Want, "string") {
			switch got.(type) {
			case int64, float64, bool:
				p.hint = fmt.Sprintf("quote the value: %q", doc.raw[field])
			}
		}
		return []problem{p}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return []problem{{field: field, message: fmt.Sprintf("%s is not allowed; want one of: %s", display(k.Got), strings.Join(want, ", "))}}
	case *kind.Const:
		return []problem{{field: field, message: fmt.Sprintf("%s is not allowed; want %v", display(k.Got), k.Want)}}
	case *kind.Pattern:
		if k.Want == dnsLabelPattern {
			msg, hint := dnsLabelProblem(k.Got)
			return []problem{{field: field, message: msg, hint: hint}}
		}
		return []problem{{field: field, message: fmt.Sprintf("%q does not match the pattern %s", k.Got, k.Want), hint: patternHint(name, k.Want)}}
	case *kind.Minimum:
		if isAppPort(field) {
			msg, hint := privilegedPort(got)
			return []problem{{field: field, message: msg, hint: hint}}
		}
		return []problem{{field: field, message: fmt.Sprintf("want at least %s, got %s", ratString(k.Want), ratString(k.Got))}}
	case *kind.Maximum:
		return []problem{{field: field, message: fmt.Sprintf("want at most %s, got %s", ratString(k.Want), ratString(k.Got))}}
	case *kind.ExclusiveMinimum:
		return []problem{{field: field, message: fmt.Sprintf("want more than %s, got %s", ratString(k.Want), ratString(k.Got))}}
	case *kind.ExclusiveMaximum:
		return []problem{{field: field, message: fmt.Sprintf("want less than %s, got %s", ratString(k.Want), ratString(k.Got))}}
	case *kind.MinLength:
		if k.Want == 1 {
			return []problem{{field: field, message: "must not be empty", hint: requiredHint(name)}}
		}
		return []problem{{field: field, message: fmt.Sprintf("want at least %d characters, got %d", k.Want, k.Got)}}
	case *kind.MaxLength:
		return []problem{{field: field, message: fmt.Sprintf("want at most %d characters, got %d", k.Want, k.Got)}}
	case *kind.MinItems:
		if k.Want == 1 {
			return []problem{{field: field, message: "must not be empty; list at least one item", hint: requiredHint(name)}}
		}
		return []problem{{field: field, message: fmt.Sprintf("want at least %d items, got %d", k.Want, k.Got)}}
	case *kind.MaxItems:
		return []problem{{field: field, message: fmt.Sprintf("want at most %d items, got %d", k.Want, k.Got)}}
	case *kind.MinProperties:
		return []problem{{field: field, message: fmt.Sprintf("want at least %d entries, got %d", k.Want, k.Got), hint: requiredHint(name)}}
	case *kind.MaxProperties:
		return []problem{{field: field, message: fmt.Sprintf("want at most %d entries, got %d", k.Want, k.Got)}}
	case *kind.UniqueItems:
		return []problem{{field: Index(field, k.Duplicates[1]), message: fmt.Sprintf("duplicate of item %d", k.Duplicates[0])}}
	default:
		return []problem{{field: field, message: e.ErrorKind.LocalizedString(printer)}}
	}
}

var printer = message.NewPrinter(language.English)

func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(3)
}

func typeNames(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = article(w)
	}
	return strings.Join(names, " or ")
}

// article names a JSON Schema type the way a YAML author thinks of it.
func article(t string) string {
	switch t {
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "boolean":
		return "a boolean (true or false)"
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "null":
		return "nothing (an empty value)"
	}
	return t
}

// lastName is the last mapping key of a field path, skipping list indexes.
func lastName(field string) string {
	for field != "" {
		p := parentField(field)
		last := strings.TrimPrefix(field[len(p):], ".")
		if !strings.HasPrefix(last, "[") {
			return last
		}
		if s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(last, "["), "]")); err == nil {
			return s
		}
		field = p
	}
	return ""
}

// isAppPort reports whether a field path is spec.apps[N].port.
func isAppPort(field string) bool {
	rest, ok := strings.CutPrefix(field, "spec.apps[")
	if !ok {
		return false
	}
	n, tail, ok := strings.Cut(rest, "]")
	if !ok || tail != ".port" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}
