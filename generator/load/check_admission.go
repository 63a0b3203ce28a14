package load

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/kustomize"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// ExpiryWarningDays is how close to its last day an exception is warned about.
const ExpiryWarningDays = 14

// checkPolicyExceptions checks a team's spec.exceptions.policies against the admission
// policies lib/admission.libsonnet renders (defaults.AdmissionPolicies) and the
// team's apps, and marks each with its place in the file and, by the loader's clock,
// whether it has expired: an expired exception is not rendered. apps maps the team's
// app names to their index.
func (l *loader) checkPolicyExceptions(f *fileCtx, t *spec.Team, apps map[string]int) {
	// covered is where each policy and app pair is first excepted.
	type pair struct{ policy, app string }
	covered := map[pair]int{}
	for i := range t.Spec.Exceptions.Policies {
		p := &t.Spec.Exceptions.Policies[i]
		field := Index("spec.exceptions.policies", i)
		p.Source = fmt.Sprintf("%s:%d", f.file, line(f, field))
		p.Expired = false
		l.checkExpiry(f, Field(field, "expires"), p)

		policy, known := defaults.AdmissionPolicyNamed(p.Policy)
		switch {
		case p.Policy == "":
			// The schema reports the missing field.
		case !known:
			f.errorf(Field(field, "policy"), suggest(p.Policy, policyNames()), "unknown admission policy %q", p.Policy)
		case !policy.Waivable:
			f.errorf(Field(field, "policy"), "nothing in a team's spec needs it; ask the platform team if you think otherwise",
				"policy %s cannot be waived", p.Policy)
		}
		if known {
			rules := map[string]int{}
			for j, r := range p.Rules {
				rf := Index(Field(field, "rules"), j)
				switch k, dup := rules[r]; {
				case len(policy.Rules) == 0:
					f.errorf(rf, "leave rules out: the exception waives the whole policy", "policy %s has no rules", p.Policy)
				case dup:
					f.errorf(rf, "list each rule once", "rule %q is already listed at %s", r, Index(Field(field, "rules"), k))
				case !slices.Contains(policy.Rules, r):
					f.errorf(rf, suggest(r, policy.Rules), "policy %s has no rule %q", p.Policy, r)
				}
				rules[r] = j
			}
		}
		for _, j := range checkAppList(f, Field(field, "apps"), p.Apps, apps) {
			a, af := p.Apps[j], Index(Field(field, "apps"), j)
			key := pair{p.Policy, a}
			if k, dup := covered[key]; dup {
				f.errorf(af, "an app has one exception per policy: merge the two (their rules, reasons and the earlier date)",
					"app %q already has an exception from %s at spec.exceptions.policies[%d] (line %d)", a, p.Policy, k, line(f, Index("spec.exceptions.policies", k)))
				continue
			}
			covered[key] = i
		}
	}
}

// checkAppList reports an exception's apps (at field) listed twice or not in the
// team (apps: the team's app names), and returns the indexes of the others.
func checkAppList(f *fileCtx, field string, list []string, apps map[string]int) []int {
	var valid []int
	listed := map[string]int{}
	for j, a := range list {
		af := Index(field, j)
		if k, dup := listed[a]; dup {
			f.errorf(af, "list each app once", "app %q is already listed at %s", a, Index(field, k))
			continue
		}
		listed[a] = j
		if _, ok := apps[a]; !ok {
			f.errorf(af, knownList("the team's apps", sortedKeys(apps), ""), "app %q does not exist in this team", a)
			continue
		}
		valid = append(valid, j)
	}
	return valid
}

// checkExpiry marks a policy exception expired once its last day (UTC) has passed,
// and warns about it then and in the days before.
func (l *loader) checkExpiry(f *fileCtx, field string, p *spec.PolicyException) {
	p.Expired = l.expiry(f, field, p.Expires, "the exception from "+p.Policy, "the policy applies to "+strings.Join(p.Apps, ", ")+" again")
}

