package verify

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// TestIngressCRDsMatchJudge keeps the embedded CRDs byte-equal to the ones the API
// server judge installs, so both judges check against the same upstream version.
func TestIngressCRDsMatchJudge(t *testing.T) {
	const judgeDir = "../internal/judge/crds"
	if _, err := os.Stat(judgeDir); err != nil {
		t.Skipf("no judge CRDs here: %v", err)
	}
	err := fs.WalkDir(upstreamCRDs, "crds", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ours, err := upstreamCRDs.ReadFile(p)
		if err != nil {
			return err
		}
		theirs, err := os.ReadFile(path.Join(judgeDir, strings.TrimPrefix(p, "crds/")))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("generator/verify/%s differs from %s; copy it again after .ci/update-crds", p, path.Join(judgeDir, strings.TrimPrefix(p, "crds/")))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

const validIngressRoute = `
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: api, namespace: payments, labels: {app.kubernetes.io/name: api}}
spec:
  entryPoints: [websecure]
  routes:
  - kind: Rule
    match: Host(` + "`pay.example.com`" + `)
    middlewares: [{name: api-headers}]
    services: [{kind: Service, name: api, port: 8080}]
  tls: {secretName: api-tls}
`

const validMiddleware = `
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: api-rate-limit, namespace: payments}
spec:
  rateLimit: {average: 20, burst: 40, period: 1s, sourceCriterion: {ipStrategy: {ipv6Subnet: 64}}}
`

const validCertificate = `
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api, namespace: payments}
spec:
  secretName: api-tls
  dnsNames: [pay.example.com]
  issuerRef: {group: cert-manager.io, kind: ClusterIssuer, name: letsencrypt-prod}
  duration: 2160h
  renewBefore: 720h
  privateKey: {algorithm: ECDSA, size: 256, rotationPolicy: Always}
`

const validClusterIssuer = `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt-prod}
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    email: platform@example.com
    privateKeySecretRef: {name: letsencrypt-prod-account-key}
    solvers:
    - selector: {dnsZones: [example.com]}
      http01: {ingress: {ingressClassName: traefik}}
`

// decodeLikeVerify decodes an object the way the verify stage does.
func decodeLikeVerify(t *testing.T, doc string, edit func(map[string]any)) error {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(obj)
	}
	u := &unstructured.Unstructured{Object: obj}
	k, ok := kinds[u.GroupVersionKind()]
	if !ok {
		t.Fatalf("%s is not registered", u.GroupVersionKind())
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, k.newObject(), true)
}

func set(path string, value any) func(map[string]any) {
	return func(obj map[string]any) {
		if err := unstructured.SetNestedField(obj, value, strings.Split(path, ".")...); err != nil {
			panic(err)
		}
	}
}

func del(path string) func(map[string]any) {
	return func(obj map[string]any) { unstructured.RemoveNestedField(obj, strings.Split(path, ".")...) }
}

func TestIngressKindsAreCheckedAgainstUpstreamSchemas(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		edit    func(map[string]any)
		wantErr string // empty: valid
	}{
		{name: "IngressRoute valid", doc: validIngressRoute},
		{name: "Middleware valid", doc: validMiddleware},
		{name: "Certificate valid", doc: validCertificate},
		{name: "ClusterIssuer valid", doc: validClusterIssuer},
		{name: "IngressRoute unknown field", doc: validIngressRoute, edit: set("spec.tls.secret", "api-tls"), wantErr: `unknown field "spec.tls.secret"`},
		{name: "IngressRoute without routes", doc: validIngressRoute, edit: del("spec.routes"), wantErr: "spec.routes: Required value"},
		{name: "IngressRoute route kind outside its enum", doc: validIngressRoute, edit: func(o map[string]any) {
			o["spec"].(map[string]any)["routes"].([]any)[0].(map[string]any)["kind"] = "Route"
		}, wantErr: `spec.routes[0].kind: Unsupported value: "Route"`},
		{name: "Middleware misspelt rate limit field", doc: validMiddleware, edit: set("spec.rateLimit.sourceCriterion.ipStrategy.ipv6SubNet", int64(64)), wantErr: `unknown field "spec.rateLimit.sourceCriterion.ipStrategy.ipv6SubNet"`},
		{name: "Middleware average of the wrong type", doc: validMiddleware, edit: set("spec.rateLimit.average", "twenty"), wantErr: `spec.rateLimit.average: Invalid value: "string"`},
		{name: "Middleware breaking a CEL rule", doc: validMiddleware, edit: set("spec.addPrefix", map[string]any{"prefix": "api"}), wantErr: "must start with a '/'"},
		{name: "Certificate without secretName", doc: validCertificate, edit: del("spec.secretName"), wantErr: "spec.secretName: Required value"},
		{name: "Certificate key algorithm outside its enum", doc: validCertificate, edit: set("spec.privateKey.algorithm", "DSA"), wantErr: `spec.privateKey.algorithm: Unsupported value: "DSA"`},
		{name: "ClusterIssuer without account key", doc: validClusterIssuer, edit: del("spec.acme.privateKeySecretRef"), wantErr: "spec.acme.privateKeySecretRef: Required value"},
		{name: "ClusterIssuer unknown solver field", doc: validClusterIssuer, edit: func(o map[string]any) {
			s := o["spec"].(map[string]any)["acme"].(map[string]any)["solvers"].([]any)[0].(map[string]any)
			s["http01"].(map[string]any)["ingress"].(map[string]any)["ingressClass"] = "traefik"
		}, wantErr: `unknown field "spec.acme.solvers[0].http01.ingress.ingressClass"`},
		{name: "unknown metadata field", doc: validCertificate, edit: set("metadata.label", "x"), wantErr: `metadata: strict decoding error: unknown field "label"`},
		{name: "name not a DNS subdomain", doc: validCertificate, edit: set("metadata.name", "API_tls"), wantErr: "metadata.name: a lowercase RFC 1123 subdomain"},
		{name: "version the CRD does not serve", doc: validCertificate, edit: set("apiVersion", "cert-manager.io/v1alpha2"), wantErr: "not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == "not registered" {
				var obj map[string]any
				if err := yaml.Unmarshal([]byte(tt.doc), &obj); err != nil {
					t.Fatal(err)
				}
				tt.edit(obj)
				if _, ok := kinds[(&unstructured.Unstructured{Object: obj}).GroupVersionKind()]; ok {
					t.Fatal("an unserved version is registered")
				}
				return
			}
			err := decodeLikeVerify(t, tt.doc, tt.edit)
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

// TestIngressKindsScope keeps each kind's scope (which decides where isolation lets
// it live) equal to its CRD's.
func TestIngressKindsScope(t *testing.T) {
	for gvk, k := range ingressKinds {
		schemas, err := loadCRDSchemas(k.newObject().(*schemaObject).file)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		s, ok := schemas[gvk]
		if !ok {
			t.Fatalf("%s: not served by its CRD", gvk)
		}
		if k.namespaced != s.namespaced {
			t.Errorf("%s: namespaced = %v, the CRD says %v", gvk, k.namespaced, s.namespaced)
		}
	}
}
