package reach

import (
	"encoding/json"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// addEngine reads the Calico and Linkerd objects of a cluster.
func (m *model) addEngine(o *unstructured.Unstructured) error {
	switch o.GroupVersionKind().GroupKind().String() {
	case "StagedKubernetesNetworkPolicy.projectcalico.org":
		// The same spec as a NetworkPolicy's, evaluated and reported by Calico, never
		// enforced: the enforced view enforces it.
		c := o.DeepCopy()
		c.SetAPIVersion("networking.k8s.io/v1")
		c.SetKind("NetworkPolicy")
		p, err := decode[networkingv1.NetworkPolicy](c)
		if err != nil {
			return err
		}
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
		ns := o.GetNamespace()
		if m.linkerd.networkAuthns[ns] == nil {
			m.linkerd.networkAuthns[ns] = map[string]bool{}
		}
		m.linkerd.networkAuthns[ns][o.GetName()] = true
	}
	return nil
}

// fromJSON decodes an object into one of the evaluator's own partial types.
func fromJSON[T any](o *unstructured.Unstructured) (*T, error) {
	b, err := json.Marshal(o.Object)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return v, nil
}
