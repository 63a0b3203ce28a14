package review

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rampart-gitops/rampart/generator"
)

// inputsRepo is a git repository holding the examples' inputs, rendered with the
// pipeline and committed on main: the base every report case starts from.
func inputsRepo(t *testing.T, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, dir, "teams", "lib", "generator/internal/exampledata")
	for _, c := range []string{"dev-weu", "prod-weu", "stage-neu"} {
		copyTree(t, dir, filepath.Join("clusters", c, "cluster.yaml"))
	}
	for _, f := range []string{"rampart.yaml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(".rampart/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generator.Generate(ctx, generator.Options{Dir: dir, Mode: generator.Render, Now: func() time.Time { return now }}); err != nil {
		t.Fatalf("rendering the base: %v", err)
	}
	run(t, dir, "git", "init", "-q", "-b", "main")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "-m", "render")
	return dir
}

var (
	november = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	// lateJanuary is six days before payments' CVE-2026-10001 exception ends.
	lateJanuary = time.Date(2027, 1, 25, 9, 0, 0, 0, time.UTC)
)

func TestReportGoldens(t *testing.T) {
	tests := []struct {
		name  string
		now   time.Time
		edit  func(t *testing.T, dir string)
		check func(t *testing.T, r *Report, md string)
	}{
		{
			name: "payments-calls",
			now:  november,
			edit: func(t *testing.T, dir string) {
				edit(t, dir, "teams/payments.yaml", "          methods: [POST]\n          paths: [/v1/entries]",
					"          methods: [POST, GET]\n          paths: [/v1/entries, /v1/balances]")
				edit(t, dir, "teams/payments.yaml", "      egress:\n", "      egress:\n        - cidr: 10.20.0.0/16\n          ports:\n            - port: 5432\n")
			},
			check: func(t *testing.T, r *Report, md string) {
				for _, want := range []string{
					"```mermaid\nflowchart LR",
					`~ L7 9090/TCP POST,GET /v1/entries,/v1/balances`,
					"| ~ | L7 | `payments/api` | `ledger/core` | 9090/TCP | POST /v1/entries | POST,GET /v1/entries,/v1/balances |",
					"10.20.0.0/16",
				} {
					if !strings.Contains(md, want) {
						t.Errorf("report lacks %q", want)
					}
				}
				if !r.Gate.Passed || len(r.Gate.New) != 0 {
					t.Errorf("gate = %+v, want passed with nothing new", r.Gate)
				}
			},
		},
		{
			name: "new-cve",
			now:  november,
			edit: func(t *testing.T, dir string) {
				edit(t, dir, "teams/storefront.yaml", "storefront/web:2.0.1", "storefront/web:2.0.0")
			},
			check: func(t *testing.T, r *Report, md string) {
				if r.Gate.Passed || len(r.Gate.New) != 3 || r.Gate.New[0].ID != "CVE-2026-10002" {
					t.Errorf("gate = %+v, want CVE-2026-10002 new and blocking on the three clusters", r.Gate)
				}
				if !strings.Contains(md, "**Failed** for storefront on dev-weu, storefront on prod-weu, storefront on stage-neu") {
					t.Errorf("report does not say the gate failed")
				}
				if got := r.Title("render: "); got != "render: 3 teams blocked by the scan gate, 3 new findings" {
					t.Errorf("title = %q", got)
				}
			},
		},
		{
			// The audit-first team enforces: one line of its spec, called out with the
			// flows that audit allowed and enforce denies.
			name: "storefront-enforces",
			now:  november,
			edit: func(t *testing.T, dir string) {
				edit(t, dir, "teams/storefront.yaml", "    mode: audit", "    mode: enforce")
			},
			check: func(t *testing.T, r *Report, md string) {
				var stage *EnforcementChange
				for i, e := range r.Enforcement {
					if e.Cluster == "stage-neu" && e.Team == "storefront" {
						stage = &r.Enforcement[i]
					}
				}
				if stage == nil || !stage.Enforces() || stage.From != "audit: network, mesh, admission" || stage.To != "enforce" {
					t.Fatalf("enforcement changes %+v, want storefront on stage-neu from audit to enforce", r.Enforcement)
				}
				if len(stage.Denied) == 0 {
					t.Errorf("storefront's move to enforce on stage-neu denies no flow")
				}
				for _, want := range []string{"### Enforcement changes", "- **storefront** on **stage-neu** **enforces**: `audit: network, mesh, admission` → `enforce`"} {
					if !strings.Contains(md, want) {
						t.Errorf("report lacks %q", want)
					}
				}
			},
		},
		{
			name: "expiring-exception",
			now:  lateJanuary,
			edit: func(t *testing.T, dir string) {
				edit(t, dir, "teams/ledger.yaml", "      egress:\n        - cidr: 10.40.0.0/16", "      egress:\n        - cidr: 10.41.0.0/16")
			},
			check: func(t *testing.T, r *Report, md string) {
				if len(r.Gate.Expiring) != 1 || r.Gate.Expiring[0].ID != "CVE-2026-10001" || r.Gate.Expiring[0].DaysLeft != 6 {
					t.Errorf("expiring = %+v, want payments' CVE-2026-10001 with 6 days left", r.Gate.Expiring)
				}
				if !strings.Contains(md, "| payments | prod-weu, dev-weu, stage-neu | vulnerability CVE-2026-10001 | 2027-01-31 | 6 | teams/payments.yaml:") {
					t.Errorf("report lacks the expiring exception")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := inputsRepo(t, tt.now)
			tt.edit(t, dir)
			rv, err := Run(ctx, generator.Options{Dir: dir, Now: func() time.Time { return tt.now }}, "main")
			if err != nil {
				t.Fatal(err)
			}
			rv.Report.Diff.BaseCommit = "" // the goldens must not depend on commit ids
			md, err := rv.Report.Markdown(0, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, rv.Report, md)
			golden(t, filepath.Join("report", tt.name+".md"), []byte(md))
			// Deterministic: a second run gives the same bytes.
			again, err := Run(ctx, generator.Options{Dir: dir, Now: func() time.Time { return tt.now }}, "main")
			if err != nil {
				t.Fatal(err)
			}
			again.Report.Diff.BaseCommit = ""
			if md2, _ := again.Report.Markdown(0, nil); md2 != md {
				t.Errorf("a second run wrote another report")
			}
		})
	}
}

// bigReport is a report of a fleet-sized change: teams × 2 clusters, each with a
// Deployment whose image changed and a NetworkPolicy that gained rules.
func bigReport(teams int) *Report {
	d := &Diff{Base: "main", Head: "this render"}
	for _, c := range []string{"prod-weu", "prod-neu"} {
		cd := ClusterDiff{Cluster: c}
		for i := range teams {
			team := fmt.Sprintf("team-%04d", i)
			cd.Teams = append(cd.Teams, TeamDiff{Team: team, Objects: []ObjectChange{
				{Action: Changed, Kind: "Deployment", Namespace: team, Name: "api", File: "clusters/" + c + "/teams/" + team + "/api.yaml",
					Summary: []string{"container api: image registry.example.com/" + team + "/api 1.0.0 → 1.0.1 (digest sha256:000000000000 → sha256:111111111111)"}},
				{Action: Changed, Kind: "NetworkPolicy", Namespace: team, Name: "api", File: "clusters/" + c + "/tenants/" + team + ".yaml",
					Summary: []string{"+egress pods[app=api] → 10.0.0.0/8:5432/TCP", "-egress pods[app=api] → 10.1.0.0/16:5432/TCP"}},
			}})
			d.Counts.Changed += 2
		}
		d.Clusters = append(d.Clusters, cd)
	}
	return &Report{Diff: d, Gate: Gate{Scanned: true, Passed: true, DBVersion: "v2"}}
}

// TestReportCutClosesWhatItOpened: a report cut at a line (even its counts do not
// fit) closes its open sections and code fences.
func TestReportCutClosesWhatItOpened(t *testing.T) {
	r := bigReport(50)
	r.Reach = []ClusterReach{{Cluster: "prod-weu", Flows: []FlowChange{{Change: Added, Layer: "L3/L4", From: "a/x", To: "b/y", Port: "80/TCP"}}}}
	full := r.markdown(detailCounts, "x")
	for limit := 400; limit < utf8.RuneCountInString(full); limit += 37 {
		md, err := r.Markdown(limit, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(md, "cut at GitHub's limit") {
			continue
		}
		if n := strings.Count(md, "<details>"); n != strings.Count(md, "</details>") {
			t.Fatalf("limit %d: %d <details> and %d </details>", limit, n, strings.Count(md, "</details>"))
		}
		fences := 0
		for line := range strings.Lines(md) {
			if strings.HasPrefix(line, "```") {
				fences++
			}
		}
		if fences%2 != 0 {
			t.Fatalf("limit %d: a code fence is left open", limit)
		}
	}
}

func TestReportOverTheLimit(t *testing.T) {
	tests := []struct {
		name  string
		teams int
		want  string
	}{
		{"fits", 10, ""},
		{"collapsed per object", 150, "summaries collapsed per object"},
		{"collapsed per team", 400, "collapsed per team"},
		{"counts only", 2000, "counts only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bigReport(tt.teams)
			full := filepath.Join(t.TempDir(), "report.full.md")
			var stored string
			md, err := r.Markdown(0, func(complete string) (string, error) {
				stored = complete
				return full, os.WriteFile(full, []byte(complete), 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := utf8.RuneCountInString(md); n > MaxComment {
				t.Fatalf("report is %d characters, over GitHub's %d", n, MaxComment)
			}
			if tt.want == "" {
				if r.FullReport != "" || stored != "" || strings.Contains(md, "shortened") {
					t.Errorf("a report that fits was shortened")
				}
				return
			}
			if !strings.Contains(md, "shortened to fit GitHub's 65536-character limit ("+tt.want+")") || !strings.Contains(md, full) {
				t.Errorf("report does not say how it was shortened (%s) and where the full one is:\n%.600s", tt.want, md)
			}
			if r.FullReport != full || utf8.RuneCountInString(stored) <= MaxComment || !strings.Contains(stored, "10.1.0.0/16:5432/TCP") {
				t.Errorf("the full report was not stored complete (%d characters at %q)", len(stored), r.FullReport)
			}
			if !strings.HasPrefix(md, Marker) || !strings.Contains(md, "prod-neu") {
				t.Errorf("the shortened report lost its marker or a cluster")
			}
		})
	}
}
