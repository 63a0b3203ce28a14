package load

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// Ingress defaults the checks compare with; lib/defaults.libsonnet's ingress section
// renders the same values.
const (
	ingressDefaultHSTSMaxAge     = defaults.HSTSMaxAgeSeconds
	ingressDefaultReferrerPolicy = defaults.ReferrerPolicy
)

// ingressReferrerPolicies are the Referrer-Policy values, strictest first: a team may
// pick one at or before the cluster's default, never after it.
var ingressReferrerPolicies = []string{
	"no-referrer",
	"same-origin",
	"strict-origin",
	"strict-origin-when-cross-origin",
	"origin",
	"origin-when-cross-origin",
	"no-referrer-when-downgrade",
	"unsafe-url",
}

// checkIngress runs the ingress and TLS checks that need more than one file: each
// exposed app against each cluster it runs on, and the hosts of all teams on a
// cluster together. It complements the single-file checks (checkExpose,
// checkRateLimit, checkCIDR, checkCluster), which already refuse malformed hosts,
// paths without '/', bad rate limits and malformed CIDRs; what they refuse is skipped
// here, so a mistake is reported once.
//
//   - hosts: a single label expands to <label>.<first domain of the cluster>; the
//     name must be a valid DNS name, inside the cluster's domains, a wildcard only
//     where the cluster allows wildcards and issues by DNS-01, and claimed by one
//     team only per cluster (a wildcard claims the names one label below it), with a
//     diagnostic in each claimant's file naming the other; two apps of a team share a
//     host only on different paths;
//   - paths hold nothing that would break out of Traefik's PathPrefix(`...`);
//   - headers only tighten the cluster's: HSTS max-age at least the cluster's, a
//     referrer policy no looser; header values on one line;
//   - only http and grpc apps are exposed;
//   - the cluster's certificate durations and DNS-01 provider settings are whole.
//
// Every finding carries the file, line and column of the field, and a hint.
func checkIngress(inv *Inventory) diag.List {
	c := &ingressChecker{claims: map[string]map[string][]ingressClaim{}}
	for i := range inv.Clusters {
		c.cluster(&inv.Clusters[i])
	}
	for i := range inv.Teams {
		t := &inv.Teams[i]
		for _, name := range t.Spec.Clusters {
			if cl := inv.Cluster(name); cl != nil {
				c.team(t, cl)
			}
		}
	}
	c.conflicts()
	return c.diags.Sort()
}

type ingressChecker struct {
	diags diag.List
	// claims are, per cluster, the hosts each exposed app claims, by host name.
	claims map[string]map[string][]ingressClaim
}

// ingressClaim is one host of one app, where the spec wrote it.
type ingressClaim struct {
	team  *Team
	app   string
	field string
	paths []string
}

func (c *ingressChecker) errorf(file string, pos *Positions, field, hint, format string, args ...any) {
	line, col := pos.Lookup(field)
	c.diags = append(c.diags, diag.Diagnostic{
		File: file, Line: line, Column: col, Field: field,
		Message: fmt.Sprintf(format, args...), Hint: hint, Severity: diag.Error,
	})
}

