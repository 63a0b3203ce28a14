// Package imagebuild builds small, real, deterministic container images with
// go-containerregistry, for tests and the repository's offline examples: an
// Alpine-style image (os-release and the apk database), an image holding a Go
// executable with module build info, and a node application with node_modules and a
// package-lock.json. The same inputs give the same digests on every machine: fixed
// timestamps, sorted tar entries, root ownership.
//
// It also serves images the way a registry does: an in-process registry on 127.0.0.1
// that counts requests (StartRegistry), and an OCI image layout on disk (WriteLayout).
package imagebuild

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the timestamp of every file, layer and image this package builds.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// File is a regular file in a layer. Parent directories are added automatically.
type File struct {
	Path string // absolute or relative, slash-separated
	Mode int64  // permission bits; 0 means 0o644
	Data []byte
}

// Spec describes an image: its layers (each a list of files) and its config.
type Spec struct {
	Layers     [][]File
	Entrypoint []string
	Env        []string
	User       string
	Labels     map[string]string
}

// Build makes the image described by s: an OCI manifest, linux/amd64.
func Build(s Spec) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, files := range s.Layers {
		layer, err := Layer(files)
		if err != nil {
			return nil, fmt.Errorf("building layer %d: %w", i, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: types.OCILayer,
			History: v1.History{
				Created:   v1.Time{Time: Epoch},
				CreatedBy: fmt.Sprintf("imagebuild: layer %d (%d files)", i, len(files)),
			},
		})
		if err != nil {
			return nil, fmt.Errorf("appending layer %d: %w", i, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Created = v1.Time{Time: Epoch}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Env = s.Env
	cf.Config.User = s.User
	cf.Config.Labels = s.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	return img, nil
}

// Layer makes a gzip-compressed tar layer of files, with parent directories, entries
// sorted by path, and fixed owner and times.
func Layer(files []File) (v1.Layer, error) {
	b, err := tarBytes(files)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

func tarBytes(files []File) ([]byte, error) {
	type entry struct {
		name string
		dir  bool
		f    File
	}
	seen := map[string]bool{}
	var entries []entry
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		if p == "" || seen[p] {
			return nil, fmt.Errorf("file %q: empty or duplicate path", f.Path)
		}
		seen[p] = true
		entries = append(entries, entry{name: p, f: f})
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if !seen[d+"/"] {
				seen[d+"/"] = true
				entries = append(entries, entry{name: d + "/", dir: true})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, ModTime: Epoch, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, e.f.Mode, int64(len(e.f.Data))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing tar header %s: %w", e.name, err)
		}
		if !e.dir {
			if _, err := tw.Write(e.f.Data); err != nil {
				return nil, fmt.Errorf("writing tar entry %s: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	return buf.Bytes(), nil
}

// APKPackage is one installed Alpine package.
type APKPackage struct {
	Name    string
	Version string // e.g. 3.5.0-r0
	Origin  string // the source package, which Alpine's advisories name; defaults to Name
	License string
}

// Alpine returns the files of an Alpine Linux root: /etc/alpine-release,
// /etc/os-release, /etc/apk/repositories and /lib/apk/db/installed listing pkgs.
// version is the full release, e.g. "3.22.2".
func Alpine(version string, pkgs []APKPackage) []File {
	minor := version
	if parts := strings.Split(version, "."); len(parts) >= 2 {
		minor = parts[0] + "." + parts[1]
	}
	osRelease := fmt.Sprintf(`NAME="Alpine Linux"
ID=alpine
VERSION_ID=%s
PRETTY_NAME="Alpine Linux v%s"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`, version, minor)
	repos := fmt.Sprintf("https://dl-cdn.alpinelinux.org/alpine/v%[1]s/main\nhttps://dl-cdn.alpinelinux.org/alpine/v%[1]s/community\n", minor)

	sorted := slices.Clone(pkgs)
	slices.SortFunc(sorted, func(a, b APKPackage) int { return strings.Compare(a.Name, b.Name) })
	var db strings.Builder
	for _, p := range sorted {
		origin, license := p.Origin, p.License
		if origin == "" {
			origin = p.Name
		}
		if license == "" {
			license = "MIT"
		}
		fmt.Fprintf(&db, "P:%s\nV:%s\nA:x86_64\nS:100000\nI:200000\nT:%s package\nU:https://alpinelinux.org\nL:%s\no:%s\nm:Rampart Examples <examples@rampart.dev>\nt:1767225600\n\n",
			p.Name, p.Version, p.Name, license, origin)
	}
	return []File{
		{Path: "/etc/alpine-release", Data: []byte(version + "\n")},
		{Path: "/etc/os-release", Data: []byte(osRelease)},
		{Path: "/etc/apk/repositories", Data: []byte(repos)},
		{Path: "/lib/apk/db/installed", Data: []byte(db.String())},
	}
}

// NPMPackage is one installed npm package.
type NPMPackage struct {
	Name    string
	Version string
	License string
}

// NodeApp returns the files of a node application installed in dir the way `npm ci`
// leaves it: package.json, package-lock.json (lockfileVersion 3) and
// node_modules/<name>/package.json for each dependency. Trivy's image scan reads the
// installed node_modules; the lock file is what the app's repository pins.
func NodeApp(dir, name, version string, deps []NPMPackage) ([]File, error) {
	sorted := slices.Clone(deps)
	slices.SortFunc(sorted, func(a, b NPMPackage) int { return strings.Compare(a.Name, b.Name) })

	depMap := map[string]string{}
	lockPkgs := map[string]any{}
	lockPkgs[""] = map[string]any{"name": name, "version": version, "dependencies": depMap}
	files := []File{}
	for _, d := range sorted {
		license := d.License
		if license == "" {
			license = "MIT"
		}
		depMap[d.Name] = "^" + d.Version
		lockPkgs["node_modules/"+d.Name] = map[string]any{
			"version":   d.Version,
			"resolved":  fmt.Sprintf("https://registry.npmjs.org/%s/-/%s-%s.tgz", d.Name, path.Base(d.Name), d.Version),
			"license":   license,
			"integrity": "sha512-" + strings.Repeat("A", 86) + "==",
		}
		pj, err := marshal(map[string]any{"name": d.Name, "version": d.Version, "license": license, "main": "index.js"})
		if err != nil {
			return nil, err
		}
		files = append(files,
			File{Path: path.Join(dir, "node_modules", d.Name, "package.json"), Data: pj},
			File{Path: path.Join(dir, "node_modules", d.Name, "index.js"), Data: []byte("module.exports = {};\n")},
		)
	}
	pkgJSON, err := marshal(map[string]any{"name": name, "version": version, "private": true, "dependencies": depMap})
	if err != nil {
		return nil, err
	}
	lock, err := marshal(map[string]any{"name": name, "version": version, "lockfileVersion": 3, "requires": true, "packages": lockPkgs})
	if err != nil {
		return nil, err
	}
	files = append(files,
		File{Path: path.Join(dir, "package.json"), Data: pkgJSON},
		File{Path: path.Join(dir, "package-lock.json"), Data: lock},
		File{Path: path.Join(dir, "server.js"), Data: []byte("require('http').createServer((q, s) => s.end('ok')).listen(8080);\n")},
	)
	return files, nil
}

// marshal is json.MarshalIndent with sorted keys (encoding/json sorts map keys).
func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	return append(b, '\n'), nil
}
