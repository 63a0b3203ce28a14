package scan

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	artimage "github.com/aquasecurity/trivy/pkg/fanal/artifact/image"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	ttypes "github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	// Register fanal's analyzers and handlers, as the trivy command does.
	_ "github.com/aquasecurity/trivy/pkg/fanal/analyzer/all"
	_ "github.com/aquasecurity/trivy/pkg/fanal/handler/all"
)

// disabledAnalyzers mirrors `trivy image --scanners vuln`: lock files are not read in
// images (Trivy reads what is installed: node_modules, Go binaries, the apk database),
// and nothing but vulnerability analysis runs. Jar analysis is off because it needs
// Trivy's separate Java database, which this stage does not manage.
var disabledAnalyzers = func() []analyzer.Type {
	a := append([]analyzer.Type{}, analyzer.TypeLockfiles...)
	a = append(a, analyzer.TypeConfigFiles...)
	return append(a,
		analyzer.TypeApkCommand,
		analyzer.TypeSecret,
		analyzer.TypeLicenseFile,
		analyzer.TypeHistoryDockerfile,
		analyzer.TypeExecutable,
		analyzer.TypeRpmArchive,
		analyzer.TypeJar,
	)
}()

// trivyScanner runs Trivy's analysis and detection: locally, Trivy's local scan
// service with an in-memory layer cache; through a server, the same image artifact
// with Trivy's remote cache client and the server's scanner service.
type trivyScanner struct {
	// cache is the layer cache of one scan.
	cache   func(ctx context.Context) cache.ArtifactCache
	service backend
	// server is the Trivy server scanned through; nil scans locally.
	server *remoteServer
}

// backend is what Trivy's local scan service and its RPC client have in common (its
// pkg/scan.Backend, which is not imported: that package brings Trivy's report writers).
type backend interface {
	Scan(ctx context.Context, target, artifactKey string, blobKeys []string, opts ttypes.ScanOptions) (ttypes.ScanResponse, error)
}

func newTrivyScanner() (*trivyScanner, error) {
	c := cache.NewMemoryCache()
	svc := local.NewService(applier.NewApplier(c), ospkg.NewScanner(), langpkg.NewScanner(),
		vulnerability.NewClient(trivydb.Config{}))
	return &trivyScanner{cache: func(context.Context) cache.ArtifactCache { return c }, service: svc}, nil
}

// newRemoteTrivyScanner mirrors Trivy's client mode (createRemoteService in its
// pkg/commands/artifact): the remote cache takes the analysis, the RPC client asks the
// server to detect.
func newRemoteTrivyScanner(srv *remoteServer) *trivyScanner {
	return &trivyScanner{
		cache:   func(ctx context.Context) cache.ArtifactCache { return srv.cache(ctx) },
		service: srv.scanner,
		server:  srv,
	}
}

// trivyImage gives Trivy's image artifact a go-containerregistry image we pulled (from
// a registry through mirrors, or from an OCI layout), so every request goes through
// one place.
type trivyImage struct {
	v1.Image
	ref Resolved
}

func (i trivyImage) Name() string { return i.ref.Pinned }

func (i trivyImage) ID() (string, error) {
	h, err := i.ConfigName()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

func (i trivyImage) RepoTags() []string {
	base, _, _ := strings.Cut(i.ref.Pinned, "@")
	return []string{base}
}

func (i trivyImage) RepoDigests() []string {
	return []string{i.ref.Repository + "@" + i.ref.Digest}
}

// scan analyses img and detects vulnerabilities. Trivy panics are turned into errors.
func (t *trivyScanner) scan(ctx context.Context, ref Resolved, img v1.Image) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("trivy panicked: %v\n%s", r, debug.Stack())
		}
	}()
	art, err := artimage.NewArtifact(trivyImage{Image: img, ref: ref}, t.cache(ctx), artifact.Option{
		DisabledAnalyzers: disabledAnalyzers,
		Parallel:          2,
		NoProgress:        true,
		Offline:           true,
	})
	if err != nil {
		return nil, fmt.Errorf("preparing analysis: %w", err)
	}
	info, err := art.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("analysing layers: %w", t.explain(err))
	}
	defer func() { _ = art.Clean(info) }()

	resp, err := t.service.Scan(ctx, info.Name, info.ID, info.BlobIDs, ttypes.ScanOptions{
		PkgTypes:            []string{ttypes.PkgTypeOS, ttypes.PkgTypeLibrary},
		PkgRelationships:    ftypes.Relationships,
		Scanners:            ttypes.Scanners{ttypes.VulnerabilityScanner},
		VulnSeveritySources: []dbtypes.SourceID{"auto"},
	})
	if err != nil {
		return nil, fmt.Errorf("detecting vulnerabilities: %w", t.explain(err))
	}

	res = &Result{Findings: []Finding{}}
	if db := resp.ServerInfo.VulnerabilityDB; t.server != nil && db != nil && !db.UpdatedAt.IsZero() {
		// The server may have updated its database since New asked; the result says
		// which one it came from.
		res.DBVersion = dbVersionOf(*db)
	}
	if resp.OS.Detected() {
		res.OS = strings.TrimSpace(string(resp.OS.Family) + " " + resp.OS.Name)
	}
	for _, r := range resp.Results {
		res.Packages += len(r.Packages)
		for _, v := range r.Vulnerabilities {
			sev, err := ParseSeverity(v.Severity) //nolint:staticcheck // Trivy sets it from the vendor severity it selected.
			if err != nil {
				sev = SeverityUnknown
			}
			res.Findings = append(res.Findings, Finding{
				ID:        v.VulnerabilityID,
				Package:   v.PkgName,
				Installed: v.InstalledVersion,
				Fixed:     v.FixedVersion,
				Severity:  sev,
				Title:     v.Title,
				Type:      string(r.Type),
				Target:    r.Target,
				PkgPath:   v.PkgPath,
				URL:       v.PrimaryURL,
			})
		}
	}
	SortFindings(res.Findings)
	return res, nil
}

// explain names the server in errors that came from it.
func (t *trivyScanner) explain(err error) error {
	if t.server == nil {
		return err
	}
	return t.server.explain(err)
}

// routeTrivyLogs replaces the buffering handler Trivy's log package installs as the
// process's default slog handler at init (it keeps every record in memory until
// Trivy's CLI would flush it, and is not safe for concurrent use) with one that sends
// Trivy's chatter to logger at debug level. A default the program set itself is left
// alone; so call slog.SetDefault before New if the program wants Trivy's logs there.
func routeTrivyLogs(logger *slog.Logger) {
	switch slog.Default().Handler().(type) {
	case *trivylog.DeferredHandler, demoteHandler:
	default:
		return
	}
	slog.SetDefault(slog.New(demoteHandler{logger.Handler()}).With("component", "trivy"))
}

// demoteHandler logs Trivy's info and debug records at debug level; warnings and
// errors keep their level.
type demoteHandler struct{ slog.Handler }

func (h demoteHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h demoteHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h demoteHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return demoteHandler{h.Handler.WithAttrs(as)}
}

func (h demoteHandler) WithGroup(name string) slog.Handler {
	return demoteHandler{h.Handler.WithGroup(name)}
}
