package scan

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
)

// Resolver resolves image references on demand while units render, each distinct
// reference once per run, from any number of goroutines: a unit pins its images as
// soon as it has verified, so a render keeps no unit's objects waiting for the scan.
type Resolver struct {
	s   *Scanner
	ctx context.Context

	mu    sync.Mutex
	calls map[string]*resolveCall
}

type resolveCall struct {
	done chan struct{}
	r    Resolved
	err  error
}

// Resolver returns a Resolver that uses the scanner's source and resolution cache.
func (s *Scanner) Resolver(ctx context.Context) *Resolver {
	return &Resolver{s: s, ctx: ctx, calls: map[string]*resolveCall{}}
}

// Resolve resolves one reference (or waits for the goroutine already resolving it).
func (r *Resolver) Resolve(ref string) (Resolved, error) {
	r.mu.Lock()
	c, ok := r.calls[ref]
	if !ok {
		c = &resolveCall{done: make(chan struct{})}
		r.calls[ref] = c
	}
	r.mu.Unlock()
	if ok {
		<-c.done
		return c.r, c.err
	}
	c.r, c.err = r.s.resolve(r.ctx, ref)
	if c.err != nil {
		c.err = &ResolveError{Ref: ref, Err: c.err}
		r.s.log.Error("image not resolved", "image", ref, "error", c.err)
	} else {
		r.s.log.Debug("image resolved", "image", ref, "digest", c.r.Digest, "cached", c.r.Cached)
	}
	close(c.done)
	return c.r, c.err
}

// Pins resolves images and gives their pinned references, by image; images that
// do not resolve are left out (the gate fails the units that run them).
func (r *Resolver) Pins(images []string) map[string]string {
	pins := make(map[string]string, len(images))
	for _, img := range images {
		if res, err := r.Resolve(img); err == nil && res.Pinned != "" {
			pins[img] = res.Pinned
		}
	}
	return pins
}

// Resolved returns every reference resolved so far, and the joined errors of those
// that failed; it saves the resolution cache.
func (r *Resolver) Resolved() (map[string]Resolved, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Resolved{}
	var errs []error
	for _, ref := range slices.Sorted(maps.Keys(r.calls)) {
		c := r.calls[ref]
		<-c.done
		if c.err != nil {
			errs = append(errs, c.err)
			continue
		}
		out[ref] = c.r
	}
	if err := r.s.cache.saveResolutions(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}
