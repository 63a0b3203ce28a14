package load

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// checkCluster runs the checks of one cluster.yaml; dir is its directory's name.
func (l *loader) checkCluster(f *fileCtx, dir string, c *spec.Cluster) {
	if c.Metadata.Name != dir {
		f.errorf("metadata.name", fmt.Sprintf("name the directory clusters/%s after the cluster, or set metadata.name to %q", c.Metadata.Name, dir),
			"name %q does not match the directory name clusters/%s", c.Metadata.Name, dir)
	}
	if !isDNSLabel(c.Metadata.Name) {
		msg, hint := dnsLabelProblem(c.Metadata.Name)
		f.errorf("metadata.name", hint, "%s", msg)
	}
	s := &c.Spec
	for i, d := range s.Ingress.Domains {
		if len(validation.IsDNS1123Subdomain(d)) > 0 {
			f.errorf(Index("spec.ingress.domains", i), "write a DNS suffix such as apps.example.com", "%q is not a DNS name", d)
		}
	}
	for i, r := range s.Ingress.SourceRanges {
		checkCIDR(f, Index("spec.ingress.sourceRanges", i), r)
	}
	for i, r := range s.Egress.FQDNFallbackCIDRs {
		checkCIDR(f, Index("spec.egress.fqdnFallbackCIDRs", i), r)
		checkNotMetadata(f, Index("spec.egress.fqdnFallbackCIDRs", i), r)
	}
	checkRateLimit(f, "spec.ingress.rateLimit", s.Ingress.RateLimit)
	for _, d := range []struct{ field, value string }{
		{"spec.flux.interval", s.Flux.Interval},
		{"spec.tls.duration", s.TLS.Duration},
		{"spec.tls.renewBefore", s.TLS.RenewBefore},
	} {
		if d.value == "" {
			continue
		}
		if v, err := time.ParseDuration(d.value); err != nil || v <= 0 {
			f.errorf(d.field, "write a duration such as 10m or 2160h", "%q is not a positive duration", d.value)
		}
	}
	for _, ns := range []struct{ field, value string }{
		{"spec.dns.namespace", s.DNS.Namespace},
		{"spec.ingress.namespace", s.Ingress.Namespace},
		{"spec.flux.namespace", s.Flux.Namespace},
	} {
		if ns.value != "" && !isDNSLabel(ns.value) {
			msg, hint := dnsLabelProblem(ns.value)
			f.errorf(ns.field, hint, "%s", msg)
		}
	}
	checkPolicy(f, s.Policy)
	if s.Access.Debugging && s.Environment == spec.Production {
		f.errorf("spec.access.debugging", "debug on a staging or development cluster; on production, changes and investigations go through Git and the platform's on-call",
			"debugging (exec, attach and port-forward into team pods) is never allowed on a production cluster")
	}
	checkRuntimeSettings(f, s.Runtime)
	checkEngines(f, s)
	if s.TLS.Issuer.Solver == "dns01" && s.TLS.Issuer.DNS01 == nil {
		f.errorf("spec.tls.issuer.dns01", "set dns01.provider (azureDNS or cloudflare) and its settings", "required when solver is dns01")
	}
}
