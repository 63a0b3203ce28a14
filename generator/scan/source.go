package scan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RegistryOptions says where images come from.
type RegistryOptions struct {
	// DockerConfig is the path of a docker config.json holding registry credentials
	// (auths and credential helpers). Empty uses the default keychain ($DOCKER_CONFIG or
	// ~/.docker/config.json).
	DockerConfig string
	// Mirrors maps a registry host to the host (optionally with a path prefix) to pull
	// its images from instead, e.g. "docker.io": "mirror.corp.example/dockerhub".
	// Pinned references keep the original registry; only the requests go to the mirror.
	Mirrors map[string]string
	// Insecure lists registry hosts reached over plain HTTP (127.0.0.1 and localhost
	// always are).
	Insecure []string
	// OCILayout, when set, is an OCI image layout directory that serves every image,
	// looked up by its org.opencontainers.image.ref.name annotation (the full
	// reference); no registry is contacted. The repository's examples use it offline.
	OCILayout string
	// Transport is the HTTP transport for registry requests; nil uses remote's default.
	Transport http.RoundTripper
}

// source is where the scanner finds images: a registry (through mirrors) or a layout.
type source interface {
	// head returns the digest ref points at.
	head(ctx context.Context, ref name.Reference) (v1.Hash, error)
	// image returns the image at repo@digest.
	image(ctx context.Context, ref name.Digest) (v1.Image, error)
}

func newSource(o RegistryOptions) (source, error) {
	if o.OCILayout != "" {
		return newLayoutSource(o.OCILayout)
	}
	var kc authn.Keychain = authn.DefaultKeychain
	if o.DockerConfig != "" {
		f, err := os.Open(o.DockerConfig)
		if err != nil {
			return nil, fmt.Errorf("reading docker config: %w", err)
		}
		cf := configfile.New(o.DockerConfig)
		err = cf.LoadFromReader(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading docker config %s: %w", o.DockerConfig, err)
		}
		kc = dockerConfigKeychain{cf}
	}
	return &registrySource{opts: o, keychain: kc}, nil
}

type registrySource struct {
	opts     RegistryOptions
	keychain authn.Keychain
}

// target rewrites ref to its mirror and marks insecure registries.
func (s *registrySource) target(ref name.Reference) (name.Reference, error) {
	reg := ref.Context().RegistryStr()
	host := reg
	repo := ref.Context().RepositoryStr()
	if m, ok := s.opts.Mirrors[reg]; ok {
		h, prefix, _ := strings.Cut(strings.TrimSuffix(m, "/"), "/")
		host = h
		if prefix != "" {
			repo = prefix + "/" + repo
		}
	} else if reg == name.DefaultRegistry {
		if m, ok := s.opts.Mirrors["docker.io"]; ok {
			h, prefix, _ := strings.Cut(strings.TrimSuffix(m, "/"), "/")
			host = h
			if prefix != "" {
				repo = prefix + "/" + repo
			}
		}
	}
	var opts []name.Option
	if slices.Contains(s.opts.Insecure, host) {
		opts = append(opts, name.Insecure)
	}
	s2 := host + "/" + repo
	if d, ok := ref.(name.Digest); ok {
		return name.NewDigest(s2+"@"+d.DigestStr(), opts...)
	}
	return name.NewTag(s2+":"+ref.Identifier(), opts...)
}

func (s *registrySource) remoteOptions(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(s.keychain)}
	if s.opts.Transport != nil {
		opts = append(opts, remote.WithTransport(s.opts.Transport))
	}
	return opts
}

func (s *registrySource) head(ctx context.Context, ref name.Reference) (v1.Hash, error) {
	t, err := s.target(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(t, s.remoteOptions(ctx)...)
	if err == nil {
		return desc.Digest, nil
	}
	// A HEAD response has no body; GET tells why (MANIFEST_UNKNOWN, DENIED, …), and some
	// registries do not answer HEAD at all.
	full, gerr := remote.Get(t, s.remoteOptions(ctx)...)
	if gerr != nil {
		return v1.Hash{}, fmt.Errorf("asking %s for the digest: %w", t.Context().RegistryStr(), gerr)
	}
	return full.Digest, nil
}

func (s *registrySource) image(ctx context.Context, ref name.Digest) (v1.Image, error) {
	t, err := s.target(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(t, s.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("pulling from %s: %w", t.Context().RegistryStr(), err)
	}
	return img, nil
}

type dockerConfigKeychain struct{ cf *configfile.ConfigFile }

func (k dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	key := r.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	ac, err := k.cf.GetAuthConfig(key)
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s: %w", r.RegistryStr(), err)
	}
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" && ac.RegistryToken == "" && ac.Auth == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}), nil
}

// layoutSource serves images from an OCI image layout, by reference annotation.
type layoutSource struct {
	dir    string
	path   layout.Path
	byName map[string]v1.Hash // normalized reference name → digest
	refs   []string
}

func newLayoutSource(dir string) (*layoutSource, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	s := &layoutSource{dir: dir, path: p, byName: map[string]v1.Hash{}}
	for _, d := range m.Manifests {
		n := d.Annotations["org.opencontainers.image.ref.name"]
		if n == "" {
			continue
		}
		if r, err := name.ParseReference(n); err == nil {
			n = r.Name()
		}
		s.byName[n] = d.Digest
		s.refs = append(s.refs, n)
	}
	slices.Sort(s.refs)
	return s, nil
}

func (s *layoutSource) head(_ context.Context, ref name.Reference) (v1.Hash, error) {
	h, ok := s.byName[ref.Name()]
	if !ok {
		return v1.Hash{}, fmt.Errorf("not in the OCI layout %s (it holds %s)", s.dir, strings.Join(s.refs, ", "))
	}
	return h, nil
}

func (s *layoutSource) image(_ context.Context, ref name.Digest) (v1.Image, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	img, err := s.path.Image(h)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("digest %s is not in the OCI layout %s", h, filepath.Clean(s.dir))
		}
		return nil, fmt.Errorf("reading %s from the OCI layout %s: %w", h, s.dir, err)
	}
	return img, nil
}
