package diag

import "testing"

func TestGitHub(t *testing.T) {
	tests := []struct {
		name string
		d    Diagnostic
		want string
	}{
		{"spec error", Diagnostic{File: "teams/payments.yaml", Line: 14, Column: 9, Field: "spec.apps[1].resources.memory", Message: "required", Hint: "set the memory your app needs, e.g. 256Mi"},
			"::error file=teams/payments.yaml,line=14,col=9,title=spec.apps[1].resources.memory::required; set the memory your app needs, e.g. 256Mi"},
		{"warning", Diagnostic{File: "teams/shop.yaml", Line: 3, Column: 1, Message: "expires tomorrow", Severity: Warning},
			"::warning file=teams/shop.yaml,line=3,col=1::expires tomorrow"},
		{"object, escaped", Diagnostic{File: "clusters/dev/teams/shop/x.yaml", Object: "PolicyException/shop/all", Message: "100% refused\nline two"},
			"::error file=clusters/dev/teams/shop/x.yaml,title=PolicyException/shop/all::100%25 refused%0Aline two"},
		{"property escaping", Diagnostic{File: "a,b:c.yaml", Message: "m"}, "::error file=a%2Cb%3Ac.yaml::m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.GitHub(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
