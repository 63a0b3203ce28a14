package load

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// The ingress cases under testdata/ingress-* run through Load in TestLoadGolden, with
// their diagnostics as want.txt goldens. The tests here pin what those goldens must
// show and what the goldens cannot: the repository's own examples, input order.

// ingressInventory decodes team and cluster files (paths relative to root) into an
// Inventory without Load, so checkIngress runs on them alone.
func ingressInventory(t *testing.T, root string, files ...string) *Inventory {
	t.Helper()
	inv := &Inventory{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f, "clusters/") {
			c := new(spec.Cluster)
			if err := yaml.UnmarshalStrict(data, c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			inv.Clusters = append(inv.Clusters, Cluster{Cluster: c, File: f})
			continue
		}
		tm := new(spec.Team)
		if err := yaml.UnmarshalStrict(data, tm); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		inv.Teams = append(inv.Teams, Team{Team: tm, File: f})
	}
	return inv
}

func TestCheckIngressAcceptsTheExamples(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "clusters", "*", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	teams, err := filepath.Glob(filepath.Join(root, "teams", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, f := range append(files, teams...) {
		r, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, filepath.ToSlash(r))
	}
	inv := ingressInventory(t, root, rel...)
	exposed := 0
	for _, tm := range inv.Teams {
		for _, a := range tm.Spec.Apps {
			if a.Expose != nil {
				exposed += len(tm.Spec.Clusters)
			}
		}
	}
	if exposed == 0 {
		t.Fatal("the examples expose no app; the ingress layer needs one on each cluster")
	}
	if diags := checkIngress(inv); len(diags) > 0 {
		t.Errorf("the examples fail the ingress checks:\n%s", diags.Error())
	}
}

// TestCheckIngressNamesBothFiles pins the rule of the issue: two teams claiming one
// host on a cluster is an error in each file, naming the other.
func TestCheckIngressNamesBothFiles(t *testing.T) {
	inv := ingressInventory(t, filepath.Join("testdata", "ingress-duplicate-host"),
		"clusters/prod/cluster.yaml", "clusters/dev/cluster.yaml", "teams/alpha.yaml", "teams/beta.yaml", "teams/delta.yaml")
	diags := checkIngress(inv)
	for _, pair := range [][2]string{
		{"teams/alpha.yaml", "teams/beta.yaml"},
		{"teams/beta.yaml", "teams/alpha.yaml"},
		{"teams/alpha.yaml", "teams/delta.yaml"},
		{"teams/delta.yaml", "teams/alpha.yaml"},
	} {
		if !slices.ContainsFunc(diags, func(d diag.Diagnostic) bool {
			return d.File == pair[0] && strings.Contains(d.Message, pair[1]) && d.Hint != ""
		}) {
			t.Errorf("no diagnostic in %s naming %s; got:\n%s", pair[0], pair[1], diags.Error())
		}
	}
}

// TestCheckIngressIgnoresInputOrder runs the conflict case with its teams and
// clusters in every rotation: the diagnostics must not change.
func TestCheckIngressIgnoresInputOrder(t *testing.T) {
	root := filepath.Join("testdata", "ingress-duplicate-host")
	teams := []string{"teams/alpha.yaml", "teams/beta.yaml", "teams/delta.yaml"}
	var want string
	for i := range teams {
		rotated := append(slices.Clone(teams[i:]), teams[:i]...)
		clusters := []string{"clusters/prod/cluster.yaml", "clusters/dev/cluster.yaml"}
		if i%2 == 1 {
			slices.Reverse(clusters)
		}
		got := checkIngress(ingressInventory(t, root, append(clusters, rotated...)...)).Error()
		if i == 0 {
			want = got
			if want == "" {
				t.Fatal("the conflict case gives no diagnostics")
			}
			continue
		}
		if got != want {
			t.Errorf("order %v gives\n%s\nwant\n%s", rotated, got, want)
		}
	}
}

func TestIngressCovers(t *testing.T) {
	tests := []struct {
		name, wildcard, host string
		want                 bool
	}{
		{name: "one label below", wildcard: "*.dev.example.com", host: "shop.dev.example.com", want: true},
		{name: "two labels below", wildcard: "*.dev.example.com", host: "a.shop.dev.example.com"},
		{name: "the apex itself", wildcard: "*.dev.example.com", host: "dev.example.com"},
		{name: "a lookalike suffix", wildcard: "*.example.com", host: "shopexample.com"},
		{name: "another domain", wildcard: "*.example.com", host: "shop.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ingressCovers(tt.wildcard, tt.host); got != tt.want {
				t.Errorf("ingressCovers(%q, %q) = %v, want %v", tt.wildcard, tt.host, got, tt.want)
			}
		})
	}
}

func TestIngressDNSName(t *testing.T) {
	tests := []struct {
		name, host string
		valid      bool
	}{
		{name: "name", host: "pay.example.com", valid: true},
		{name: "wildcard", host: "*.pay.example.com", valid: true},
		{name: "wildcard not first", host: "pay.*.example.com"},
		{name: "upper case", host: "Pay.example.com"},
		{name: "underscore", host: "pay_api.example.com"},
		{name: "label of 64", host: strings.Repeat("a", 64) + ".example.com"},
		{name: "label of 63", host: strings.Repeat("a", 63) + ".example.com", valid: true},
		{name: "over 253", host: strings.Repeat(strings.Repeat("a", 60)+".", 5) + "com"},
		{name: "trailing dot", host: "pay.example.com."},
		{name: "rule injection", host: "pay.example.com`) || Host(`evil.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := ingressDNSName(tt.host)
			if (len(msgs) == 0) != tt.valid {
				t.Errorf("ingressDNSName(%q) = %q, want valid=%v", tt.host, msgs, tt.valid)
			}
		})
	}
}
