package verify

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const validPeerAuthentication = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: payments}
spec: {mtls: {mode: STRICT}}
`

const validAllowNothing = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: payments}
spec: {}
`

const validAuthorizationPolicy = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: payments, labels: {app.kubernetes.io/name: api}}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: api}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/storefront/sa/web]}}]
    to: [{operation: {ports: ["8080"], methods: [GET, POST], paths: [/api/*]}}]
`

const validCiliumNetworkPolicy = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app.kubernetes.io/name: api}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}]
    toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]
  - toFQDNs: [{matchName: api.stripe.com}, {matchPattern: "*.stripe.com"}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`

// decodeNetwork decodes a document the way the verify stage does.
func decodeNetwork(t *testing.T, doc string, edit func(map[string]any)) error {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(obj)
	}
	u := &unstructured.Unstructured{Object: obj}
	k, ok := networkKinds[u.GroupVersionKind()]
	if !ok {
		t.Fatalf("%s is not a network kind", u.GroupVersionKind())
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, k.newObject(), true)
}

func setField(path string, value any) func(map[string]any) {
	return func(obj map[string]any) {
		if err := unstructured.SetNestedField(obj, value, strings.Split(path, ".")...); err != nil {
			panic(err)
		}
	}
}

func TestNetworkKindsDecodeStrictly(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		edit    func(map[string]any)
		wantErr string // empty: valid
	}{
		{name: "PeerAuthentication valid", doc: validPeerAuthentication},
		{name: "allow-nothing AuthorizationPolicy valid", doc: validAllowNothing},
		{name: "AuthorizationPolicy valid", doc: validAuthorizationPolicy},
		{name: "CiliumNetworkPolicy valid", doc: validCiliumNetworkPolicy},
		// istio.io/api's own unmarshaler would drop these silently.
		{name: "PeerAuthentication misspelt field", doc: validPeerAuthentication, edit: setField("spec.mtls.mod", "STRICT"), wantErr: `unknown field "mod"`},
		{name: "PeerAuthentication mode outside its enum", doc: validPeerAuthentication, edit: setField("spec.mtls.mode", "STRICTER"), wantErr: "STRICTER"},
		{name: "AuthorizationPolicy unknown top-level spec field", doc: validAuthorizationPolicy, edit: setField("spec.rule", []any{}), wantErr: `unknown field "rule"`},
		{name: "AuthorizationPolicy ports of the wrong type", doc: validAuthorizationPolicy, edit: func(o map[string]any) {
			r := o["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)
			r["to"].([]any)[0].(map[string]any)["operation"].(map[string]any)["ports"] = []any{int64(8080)}
		}, wantErr: "spec:"},
		{name: "AuthorizationPolicy action outside its enum", doc: validAuthorizationPolicy, edit: setField("spec.action", "PERMIT"), wantErr: "PERMIT"},
		{name: "Istio unknown metadata field", doc: validAllowNothing, edit: setField("metadata.label", "x"), wantErr: `metadata: json: unknown field "label"`},
		{name: "CiliumNetworkPolicy misspelt rule", doc: validCiliumNetworkPolicy, edit: setField("spec.egres", []any{}), wantErr: `unknown field "spec.egres"`},
		{name: "CiliumNetworkPolicy host name Cilium rejects", doc: validCiliumNetworkPolicy, edit: func(o map[string]any) {
			e := o["spec"].(map[string]any)["egress"].([]any)[1].(map[string]any)
			e["toFQDNs"] = []any{map[string]any{"matchName": "api stripe.com"}}
		}, wantErr: "spec.egress[1].toFQDNs[0].matchName in body should match"},
		{name: "CiliumNetworkPolicy protocol outside its enum", doc: validCiliumNetworkPolicy, edit: func(o map[string]any) {
			e := o["spec"].(map[string]any)["egress"].([]any)[1].(map[string]any)
			e["toPorts"] = []any{map[string]any{"ports": []any{map[string]any{"port": "443", "protocol": "HTTP"}}}}
		}, wantErr: `spec.egress[1].toPorts[0].ports[0].protocol: Unsupported value: "HTTP"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeNetwork(t, tt.doc, tt.edit)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("want an error with %q, got none", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("want an error with %q, got %v", tt.wantErr, err)
			}
		})
	}
}

// TestNetworkKindsScope keeps the CRD-checked kinds' scope equal to their CRD's.
func TestNetworkKindsScope(t *testing.T) {
	for gvk, k := range networkKinds {
		o, ok := k.newObject().(*schemaObject)
		if !ok {
			continue
		}
		schemas, err := loadCRDSchemas(o.file)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		if s, ok := schemas[gvk]; !ok || s.namespaced != k.namespaced {
			t.Errorf("%s: not served by its CRD with the same scope", gvk)
		}
	}
}
