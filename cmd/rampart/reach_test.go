package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReach(t *testing.T) {
	dir := copyRepo(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{name: "text", args: []string{"reach", "-C", dir, "--cluster", "prod-weu"}, contains: []string{
			"Reachability on cluster prod-weu", "payments/api    ledger/core   9090/TCP  grpc      allow  allow  POST /v1/entries",
		}},
		{name: "markdown", args: []string{"reach", "-C", dir, "--cluster", "dev-weu", "-o", "markdown"}, contains: []string{
			"### Reachability on cluster `dev-weu`", "| storefront/web | payments/api | 8080/TCP | http | allow | none | n/a |",
		}},
		{name: "unknown cluster", args: []string{"reach", "-C", dir, "--cluster", "nowhere"}, code: exitBadInput},
		{name: "unknown format", args: []string{"reach", "-C", dir, "-o", "yaml"}, code: exitBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.contains {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		r := runCLI(t, "reach", "-C", dir, "--cluster", "prod-weu", "--output", "json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var report struct {
			Cluster string `json:"cluster"`
			Flows   []struct {
				From, To string
				L4, L7   string
			} `json:"flows"`
			Summary struct{ Allowed, Disagreed int } `json:"summary"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		if report.Cluster != "prod-weu" || len(report.Flows) == 0 || report.Summary.Allowed != 2 || report.Summary.Disagreed != 0 {
			t.Errorf("unexpected report: %+v", report)
		}
	})
}
