package imagebuild

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is go-containerregistry's in-process registry served over HTTP on
// 127.0.0.1, wrapped to count the requests it receives.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of references to pushed images.
	Host   string
	server *httptest.Server
	count  atomic.Int64

	mu    sync.Mutex
	paths []string
}

// StartRegistry starts a registry; Close stops it.
func StartRegistry() *Registry {
	r := &Registry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.count.Add(1)
		r.mu.Lock()
		r.paths = append(r.paths, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	r.Host = strings.TrimPrefix(r.server.URL, "http://")
	return r
}

// Close stops the registry.
func (r *Registry) Close() { r.server.Close() }

// Requests is the number of requests served since the start or the last Reset.
func (r *Registry) Requests() int64 { return r.count.Load() }

// RequestLog is the method and path of each request since the last Reset.
func (r *Registry) RequestLog() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths)
}

// Reset sets the request count to zero.
func (r *Registry) Reset() {
	r.count.Store(0)
	r.mu.Lock()
	r.paths = nil
	r.mu.Unlock()
}

// Push uploads img as Host/repoTag (e.g. "payments/api:1.4.2") and returns the full
// reference and the image digest.
func (r *Registry) Push(repoTag string, img v1.Image) (string, v1.Hash, error) {
	ref := r.Host + "/" + repoTag
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return "", v1.Hash{}, fmt.Errorf("parsing %s: %w", ref, err)
	}
	if err := remote.Write(tag, img); err != nil {
		return "", v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", v1.Hash{}, fmt.Errorf("digesting %s: %w", ref, err)
	}
	return ref, d, nil
}

// RefNameAnnotation is the OCI annotation naming an image in a layout's index; the
// scanner's OCI layout source looks images up by it.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes images (keyed by full reference, e.g.
// "registry.example.com/payments/api:1.4.2") to an OCI image layout at dir, replacing
// whatever is there. Index entries are sorted by reference, so the same images give
// the same bytes.
func WriteLayout(dir string, images map[string]v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing OCI layout %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	refs := make([]string, 0, len(images))
	for ref := range images {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		if err := p.AppendImage(images[ref], layout.WithAnnotations(map[string]string{RefNameAnnotation: ref})); err != nil {
			return fmt.Errorf("writing %s to OCI layout %s: %w", ref, dir, err)
		}
	}
	return nil
}
