package fleet

import (
	"fmt"
	"path/filepath"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// regions name the clusters; past the list, a number tells them apart.
var regions = []string{"weu", "neu", "eus", "wus", "sea", "aue", "jpe", "cac", "brs", "inc"}

// makeClusters returns n clusters in the shape of the repository's own prod-weu and
// dev-weu. Cluster i's features cycle with different periods, so that from three
// clusters on every pairing occurs: even clusters are production, odd development;
// Cilium and Calico alternate in pairs; one in three has no mesh, and a meshed Calico
// cluster runs Linkerd every other time (Istio otherwise); every fourth cluster, a
// Calico one, audits by default (spec.enforcement). The first cluster is
// the richest (production, Cilium, Istio), so a one-cluster fleet exercises the most.
// Every cluster runs Falco, its teams' rules spread over a shard for every 15 teams
// (about 400 KB a shard at the fleet's five apps a team, well under the API server's
// 1 MiB where the hash puts more teams in one shard).
func makeClusters(n, teams int) []*spec.Cluster {
	out := make([]*spec.Cluster, n)
	for i := range out {
		region := regions[i%len(regions)]
		if i >= len(regions) {
			region += fmt.Sprint(i / len(regions))
		}
		c := &spec.Cluster{
			APIVersion: spec.APIVersion,
			Kind:       spec.KindCluster,
			Spec: spec.ClusterSpec{
				KubernetesVersion: "1.33",
				DNS:               spec.DNS{Namespace: "kube-system", PodLabels: map[string]string{"k8s-app": "kube-dns"}},
				Flux: spec.Flux{Repository: spec.GitRepository{
					URL: "ssh://git@github.com/example/platform-gitops.git", Branch: "main", SecretName: "flux-git-auth",
				}},
				Ingress: spec.Ingress{
					Namespace: "traefik",
					PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"},
				},
				Policy:  spec.Policy{AllowedRegistries: []string{"registry.example.com/"}},
				Runtime: spec.Runtime{Enabled: true, Shards: max(1, (teams+14)/15)},
			},
		}
		s := &c.Spec
		if i%2 == 0 {
			c.Metadata.Name = "prod-" + region
			s.Environment = spec.Production
			s.Ingress.Domains = []string{region + ".example.com"}
			s.Ingress.RateLimit = spec.RateLimit{Average: 100, Burst: 200, Period: "1s"}
			s.TLS = spec.TLS{
				Issuer: spec.Issuer{Name: "letsencrypt-prod", Server: "https://acme-v02.api.letsencrypt.org/directory",
					Email: "platform@example.com", Solver: "http01"},
				Duration: "2160h", RenewBefore: "720h",
			}
			s.Policy.Mode = spec.PolicyEnforce
			s.Scan.SeverityThreshold = spec.SeverityHigh
		} else {
			c.Metadata.Name = "dev-" + region
			s.Environment = spec.Development
			s.Ingress.Domains = []string{region + ".dev.example.com"}
			s.Ingress.AllowWildcardHosts = true
			s.Ingress.RateLimit = spec.RateLimit{Average: 50, Burst: 100, Period: "1s"}
			s.TLS = spec.TLS{Issuer: spec.Issuer{Name: "letsencrypt-staging", Server: "https://acme-staging-v02.api.letsencrypt.org/directory",
				Email: "platform@example.com", Solver: "http01"}}
			s.Policy.Mode = spec.PolicyAudit
			s.Scan.SeverityThreshold = spec.SeverityCritical
		}
		if i/2%2 == 0 {
			s.CNI = spec.CNICilium
		} else {
			// Only Cilium enforces host names; elsewhere host-name egress falls back to
			// the platform's egress proxies.
			s.CNI = spec.CNICalico
			s.Egress.FQDNFallbackCIDRs = []string{"192.0.2.0/24"}
			// The platform's shared egress denies: one GlobalNetworkSet of 64 ranges.
			for k := range 64 {
				s.Calico.DenyEgressCIDRs = append(s.Calico.DenyEgressCIDRs, fmt.Sprintf("10.%d.%d.0/24", 200+k/16, k%16*16))
			}
			if i%4 == 3 {
				// A cluster being adopted: its teams audit unless their spec says otherwise.
				s.Enforcement = spec.EnforcementAudit
			}
		}
		switch {
		case i%3 == 1:
			s.Mesh = spec.Mesh{Type: spec.MeshNone}
		case s.CNI == spec.CNICalico && i%4 == 2:
			s.Mesh = spec.Mesh{
				Type: spec.MeshLinkerd, TrustDomain: "cluster.local", RootNamespace: "linkerd",
				IngressGateway: &spec.Workload{Namespace: "traefik", ServiceAccount: "traefik",
					PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}},
			}
		default:
			s.Mesh = spec.Mesh{
				Type: spec.MeshIstio, Mode: spec.MeshSidecar, TrustDomain: c.Metadata.Name + ".example.com", RootNamespace: "istio-system",
				IngressGateway: &spec.Workload{Namespace: "traefik", ServiceAccount: "traefik",
					PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}},
			}
		}
		out[i] = c
	}
	return out
}

// config is rampart.yaml: scan offline against the example images and database of
// repo, which never go stale, and cache results inside the fleet.
func config(repo string) *spec.Config {
	return &spec.Config{
		APIVersion: spec.APIVersion,
		Kind:       spec.KindConfig,
		Scan: spec.ScanConfig{
			DBDir:     filepath.Join(repo, filepath.FromSlash(dbDir)),
			OCILayout: filepath.Join(repo, filepath.FromSlash(layoutDir)),
			CacheDir:  ".rampart/cache",
			MaxDBAge:  "0",
		},
	}
}