func (c *ingressChecker) cluster(cl *Cluster) {
	in := cl.Spec.Ingress
	if h := in.Headers.HSTSMaxAgeSeconds; h < 0 {
		c.errorf(cl.File, cl.Pos, "spec.ingress.headers.hstsMaxAgeSeconds", fmt.Sprintf("leave it out for the default of %d (one year)", ingressDefaultHSTSMaxAge), "must not be negative, got %d", h)
	}
	if rp := in.Headers.ReferrerPolicy; rp != "" && !slices.Contains(ingressReferrerPolicies, rp) {
		c.errorf(cl.File, cl.Pos, "spec.ingress.headers.referrerPolicy", "use one of "+strings.Join(ingressReferrerPolicies, ", "), "unknown referrer policy %q", rp)
	}
	c.headerValue(cl.File, cl.Pos, "spec.ingress.headers.contentSecurityPolicy", in.Headers.ContentSecurityPolicy)

	// Durations that do not parse, or are not positive, are checkCluster's.
	tls := cl.Spec.TLS
	duration, _ := time.ParseDuration(defaults.CertificateDuration)
	durationText := defaults.CertificateDuration + " (the default)"
	if tls.Duration != "" {
		d, err := time.ParseDuration(tls.Duration)
		if err != nil || d <= 0 {
			return
		}
		duration, durationText = d, tls.Duration
		if d < time.Hour {
			c.errorf(cl.File, cl.Pos, "spec.tls.duration", "cert-manager issues for 1h at the least; e.g. 2160h", "%s is too short for a certificate", tls.Duration)
		}
	}
	if rb, err := time.ParseDuration(tls.RenewBefore); tls.RenewBefore != "" && err == nil && rb > 0 && rb >= duration {
		c.errorf(cl.File, cl.Pos, "spec.tls.renewBefore", "renew well before expiry, e.g. a third of the duration", "%s is not shorter than the certificates' duration %s", tls.RenewBefore, durationText)
	}
	if is := tls.Issuer; is.Solver == "dns01" && is.DNS01 != nil {
		switch is.DNS01.Provider {
		case "azureDNS":
			if is.DNS01.SubscriptionID == "" {
				c.errorf(cl.File, cl.Pos, "spec.tls.issuer.dns01", "set subscriptionID, the Azure subscription of the DNS zone", "azureDNS needs subscriptionID")
			}
			if is.DNS01.ResourceGroup == "" {
				c.errorf(cl.File, cl.Pos, "spec.tls.issuer.dns01", "set resourceGroup, the Azure resource group of the DNS zone", "azureDNS needs resourceGroup")
			}
		case "cloudflare":
			if is.DNS01.SecretName == "" {
				c.errorf(cl.File, cl.Pos, "spec.tls.issuer.dns01", "set secretName: the Secret in cert-manager's namespace holding the Cloudflare API token under key api-token", "cloudflare needs secretName")
			}
		}
	}
}

func (c *ingressChecker) team(t *Team, cl *Cluster) {
	clusterName := cl.Metadata.Name
	for i, app := range t.Spec.Apps {
		if app.Expose == nil {
			continue
		}
		base := Field(Index("spec.apps", i), "expose")
		if app.Protocol == spec.ProtocolTCP {
			c.errorf(t.File, t.Pos, base, "expose serves HTTP and gRPC through Traefik; remove expose, or set the app's protocol to http or grpc", "app %q speaks tcp and cannot be exposed", app.Name)
		}
		paths := app.Expose.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		for j, p := range app.Expose.Paths {
			c.path(t, Index(Field(base, "paths"), j), p)
		}
		for j, h := range app.Expose.Hosts {
			field := Index(Field(base, "hosts"), j)
			host, ok := c.host(t, cl, field, h)
			if !ok {
				continue
			}
			if c.claims[clusterName] == nil {
				c.claims[clusterName] = map[string][]ingressClaim{}
			}
			c.claims[clusterName][host] = append(c.claims[clusterName][host], ingressClaim{team: t, app: app.Name, field: field, paths: paths})
		}
		if h := app.Expose.Headers; h != nil {
			c.headers(t, cl, Field(base, "headers"), h)
		}
	}
}

