package manifest

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		path  string
		layer Layer
		team  string
	}{
		{"clusters", LayerRoot, ""},
		{"clusters/prod", LayerRoot, ""},
		{"clusters/prod/cluster.yaml", LayerRoot, ""},
		{"clusters/prod/platform", LayerRoot, ""},
		{"clusters/prod/platform/falco-rules-0.yaml", LayerPlatform, ""},
		{"clusters/prod/platform/nested/x.yaml", LayerPlatform, ""},
		{"clusters/prod/tenants/kustomization.yaml", LayerTenant, ""},
		{"clusters/prod/tenants/payments.yaml", LayerTenant, "payments"},
		{"clusters/prod/teams/payments", LayerRoot, ""},
		{"clusters/prod/teams/payments/kustomization.yaml", LayerTeam, "payments"},
		{"clusters/prod/teams/payments/apps/api.yaml", LayerTeam, "payments"},
		{"clusters/prod/flux-system/gotk-sync.yaml", LayerRoot, ""},
	}
	for _, tt := range tests {
		if layer, team := Classify(tt.path); layer != tt.layer || team != tt.team {
			t.Errorf("Classify(%q) = %v, %q; want %v, %q", tt.path, layer, team, tt.layer, tt.team)
		}
	}
}
