package judge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/judge"
)

// restrictedNamespace is a team namespace as Rampart renders it.
func restrictedNamespace(name string) string {
	return `
apiVersion: v1
kind: Namespace
metadata:
  name: ` + name + `
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
`
}

// deployment is a Deployment whose pod template passes the restricted Pod
// Security Standard unless securityContext overrides the container's.
func deployment(namespace, containerSecurityContext string) string {
	if containerSecurityContext == "" {
		containerSecurityContext = `
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]`
	}
	return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ` + namespace + `
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      serviceAccountName: web
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: web
          image: registry.example.com/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
            limits:
              memory: 64Mi
          securityContext:` + containerSecurityContext + `
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
`
}

func serviceAccount(namespace string) string {
	return `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: ` + namespace + `
automountServiceAccountToken: false
`
}

func docs(parts ...string) string { return strings.Join(parts, "\n---\n") }

// TestJudgeHarness proves the harness judges for real: small hand-written
// objects that the real server accepts or rejects for the right reason.
func TestJudgeHarness(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// want are regular expressions matching the error results, one
		// result each; none means every object must be accepted.
		want []string
	}{
		{
			name: "restricted deployment is accepted",
			yaml: docs(restrictedNamespace("judge-valid"), serviceAccount("judge-valid"), deployment("judge-valid", ""), `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: judge-valid
spec:
  selector:
    app: web
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: judge-valid
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: web
`),
		},
		{
			name: "privileged pod template is rejected by PodSecurity",
			yaml: docs(restrictedNamespace("judge-privileged"), serviceAccount("judge-privileged"), deployment("judge-privileged", `
            privileged: true
            allowPrivilegeEscalation: true`)),
			want: []string{
				// The Deployment's own apply: PodSecurity warns for workloads.
				`would violate PodSecurity "restricted:latest": .*securityContext\.privileged=true`,
				// The pod from its template: PodSecurity enforces for pods.
				`^pod template: pods "web" is forbidden: violates PodSecurity "restricted:latest": .*securityContext\.privileged=true`,
			},
		},
		{
			name: "traefik IngressRoute with a misspelt field is rejected",
			yaml: docs(restrictedNamespace("judge-traefik"), `
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: web
  namespace: judge-traefik
spec:
  entryPoint:
    - websecure
  routes:
    - match: Host(`+"`web.example.com`"+`)
      kind: Rule
      services:
        - name: web
          port: 80
`),
			// Strict field validation: an unknown field is an error.
			want: []string{`spec\.entryPoint`},
		},
		{
			name: "flux Kustomization missing a required field is rejected",
			yaml: docs(restrictedNamespace("judge-flux"), `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: team
  namespace: judge-flux
spec:
  interval: 10m
  path: ./clusters/prod/teams/payments
  prune: true
  serviceAccountName: flux-reconciler
`),
			want: []string{`spec\.sourceRef: Required value`},
		},
		{
			name: "istio AuthorizationPolicy with a wrong enum is rejected",
			yaml: docs(restrictedNamespace("judge-istio"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-web
  namespace: judge-istio
spec:
  action: PERMIT
  selector:
    matchLabels:
      app: web
`),
			want: []string{`spec\.action: Unsupported value: "PERMIT"`},
		},
		{
			name: "object in a namespace that is not rendered is rejected",
			yaml: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: judge-nowhere
data:
  mode: strict
`,
			want: []string{`namespaces "judge-nowhere" not found`},
		},
		{
			name: "kind without a CRD is rejected",
			yaml: `
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
`,
			want: []string{`does not serve example\.com/v1, Kind=Widget`},
		},
	}

	srv := server(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := judge.ParseObjects("test/"+strings.ReplaceAll(tt.name, " ", "-")+".yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			results, err := srv.Judge(ctx, objs)
			if err != nil {
				t.Fatal(err)
			}
			errs := judge.Errors(results)
			for _, r := range results {
				t.Logf("%s", r)
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d error results, want %d (%q)", len(errs), len(tt.want), tt.want)
			}
			for _, w := range tt.want {
				re := regexp.MustCompile(w)
				found := false
				for _, r := range errs {
					if re.MatchString(r.Message) && r.Object != "" && r.File != "" {
						found = true
					}
				}
				if !found {
					t.Errorf("no error result matches %q", w)
				}
			}
		})
	}
}

// TestSampleCluster judges the hand-written sample of the rendered layout in
// testdata/, one object of every layer, so the harness is exercised on the
// kinds Rampart renders before the renderer writes clusters/.
func TestSampleCluster(t *testing.T) {
	objs, err := judge.ReadTree(os.DirFS("testdata"), "sample/clusters/sample")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("no objects in testdata/sample")
	}
	srv := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results, err := srv.Judge(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	report(t, results)
}

func TestParseObjects(t *testing.T) {
	in := `# Code generated by rampart. DO NOT EDIT.
# source: teams/payments.yaml
---
apiVersion: v1
kind: Namespace
metadata:
  name: payments
---
# only a comment
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: flux
  namespace: payments
`
	objs, err := judge.ParseObjects("tenants/payments.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Name())
	}
	want := "Namespace/payments ServiceAccount/payments/flux"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}

	if _, err := judge.ParseObjects("bad.yaml", []byte("kind: Namespace\nmetadata: {name: x}\n")); err == nil {
		t.Error("a document without apiVersion was accepted")
	}
}

func TestFindBinariesMissing(t *testing.T) {
	t.Setenv(judge.EnvEtcd, filepath.Join(t.TempDir(), "no-etcd"))
	_, err := judge.FindBinaries()
	if !errors.Is(err, judge.ErrMissingBinaries) {
		t.Fatalf("got %v, want ErrMissingBinaries", err)
	}
	if !strings.Contains(err.Error(), "make judges") {
		t.Errorf("the error does not name `make judges`: %v", err)
	}
}

// TestStartFailure checks that a server that cannot start gives its log tail
// and the command to reproduce it.
func TestStartFailure(t *testing.T) {
	bins, err := judge.FindBinaries()
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir) // the kept judge directory goes away with the test
	fake := filepath.Join(dir, "kube-apiserver")
	script := "#!/bin/sh\nfor i in $(seq 1 40); do echo \"line $i\"; done\necho 'E1122 cannot listen' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := judge.Start(ctx, judge.Options{Binaries: judge.Binaries{KubeAPIServer: fake, Etcd: bins.Etcd}})
	if err == nil {
		_ = srv.Stop() // the test fails either way
		t.Fatal("a kube-apiserver that exits at once was started")
	}
	msg := err.Error()
	t.Logf("the start failure as reported:\n%s", msg)
	for _, want := range []string{"kube-apiserver exited", "exit status 3", "to reproduce", fake + " --etcd-servers=", "E1122 cannot listen", "line 12\n", "etcd (needed to reproduce) ran as: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("the start failure does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 11\n") {
		t.Errorf("the start failure quotes more than the last 30 lines:\n%s", msg)
	}
}
