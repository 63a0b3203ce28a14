package manifest

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
)

// appendBlockYAML appends v, a JSON-shaped mapping, as go-yaml v2 encodes it in
// block style, for the common case only: ASCII strings that go-yaml writes plain
// (unquoted, unfolded), or the empty string, and the numbers, booleans, nulls, maps
// and slices of JSON. It reports false, with dst unspecified, for anything else; the
// caller then encodes with go-yaml itself. Encoding is most of what a render writes,
// and go-yaml spends most of that time on reflection and on events this shape never
// needs; TestBlockYAMLMatchesGoYAML holds the two to the same bytes.
func appendBlockYAML(dst []byte, v map[string]any) ([]byte, bool) {
	if len(v) == 0 {
		return dst, false
	}
	return appendMapping(dst, v, 0, false)
}

// blockWidth is go-yaml's line width: a plain scalar with spaces that would pass it
// is folded. Scalars that might reach it are left to go-yaml (with a margin).
const blockWidth = 78

// appendMapping writes m's keys, sorted as go-yaml sorts them, at indent; when inline
// the first key follows a "- " already written.
func appendMapping(dst []byte, m map[string]any, indent int, inline bool) ([]byte, bool) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		if !plainKey(k) {
			return dst, false
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	if !totalOrder(keys) {
		return dst, false
	}
	for i, k := range keys {
		if i > 0 || !inline {
			dst = appendIndent(dst, indent)
		}
		dst = append(dst, k...)
		dst = append(dst, ':')
		var ok bool
		switch x := m[k].(type) {
		case map[string]any:
			if len(x) == 0 {
				dst = append(dst, emptyValue(x == nil, " {}\n")...)
				continue
			}
			dst = append(dst, '\n')
			dst, ok = appendMapping(dst, x, indent+2, false)
		case []any:
			if len(x) == 0 {
				dst = append(dst, emptyValue(x == nil, " []\n")...)
				continue
			}
			dst = append(dst, '\n')
			dst, ok = appendSequence(dst, x, indent, false)
		case []string:
			if len(x) == 0 {
				dst = append(dst, emptyValue(x == nil, " []\n")...)
				continue
			}
			dst = append(dst, '\n')
			dst, ok = appendStrings(dst, x, indent)
		default:
			dst = append(dst, ' ')
			dst, ok = appendScalar(dst, x, indent+len(k)+2)
		}
		if !ok {
			return dst, false
		}
	}
	return dst, true
}

// appendSequence writes s's items at indent ("- item"); when inline the first item
// follows a "- " already written.
func appendSequence(dst []byte, s []any, indent int, inline bool) ([]byte, bool) {
	for i, item := range s {
		if i > 0 || !inline {
			dst = appendIndent(dst, indent)
		}
		dst = append(dst, "- "...)
		var ok bool
		switch x := item.(type) {
		case map[string]any:
			if len(x) == 0 {
				dst = append(dst, emptyValue(x == nil, " {}\n")[1:]...)
				continue
			}
			dst, ok = appendMapping(dst, x, indent+2, true)
		case []any:
			if len(x) == 0 {
				dst = append(dst, emptyValue(x == nil, " []\n")[1:]...)
				continue
			}
			dst, ok = appendSequence(dst, x, indent+2, true)
		case []string:
			if len(x) == 0 {
				dst = append(dst, emptyValue(x == nil, " []\n")[1:]...)
				continue
			}
			ok = false // rare; go-yaml's indentation of it is not worth a case here
		default:
			dst, ok = appendScalar(dst, x, indent+2)
		}
		if !ok {
			return dst, false
		}
	}
	return dst, true
}

func appendStrings(dst []byte, s []string, indent int) ([]byte, bool) {
	for _, x := range s {
		dst = appendIndent(dst, indent)
		dst = append(dst, "- "...)
		var ok bool
		if dst, ok = appendString(dst, x, indent+2); !ok {
			return dst, false
		}
		dst = append(dst, '\n')
	}
	return dst, true
}

// emptyValue is how an empty map or slice is written after a key: null when it is
// nil (absent), else empty (" {}\n" or " []\n", given).
func emptyValue(isNil bool, empty string) string {
	if isNil {
		return " null\n"
	}
	return empty
}

func appendIndent(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, ' ')
	}
	return dst
}

// appendScalar writes a scalar and its line's end; col is the column it starts at.
func appendScalar(dst []byte, v any, col int) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		dst = append(dst, "null"...)
	case string:
		var ok bool
		if dst, ok = appendString(dst, x, col); !ok {
			return dst, false
		}
		return append(dst, '\n'), true
	case bool:
		dst = strconv.AppendBool(dst, x)
	case int:
		dst = strconv.AppendInt(dst, int64(x), 10)
	case int64:
		dst = strconv.AppendInt(dst, x, 10)
	case int32:
		dst = strconv.AppendInt(dst, int64(x), 10)
	case float64:
		n, ok := number(x)
		if !ok {
			return dst, false
		}
		switch n := n.(type) {
		case int:
			dst = strconv.AppendInt(dst, int64(n), 10)
		case float64:
			dst = strconv.AppendFloat(dst, n, 'g', -1, 64)
		}
	default:
		return dst, false
	}
	return append(dst, '\n'), true
}

