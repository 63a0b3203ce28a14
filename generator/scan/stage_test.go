package scan

import (
	"path/filepath"
	"testing"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// TestOptionsFromConfig: rampart.yaml's scan section reaches the scanner, paths
// relative to the repository, the server with its token from the environment.
func TestOptionsFromConfig(t *testing.T) {
	t.Setenv("TRIVY_TOKEN", "s3cret")
	o, err := OptionsFromConfig("/repo", spec.ScanConfig{
		DBDir: ".trivy/db", CacheDir: "/abs/cache", MaxDBAge: "24h",
		Server: &spec.ScanServer{URL: "http://trivy.security.svc:4954"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.DBDir != filepath.Join("/repo", ".trivy/db") || o.CacheDir != "/abs/cache" || o.MaxDBAge.Hours() != 24 {
		t.Errorf("options = %+v", o)
	}
	if o.Server == nil || o.Server.URL != "http://trivy.security.svc:4954" || o.Server.Token != "s3cret" {
		t.Errorf("server = %+v", o.Server)
	}
	if _, err := OptionsFromConfig("/repo", spec.ScanConfig{Server: &spec.ScanServer{URL: "trivy:4954"}}); err == nil {
		t.Error("a server URL without a scheme was accepted")
	}
	o, err = OptionsFromConfig("/repo", spec.ScanConfig{DBDir: "db"})
	if err != nil || o.Server != nil || o.MaxDBAge != DefaultMaxDBAge {
		t.Errorf("local: %+v, %v", o, err)
	}
}
