package reach

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// selects answers as Kubernetes' own selector does, for every operator, on labels
// with and without the key, and selects nothing where the conversion fails.
func TestSelectsAgreesWithLabelSelectorAsSelector(t *testing.T) {
	req := func(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	var selectors []*metav1.LabelSelector
	for _, ml := range []map[string]string{nil, {"app": "api"}, {"app": "api", "tier": "web"}} {
		selectors = append(selectors, &metav1.LabelSelector{MatchLabels: ml})
		for _, e := range []metav1.LabelSelectorRequirement{
			req("rampart.dev/quarantine", metav1.LabelSelectorOpDoesNotExist),
			req("rampart.dev/quarantine", metav1.LabelSelectorOpExists),
			req("app", metav1.LabelSelectorOpIn, "api", "web"),
			req("app", metav1.LabelSelectorOpIn, "web"),
			req("app", metav1.LabelSelectorOpNotIn, "api"),
			req("app", metav1.LabelSelectorOpNotIn, "web"),
			req("app", metav1.LabelSelectorOpIn),                  // invalid: no values
			req("app", metav1.LabelSelectorOpNotIn),               // invalid: no values
			req("app", metav1.LabelSelectorOpExists, "api"),       // invalid: values
			req("app", metav1.LabelSelectorOpDoesNotExist, "api"), // invalid: values
			req("app", metav1.LabelSelectorOperator("Gt"), "1"),   // invalid: no such operator
		} {
			selectors = append(selectors, &metav1.LabelSelector{MatchLabels: ml, MatchExpressions: []metav1.LabelSelectorRequirement{e}})
			selectors = append(selectors, &metav1.LabelSelector{MatchLabels: ml, MatchExpressions: []metav1.LabelSelectorRequirement{e, req("rampart.dev/quarantine", metav1.LabelSelectorOpDoesNotExist)}})
		}
	}
	sets := []map[string]string{
		{}, {"app": "api"}, {"app": "web"}, {"app": "api", "tier": "web"},
		{"app": "api", "rampart.dev/quarantine": "incident-42"}, {"rampart.dev/quarantine": ""},
	}
	for _, sel := range selectors {
		for _, l := range sets {
			want := false
			if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
				want = s.Matches(labels.Set(l))
			}
			if got := selects(sel, l); got != want {
				t.Errorf("selects(%s, %v) = %v, Kubernetes says %v", fmt.Sprint(sel), l, got, want)
			}
		}
	}
	if selects(nil, map[string]string{"app": "api"}) {
		t.Error("a nil selector selects nothing")
	}
}
