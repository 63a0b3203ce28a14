package spec

import (
	"fmt"
	"strings"
)

// Severity is a vulnerability severity, as Trivy reports it: the one type the spec's
// thresholds and the scanner's findings share.
type Severity string

// Severities, lowest first.
const (
	SeverityUnknown  Severity = "UNKNOWN"
	SeverityLow      Severity = "LOW"
	SeverityMedium   Severity = "MEDIUM"
	SeverityHigh     Severity = "HIGH"
	SeverityCritical Severity = "CRITICAL"
)

// Severities lists the severities lowest first.
var Severities = []Severity{SeverityUnknown, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank orders severities: UNKNOWN 0 … CRITICAL 4; anything else is -1.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// AtLeast reports whether s is at or above threshold.
func (s Severity) AtLeast(threshold Severity) bool { return s.Rank() >= threshold.Rank() }

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if v.Rank() < 0 {
		return "", fmt.Errorf("severity %q is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL", s)
	}
	return v, nil
}