// host checks one host of an app on one cluster and returns its full name.
func (c *ingressChecker) host(t *Team, cl *Cluster, field, h string) (string, bool) {
	domains := cl.Spec.Ingress.Domains
	if len(domains) == 0 {
		return "", false
	}
	if !isDNSLabel(h) && len(k8svalidation.IsDNS1123Subdomain(h)) > 0 && len(k8svalidation.IsWildcardDNS1123Subdomain(h)) > 0 {
		return "", false // checkExpose reports it
	}
	host := h
	if !strings.Contains(h, ".") {
		host = h + "." + domains[0]
	}
	if msgs := ingressDNSName(host); len(msgs) > 0 {
		c.errorf(t.File, t.Pos, field, "write a lowercase DNS name (letters, digits, '-', '.') such as pay, or pay."+domains[0], "%q is not a valid host name on cluster %s: %s", h, cl.Metadata.Name, strings.Join(msgs, "; "))
		return "", false
	}
	wildcard := strings.HasPrefix(host, "*.")
	if wildcard && !cl.Spec.Ingress.AllowWildcardHosts {
		c.errorf(t.File, t.Pos, field, fmt.Sprintf("name each host, or ask the platform team to set spec.ingress.allowWildcardHosts in %s", cl.File),
			"wildcard host %q is not allowed on cluster %s", host, cl.Metadata.Name)
		return "", false
	}
	if wildcard && cl.Spec.TLS.Issuer.Solver != "dns01" {
		c.errorf(t.File, t.Pos, field, fmt.Sprintf("name each host, or ask the platform team to use the dns01 solver in %s", cl.File),
			"wildcard host %q needs a DNS-01 certificate, but cluster %s issues with %s", host, cl.Metadata.Name, cl.Spec.TLS.Issuer.Solver)
		return "", false
	}
	inside := false
	for _, d := range domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			inside = true
			break
		}
	}
	if !inside {
		c.errorf(t.File, t.Pos, field, fmt.Sprintf("use a single label such as %s (it becomes %s.%s), or a name under %s", ingressFirstLabel(host), ingressFirstLabel(host), domains[0], strings.Join(domains, ", ")),
			"host %q is outside the domains of cluster %s (%s)", host, cl.Metadata.Name, strings.Join(domains, ", "))
		return "", false
	}
	return host, true
}

func ingressFirstLabel(host string) string {
	label, _, _ := strings.Cut(strings.TrimPrefix(host, "*."), ".")
	return label
}

// ingressDNSName says what is wrong with a host name, if anything. A wildcard is
// allowed as the whole first label only.
func ingressDNSName(host string) []string {
	name := strings.TrimPrefix(host, "*.")
	msgs := k8svalidation.IsDNS1123Subdomain(name)
	if len(msgs) == 0 {
		for _, label := range strings.Split(name, ".") {
			if len(label) > k8svalidation.DNS1123LabelMaxLength {
				msgs = append(msgs, fmt.Sprintf("label %q is longer than %d characters", label, k8svalidation.DNS1123LabelMaxLength))
			}
		}
	}
	if len(msgs) > 0 {
		// The library's messages end with the regular expression; keep the words.
		for i, m := range msgs {
			if before, _, ok := strings.Cut(m, " (e.g."); ok {
				msgs[i] = before
			}
		}
	}
	return msgs
}

// path refuses what would break out of the route's PathPrefix(`...`) or never match.
// A path without a leading '/' is checkExpose's.
func (c *ingressChecker) path(t *Team, field, p string) {
	if strings.HasPrefix(p, "/") && strings.ContainsAny(p, "`?# \t\r\n") {
		c.errorf(t.File, t.Pos, field, "a path prefix holds no spaces, backticks, '?' or '#', e.g. /api", "path %q is not a plain path prefix", p)
	}
}

func (c *ingressChecker) headerValue(file string, pos *Positions, field, v string) {
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		c.errorf(file, pos, field, "write the header's value on one line", "contains a control character")
	}
}

