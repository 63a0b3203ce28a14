package reach

import (
	"reflect"
	"strings"
	"testing"
)

// TestFocus: a focused report holds exactly the full report's flows and outside
// peers that touch the focus namespaces, with the same verdicts.
func TestFocus(t *testing.T) {
	clusters, teams := examples(t)
	for _, c := range clusters {
		t.Run(c.Metadata.Name, func(t *testing.T) {
			mc := renderCluster(t, c, teams)
			full, err := Evaluate(mc, Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace})
			if err != nil {
				t.Fatal(err)
			}
			focused, err := Evaluate(mc, Options{TrustDomain: c.Spec.Mesh.TrustDomain, RootNamespace: c.Spec.Mesh.RootNamespace, Focus: []string{"payments"}})
			if err != nil {
				t.Fatal(err)
			}
			ns := func(id string) string { n, _, _ := strings.Cut(id, "/"); return n }
			var want []Flow
			for _, f := range full.Flows {
				if ns(f.From) == "payments" || ns(f.To) == "payments" {
					want = append(want, f)
				}
			}
			if len(want) == 0 || len(want) == len(full.Flows) || !reflect.DeepEqual(focused.Flows, want) {
				t.Errorf("focused flows (%d) differ from the full report's payments flows (%d of %d)", len(focused.Flows), len(want), len(full.Flows))
			}
			var out []OutsideFlow
			for _, o := range full.Outside {
				if ns(o.Workload) == "payments" {
					out = append(out, o)
				}
			}
			if !reflect.DeepEqual(focused.Outside, out) {
				t.Errorf("focused outside peers differ: %v vs %v", focused.Outside, out)
			}
		})
	}
}
