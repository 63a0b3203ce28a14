// Package specedit edits a team's spec file the way a person would: it takes the
// file's bytes and gives them back with one change, every other byte (comments,
// layout, key order, quoting) left as it was. It backs `rampart quarantine`, so the
// on-call engineer's pull request shows one small hunk.
//
// It locates the change with yaml.v3's Node API (positions of the app and its keys)
// and edits the text by whole lines; then it checks its work by decoding both
// versions: they must be equal but for the one change, or the edit is refused.
package specedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// quarantineKey is the app field the edits add and remove.
const quarantineKey = "quarantine"

// Limits of a quarantine's fields, as the team schema has them.
const (
	minReason = 10
	maxField  = 200
)

// CheckQuarantine says what is wrong with a quarantine's reason and ticket, for the
// command line: they become one line each in the spec and the rendered annotation.
func CheckQuarantine(q spec.Quarantine) error {
	var errs []error
	check := func(name, v string, min int) {
		switch n := len([]rune(v)); {
		case n < min:
			errs = append(errs, fmt.Errorf("the %s must be at least %d characters; say what happened", name, min))
		case n > maxField:
			errs = append(errs, fmt.Errorf("the %s must be at most %d characters", name, maxField))
		}
		if strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
			errs = append(errs, fmt.Errorf("the %s must be one line of text, without control characters", name))
		}
	}
	check("reason", q.Reason, minReason)
	if q.Ticket != "" {
		check("ticket", q.Ticket, 1)
	}
	return errors.Join(errs...)
}

// Quarantine sets an app's quarantine (replacing one it has) and returns the new file.
func Quarantine(src []byte, app string, q spec.Quarantine) ([]byte, error) {
	if err := CheckQuarantine(q); err != nil {
		return nil, err
	}
	out, err := lift(src, app, true)
	if err != nil {
		return nil, err
	}
	doc, err := parse(out)
	if err != nil {
		return nil, err
	}
	item, err := findApp(doc, app)
	if err != nil {
		return nil, err
	}
	if item.Style&yaml.FlowStyle != 0 || len(item.Content) == 0 {
		return nil, fmt.Errorf("app %q is written in flow style ({...}); add quarantine to it by hand", app)
	}
	// Insert after the app's first key and its value, at the keys' column.
	first, firstValue := item.Content[0], item.Content[1]
	if firstValue.Kind != yaml.ScalarNode || firstValue.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || firstValue.Line != first.Line {
		return nil, fmt.Errorf("app %q does not start with a one-line key such as name: %s; add quarantine to it by hand", app, app)
	}
	indent := strings.Repeat(" ", first.Column-1)
	block := indent + quarantineKey + ":\n" + indent + "  reason: " + quote(q.Reason) + "\n"
	if q.Ticket != "" {
		block += indent + "  ticket: " + quote(q.Ticket) + "\n"
	}
	lines := splitLines(out)
	at := first.Line // insert after this (1-based) line
	if at > len(lines) {
		return nil, fmt.Errorf("app %q: position past the end of the file", app)
	}
	if !strings.HasSuffix(lines[at-1], "\n") {
		lines[at-1] += "\n"
	}
	edited := strings.Join(lines[:at], "") + block + strings.Join(lines[at:], "")
	if err := sameBut(src, []byte(edited), app, &q); err != nil {
		return nil, err
	}
	return []byte(edited), nil
}