// headers checks that an app's headers tighten the cluster default, never loosen it.
func (c *ingressChecker) headers(t *Team, cl *Cluster, base string, h *spec.SecurityHeaders) {
	// A cluster default that is itself wrong is reported on cluster.yaml; the app is
	// then held to the platform's default.
	def := cl.Spec.Ingress.Headers
	minHSTS := def.HSTSMaxAgeSeconds
	if minHSTS <= 0 {
		minHSTS = ingressDefaultHSTSMaxAge
	}
	if h.HSTSMaxAgeSeconds != 0 && h.HSTSMaxAgeSeconds < minHSTS {
		c.errorf(t.File, t.Pos, Field(base, "hstsMaxAgeSeconds"), fmt.Sprintf("leave it out, or raise it to %d or more", minHSTS),
			"HSTS max-age %d is below %d, the default of cluster %s; an app may tighten the default, not loosen it", h.HSTSMaxAgeSeconds, minHSTS, cl.Metadata.Name)
	}
	if h.ReferrerPolicy != "" {
		clusterRP := def.ReferrerPolicy
		if !slices.Contains(ingressReferrerPolicies, clusterRP) {
			clusterRP = ingressDefaultReferrerPolicy
		}
		own, limit := slices.Index(ingressReferrerPolicies, h.ReferrerPolicy), slices.Index(ingressReferrerPolicies, clusterRP)
		switch {
		case own < 0:
			c.errorf(t.File, t.Pos, Field(base, "referrerPolicy"), "use one of "+strings.Join(ingressReferrerPolicies, ", "), "unknown referrer policy %q", h.ReferrerPolicy)
		case own > limit:
			c.errorf(t.File, t.Pos, Field(base, "referrerPolicy"), fmt.Sprintf("leave it out, or use one of %s", strings.Join(ingressReferrerPolicies[:limit+1], ", ")),
				"referrer policy %q is looser than %q, the default of cluster %s; an app may tighten the default, not loosen it", h.ReferrerPolicy, clusterRP, cl.Metadata.Name)
		}
	}
	c.headerValue(t.File, t.Pos, Field(base, "contentSecurityPolicy"), h.ContentSecurityPolicy)
}

// conflicts reports hosts claimed on one cluster by more than one team or by two apps
// of a team on the same path, and wildcards covering a host of another team. Each
// claimant's file gets a diagnostic naming the other.
func (c *ingressChecker) conflicts() {
	for _, cluster := range slices.Sorted(maps.Keys(c.claims)) {
		hosts := c.claims[cluster]
		for _, host := range slices.Sorted(maps.Keys(hosts)) {
			claims := hosts[host]
			// A wildcard claims every name one label below it.
			if strings.HasPrefix(host, "*.") {
				for _, other := range slices.Sorted(maps.Keys(hosts)) {
					if !strings.HasPrefix(other, "*.") && ingressCovers(host, other) {
						for _, a := range claims {
							for _, b := range hosts[other] {
								if a.team != b.team {
									c.clash(cluster, a, b, fmt.Sprintf("wildcard host %q covers host %q", host, other))
									c.clash(cluster, b, a, fmt.Sprintf("host %q is covered by wildcard host %q", other, host))
								}
							}
						}
					}
				}
			}
			for i, a := range claims {
				for j, b := range claims {
					if i == j {
						continue
					}
					switch {
					case a.team != b.team:
						c.clash(cluster, a, b, fmt.Sprintf("host %q is also claimed", host))
					case a.app != b.app && i > j:
						if shared := ingressSharedPaths(a.paths, b.paths); len(shared) > 0 {
							c.errorf(a.team.File, a.team.Pos, a.field, "give each app its own host, or its own paths", "host %q with path %s is also routed to app %q (%s)", host, strings.Join(shared, ", "), b.app, b.field)
						}
					}
				}
			}
		}
	}
}

func (c *ingressChecker) clash(cluster string, a, b ingressClaim, what string) {
	bLine, _ := b.team.Pos.Lookup(b.field)
	c.errorf(a.team.File, a.team.Pos, a.field, "a host belongs to one team per cluster; agree which team keeps it and pick another host for the other",
		"%s on cluster %s by team %s, app %q (%s:%d)", what, cluster, b.team.Metadata.Name, b.app, b.team.File, bLine)
}

// ingressCovers reports whether wildcard *.d covers host: host is one label below d.
func ingressCovers(wildcard, host string) bool {
	suffix := strings.TrimPrefix(wildcard, "*")
	label, ok := strings.CutSuffix(host, suffix)
	return ok && label != "" && !strings.Contains(label, ".")
}

func ingressSharedPaths(a, b []string) []string {
	var out []string
	for _, p := range a {
		if slices.Contains(b, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
