package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

const anchorMessage = "YAML anchors and aliases are not allowed in Rampart specs; write the value out"

// yamlLine finds the line number in a go.yaml.in/yaml/v3 error ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

// document is one parsed input file: its plain value (map[string]any, []any, string,
// int64, float64, bool or nil, as encoding/json and the schema validator take them)
// and where each field is.
type document struct {
	value any
	pos   *Positions
	// raw is the source text of each scalar that is not a string, for hints that say
	// how to quote it.
	raw map[string]string
}

// problem is a finding about a document: a field path (maybe empty) with a message
// and hint, and a position when the field path cannot give one. keyPos asks for the
// position of the field's key rather than its value.
type problem struct {
	field   string
	line    int
	col     int
	keyPos  bool
	message string
	hint    string
}

// parseDocument parses one YAML document and converts it to plain values, refusing
// what a spec never needs and what makes parsing costly or ambiguous: more than one
// document, anchors and aliases, merge keys, duplicate or non-string keys, and tags
// beyond the core schema. It returns every problem it finds; the document is nil when
// there is any.
func parseDocument(data []byte, emptyHint string) (doc *document, problems []problem) {
	defer func() {
		// go.yaml.in/yaml/v3 reports its own errors by panicking and recovering;
		// anything else that escapes is a bug there, turned into an error here.
		if r := recover(); r != nil {
			doc = nil
			problems = []problem{{message: fmt.Sprintf("parsing YAML: the parser failed: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []problem{{message: "empty file", hint: emptyHint}}
		}
		return nil, []problem{syntaxProblem(err)}
	}
	if isEmpty(&root) {
		return nil, []problem{{message: "empty file", hint: emptyHint}}
	}
	// A trailing "---" (an empty document) is harmless; a second document with
	// content is refused. Each empty document costs at least four bytes of a file
	// of at most MaxFileSize, so the loop is bounded.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, []problem{syntaxProblem(err)}
		}
		if !isEmpty(&next) {
			at := &next
			if len(next.Content) > 0 {
				at = next.Content[0]
			}
			return nil, []problem{{
				line: at.Line, col: at.Column,
				message: "a second YAML document; a spec file holds exactly one",
				hint:    "remove the '---' and what follows, or move it to a file of its own",
			}}
		}
	}
	c := &converter{pos: newPositions(), raw: map[string]string{}}
	body := &root
	if root.Kind == yaml.DocumentNode {
		body = root.Content[0]
	}
	v := c.convert(body, "", Position{})
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return &document{value: v, pos: c.pos, raw: c.raw}, nil
}

// isEmpty reports whether a document holds nothing: no node, or only a null (a file
// of comments, or a lone "---").
func isEmpty(root *yaml.Node) bool {
	if root.Kind != yaml.DocumentNode {
		return false
	}
	if len(root.Content) == 0 {
		return true
	}
	n := root.Content[0]
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == "" && n.Anchor == ""
}

func syntaxProblem(err error) problem {
	msg := err.Error()
	p := problem{}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.line, _ = strconv.Atoi(m[1])
		p.col = 1
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	p.message = "invalid YAML: " + msg
	return p
}

type converter struct {
	pos      *Positions
	raw      map[string]string
	problems []problem
	// anchored is set once an anchor or alias has been reported: one is enough to
	// tell the author, and an alias bomb would otherwise report each of its aliases.
	anchored bool
}

func (c *converter) anchorAt(n *yaml.Node, field string) {
	if !c.anchored {
		c.anchored = true
		c.problemAt(n, field, anchorMessage)
	}
}

func (c *converter) problemAt(n *yaml.Node, field, msg string) {
	c.problems = append(c.problems, problem{field: field, line: n.Line, col: n.Column, message: msg})
}

// convert turns a node into a plain value, recording positions under field. It never
// follows an alias, so an alias bomb costs no more than its text.
func (c *converter) convert(n *yaml.Node, field string, key Position) any {
	c.pos.set(field, key, Position{n.Line, n.Column})
	if n.Anchor != "" {
		c.anchorAt(n, field)
	}
	switch n.Kind {
	case yaml.AliasNode:
		c.anchorAt(n, field)
		return nil
	case yaml.MappingNode:
		if tag := n.ShortTag(); tag != "!!map" {
			c.problemAt(n, field, fmt.Sprintf("YAML tag %q is not allowed on a mapping", n.Tag))
		}
		m := make(map[string]any, len(n.Content)/2)
		seen := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode || k.Anchor != "" {
				c.anchorAt(k, field)
				continue
			}
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				c.problemAt(k, field, "YAML merge keys (<<) are not allowed in Rampart specs; write the fields out")
				continue
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				c.problemAt(k, field, fmt.Sprintf("mapping key %s is not a string; quote it", describeKey(k)))
				continue
			}
			f := Field(field, k.Value)
			if first, dup := seen[k.Value]; dup {
				c.problems = append(c.problems, problem{
					field: f, line: k.Line, col: k.Column,
					message: fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, first.Line),
					hint:    "remove one of them",
				})
				continue
			}
			seen[k.Value] = k
			m[k.Value] = c.convert(v, f, Position{k.Line, k.Column})
		}
		return m
	case yaml.SequenceNode:
		if tag := n.ShortTag(); tag != "!!seq" {
			c.problemAt(n, field, fmt.Sprintf("YAML tag %q is not allowed on a list", n.Tag))
		}
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			s[i] = c.convert(item, Index(field, i), Position{})
		}
		return s
	case yaml.ScalarNode:
		v := c.scalar(n, field)
		if _, isString := v.(string); !isString {
			c.raw[field] = n.Value
		}
		return v
	default:
		c.problemAt(n, field, "unexpected YAML node")
		return nil
	}
}

// scalar converts a scalar by its resolved tag, as YAML 1.2's core schema reads it. A
// timestamp stays a string: specs hold dates as YYYY-MM-DD text.
func (c *converter) scalar(n *yaml.Node, field string) any {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp":
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			c.problemAt(n, field, fmt.Sprintf("%q is not a boolean; write true or false", n.Value))
		}
		return b
	case "!!int":
		plain := strings.ReplaceAll(n.Value, "_", "")
		i, err := strconv.ParseInt(plain, 0, 64)
		if err != nil {
			c.problemAt(n, field, fmt.Sprintf("%q is not an integer Rampart can read (64-bit at most)", n.Value))
		}
		return i
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			switch strings.ToLower(strings.TrimLeft(n.Value, "+-")) {
			case ".inf", ".nan":
				f, err = math.NaN(), nil
			}
		}
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.problemAt(n, field, fmt.Sprintf("%q is not a finite number", n.Value))
			return nil
		}
		return f
	default:
		c.problemAt(n, field, fmt.Sprintf("YAML tag %q is not allowed in Rampart specs", n.Tag))
		return nil
	}
}

func describeKey(k *yaml.Node) string {
	switch k.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(k.Value)
}
