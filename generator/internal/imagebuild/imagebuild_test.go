package imagebuild_test

import (
	"bytes"
	"debug/buildinfo"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rampart-gitops/rampart/generator/internal/imagebuild"
)

func TestGoBinaryBuildInfo(t *testing.T) {
	f := imagebuild.GoBinary("/app", "go1.26.8", imagebuild.Module{Path: "example.com/app", Version: "(devel)"},
		[]imagebuild.Module{{Path: "golang.org/x/net", Version: "v0.37.0"}})
	info, err := buildinfo.Read(bytes.NewReader(f.Data))
	if err != nil {
		t.Fatal(err)
	}
	if info.GoVersion != "go1.26.8" || info.Main.Path != "example.com/app" || len(info.Deps) != 1 ||
		info.Deps[0].Path != "golang.org/x/net" || info.Deps[0].Version != "v0.37.0" {
		t.Errorf("build info = %+v", info)
	}
}

func spec(t *testing.T) imagebuild.Spec {
	node, err := imagebuild.NodeApp("/app", "web", "1.0.0", []imagebuild.NPMPackage{{Name: "lodash", Version: "4.17.20"}})
	if err != nil {
		t.Fatal(err)
	}
	return imagebuild.Spec{Layers: [][]imagebuild.File{
		imagebuild.Alpine("3.22.2", []imagebuild.APKPackage{{Name: "musl", Version: "1.2.5-r10"}}),
		node,
	}, Entrypoint: []string{"node", "/app/server.js"}}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := imagebuild.Build(spec(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := imagebuild.Build(spec(t))
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("digests differ: %s %s", da, db)
	}
}

func TestRegistryAndLayout(t *testing.T) {
	img, err := imagebuild.Build(spec(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := imagebuild.StartRegistry()
	defer reg.Close()
	ref, d, err := reg.Push("team/web:1.0.0", img)
	if err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	got, err := remote.Head(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d {
		t.Errorf("HEAD digest %s, pushed %s", got.Digest, d)
	}
	if reg.Requests() == 0 {
		t.Error("requests were not counted")
	}

	dir := t.TempDir()
	if err := imagebuild.WriteLayout(dir, map[string]v1.Image{"registry.example.com/team/web:1.0.0": img}); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, _ := idx.IndexManifest()
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != d ||
		m.Manifests[0].Annotations[imagebuild.RefNameAnnotation] != "registry.example.com/team/web:1.0.0" {
		t.Errorf("index = %+v", m)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
