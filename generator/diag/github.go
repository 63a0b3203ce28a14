package diag

import (
	"fmt"
	"strings"
)

// GitHub formats the diagnostic as a GitHub Actions workflow command
// (`::error file=…,line=…,col=…,title=…::message`), which the runner turns into an
// annotation on that line of the pull request's files. Data and properties are
// escaped as the runner expects (% CR LF, and : , in properties).
func (d Diagnostic) GitHub() string {
	level := "error"
	if d.Severity == Warning {
		level = "warning"
	}
	var props []string
	if d.File != "" {
		props = append(props, "file="+escapeProperty(d.File))
		if d.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", d.Line))
			if d.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", d.Column))
			}
		}
	}
	title := d.Field
	if d.Object != "" {
		title = strings.TrimSpace(d.Object + " " + d.Field)
	}
	if title != "" {
		props = append(props, "title="+escapeProperty(title))
	}
	msg := d.Message
	if d.Hint != "" {
		msg += "; " + d.Hint
	}
	cmd := "::" + level
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + EscapeData(msg)
}

// EscapeData escapes a workflow command's message.
func EscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
