package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	tdb "github.com/aquasecurity/trivy/pkg/db"
	"github.com/google/go-containerregistry/pkg/name"
)

// Options configure a Scanner.
type Options struct {
	// DBDir holds Trivy's vulnerability database: trivy.db and metadata.json (what
	// `trivy image --download-db-only --cache-dir C` leaves in C/db). Not used with a
	// Server.
	DBDir string
	// Server, when set, scans through a running `trivy server` instead of DBDir; see
	// ServerOptions.
	Server *ServerOptions
	// CacheDir keeps scan results by image digest and database version, and tag
	// resolutions, between runs. Empty keeps nothing between runs.
	CacheDir string
	// MaxDBAge is how old the database may be (from its UpdatedAt) before the scanner
	// refuses it; with a Server, the server's database. Zero means no limit.
	MaxDBAge time.Duration
	// ResolveTTL is how long a cached tag → digest resolution is trusted before the
	// registry is asked again. Zero means 24h; a negative value never trusts the cache.
	// Refresh ignores cached resolutions.
	ResolveTTL time.Duration
	// Now is the clock (for the database age and exception expiry); nil is time.Now.
	Now func() time.Time
	// Registry says where images come from.
	Registry RegistryOptions
	// Progress receives a progress bar when it is a terminal, nothing otherwise (the
	// Logger gets a line per image either way).
	Progress io.Writer
	// Logger receives a line per resolved and scanned image; nil discards them.
	Logger *slog.Logger
	// Refresh ignores cached results and resolutions (the nightly rescan sets it).
	Refresh bool
}

// Resolved is an image reference resolved to a digest.
type Resolved struct {
	// Ref is the reference as written, e.g. "registry.example.com/payments/api:1.4.2".
	Ref string `json:"ref"`
	// Repository is the normalized repository, e.g. "registry.example.com/payments/api"
	// ("index.docker.io/library/nginx" for "nginx"); exceptions match on it.
	Repository string `json:"repository"`
	// Digest is the manifest digest, "sha256:…".
	Digest string `json:"digest"`
	// Pinned is Ref with the digest: "registry.example.com/payments/api:1.4.2@sha256:…".
	Pinned string `json:"pinned"`
	// Cached says the digest came from the resolution cache, not the registry.
	Cached bool `json:"-"`
}

// Scanner resolves and scans images. A local one holds Trivy's process-wide database
// handle: one local Scanner at a time, and Close it. One scanning through a server
// holds no database and may be open beside others.
type Scanner struct {
	opts      Options
	log       *slog.Logger
	src       source
	dbVersion string
	dbMeta    metadata.Metadata
	cache     *resultCache
	trivy     *trivyScanner
	remote    *remoteServer
	closeOnce sync.Once
}

// openMu guards Trivy's global database handle.
var (
	openMu sync.Mutex
	isOpen bool
)