// appendString writes s as go-yaml would when that is plain, or quoted without
// escapes; it reports false otherwise.
func appendString(dst []byte, s string, col int) ([]byte, bool) {
	st := stringStyle(s)
	if st == styleUnknown || strings.IndexByte(s, ' ') >= 0 && col+len(s)+2 > blockWidth {
		return dst, false
	}
	switch st {
	case styleSingle:
		dst = append(dst, '\'')
		dst = append(dst, s...)
		return append(dst, '\''), true
	case styleDouble:
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), true
	}
	return append(dst, s...), true
}

// plainKey says whether a mapping key is written plain, on one line, as a simple key.
// Keys are ASCII, which compareKeys orders.
func plainKey(k string) bool {
	if k == "" || len(k) > 100 || strings.IndexByte(k, ' ') >= 0 || longDigitRun(k) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8RuneSelf {
			return false
		}
	}
	return stringStyle(k) == stylePlain
}

// style is how go-yaml writes a string: plain, in single or double quotes with
// nothing escaped, or (styleUnknown) some other way, left to go-yaml.
type style uint8

const (
	styleUnknown style = iota
	stylePlain
	styleSingle
	styleDouble
)

// stringStyle is how go-yaml writes s (before folding long lines). Most strings a
// render writes are names, labels and paths that are plain by their look; the rest
// (numbers, quantities, words YAML 1.1 reads as booleans, leading indicators) are
// asked of go-yaml itself.
func stringStyle(s string) style {
	if s == "" {
		return styleDouble
	}
	if plainByLook(s) {
		return stylePlain
	}
	return styleByGoYAML(s)
}

// plainByLook says whether s is certainly a plain scalar: printable ASCII that starts
// with a letter, '_' or '/', holds no quote, no ": " or " #", does not end in ':' or
// a space, and is not one of YAML 1.1's words for true, false or null. It is
// conservative: a false only sends s to styleByGoYAML.
func plainByLook(s string) bool {
	switch c := s[0]; {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '/':
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\'' || c == '"' {
			return false
		}
	}
	if last := s[len(s)-1]; last == ' ' || last == ':' || strings.Contains(s, ": ") || strings.Contains(s, " #") {
		return false
	}
	if len(s) <= 5 {
		switch strings.ToLower(s) {
		case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
			return false
		}
	}
	return true
}

// styleByGoYAML asks go-yaml how it writes s; short strings' answers are kept, since
// quantities, ports and versions repeat across every team.
func styleByGoYAML(s string) style {
	const keep = 64
	if len(s) <= keep {
		if v, ok := styleCache.Load(s); ok {
			return v.(style)
		}
	}
	st := styleUnknown
	if b, err := yamlv2.Marshal(s); err == nil {
		switch string(b) {
		case s + "\n":
			st = stylePlain
		case "'" + s + "'\n":
			st = styleSingle
		case `"` + s + "\"\n":
			st = styleDouble
		}
	}
	if len(s) <= keep {
		styleCache.Store(s, st)
	}
	return st
}

var styleCache sync.Map // string → style

// longDigitRun says whether k has a run of digits go-yaml's key order would read as
// a number too large to compare exactly.
func longDigitRun(k string) bool {
	run := 0
	for i := 0; i < len(k); i++ {
		if k[i] >= '0' && k[i] <= '9' {
			if run++; run > 15 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// compareKeys orders mapping keys as go-yaml v2 does: at the first byte that
// differs, a non-letter before a letter, letters by code, and runs of digits by
// their numeric value (then by length); a key before any longer key it starts.
// Keys here are ASCII (plainKey).
func compareKeys(a, b string) int {
	if a == b {
		return 0
	}
	if lessKey(a, b) {
		return -1
	}
	return 1
}

// totalOrder says whether sorted keys are in an order go-yaml's sort gives too.
// go-yaml's order is not transitive where runs of digits meet letters (a10 < a1x <
// a2 < a10), and its sort then depends on the map's iteration order; such keys are
// left to it. Keys without digits compare as strings over an alphabet of
// non-letters before letters, which is transitive.
func totalOrder(keys []string) bool {
	digits := false
	for _, k := range keys {
		if strings.ContainsAny(k, "0123456789") {
			digits = true
			break
		}
	}
	if !digits {
		return true
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if !lessKey(keys[i], keys[j]) {
				return false
			}
		}
	}
	return true
}

func lessKey(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		al, bl := isLetter(a[i]), isLetter(b[i])
		if al && bl {
			return a[i] < b[i]
		}
		if al || bl {
			return bl
		}
		// Neither is a letter: compare the runs of digits that start here, as
		// numbers. A run of zeros that continues a number begun before i counts
		// as part of it (it is not a leading zero).
		var an, bn int64
		if a[i] == '0' || b[i] == '0' {
			for j := i - 1; j >= 0 && isDigit(a[j]); j-- {
				if a[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ai, bi := i, i
		for ; ai < len(a) && isDigit(a[ai]); ai++ {
			an = an*10 + int64(a[ai]-'0')
		}
		for ; bi < len(b) && isDigit(b[bi]); bi++ {
			bn = bn*10 + int64(b[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}

func isLetter(c byte) bool { return c < utf8RuneSelf && unicode.IsLetter(rune(c)) }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

const utf8RuneSelf = 0x80
