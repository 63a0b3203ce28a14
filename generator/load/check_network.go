package load

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// Cilium's own patterns for toFQDNs (CiliumNetworkPolicy CRD v1.20): a name is
// labels of [-a-zA-Z0-9_] joined by dots; a pattern may also hold '*'.
var (
	ciliumMatchName    = regexp.MustCompile(`^([-a-zA-Z0-9_]+[.]?)+$`)
	ciliumMatchPattern = regexp.MustCompile(`^([-a-zA-Z0-9_*]+[.]?)+$`)
	httpMethod         = regexp.MustCompile(`^[A-Z]+$`)
)

// maxFQDN is the longest name or pattern Cilium accepts.
const maxFQDN = 255

// checkNetwork checks the network intents across files: consent for cross-team
// calls, consents naming unknown teams, calls that cannot render on a cluster, HTTP
// operations, and egress destinations each cluster can enforce. References to unknown
// teams, apps and ports are checkTeamRefs' (the loader reports them once).
func checkNetwork(inv *Inventory) diag.List {
	var out diag.List
	for i := range inv.Teams {
		t := &inv.Teams[i]
		for ai := range t.Spec.Apps {
			a := &t.Spec.Apps[ai]
			af := Index("spec.apps", ai)
			for ci, c := range a.Calls {
				out = append(out, checkCall(inv, t, a, Index(Field(af, "calls"), ci), c)...)
			}
			for ci, c := range a.AllowCallsFrom {
				out = append(out, checkConsent(inv, t, a, Index(Field(af, "allowCallsFrom"), ci), c)...)
			}
			for ei, e := range a.Egress {
				out = append(out, checkEgressTarget(inv, t, Index(Field(af, "egress"), ei), e)...)
			}
		}
	}
	return out.Sort()
}

// netDiag builds a diagnostic on a field of a team file.
func netDiag(t *Team, field string, sev diag.Severity, hint, format string, args ...any) diag.Diagnostic {
	line, col := t.Pos.Lookup(field)
	return diag.Diagnostic{File: t.File, Line: line, Column: col, Field: field, Message: fmt.Sprintf(format, args...), Hint: hint, Severity: sev}
}

// netWhere writes a team file's field as file:line:col (field).
func netWhere(t *Team, field string) string {
	line, col := t.Pos.Lookup(field)
	if line == 0 {
		return fmt.Sprintf("%s (%s)", t.File, field)
	}
	return fmt.Sprintf("%s:%d:%d (%s)", t.File, line, col, field)
}

// Consents says whether callee, an app of calleeTeam, accepts calls from callerApp of
// callerTeam: calls inside a team need no consent, others need allowCallsFrom. The
// planner resolves the intent graph the templates render with this same rule.
func Consents(calleeTeam string, callee *spec.App, callerTeam, callerApp string) bool {
	if calleeTeam == callerTeam {
		return true
	}
	return slices.ContainsFunc(callee.AllowCallsFrom, func(r spec.CallerRef) bool {
		return r.Team == callerTeam && (r.App == "" || r.App == callerApp)
	})
}

func appIndex(t *spec.Team, name string) int {
	return slices.IndexFunc(t.Spec.Apps, func(a spec.App) bool { return a.Name == name })
}

func checkCall(inv *Inventory, t *Team, a *spec.App, field string, c spec.Call) diag.List {
	var out diag.List
	calleeTeamName := netOr(c.Team, t.Metadata.Name)
	callee := inv.Team(calleeTeamName)
	if callee == nil {
		return nil
	}
	ai := appIndex(callee.Team, c.App)
	if ai < 0 {
		return nil
	}
	app := &callee.Spec.Apps[ai]
	appField := Index("spec.apps", ai)
	caller := t.Metadata.Name + "/" + a.Name
	target := calleeTeamName + "/" + app.Name
	if !Consents(calleeTeamName, app, t.Metadata.Name, a.Name) {
		out = append(out, netDiag(t, field, diag.Error,
			fmt.Sprintf("team %s must add {team: %s, app: %s} to allowCallsFrom of app %s at %s, or team %s removes this call",
				calleeTeamName, t.Metadata.Name, a.Name, app.Name, netWhere(callee, appField), t.Metadata.Name),
			"%s calls %s, which does not allow calls from %s (a call to another team needs the callee's consent)", caller, target, caller))
	}
	var missing []string
	for _, cl := range t.Spec.Clusters {
		if !slices.Contains(callee.Spec.Clusters, cl) {
			missing = append(missing, cl)
		}
	}
	if len(missing) > 0 {
		out = append(out, netDiag(t, field, diag.Warning,
			fmt.Sprintf("add the cluster to spec.clusters of team %s, or expect the call to fail there", calleeTeamName),
			"%s calls %s, but team %s does not run on %s %s: the call is not rendered there",
			caller, target, calleeTeamName, netPlural(len(missing), "cluster", "clusters"), strings.Join(missing, ", ")))
	}
	if app.Protocol == spec.ProtocolTCP && len(c.Methods)+len(c.Paths) > 0 {
		out = append(out, netDiag(t, field, diag.Warning, "remove methods and paths, or serve HTTP or gRPC",
			"%s speaks tcp: methods and paths apply only to HTTP and gRPC, so the mesh allows the whole port", target))
	}
	for i, m := range c.Methods {
		if !httpMethod.MatchString(m) {
			out = append(out, netDiag(t, Index(Field(field, "methods"), i), diag.Error, "write the method in capitals, e.g. GET or POST",
				"%q is not an HTTP method", m))
		}
	}
	for i, p := range c.Paths {
		if msg := istioPathProblem(p); msg != "" {
			out = append(out, netDiag(t, Index(Field(field, "paths"), i), diag.Error,
				`write an exact path (/v1/entries), a prefix (/v1/*), a suffix (*/info) or "*"`, "%q %s", p, msg))
		}
	}
	return out
}

