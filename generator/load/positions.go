package load

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Position is a 1-based line and column in a document.
type Position struct {
	Line   int
	Column int
}

// Positions locates the fields of one document by their path, in the form
// spec.apps[1].resources.memory (a key that is not a plain name is written in
// brackets, quoted: dns.podLabels["k8s-app"]). The root of the document is the empty
// path. Later stages use it to put a file:line:col on their own diagnostics.
type Positions struct {
	values map[string]Position
	keys   map[string]Position

	// A document taken from the load cache finds its positions when first asked,
	// by parsing its source again: most never are.
	once sync.Once
	fill func() *Positions
	// enc is the encoding a lazy Positions decodes; Lookup reads a field from it
	// without decoding the rest (a gate locating an exception asks one field of a
	// thousand teams' documents).
	enc []byte
}

// lazyPositions are positions decoded from their encoding (appendPositions) on
// first use: a document from the load cache is rarely asked where a field is.
func lazyPositions(enc []byte) *Positions {
	return &Positions{enc: enc, fill: func() *Positions {
		q, err := decodePositions(enc)
		if err != nil {
			return newPositions()
		}
		return q
	}}
}

// appendPositions appends an encoding of p's positions to b.
func appendPositions(b []byte, p *Positions) []byte {
	for _, m := range []map[string]Position{p.values, p.keys} {
		b = binary.AppendUvarint(b, uint64(len(m)))
		for _, f := range slices.Sorted(maps.Keys(m)) {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
			b = binary.AppendUvarint(b, uint64(m[f].Line))
			b = binary.AppendUvarint(b, uint64(m[f].Column))
		}
	}
	return b
}

var errPositions = errors.New("damaged positions")

// scanPosition finds a field's value position in an encoding (appendPositions) in
// one pass, decoding nothing else; a damaged encoding holds no field.
func scanPosition(b []byte, field string) (Position, bool) {
	next := func() (int, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<31 {
			return 0, false
		}
		b = b[k:]
		return int(n), true
	}
	count, ok := next()
	for ; ok && count > 0; count-- {
		var n, line, col int
		if n, ok = next(); !ok || n > len(b) {
			return Position{}, false
		}
		f := b[:n]
		b = b[n:]
		if line, ok = next(); ok {
			col, ok = next()
		}
		if ok && string(f) == field {
			return Position{Line: line, Column: col}, true
		}
	}
	return Position{}, false
}

func decodePositions(b []byte) (*Positions, error) {
	p := &Positions{}
	next := func() int {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<31 {
			b = nil
			return -1
		}
		b = b[k:]
		return int(n)
	}
	for _, into := range []*map[string]Position{&p.values, &p.keys} {
		count := next()
		// Sized at once (a field takes three bytes at least), not grown.
		m := make(map[string]Position, min(max(count, 0), len(b)/3))
		*into = m
		for range max(count, 0) {
			n := next()
			if n < 0 || n > len(b) {
				return nil, errPositions
			}
			f := string(b[:n])
			b = b[n:]
			line, col := next(), next()
			if line < 0 || col < 0 {
				return nil, errPositions
			}
			m[f] = Position{Line: line, Column: col}
		}
		if count < 0 {
			return nil, errPositions
		}
	}
	if len(b) != 0 {
		return nil, errPositions
	}
	return p, nil
}

func (p *Positions) load() {
	p.once.Do(func() {
		if p.fill != nil {
			q := p.fill()
			p.values, p.keys = q.values, q.keys
		}
	})
}

func newPositions() *Positions {
	return &Positions{values: map[string]Position{}, keys: map[string]Position{}}
}

func (p *Positions) set(field string, key, value Position) {
	p.values[field] = value
	if key.Line > 0 {
		p.keys[field] = key
	}
}

// Lookup returns the line and column of the field's value. When the field is absent
// (a required field left out, say) it returns the position of its nearest ancestor
// that exists, so a diagnostic still points at the right mapping. It returns 0, 0 for
// a nil Positions or a document without positions.
func (p *Positions) Lookup(field string) (line, col int) {
	if p == nil {
		return 0, 0
	}
	value := func(f string) (Position, bool) {
		if p.enc != nil {
			return scanPosition(p.enc, f)
		}
		pos, ok := p.values[f]
		return pos, ok
	}
	if p.enc == nil {
		p.load()
	}
	for f := field; ; {
		if pos, ok := value(f); ok {
			return pos.Line, pos.Column
		}
		if f == "" {
			return 0, 0
		}
		f = parentField(f)
	}
}

// LookupKey returns the line and column of the field's key (the name before the
// colon), which is where an unknown or duplicated field is best reported. For a list
// item or the root, which have no key, and for an absent field it falls back to Lookup.
func (p *Positions) LookupKey(field string) (line, col int) {
	if p == nil {
		return 0, 0
	}
	p.load()
	if pos, ok := p.keys[field]; ok {
		return pos.Line, pos.Column
	}
	return p.Lookup(field)
}

// Has reports whether the document holds the field.
func (p *Positions) Has(field string) bool {
	if p == nil {
		return false
	}
	p.load()
	_, ok := p.values[field]
	return ok
}

// Field joins a parent path and a mapping key into a field path.
func Field(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Index joins a parent path and a list index into a field path.
func Index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// plainKey reports whether a key can be written after a dot in a field path.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case (r >= '0' && r <= '9') || r == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// parentField drops the last element of a field path: a.b[2] → a.b, a.b → a,
// a["x.y"] → a, a → "".
func parentField(f string) string {
	if strings.HasSuffix(f, "]") {
		// Find the '[' that opens the last element, skipping a quoted key.
		if strings.HasSuffix(f, `"]`) {
			for i := len(f) - 2; i > 0; i-- {
				if f[i] != '"' || f[i-1] != '[' {
					continue
				}
				if _, err := strconv.Unquote(f[i : len(f)-1]); err == nil {
					return f[:i-1]
				}
			}
		}
		if i := strings.LastIndexByte(f, '['); i >= 0 {
			return f[:i]
		}
		return ""
	}
	i := strings.LastIndexAny(f, ".]")
	switch {
	case i < 0:
		return ""
	case f[i] == ']':
		return f[:i+1]
	default:
		return f[:i]
	}
}
