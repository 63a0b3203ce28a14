package scan

import "github.com/rampart-gitops/rampart/generator/spec"

// Severity is spec.Severity: findings and thresholds are one type.
type Severity = spec.Severity

// Severities, lowest first.
const (
	SeverityUnknown  = spec.SeverityUnknown
	SeverityLow      = spec.SeverityLow
	SeverityMedium   = spec.SeverityMedium
	SeverityHigh     = spec.SeverityHigh
	SeverityCritical = spec.SeverityCritical
)

// Severities lists the severities lowest first.
var Severities = spec.Severities

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) { return spec.ParseSeverity(s) }
