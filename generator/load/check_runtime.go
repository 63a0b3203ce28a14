package load

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// RuntimeRules are the Falco rules lib/runtime.libsonnet renders for every app, in
// the order it renders them; a runtime exception names one.
var RuntimeRules = []spec.RuntimeRule{
	spec.RuntimeShell, spec.RuntimeUnexpectedProcess, spec.RuntimeOutbound, spec.RuntimeSystemWrite,
	spec.RuntimeSensitiveRead, spec.RuntimePackageManager, spec.RuntimeDroppedExecutable,
}

// RuntimeExceptionFields are the Falco fields a runtime exception may match on:
// what a waiver of Rampart's rules needs (the process, the file, the peer), each
// documented for current Falco and known to the oldest libsinsp the judges compile
// with.
var RuntimeExceptionFields = []string{
	"container.image.repository",
	"fd.directory", "fd.name", "fd.sip", "fd.sip.name", "fd.sport",
	"proc.cmdline", "proc.exepath", "proc.name", "proc.pname",
}

// processPattern is an executable as a Falco list item: a path or a name, without
// the spaces, quotes, commas and parentheses that would end the item.
var processPattern = regexp.MustCompile(`^[A-Za-z0-9._+@/-]+$`)

// checkRuntime checks an app's runtime section.
func checkRuntime(f *fileCtx, field string, r *spec.AppRuntime) {
	if r == nil {
		return
	}
	seen := map[string]int{}
	for i, p := range r.Processes {
		pf := Index(Field(Field(field, "runtime"), "processes"), i)
		switch j, dup := seen[p]; {
		case dup:
			f.errorf(pf, "list each process once", "process %q is already listed at %s", p, Index(Field(Field(field, "runtime"), "processes"), j))
		case !processPattern.MatchString(p) || strings.Contains(p, "//") || (strings.Contains(p, "/") && !strings.HasPrefix(p, "/")) || strings.HasSuffix(p, "/"):
			f.errorf(pf, "write an absolute path (/usr/local/bin/api) or a bare executable name (api)", "%q is not an executable path or name", p)
		}
		seen[p] = i
	}
}

// checkRuntimeExceptions checks a team's spec.exceptions.runtime against the rules
// lib/runtime.libsonnet renders and the team's apps, and marks each with its place
// in the file and, by the loader's clock, whether it has expired: an expired
// exception is not rendered. apps maps the team's app names to their index.
func (l *loader) checkRuntimeExceptions(f *fileCtx, t *spec.Team, apps map[string]int) {
	rules := make([]string, len(RuntimeRules))
	for i, r := range RuntimeRules {
		rules[i] = string(r)
	}
	for i := range t.Spec.Exceptions.Runtime {
		e := &t.Spec.Exceptions.Runtime[i]
		field := Index("spec.exceptions.runtime", i)
		e.Source = fmt.Sprintf("%s:%d", f.file, line(f, field))
		e.Expired = false
		checkDate(f, Field(field, "expires"), e.Expires)
		if e.Rule != "" && !slices.Contains(rules, string(e.Rule)) {
			f.errorf(Field(field, "rule"), suggest(string(e.Rule), rules), "unknown runtime rule %q", e.Rule)
		}
		checkAppList(f, Field(field, "apps"), e.Apps, apps)
		fields := map[string]int{}
		for j, fl := range e.Fields {
			ff := Index(Field(field, "fields"), j)
			if k, dup := fields[fl]; dup {
				f.errorf(ff, "list each field once", "field %q is already listed at %s", fl, Index(Field(field, "fields"), k))
				continue
			}
			fields[fl] = j
			if !slices.Contains(RuntimeExceptionFields, fl) {
				f.errorf(ff, suggest(fl, RuntimeExceptionFields), "field %q cannot be matched by a runtime exception", fl)
			}
		}
		for j, v := range e.Values {
			vf := Index(Field(field, "values"), j)
			if len(e.Fields) > 0 && len(v) != len(e.Fields) {
				f.errorf(vf, fmt.Sprintf("give one value for each of the fields [%s], in that order", strings.Join(e.Fields, ", ")),
					"%d values for %d fields", len(v), len(e.Fields))
			}
			for k, x := range v {
				if x == "" || strings.ContainsAny(x, "\n\r") {
					f.errorf(Index(vf, k), "write the value the field has in the event, on one line", "%q is not a value Falco can match", x)
				}
			}
		}
		e.Expired = l.expiry(f, Field(field, "expires"), e.Expires, "the exception from runtime rule "+string(e.Rule),
			"the rule alerts for "+strings.Join(e.Apps, ", ")+" again")
	}
}

// checkRuntimeSettings checks a cluster's runtime section.
func checkRuntimeSettings(f *fileCtx, r spec.Runtime) {
	if r.Namespace != "" && !isDNSLabel(r.Namespace) {
		msg, hint := dnsLabelProblem(r.Namespace)
		f.errorf("spec.runtime.namespace", hint, "%s", msg)
	}
	// The shards are named <configMap>-<index>, at most four more characters.
	if r.ConfigMap != "" && (len(validation.IsDNS1123Subdomain(r.ConfigMap+"-255")) > 0) {
		f.errorf("spec.runtime.configMap", "write a DNS name of at most 249 characters, e.g. rampart-falco-rules", "%q cannot name the rules' ConfigMaps", r.ConfigMap)
	}
	if !r.Enabled && (r.Namespace != "" || r.ConfigMap != "" || r.Shards != 0 || r.MinimumPriority != "") {
		f.warnf("spec.runtime.enabled", "set enabled: true to render the rules, or remove the section", "runtime detection is off: no Falco rules are rendered for this cluster")
	}
}
