package load

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rampart-gitops/rampart/generator/diag"
)

// exceptionsCase is a valid repository whose team excepts its app from rampart-images
// until each of the given days.
func exceptionsCase(t *testing.T, expires ...string) fstest.MapFS {
	t.Helper()
	root := readCase(t, "testdata/valid")
	team := string(root["teams/ledger.yaml"].Data) + "  exceptions:\n    policies:\n"
	for _, e := range expires {
		team += "      - policy: rampart-images\n        rules: [allowed-registries]\n        apps: [core]\n" +
			"        reason: The vendor's registry until the mirror is live.\n        expires: \"" + e + "\"\n"
	}
	root["teams/ledger.yaml"] = &fstest.MapFile{Data: []byte(team)}
	return root
}

func TestPolicyExceptionExpiry(t *testing.T) {
	// Late on 2026-12-01 in New York is 2026-12-02 in UTC: days are UTC days.
	now := time.Date(2026, 12, 1, 21, 0, 0, 0, time.FixedZone("EST", -5*3600))
	for _, tc := range []struct {
		name, expires string
		expired       bool
		warning       string
	}{
		{"expired yesterday", "2026-12-01", true, "the exception from rampart-images expired on 2026-12-01: it is no longer rendered"},
		{"last day today", "2026-12-02", false, "expires at the end of today (UTC) (2026-12-02)"},
		{"last day tomorrow", "2026-12-03", false, "expires tomorrow (2026-12-03)"},
		{"within 14 days", "2026-12-16", false, "expires in 14 days (2026-12-16)"},
		{"in 15 days", "2026-12-17", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Two in one exception list would be one app excepted twice: one a case.
			inv, err := LoadWith(exceptionsCase(t, tc.expires), Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			team := inv.Team("ledger")
			e := team.Spec.Exceptions.Policies[0]
			if e.Expired != tc.expired {
				t.Errorf("Expired = %v, want %v", e.Expired, tc.expired)
			}
			if want := "teams/ledger.yaml:" + lineOf(t, team.Pos, "spec.exceptions.policies[0]"); e.Source != want {
				t.Errorf("Source = %q, want %q", e.Source, want)
			}
			var warnings []diag.Diagnostic
			for _, w := range inv.Warnings {
				if w.Field == "spec.exceptions.policies[0].expires" {
					warnings = append(warnings, w)
				}
			}
			switch {
			case tc.warning == "" && len(warnings) > 0:
				t.Errorf("unexpected warning: %s", warnings[0])
			case tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0].String(), tc.warning)):
				t.Errorf("warnings %v, want one containing %q", warnings, tc.warning)
			case tc.warning != "" && warnings[0].Line == 0:
				t.Errorf("warning without a position: %s", warnings[0])
			}
		})
	}
}

func lineOf(t *testing.T, pos *Positions, field string) string {
	t.Helper()
	line, _ := pos.Lookup(field)
	if line == 0 {
		t.Fatalf("no position for %s", field)
	}
	return strconv.Itoa(line)
}

// TestExpiryReachesTheEncodedTeam: whether an exception has expired, and where it is
// written, are part of the team's encoded spec, which the templates read and the
// render cache's key hashes: a unit rendered before the exception expired is not
// reused after.
func TestExpiryReachesTheEncodedTeam(t *testing.T) {
	root := exceptionsCase(t, "2027-03-31")
	encode := func(now time.Time) string {
		inv, err := LoadWith(root, Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(inv.Team("ledger").Team)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := encode(time.Date(2027, 3, 31, 23, 0, 0, 0, time.UTC))
	after := encode(time.Date(2027, 4, 1, 0, 0, 1, 0, time.UTC))
	if before == after {
		t.Fatal("the encoded team is the same before and after the exception expired")
	}
	if !strings.Contains(after, `"expired":true`) || strings.Contains(before, `"expired"`) {
		t.Errorf("want expired only after the last day:\nbefore %s\nafter  %s", before, after)
	}
	if !strings.Contains(before, `"source":"teams/ledger.yaml:`) {
		t.Errorf("the encoded team does not carry the exception's place: %s", before)
	}
}
