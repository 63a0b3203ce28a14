package generator

import (
	"errors"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/load"
	"github.com/rampart-gitops/rampart/generator/plan"
	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// TestDuplicatesBySums: the cluster-wide duplicate check reads the units' objects
// from the cache only when two of their keys' digests are equal, and then finds the
// duplicate exactly; an entry that cannot give its objects back is an error, not a
// pass.
func TestDuplicatesBySums(t *testing.T) {
	team := func(name string) *plan.Unit {
		u := &plan.Unit{Cluster: &load.Cluster{Cluster: &spec.Cluster{}}, Team: &load.Team{Team: &spec.Team{}, File: "teams/" + name + ".yaml"}}
		u.Cluster.Metadata.Name = "dev"
		u.Team.Metadata.Name = name
		return u
	}
	obj := func(key, file string) verify.Object {
		return verify.Object{Key: key, Ref: strings.SplitN(key, "/", 3)[2], File: file}
	}
	platform := []verify.Object{obj("v1/ConfigMap/falco/rules", "clusters/dev/platform/falco.yaml")}
	cached := func(name string, objs []verify.Object, loads *int, err error) *unitResult {
		return &unitResult{unit: team(name), cached: true, sums: verify.KeySums(objs), loadObjects: func() ([]verify.Object, error) {
			*loads++
			return objs, err
		}}
	}

	var loads int
	c := &clusterRender{objects: platform, units: []*unitResult{
		cached("shop", []verify.Object{obj("v1/Service/shop/web", "clusters/dev/teams/shop/web.yaml")}, &loads, nil),
		{unit: team("pay"), objects: []verify.Object{obj("v1/Service/pay/api", "clusters/dev/teams/pay/api.yaml")}},
	}}
	c.finish()
	if len(c.diags) != 0 || loads != 0 {
		t.Errorf("no duplicate: diagnostics %v, %d objects read from the cache; want none", c.diags, loads)
	}

	loads = 0
	c = &clusterRender{objects: platform, units: []*unitResult{
		cached("shop", []verify.Object{obj("v1/Service/shop/web", "clusters/dev/teams/shop/web.yaml")}, &loads, nil),
		cached("evil", []verify.Object{obj("v1/ConfigMap/falco/rules", "clusters/dev/teams/evil/x.yaml")}, &loads, nil),
	}}
	c.finish()
	if loads != 2 || len(c.diags) != 1 || !strings.Contains(c.diags[0].Message, "rendered twice (also in clusters/dev/platform/falco.yaml)") || c.diags[0].File != "clusters/dev/teams/evil/x.yaml" {
		t.Errorf("a duplicate of the platform's object: diagnostics %v after %d reads", c.diags, loads)
	}

	c = &clusterRender{objects: platform, units: []*unitResult{
		cached("evil", []verify.Object{obj("v1/ConfigMap/falco/rules", "clusters/dev/teams/evil/x.yaml")}, &loads, errors.New("checksum")),
	}}
	c.finish()
	if len(c.diags) != 1 || !strings.Contains(c.diags[0].Message, "damaged") || c.diags[0].File != "teams/evil.yaml" {
		t.Errorf("an entry that cannot give its objects back: diagnostics %v", c.diags)
	}
}
