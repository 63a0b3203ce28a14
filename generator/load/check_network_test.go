package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/diag"
)

// TestCheckNetworkCases runs the network checks on the testdata/network-* cases.
// Their errors are in want.txt, through Load (TestLoadGolden); here every finding of
// checkNetwork must carry a position and a hint, and the warnings, which Load does
// not return for a valid repository, are compared with warnings.txt.
func TestCheckNetworkCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "network-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no network cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			root := readCase(t, dir)
			delete(root, "warnings.txt")
			inv, err := Load(root)
			var found diag.List
			if err != nil {
				found, _ = err.(diag.List)
			} else {
				found = checkNetwork(inv)
			}
			for _, d := range found {
				if d.File == "" || d.Line == 0 || d.Hint == "" {
					t.Errorf("a finding without a position or a hint: %s", d)
				}
			}
			got := found.Warnings().Error()
			if got != "" {
				got += "\n"
			}
			golden := filepath.Join(dir, "warnings.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading the golden (run go test ./generator/load -run Network -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("warnings differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestCheckNetworkExamples: the repository's examples have cross-team calls with
// consent, host-name egress on Cilium and CIDR egress; none of it is an error.
func TestCheckNetworkExamples(t *testing.T) {
	inv, err := Load(os.DirFS(filepath.Join("..", "..")))
	if err != nil {
		t.Skipf("the examples do not load (another stage's check): %v", err)
	}
	for _, d := range checkNetwork(inv) {
		if d.Severity == diag.Error {
			t.Errorf("an example is refused: %s", d)
		}
	}
}

func TestCiliumHostProblem(t *testing.T) {
	tests := []struct {
		name, host string
		want       string // a substring; empty: accepted
	}{
		{name: "name", host: "api.stripe.com"},
		{name: "name with trailing dot", host: "api.stripe.com."},
		{name: "subdomain pattern", host: "*.stripe.com"},
		{name: "pattern inside a label", host: "api-*.stripe.com"},
		{name: "multilevel prefix", host: "**.stripe.com"},
		{name: "underscore", host: "_dmarc.example.com"},
		{name: "space", host: "api stripe.com", want: "name"},
		{name: "scheme", host: "https://api.stripe.com", want: "name"},
		{name: "port", host: "api.stripe.com:443", want: "name"},
		{name: "double wildcard inside", host: "api.**.stripe.com", want: `"**" is allowed only as the prefix`},
		{name: "empty label", host: "api..stripe.com", want: "name"},
		{name: "too long", host: strings.Repeat("a.", 128) + "com", want: "longer than 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ciliumHostProblem(tt.host)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("ciliumHostProblem(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}

func TestIstioPathProblem(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/v1/entries", true}, {"/v1/*", true}, {"*/info", true}, {"*", true},
		{"/v1/*/items", false}, {"*/x*", false}, {"v1/entries", false}, {"", false},
	}
	for _, tt := range tests {
		if got := istioPathProblem(tt.path); (got == "") != tt.ok {
			t.Errorf("istioPathProblem(%q) = %q, want ok=%v", tt.path, got, tt.ok)
		}
	}
}