// Lift removes an app's quarantine and returns the new file.
func Lift(src []byte, app string) ([]byte, error) {
	out, err := lift(src, app, false)
	if err != nil {
		return nil, err
	}
	if err := sameBut(src, out, app, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// lift deletes the lines of an app's quarantine key and value. Without one, it
// returns src when quiet, else an error.
func lift(src []byte, app string, quiet bool) ([]byte, error) {
	doc, err := parse(src)
	if err != nil {
		return nil, err
	}
	item, err := findApp(doc, app)
	if err != nil {
		return nil, err
	}
	var key *yaml.Node
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value == quarantineKey {
			key = item.Content[i]
		}
	}
	if key == nil {
		if quiet {
			return src, nil
		}
		return nil, fmt.Errorf("app %q is not quarantined", app)
	}
	if item.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("app %q is written in flow style ({...}); remove its quarantine by hand", app)
	}
	lines := splitLines(src)
	start := key.Line - 1 // 0-based
	if start >= len(lines) || indentOf(lines[start]) != key.Column-1 || strings.TrimSpace(lines[start][:key.Column-1]) != "" {
		return nil, fmt.Errorf("app %q: quarantine does not start its own line; remove it by hand", app)
	}
	// The value is every following line indented deeper than the key (and the
	// blank lines among them); a comment at the key's indent or less belongs to
	// what follows.
	end := start + 1
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if indentOf(l) <= key.Column-1 {
			break
		}
		end = i + 1
	}
	return []byte(strings.Join(lines[:start], "") + strings.Join(lines[end:], "")), nil
}

func parse(src []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading the spec: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("reading the spec: it holds more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("reading the spec: it is not a YAML mapping")
	}
	return doc.Content[0], nil
}

// value is a mapping's value for a key, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// findApp finds the mapping of spec.apps[] whose name is app.
func findApp(root *yaml.Node, app string) (*yaml.Node, error) {
	apps := value(value(root, "spec"), "apps")
	if apps == nil || apps.Kind != yaml.SequenceNode {
		return nil, errors.New("the spec has no spec.apps list")
	}
	var found *yaml.Node
	var names []string
	for _, item := range apps.Content {
		n := value(item, "name")
		if n == nil || n.Kind != yaml.ScalarNode {
			continue
		}
		names = append(names, n.Value)
		if n.Value == app {
			if found != nil {
				return nil, fmt.Errorf("the spec has two apps named %q", app)
			}
			found = item
		}
	}
	if found == nil {
		return nil, fmt.Errorf("the team has no app %q; its apps: %s", app, strings.Join(names, ", "))
	}
	return found, nil
}

// sameBut decodes both versions and checks that they differ only in the app's
// quarantine, which after must be want (nil: none).
func sameBut(before, after []byte, app string, want *spec.Quarantine) error {
	var b, a map[string]any
	if err := yaml.Unmarshal(before, &b); err != nil {
		return fmt.Errorf("reading the spec: %w", err)
	}
	if err := yaml.Unmarshal(after, &a); err != nil {
		return fmt.Errorf("checking the edit: it broke the YAML (%w); edit the spec by hand", err)
	}
	got, err := takeQuarantine(a, app)
	if err != nil {
		return err
	}
	if _, err := takeQuarantine(b, app); err != nil {
		return err
	}
	if !reflect.DeepEqual(a, b) {
		return errors.New("checking the edit: it changed more than the quarantine; edit the spec by hand")
	}
	if want == nil {
		if got != nil {
			return errors.New("checking the edit: the quarantine is still there; edit the spec by hand")
		}
		return nil
	}
	gq, _ := got.(map[string]any)
	wq := map[string]any{"reason": want.Reason}
	if want.Ticket != "" {
		wq["ticket"] = want.Ticket
	}
	if !reflect.DeepEqual(gq, wq) {
		return fmt.Errorf("checking the edit: the quarantine reads back as %v; edit the spec by hand", got)
	}
	return nil
}

// takeQuarantine removes and returns the app's quarantine from a decoded spec.
func takeQuarantine(doc map[string]any, app string) (any, error) {
	s, _ := doc["spec"].(map[string]any)
	apps, _ := s["apps"].([]any)
	for _, it := range apps {
		m, _ := it.(map[string]any)
		if m["name"] == app {
			q := m[quarantineKey]
			delete(m, quarantineKey)
			return q, nil
		}
	}
	return nil, fmt.Errorf("the team has no app %q", app)
}

// quote writes a YAML double-quoted scalar (JSON's string syntax is a subset).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// splitLines splits after every newline, keeping them.
func splitLines(b []byte) []string {
	s := string(b)
	var lines []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
