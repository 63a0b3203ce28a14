// Package diag carries user-facing findings with their location: a file, line and
// column for input documents, or an object named Kind/namespace/name for rendered
// output. Load, verify and the other stages return them collected and sorted, so a
// user sees every mistake at once.
package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a diagnostic fails the run.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one finding about the input or the output.
type Diagnostic struct {
	// File is the path relative to the repository root, with forward slashes.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based; zero when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Object names a rendered object as Kind/namespace/name, when the finding is about one.
	Object string `json:"object,omitempty"`
	// Field is the field's path in the document, e.g. spec.apps[1].resources.memory.
	Field string `json:"field,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Hint says what to do about it.
	Hint string `json:"hint,omitempty"`
	// Severity is error (the default) or warning.
	Severity Severity `json:"severity"`
}

// String formats the diagnostic as file:line:col: field: message; hint.
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.File != "" {
		b.WriteString(d.File)
		if d.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", d.Line, d.Column)
		}
		b.WriteString(": ")
	}
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	if d.Object != "" {
		b.WriteString(d.Object)
		b.WriteString(": ")
	}
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString("; ")
		b.WriteString(d.Hint)
	}
	return b.String()
}

// List is a set of diagnostics. As an error it reports every error in it.
type List []Diagnostic

// Error lists every diagnostic, one a line, in order.
func (l List) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the diagnostics of severity error.
func (l List) Errors() List {
	return slices.DeleteFunc(slices.Clone(l), func(d Diagnostic) bool { return d.Severity == Warning })
}

// Warnings returns the diagnostics of severity warning.
func (l List) Warnings() List {
	return slices.DeleteFunc(slices.Clone(l), func(d Diagnostic) bool { return d.Severity != Warning })
}

// Sort orders the list by file, line, column, object, field and message, and drops
// exact duplicates, so output is stable whatever order the checks ran in.
func (l List) Sort() List {
	slices.SortFunc(l, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Object, b.Object),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(l)
}

// Err returns the list as an error when it holds an error, and nil otherwise.
func (l List) Err() error {
	if len(l.Errors()) == 0 {
		return nil
	}
	return l.Sort()
}
