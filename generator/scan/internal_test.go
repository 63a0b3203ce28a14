package scan

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestDockerConfigKeychain(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("bot:s3cret"))
	if err := os.WriteFile(cfg, []byte(`{"auths":{"registry.example.com":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := newSource(RegistryOptions{DockerConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	kc := src.(*registrySource).keychain
	for reg, want := range map[string]string{"registry.example.com": "bot", "other.example.com": ""} {
		a, err := kc.Resolve(mustRef(t, reg+"/x:1").Context())
		if err != nil {
			t.Fatal(err)
		}
		ac, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if ac.Username != want && !(want == "" && a == authn.Anonymous) {
			t.Errorf("%s: user %q, want %q", reg, ac.Username, want)
		}
	}
	if _, err := newSource(RegistryOptions{DockerConfig: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("a missing docker config is not an error")
	}
}

func TestMirrorTarget(t *testing.T) {
	s := &registrySource{opts: RegistryOptions{
		Mirrors:  map[string]string{"registry.example.com": "mirror.internal:5000/cache", "docker.io": "hub.internal"},
		Insecure: []string{"mirror.internal:5000"},
	}}
	cases := map[string]string{
		"registry.example.com/payments/api:1.4.2": "mirror.internal:5000/cache/payments/api:1.4.2",
		"nginx:1.27":        "hub.internal/library/nginx:1.27",
		"ghcr.io/org/app:1": "ghcr.io/org/app:1",
	}
	for in, want := range cases {
		got, err := s.target(mustRef(t, in))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name() != want {
			t.Errorf("%s → %s, want %s", in, got.Name(), want)
		}
	}
	got, _ := s.target(name.MustParseReference("registry.example.com/payments/api:1.4.2"))
	if got.Context().Scheme() != "http" {
		t.Errorf("insecure mirror scheme = %s", got.Context().Scheme())
	}
}

func TestTrivyLogsAreRouted(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	slog.SetDefault(slog.New(&trivylog.DeferredHandler{}))
	var buf bytes.Buffer
	routeTrivyLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	slog.Info("Detected OS")
	slog.Warn("something odd")
	out := buf.String()
	if !bytes.Contains(buf.Bytes(), []byte("level=DEBUG msg=\"Detected OS\" component=trivy")) ||
		!bytes.Contains(buf.Bytes(), []byte("level=WARN")) {
		t.Errorf("routed logs:\n%s", out)
	}
	// A program's own default handler is left alone.
	mine := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	slog.SetDefault(mine)
	routeTrivyLogs(slog.New(slog.DiscardHandler))
	if slog.Default() != mine {
		t.Error("routeTrivyLogs replaced the program's default logger")
	}
}

func TestProgressIsSilentWithoutTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 3)
	p.start("x")
	p.done()
	p.finish()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := newProgress(f, 3)
	q.start("x")
	q.done()
	q.finish()
	st, _ := f.Stat()
	if buf.Len() != 0 || st.Size() != 0 {
		t.Errorf("progress wrote to a non-terminal: %q, file %d bytes", buf.String(), st.Size())
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Minute:                             "1h30m",
		72 * time.Hour:                               "3d",
		5*24*time.Hour + 12*time.Hour:                "5d12h",
		2*24*time.Hour + 3*time.Hour + 5*time.Minute: "2d3h5m",
	} {
		if got := formatAge(d); got != want {
			t.Errorf("formatAge(%s) = %s, want %s", d, got, want)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
