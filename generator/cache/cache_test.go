package cache_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gitops/rampart/generator/cache"
	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

func key(parts ...string) cache.Key {
	h := cache.NewHasher()
	for _, p := range parts {
		h.Add("part", []byte(p))
	}
	return h.Key()
}

func TestRoundTripAndDistrust(t *testing.T) {
	dir := t.TempDir()
	c := cache.Open(dir)
	k := key("team", "cluster")
	e := &cache.Entry{
		Files: []cache.File{
			cache.NewFile("clusters/dev/teams/shop/web.yaml", manifest.LayerTeam, "shop", []byte(strings.Repeat("# larger than the metadata\n", 400))),
			cache.NewFile("clusters/dev/tenants/shop.yaml", manifest.LayerTenant, "shop", []byte("kind: Namespace\n")),
		},
		Images: []string{"registry.example.com/shop/web:1.0.0"},
		Pins:   map[string]string{"registry.example.com/shop/web:1.0.0": "registry.example.com/shop/web:1.0.0@sha256:00"},
	}
	if err := c.Put(k, e); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get(k)
	if !ok || len(got.Files) != 2 || got.Files[1].Data != nil || got.Files[1].Size != len("kind: Namespace\n") || got.Pins[e.Images[0]] == "" {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if err := c.Load(k, got); err != nil || string(got.Files[1].Data) != "kind: Namespace\n" || got.Files[1].Sum != e.Files[1].Sum ||
		string(got.Files[0].Data) != string(e.Files[0].Data) {
		t.Fatalf("Load = %q, %v", got.Files[1].Data, err)
	}
	// One file at a time, not kept in the entry.
	for i, want := range e.Files {
		meta, _ := c.Get(k)
		if b, err := c.LoadFile(k, meta, i); err != nil || string(b) != string(want.Data) || meta.Files[i].Data != nil {
			t.Errorf("LoadFile(%d) = %.20q, %v", i, b, err)
		}
	}
	if _, err := c.LoadFile(k, got, 2); err == nil {
		t.Error("LoadFile read a file the entry does not have")
	}
	if _, ok := c.Get(key("team", "other cluster")); ok {
		t.Error("a key that was never put is found")
	}

	// The parts are labelled and length-prefixed: "ab"+"c" is not "a"+"bc".
	if key("ab", "c") == key("a", "bc") {
		t.Error("parts run together")
	}

	entry := filepath.Join(dir, k.String()[:2], k.String()[2:])
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		out := append([]byte{}, b...)
		out[i] ^= 1
		return out
	}
	for name, bad := range map[string][]byte{
		"flipped metadata byte": flip(len("rampart-render-cache-v5\n") + 32 + 24),
		"flipped header byte":   flip(len("rampart-render-cache-v5\n") + 32 + 2),
		"truncated":             b[:len(b)/2],
		"one byte short":        b[:len(b)-1],
		"empty":                 {},
		"other format":          append([]byte("rampart-render-cache-v4\n"), b[len("rampart-render-cache-v5\n"):]...),
	} {
		if err := os.WriteFile(entry, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Get(k); ok {
			t.Errorf("%s entry was trusted", name)
		}
	}
	// The files' bytes are checked when they are read.
	if err := os.WriteFile(entry, flip(len(b)-1), 0o644); err != nil {
		t.Fatal(err)
	}
	if meta, ok := c.Get(k); !ok {
		t.Error("an entry whose data is damaged lost its metadata too")
	} else if err := c.Load(k, meta); err == nil {
		t.Error("a flipped data byte was trusted")
	} else if _, err := c.LoadFile(k, meta, 1); err == nil {
		t.Error("a flipped byte of the last file was trusted by LoadFile")
	} else if b, err := c.LoadFile(k, meta, 0); err != nil || string(b) != string(e.Files[0].Data) {
		t.Errorf("LoadFile of the undamaged file = %.20q, %v", b, err)
	}

	// An entry moved under another key is foreign.
	other := key("someone", "else")
	if err := c.Put(other, e); err != nil {
		t.Fatal(err)
	}
	ob, _ := os.ReadFile(filepath.Join(dir, other.String()[:2], other.String()[2:]))
	if err := os.WriteFile(entry, ob, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(k); ok {
		t.Error("an entry filed under another key was trusted")
	}

	// Unpinned entries stay unpinned; warnings and the objects' digests come back,
	// and the objects when asked for.
	k2 := key("unpinned")
	objs := []verify.Object{
		{Key: "v1/Namespace/shop", Ref: "Namespace/shop", File: "clusters/dev/tenants/shop.yaml"},
		{Key: "v1/ServiceAccount/shop/x", Ref: "ServiceAccount/shop/x", File: "clusters/dev/tenants/shop.yaml"},
		{Key: "apps/v1/Deployment/shop/web", Ref: "odd", File: "clusters/dev/teams/shop/web.yaml"},
	}
	e2 := &cache.Entry{Objects: objs, Warnings: diag.List{{File: "teams/shop.yaml", Line: 3, Message: "m", Severity: diag.Warning}}}
	if err := c.Put(k2, e2); err != nil {
		t.Fatal(err)
	}
	got2, ok := c.Get(k2)
	if !ok || got2.Pins != nil || got2.Objects != nil || !slices.Equal(got2.Sums, verify.KeySums(objs)) || len(got2.Warnings) != 1 || got2.Warnings[0] != e2.Warnings[0] {
		t.Fatalf("unpinned entry = %+v, %v", got2, ok)
	}
	if loaded, err := c.LoadObjects(k2, got2); err != nil || !slices.Equal(loaded, objs) {
		t.Errorf("LoadObjects = %v, %v; want %v", loaded, err, objs)
	}
	// The objects' bytes are checked when they are read.
	entry2 := filepath.Join(dir, k2.String()[:2], k2.String()[2:])
	b2, _ := os.ReadFile(entry2)
	b2[len(b2)-1] ^= 1 // the entry has no files: its last byte is the objects'
	if err := os.WriteFile(entry2, b2, 0o644); err != nil {
		t.Fatal(err)
	}
	if meta, ok := c.Get(k2); !ok {
		t.Error("an entry whose objects are damaged lost its metadata too")
	} else if _, err := c.LoadObjects(k2, meta); err == nil {
		t.Error("a flipped objects byte was trusted")
	}

	var none *cache.Cache
	if err := none.Put(k, e); err != nil {
		t.Error(err)
	}
	if _, ok := none.Get(k); ok {
		t.Error("a nil cache found something")
	}
}