// New checks the database (present, the schema Trivy reads, not older than MaxDBAge),
// opens it and prepares the image source. With a Server it asks the server instead:
// that it answers, accepts the token and has a database not older than MaxDBAge. It
// fails closed: without a usable database there is no Scanner.
func New(opts Options) (*Scanner, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ResolveTTL == 0 {
		opts.ResolveTTL = 24 * time.Hour
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	routeTrivyLogs(logger)
	if opts.Server != nil {
		return newRemote(opts, logger)
	}

	meta, err := checkDB(opts.DBDir, opts.MaxDBAge, opts.Now())
	if err != nil {
		return nil, err
	}
	src, err := newSource(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("preparing image source: %w", err)
	}
	rc, err := openResultCache(opts.CacheDir, "")
	if err != nil {
		return nil, err
	}

	openMu.Lock()
	defer openMu.Unlock()
	if isOpen {
		return nil, errors.New("opening vulnerability database: another Scanner is open in this process (Trivy's database handle is process-wide); close it first")
	}
	if err := tdb.Init(opts.DBDir); err != nil {
		return nil, fmt.Errorf("opening vulnerability database at %s: %w", opts.DBDir, err)
	}
	isOpen = true
	ts, err := newTrivyScanner()
	if err != nil {
		_ = trivydb.Close()
		isOpen = false
		return nil, err
	}
	return &Scanner{
		opts:      opts,
		log:       logger,
		src:       src,
		dbMeta:    meta,
		dbVersion: dbVersionOf(meta),
		cache:     rc,
		trivy:     ts,
	}, nil
}

// newRemote prepares a Scanner that scans through a Trivy server. It leaves Trivy's
// database handle alone: the server has its own.
func newRemote(opts Options, logger *slog.Logger) (*Scanner, error) {
	srv, err := newRemoteServer(*opts.Server)
	if err != nil {
		return nil, err
	}
	if err := srv.check(context.Background()); err != nil {
		return nil, err
	}
	if err := checkAge(srv.db, opts.MaxDBAge, opts.Now(), fmt.Sprintf("the vulnerability database of the Trivy server at %s (scan.server.url)", srv.url),
		"let the server update it (trivy server updates its database hourly unless started with --skip-db-update)"); err != nil {
		return nil, err
	}
	if opts.DBDir != "" {
		logger.Info("scanning through a Trivy server: the local database is not used", "server", srv.url, "dbDir", opts.DBDir)
	}
	src, err := newSource(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("preparing image source: %w", err)
	}
	// Results are kept per database and per server Trivy version: the server detects,
	// and another Trivy may find other things in the same database.
	rc, err := openResultCache(opts.CacheDir, "trivy-server "+srv.version)
	if err != nil {
		return nil, err
	}
	s := &Scanner{
		opts:      opts,
		log:       logger,
		src:       src,
		dbMeta:    srv.db,
		dbVersion: dbVersionOf(srv.db),
		cache:     rc,
		trivy:     newRemoteTrivyScanner(srv),
		remote:    srv,
	}
	logger.Info("scanning through a Trivy server", "server", srv.url, "version", srv.version, "db", s.dbVersion)
	return s, nil
}

// Close releases the database (nothing, when scanning through a server).
func (s *Scanner) Close() error {
	if s.remote != nil {
		return nil
	}
	var err error
	s.closeOnce.Do(func() {
		openMu.Lock()
		defer openMu.Unlock()
		err = trivydb.Close()
		isOpen = false
	})
	if err != nil {
		return fmt.Errorf("closing vulnerability database: %w", err)
	}
	return nil
}

// DBVersion identifies the database the results come from (schema and UpdatedAt).
func (s *Scanner) DBVersion() string { return s.dbVersion }

// DBUpdatedAt is when the database was built.
func (s *Scanner) DBUpdatedAt() time.Time { return s.dbMeta.UpdatedAt }

// checkDB fails closed on a missing, foreign or stale database.
func checkDB(dir string, maxAge time.Duration, now time.Time) (metadata.Metadata, error) {
	if dir == "" {
		return metadata.Metadata{}, errors.New("no vulnerability database configured: set scan.dbDir (or scan.server) in rampart.yaml")
	}
	hint := fmt.Sprintf("run `trivy image --download-db-only --cache-dir CACHE` and point scan.dbDir in rampart.yaml at CACHE/db, or copy trivy.db and metadata.json into %s", dir)
	if _, err := os.Stat(trivydb.Path(dir)); err != nil {
		return metadata.Metadata{}, fmt.Errorf("no vulnerability database at %s (%s is missing); %s", dir, trivydb.Path(dir), hint)
	}
	meta, err := metadata.NewClient(dir).Get()
	if err != nil {
		return metadata.Metadata{}, fmt.Errorf("no vulnerability database at %s (reading %s: %w); %s", dir, metadata.Path(dir), err, hint)
	}
	if meta.Version != trivydb.SchemaVersion {
		return metadata.Metadata{}, fmt.Errorf("vulnerability database at %s has schema version %d, this build of Trivy reads %d; download a current one", dir, meta.Version, trivydb.SchemaVersion)
	}
	if meta.UpdatedAt.IsZero() {
		return metadata.Metadata{}, fmt.Errorf("vulnerability database at %s has no UpdatedAt in %s; its age is unknown", dir, metadata.Path(dir))
	}
	if err := checkAge(meta, maxAge, now, "vulnerability database at "+dir, "download a fresh one"); err != nil {
		return metadata.Metadata{}, err
	}
	return meta, nil
}

// checkAge fails closed on a database older than maxAge; where names it and fix says
// how to get a newer one.
func checkAge(meta metadata.Metadata, maxAge time.Duration, now time.Time, where, fix string) error {
	if age := now.Sub(meta.UpdatedAt); maxAge > 0 && age > maxAge {
		return fmt.Errorf("%s is stale: updated %s, %s ago, more than the maximum age %s; %s, or raise scan.maxDBAge in rampart.yaml",
			where, meta.UpdatedAt.UTC().Format(time.RFC3339), formatAge(age), formatAge(maxAge), fix)
	}
	return nil
}

// formatAge prints a duration in days, hours and minutes ("5d12h", "1h30m"), which is
// how people think of a database's age.
func formatAge(d time.Duration) string {
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	rest := d - time.Duration(days)*24*time.Hour
	hm := strings.TrimSuffix(rest.String(), "0s")
	if strings.HasSuffix(hm, "h0m") {
		hm = strings.TrimSuffix(hm, "0m")
	}
	switch {
	case days == 0 && rest == 0:
		return "0m"
	case days == 0:
		return hm
	case rest == 0:
		return fmt.Sprintf("%dd", days)
	default:
		return fmt.Sprintf("%dd%s", days, hm)
	}
}

// Resolve pins every reference to a digest. Each distinct reference is resolved once;
// references that already carry a digest need no request. It returns what it could
// resolve and, if any reference failed, an error naming each failed reference and the
// registry's answer (a *ResolveError per reference, joined).
func (s *Scanner) Resolve(ctx context.Context, refs []string) (map[string]Resolved, error) {
	uniq := slices.Clone(refs)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	out := make(map[string]Resolved, len(uniq))
	var errs []error
	for _, ref := range uniq {
		r, err := s.resolve(ctx, ref)
		if err != nil {
			errs = append(errs, &ResolveError{Ref: ref, Err: err})
			s.log.Error("image not resolved", "image", ref, "error", err)
			continue
		}
		out[ref] = r
		s.log.Info("image resolved", "image", ref, "digest", r.Digest, "cached", r.Cached)
	}
	if err := s.cache.saveResolutions(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// ResolveError is a reference that could not be resolved.
type ResolveError struct {
	Ref string
	Err error
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("resolving image %q: %v", e.Ref, e.Err)
}

func (e *ResolveError) Unwrap() error { return e.Err }

func (s *Scanner) resolve(ctx context.Context, ref string) (Resolved, error) {
	base, digest, hasDigest := strings.Cut(ref, "@")
	parsed, err := name.ParseReference(base)
	if err != nil {
		return Resolved{}, fmt.Errorf("parsing: %w", err)
	}
	r := Resolved{Ref: ref, Repository: parsed.Context().Name()}
	if hasDigest {
		if _, err := name.NewDigest(parsed.Context().Name() + "@" + digest); err != nil {
			return Resolved{}, fmt.Errorf("parsing: %w", err)
		}
		r.Digest, r.Pinned = digest, ref
		return r, nil
	}
	now := s.opts.Now()
	// An OCI layout answers locally; only registry answers are worth caching.
	_, local := s.src.(*layoutSource)
	if !local && !s.opts.Refresh && s.opts.ResolveTTL > 0 {
		if d, ok := s.cache.resolution(parsed.Name(), now, s.opts.ResolveTTL); ok {
			r.Digest, r.Pinned, r.Cached = d, base+"@"+d, true
			return r, nil
		}
	}
	h, err := s.src.head(ctx, parsed)
	if err != nil {
		return Resolved{}, err
	}
	r.Digest, r.Pinned = h.String(), base+"@"+h.String()
	if !local {
		s.cache.putResolution(parsed.Name(), r.Digest, now)
	}
	return r, nil
}

// Scan scans each distinct digest among images once and returns a Result per digest.
// A cached result (same digest, same database) is used unless Refresh is set; then the
// registry is not contacted at all. Images that fail to pull or scan get a Result with
// Err set (never cached), and the returned error joins those failures.
func (s *Scanner) Scan(ctx context.Context, images []Resolved) (map[string]*Result, error) {
	byDigest := map[string]Resolved{}
	for _, img := range images {
		if img.Digest == "" {
			continue
		}
		if prev, ok := byDigest[img.Digest]; !ok || img.Pinned < prev.Pinned {
			byDigest[img.Digest] = img
		}
	}
	digests := make([]string, 0, len(byDigest))
	for d := range byDigest {
		digests = append(digests, d)
	}
	slices.Sort(digests)

	bar := newProgress(s.opts.Progress, len(digests))
	defer bar.finish()
	out := make(map[string]*Result, len(digests))
	var errs []error
	for _, d := range digests {
		img := byDigest[d]
		bar.start(img.Pinned)
		start := time.Now()
		res := s.scanOne(ctx, img)
		out[d] = res
		if res.Err != nil {
			errs = append(errs, res.Err)
			s.log.Error("image not scanned", "image", img.Pinned, "error", res.Err)
		} else {
			s.log.Info("image scanned", "image", img.Pinned, "findings", len(res.Findings),
				"cached", res.Cached, "duration", time.Since(start).Round(time.Millisecond))
		}
		bar.done()
		if ctx.Err() != nil {
			break
		}
	}
	return out, errors.Join(errs...)
}

func (s *Scanner) scanOne(ctx context.Context, img Resolved) *Result {
	if !s.opts.Refresh {
		if res, ok := s.cache.result(img.Digest, s.dbVersion); ok {
			res.Cached = true
			return res
		}
	}
	fail := func(err error) *Result {
		return &Result{Digest: img.Digest, Image: img.Pinned, DBVersion: s.dbVersion,
			Err: fmt.Errorf("scanning image %q: %w", img.Pinned, err)}
	}
	ref, err := name.NewDigest(img.Repository + "@" + img.Digest)
	if err != nil {
		return fail(err)
	}
	v1img, err := s.src.image(ctx, ref)
	if err != nil {
		return fail(err)
	}
	res, err := s.trivy.scan(ctx, img, v1img)
	if err != nil {
		return fail(err)
	}
	res.Digest, res.Image = img.Digest, img.Pinned
	if res.DBVersion == "" {
		res.DBVersion = s.dbVersion
	} else if res.DBVersion != s.dbVersion {
		s.log.Warn("the Trivy server's database changed during the run", "image", img.Pinned, "was", s.dbVersion, "now", res.DBVersion)
	}
	res.ScannedAt = s.opts.Now().UTC()
	if err := s.cache.putResult(res); err != nil {
		s.log.Warn("scan result not cached", "image", img.Pinned, "error", err)
	}
	return res
}
