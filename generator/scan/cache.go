package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// cacheVersion changes whenever Result's content or the analysis changes meaning, so
// results from an older Rampart are not reused.
const cacheVersion = "rampart-scan-1/trivy-v0.74.0"

// resultCache keeps results under DIR/results/<key>.json and tag resolutions in
// DIR/resolutions.json. A nil dir keeps everything in memory for the run.
type resultCache struct {
	dir string
	// scope is what besides the digest and the database decides a result: empty for a
	// local scan, the server's Trivy version for one through a server.
	scope string

	mu          sync.Mutex
	resolutions map[string]resolution
	dirty       bool
}

type resolution struct {
	Digest     string    `json:"digest"`
	ResolvedAt time.Time `json:"resolvedAt"`
}

func openResultCache(dir, scope string) (*resultCache, error) {
	c := &resultCache{dir: dir, scope: scope, resolutions: map[string]resolution{}}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "results"), 0o755); err != nil {
		return nil, fmt.Errorf("creating scan cache: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "resolutions.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading scan cache: %w", err)
	default:
		// A corrupt file is only a cache miss.
		_ = json.Unmarshal(b, &c.resolutions)
	}
	return c, nil
}

func (c *resultCache) resolution(ref string, now time.Time, ttl time.Duration) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.resolutions[ref]
	if !ok || now.Sub(r.ResolvedAt) > ttl || now.Before(r.ResolvedAt) {
		return "", false
	}
	return r.Digest, true
}

func (c *resultCache) putResolution(ref, digest string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resolutions[ref] = resolution{Digest: digest, ResolvedAt: now.UTC()}
	c.dirty = true
}

func (c *resultCache) saveResolutions() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" || !c.dirty {
		return nil
	}
	b, err := json.MarshalIndent(c.resolutions, "", "  ") // map keys are sorted
	if err != nil {
		return fmt.Errorf("writing scan cache: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(c.dir, "resolutions.json"), b); err != nil {
		return fmt.Errorf("writing scan cache: %w", err)
	}
	c.dirty = false
	return nil
}

func (c *resultCache) path(digest, dbVersion string) string {
	key := cacheVersion + "\n" + digest + "\n" + dbVersion
	if c.scope != "" {
		key += "\n" + c.scope
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, "results", hex.EncodeToString(sum[:])+".json")
}

func (c *resultCache) result(digest, dbVersion string) (*Result, bool) {
	if c.dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(c.path(digest, dbVersion))
	if err != nil {
		return nil, false
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil || r.Digest != digest || r.DBVersion != dbVersion {
		return nil, false
	}
	return &r, true
}

func (c *resultCache) putResult(r *Result) error {
	if c.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(c.path(r.Digest, r.DBVersion), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