// expiry says whether an exception's last day (UTC) has passed, and warns about it
// then and in the days before: what names the exception ("the exception from
// rampart-images"), after what happens once it is gone ("the policy applies to api
// again").
func (l *loader) expiry(f *fileCtx, field string, expires spec.Date, what, after string) bool {
	last, err := time.Parse(time.DateOnly, string(expires))
	if err != nil {
		return false // checkDate reports it
	}
	now := l.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	left := int(last.Sub(today).Hours() / 24)
	switch {
	case left < 0:
		f.warnf(field, "remove it from the spec, or renew it with a later date and a reason the reviewers accept",
			"%s expired on %s: it is no longer rendered, and %s", what, expires, after)
		return true
	case left <= ExpiryWarningDays:
		when := fmt.Sprintf("in %d days", left)
		switch left {
		case 0:
			when = "at the end of today (UTC)"
		case 1:
			when = "tomorrow"
		}
		f.warnf(field, "fix what it covers, or renew it with a later date and a reason the reviewers accept",
			"%s expires %s (%s); after that %s", what, when, expires, after)
	}
	return false
}

// checkPolicy checks a cluster's admission policy settings.
func checkPolicy(f *fileCtx, p spec.Policy) {
	for i, r := range p.AllowedRegistries {
		if r == "" || strings.ContainsAny(r, " \t*") {
			f.errorf(Index("spec.policy.allowedRegistries", i), "write a registry prefix such as registry.example.com/", "%q is not a registry prefix", r)
		}
	}
	seen := map[string]int{}
	for i, s := range p.TrustedSigners {
		field := Index("spec.policy.trustedSigners", i)
		if j, dup := seen[s.Registry]; dup {
			f.errorf(Field(field, "registry"), "name each registry once", "registry %q already has a signer at spec.policy.trustedSigners[%d]", s.Registry, j)
		}
		seen[s.Registry] = i
		if strings.ContainsAny(s.Registry, " \t*?[]{}") {
			f.errorf(Field(field, "registry"), "write a registry prefix such as registry.example.com/", "%q is not a registry prefix", s.Registry)
		}
		switch {
		case s.PublicKey == "" && s.Keyless == nil:
			f.errorf(field, "set publicKey (a cosign public key, PEM) or keyless (issuer and subject)", "a signer needs a key or a keyless identity")
		case s.PublicKey != "" && s.Keyless != nil:
			f.errorf(field, "keep one: publicKey for a cosign key pair, keyless for Sigstore keyless signing", "a signer has a public key or a keyless identity, not both")
		case s.PublicKey != "":
			if msg := publicKeyProblem(s.PublicKey); msg != "" {
				f.errorf(Field(field, "publicKey"), "paste the cosign public key (cosign.pub), from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----", "%s", msg)
			}
		}
	}
}

// publicKeyProblem explains why s is not a PEM-encoded public key, or returns "".
func publicKeyProblem(s string) string {
	block, rest := pem.Decode([]byte(s))
	switch {
	case block == nil:
		return "not a PEM-encoded public key"
	case block.Type != "PUBLIC KEY":
		return fmt.Sprintf("a PEM block of type %q, not a PUBLIC KEY", block.Type)
	case strings.TrimSpace(string(rest)) != "":
		return "more than one PEM block; a signer has one key"
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return "the PEM block does not hold a public key (PKIX, as cosign writes it)"
	}
	return ""
}

func policyNames() []string {
	names := make([]string, len(defaults.AdmissionPolicies))
	for i, p := range defaults.AdmissionPolicies {
		names[i] = p.Name
	}
	return names
}

// suggest is a hint for a name that is not one of names: the closest, when it is
// close, else the list.
func suggest(got string, names []string) string {
	best, bestDist := "", -1
	for _, n := range names {
		if d := editDistance(got, n); bestDist < 0 || d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" && bestDist <= max(2, len(got)/3) {
		return fmt.Sprintf("did you mean %q? (known: %s)", best, strings.Join(names, ", "))
	}
	return knownList("known", names, "")
}

