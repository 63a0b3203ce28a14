package reach

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
)

// addEngine reads the Calico and Linkerd objects of a cluster.
func (m *model) addEngine(o object) error {
	switch groupKind(o) {
	case "StagedKubernetesNetworkPolicy.projectcalico.org":
		// The same spec as a NetworkPolicy's, evaluated and reported by Calico, never
		// enforced: the enforced view enforces it.
		p, err := decode[networkingv1.NetworkPolicy](o)
		if err != nil {
			return err
		}
		p.APIVersion, p.Kind = "networking.k8s.io/v1", "NetworkPolicy"
		m.staged = append(m.staged, p)
		m.auditNS[p.Namespace] = true
	case "GlobalNetworkPolicy.projectcalico.org":
		p, err := fromJSON[calicoPolicy](o)
		if err != nil {
			return err
		}
		if err := p.parse(); err != nil {
			return err
		}
		m.gnps = append(m.gnps, p)
	case "Tier.projectcalico.org":
		t, err := fromJSON[calicoTier](o)
		if err != nil {
			return err
		}
		m.tiers = append(m.tiers, t)
	case "GlobalNetworkSet.projectcalico.org":
		s, err := fromJSON[calicoNetworkSet](o)
		if err != nil {
			return err
		}
		m.networkSets = append(m.networkSets, s)
	case "Server.policy.linkerd.io":
		s, err := fromJSON[linkerdServer](o)
		if err != nil {
			return err
		}
		m.linkerd.servers[s.Metadata.Namespace] = append(m.linkerd.servers[s.Metadata.Namespace], s)
		if s.Spec.AccessPolicy == "audit" {
			m.auditNS[s.Metadata.Namespace] = true
		}
	case "HTTPRoute.policy.linkerd.io":
		r, err := fromJSON[linkerdRoute](o)
		if err != nil {
			return err
		}
		m.linkerd.routes[r.Metadata.Namespace] = append(m.linkerd.routes[r.Metadata.Namespace], r)
	case "AuthorizationPolicy.policy.linkerd.io":
		a, err := fromJSON[linkerdAuthz](o)
		if err != nil {
			return err
		}
		m.linkerd.authzs[a.Metadata.Namespace] = append(m.linkerd.authzs[a.Metadata.Namespace], a)
	case "MeshTLSAuthentication.policy.linkerd.io":
		a, err := fromJSON[linkerdMeshTLS](o)
		if err != nil {
			return err
		}
		ns := a.Metadata.Namespace
		if m.linkerd.meshTLS[ns] == nil {
			m.linkerd.meshTLS[ns] = map[string]*linkerdMeshTLS{}
		}
		m.linkerd.meshTLS[ns][a.Metadata.Name] = a
	case "NetworkAuthentication.policy.linkerd.io":
		ns := o.namespace()
		if m.linkerd.networkAuthns[ns] == nil {
			m.linkerd.networkAuthns[ns] = map[string]bool{}
		}
		m.linkerd.networkAuthns[ns][o.name()] = true
	}
	return nil
}

// fromJSON decodes an object into one of the evaluator's own partial types.
func fromJSON[T any](o object) (*T, error) {
	v := new(T)
	if err := o.loose(v); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return v, nil
}