// istioPathProblem says why Istio rejects an AuthorizationPolicy path: it matches
// exactly, by prefix ("/v1/*"), by suffix ("*/info") or any ("*").
func istioPathProblem(p string) string {
	if p == "*" {
		return ""
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(p, "*"), "*")
	switch {
	case strings.HasPrefix(p, "*") && strings.HasSuffix(p, "*"):
		return "has a wildcard at both ends; Istio allows one, first or last"
	case strings.Contains(inner, "*"):
		return "has a wildcard inside it; Istio allows one, first or last"
	case !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*"):
		return "does not start with '/'"
	}
	return ""
}

func checkConsent(inv *Inventory, t *Team, a *spec.App, field string, c spec.CallerRef) diag.List {
	switch {
	case c.Team == t.Metadata.Name:
		return diag.List{netDiag(t, Field(field, "team"), diag.Warning, "remove it: calls inside a team need no consent",
			"consent for the app's own team %q", c.Team)}
	case c.Team != "" && !inv.teamExists(c.Team):
		return diag.List{netDiag(t, Field(field, "team"), diag.Warning, knownList("known teams", teamNames(inv), ""),
			"%s/%s allows calls from team %q, which does not exist", t.Metadata.Name, a.Name, c.Team)}
	}
	return nil
}

func teamNames(inv *Inventory) []string {
	var names []string
	for _, t := range inv.Teams {
		names = append(names, t.Metadata.Name)
	}
	slices.Sort(names)
	return names
}

// clustersWhere lists the team's clusters (those that exist) for which bad holds.
func clustersWhere(inv *Inventory, t *Team, bad func(*Cluster) bool) []string {
	var out []string
	for _, name := range t.Spec.Clusters {
		if c := inv.Cluster(name); c != nil && bad(c) {
			out = append(out, name)
		}
	}
	return out
}

func clusterFiles(names []string) string {
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = "clusters/" + n + "/cluster.yaml"
	}
	return strings.Join(files, ", ")
}

func checkEgressTarget(inv *Inventory, t *Team, field string, e spec.Egress) diag.List {
	var out diag.List
	anywhere := func(f, what string) {
		if bad := clustersWhere(inv, t, func(c *Cluster) bool { return !c.Spec.Egress.AllowAnywhere }); len(bad) > 0 {
			out = append(out, netDiag(t, f, diag.Error,
				"name the destination's own range or host; the platform may allow it with spec.egress.allowAnywhere in "+clusterFiles(bad),
				"egress to %s reaches anywhere, which %s %s %s not allow", what, netPlural(len(bad), "cluster", "clusters"), strings.Join(bad, ", "),
				netPlural(len(bad), "does", "do")))
		}
	}
	switch {
	case e.CIDR != "" && e.Host == "":
		p, err := netip.ParsePrefix(e.CIDR)
		if err == nil && p.Bits() == 0 {
			anywhere(Field(field, "cidr"), e.CIDR)
		}
	case e.Host != "" && e.CIDR == "":
		f := Field(field, "host")
		if msg := ciliumHostProblem(e.Host); msg != "" {
			out = append(out, netDiag(t, f, diag.Error,
				"write a name such as api.example.com or a pattern such as *.example.com (letters, digits, '-', '_', '*' and dots)",
				"Cilium rejects %q as a toFQDNs %s", e.Host, msg))
			return out
		}
		if strings.Trim(e.Host, "*.") == "" {
			anywhere(f, fmt.Sprintf("%q", e.Host))
		}
		bad := clustersWhere(inv, t, func(c *Cluster) bool {
			return c.Spec.CNI != spec.CNICilium && len(c.Spec.Egress.FQDNFallbackCIDRs) == 0
		})
		if len(bad) > 0 {
			out = append(out, netDiag(t, f, diag.Error,
				"use a cidr egress, run the app only on Cilium clusters, or the platform sets spec.egress.fqdnFallbackCIDRs in "+clusterFiles(bad),
				"host-name egress to %s cannot be enforced on %s %s: only Cilium clusters enforce host names", e.Host,
				netPlural(len(bad), "cluster", "clusters"), strings.Join(bad, ", ")))
		}
	}
	return out
}

// ciliumHostProblem says why Cilium's CRD would refuse a host as matchName (no '*')
// or matchPattern, or "" when it accepts it.
func ciliumHostProblem(h string) string {
	if len(h) > maxFQDN {
		return fmt.Sprintf("name: it is longer than %d characters", maxFQDN)
	}
	if !strings.Contains(h, "*") {
		if !ciliumMatchName.MatchString(h) {
			return "name"
		}
		return ""
	}
	if !ciliumMatchPattern.MatchString(h) {
		return "pattern"
	}
	// "**." is a prefix matching every level of subdomains; "**" anywhere else is not
	// a wildcard Cilium knows.
	if strings.Contains(strings.TrimPrefix(h, "**."), "**") {
		return `pattern: "**" is allowed only as the prefix "**."`
	}
	return ""
}

func netOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func netPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