// warnf reports a warning on a field: it does not fail the run.
func (f *fileCtx) warnf(field, hint, format string, args ...any) {
	line, col := f.pos.Lookup(field)
	f.l.add(diag.Diagnostic{File: f.file, Line: line, Column: col, Field: field, Message: fmt.Sprintf(format, args...), Hint: hint, Severity: diag.Warning})
}

// PolicyMode is the cluster's effective admission mode, as lib/admission.libsonnet
// renders it: policy.mode, by default Enforce on production and Audit elsewhere.
func PolicyMode(c *spec.Cluster) spec.PolicyMode {
	switch {
	case c.Spec.Policy.Mode != "":
		return c.Spec.Policy.Mode
	case c.Spec.Environment == spec.Production:
		return spec.PolicyEnforce
	}
	return spec.PolicyAudit
}

// excepted says whether an unexpired exception of the team waives the rule of the
// policy for the app.
func excepted(t *spec.Team, policy, rule, app string) bool {
	for _, e := range t.Spec.Exceptions.Policies {
		if e.Expired || e.Policy != policy || !slices.Contains(e.Apps, app) {
			continue
		}
		if len(e.Rules) == 0 || slices.Contains(e.Rules, rule) {
			return true
		}
	}
	return false
}

// checkRegistries checks every app's image, after the team's image overrides, against
// the allowed registries of each cluster the team runs on (policy.allowedRegistries),
// which the cluster's admission policy enforces: an error where it denies
// (Enforce), a warning where it audits, nothing where an unexpired exception waives
// the rule for the app. Images that charts bring in are judged at admission only.
func checkRegistries(inv *Inventory) diag.List {
	var out diag.List
	for i := range inv.Teams {
		t := &inv.Teams[i]
		for ai := range t.Spec.Apps {
			a := &t.Spec.Apps[ai]
			if a.Image == "" || excepted(t.Team, "rampart-images", "allowed-registries", a.Name) {
				continue
			}
			image := overridden(a.Image, t.Spec.Images)
			field := Field(Index("spec.apps", ai), "image")
			for _, name := range t.Spec.Clusters {
				c := inv.Cluster(name)
				if c == nil {
					continue
				}
				allowed := c.Spec.Policy.AllowedRegistries
				if len(allowed) == 0 || slices.ContainsFunc(allowed, func(r string) bool { return strings.HasPrefix(image, r) }) {
					continue
				}
				sev, effect := diag.Error, "its admission policy would refuse the app's pods"
				if PolicyMode(c.Cluster) != spec.PolicyEnforce {
					sev, effect = diag.Warning, "its admission policy reports the app's pods (Audit), and would refuse them under Enforce"
				}
				line, col := t.Pos.Lookup(field)
				out = append(out, diag.Diagnostic{
					File: t.File, Line: line, Column: col, Field: field, Severity: sev,
					Message: fmt.Sprintf("image %s is not from a registry cluster %s allows (%s): %s", image, name, strings.Join(allowed, ", "), effect),
					Hint:    fmt.Sprintf("use an image from %s, or ask for an exception: policy rampart-images, rules [allowed-registries], apps [%s] under spec.exceptions.policies", allowed[0], a.Name),
				})
			}
		}
	}
	return out.Sort()
}

// overridden is an app's image as the team's Flux-format image overrides leave its
// name (newName replaces the name; tags and digests do not move the registry).
func overridden(image string, overrides []kustomize.Image) string {
	name, rest := image, ""
	if i := strings.IndexByte(image, '@'); i >= 0 {
		name, rest = image[:i], image[i:]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, rest = name[:i], name[i:]+rest
	}
	for _, o := range overrides {
		if o.Name == name && o.NewName != "" {
			return o.NewName + rest
		}
	}
	return image
}
