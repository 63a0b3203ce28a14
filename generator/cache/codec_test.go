package cache

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// The metadata decoder slices its strings out of one copy of the text: every
// truncation of an entry, and every overlong or oversized number, is an error, never
// a panic or a short entry taken for whole.
func TestMetadataTruncatedOrMangled(t *testing.T) {
	e := &Entry{
		Files:    []File{NewFile("clusters/dev/teams/shop/web.yaml", manifest.LayerTeam, "shop", []byte(strings.Repeat("x", 300)))},
		Images:   []string{"registry.example.com/shop/web:1.0"},
		Pins:     map[string]string{"registry.example.com/shop/web:1.0": "registry.example.com/shop/web:1.0@sha256:" + strings.Repeat("a", 64)},
		Sums:     verify.KeySums([]verify.Object{{Key: "apps/v1/Deployment/shop/web"}}),
		Warnings: diag.List{{File: "teams/shop.yaml", Line: 3, Message: "a warning", Severity: diag.Warning}},
	}
	b, err := marshalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.Files {
		got.Files[i].Data = e.Files[i].Data
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
	}
	for n := range len(b) {
		if _, err := unmarshalEntry(b[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded without an error", n, len(b))
		}
	}
	// A varint of ten bytes that overflows 64 bits, and a count larger than the entry.
	for _, bad := range [][]byte{
		[]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),
		[]byte("\xff\xff\xff\xff\x0f"),
		append([]byte{1, 200}, b[2:]...),
	} {
		if _, err := unmarshalEntry(bad); err == nil {
			t.Errorf("%q decoded without an error", bad)
		}
	}
}

// The objects decode like the metadata: every truncation is an error.
func TestObjectsTruncatedOrMangled(t *testing.T) {
	objs := []verify.Object{
		{Key: "apps/v1/Deployment/shop/web", Ref: "Deployment/shop/web", File: "clusters/dev/teams/shop/web.yaml"},
		{Key: "v1/Service/shop/web", Ref: "Service/shop/web", File: "clusters/dev/teams/shop/web.yaml"},
		{Key: "v1/Namespace/shop", Ref: "not a suffix", File: "clusters/dev/tenants/shop.yaml"},
		// The last object's Ref starts further into its Key than there are bytes left.
		{Key: "kyverno.io/v1/ClusterPolicy/p", Ref: "ClusterPolicy/p", File: "clusters/dev/tenants/shop.yaml"},
	}
	b := marshalObjects(objs)
	got, err := unmarshalObjects(b)
	if err != nil || !reflect.DeepEqual(got, objs) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for n := range len(b) {
		if _, err := unmarshalObjects(b[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded without an error", n, len(b))
		}
	}
	if _, err := unmarshalObjects(append([]byte{1, 1, 'x', 9}, b[4:]...)); err == nil {
		t.Error("a Ref starting past the end of its Key decoded without an error")
	}
}
