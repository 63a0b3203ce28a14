package specedit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/spec"
)

const commented = `# yaml-language-server: $schema=../schemas/team.schema.json
apiVersion: rampart.dev/v1alpha1
kind: Team
metadata:
  name: shop   # the team
spec:
  owners:
    - lead@example.com
  clusters: [dev]
  apps:
    # The storefront.
    - name: web          # public
      image: registry.example.com/shop/web:1.0.0
      port: 8080

      resources: {memory: 64Mi}
    -   name: api
        image: 'registry.example.com/shop/api:1.0.0'
        port: 8081
        resources:
          memory: 64Mi   # enough
        # Last key, then a comment that belongs to what follows.
        writablePaths: [/tmp]
  # Exceptions come last.
  exceptions: {}
`

func TestQuarantineAndLiftRoundTrip(t *testing.T) {
	for _, app := range []string{"web", "api"} {
		t.Run(app, func(t *testing.T) {
			q := spec.Quarantine{Reason: `a "reverse shell": from pods, #1 — ünïcode`, Ticket: "INC-4711"}
			out, err := Quarantine([]byte(commented), app, q)
			if err != nil {
				t.Fatal(err)
			}
			// One hunk: only lines added, every original line kept in order.
			if got := strings.Count(string(out), "\n") - strings.Count(commented, "\n"); got != 3 {
				t.Errorf("added %d lines, want 3:\n%s", got, out)
			}
			if !strings.Contains(string(out), "quarantine:\n") {
				t.Errorf("no quarantine block:\n%s", out)
			}
			// Quarantining again replaces, not duplicates.
			again, err := Quarantine(out, app, spec.Quarantine{Reason: "still compromised, new ticket"})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(string(again), "quarantine:") != 1 || strings.Contains(string(again), "INC-4711") {
				t.Errorf("quarantining twice:\n%s", again)
			}
			back, err := Lift(again, app)
			if err != nil {
				t.Fatal(err)
			}
			if string(back) != commented {
				t.Errorf("lift did not give back the original file byte for byte:\n%s", back)
			}
		})
	}
}

// TestLiftHandWritten lifts a quarantine written by hand in another layout, with a
// comment inside it and one after it.
func TestLiftHandWritten(t *testing.T) {
	src := strings.Replace(commented, "        writablePaths: [/tmp]\n",
		"        writablePaths: [/tmp]\n        quarantine:\n          # the incident\n\n          reason: >-\n            folded reason\n            over two lines\n          ticket: INC-1\n", 1)
	out, err := Lift([]byte(src), "api")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != commented {
		t.Errorf("lift:\n%s", out)
	}
}

func TestRefused(t *testing.T) {
	flow := strings.Replace(commented, "    -   name: api\n        image: 'registry.example.com/shop/api:1.0.0'\n        port: 8081\n        resources:\n          memory: 64Mi   # enough\n        # Last key, then a comment that belongs to what follows.\n        writablePaths: [/tmp]\n",
		"    - {name: api, image: 'registry.example.com/shop/api:1.0.0', port: 8081, resources: {memory: 64Mi}}\n", 1)
	good := spec.Quarantine{Reason: "a reverse shell from api pods"}
	tests := []struct {
		name string
		src  string
		app  string
		q    spec.Quarantine
		want string
	}{
		{"no such app", commented, "worker", good, `no app "worker"; its apps: web, api`},
		{"short reason", commented, "api", spec.Quarantine{Reason: "bad"}, "at least 10 characters"},
		{"newline in the reason", commented, "api", spec.Quarantine{Reason: "a reverse shell\nticket: injected"}, "one line"},
		{"control character in the ticket", commented, "api", spec.Quarantine{Reason: "a reverse shell from pods", Ticket: "INC\x1b[2J"}, "one line"},
		{"long ticket", commented, "api", spec.Quarantine{Reason: "a reverse shell from pods", Ticket: strings.Repeat("x", 201)}, "at most 200"},
		{"flow style", flow, "api", good, "flow style"},
		{"not a spec", "- a\n- b\n", "api", good, "not a YAML mapping"},
		{"two documents", commented + "---\n{}\n", "api", good, "more than one YAML document"},
		{"broken YAML", "spec: [\n", "api", good, "reading the spec"},
		{"two apps of one name", strings.Replace(commented, "name: api", "name: web", 1), "web", good, "two apps named"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Quarantine([]byte(tc.src), tc.app, tc.q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := Lift([]byte(commented), "api"); err == nil || !strings.Contains(err.Error(), "not quarantined") {
		t.Errorf("lifting an app that is not quarantined: %v", err)
	}
}

// TestExamplesRoundTrip quarantines and lifts every app of the repository's example
// teams: each comes back byte for byte.
func TestExamplesRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../../teams/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parse(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range value(value(doc, "spec"), "apps").Content {
			app := value(item, "name").Value
			out, err := Quarantine(src, app, spec.Quarantine{Reason: "a reverse shell from the pods", Ticket: "INC-1"})
			if err != nil {
				t.Fatalf("%s %s: %v", f, app, err)
			}
			back, err := Lift(out, app)
			if err != nil {
				t.Fatalf("%s %s: %v", f, app, err)
			}
			if string(back) != string(src) {
				t.Errorf("%s %s: the round trip changed the file", f, app)
			}
		}
	}
}
