package scan

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/rpc/client"
	ttypes "github.com/aquasecurity/trivy/pkg/types"
	xhttp "github.com/aquasecurity/trivy/pkg/x/http"
	"github.com/twitchtv/twirp"
	"golang.org/x/net/http/httpguts"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// DefaultTokenEnv is the environment variable the token for a Trivy server is read
// from when rampart.yaml names none: the one Trivy's own client reads, so a CI job set
// up for `trivy image --server` needs nothing more.
const DefaultTokenEnv = "TRIVY_TOKEN"

// DefaultTokenHeader is the header Trivy's server reads the token from unless it was
// started with --token-header.
const DefaultTokenHeader = "Trivy-Token"

// serverCheckTimeout bounds New's questions to the server, so that a server that
// accepts connections and never answers fails the run instead of hanging it.
const serverCheckTimeout = 30 * time.Second

// ServerOptions make the Scanner scan through a running `trivy server`, as
// `trivy image --server URL` does: the images are still pulled and their layers
// analysed here (fanal's image artifact), the analysis goes to the server's cache
// (Trivy's remote cache client) and the server's scanner service detects the
// vulnerabilities against its database. No local database is opened.
type ServerOptions struct {
	// URL is the server's base URL, e.g. "http://trivy.security.svc:4954".
	URL string
	// Token is sent in TokenHeader with every request; empty sends none.
	Token string
	// TokenHeader is the header carrying Token; empty is DefaultTokenHeader.
	TokenHeader string
	// TokenEnv names the environment variable Token came from, so that an error can
	// say what to fix. New does not read it.
	TokenEnv string
	// Headers are sent with every request (`trivy --custom-headers`).
	Headers http.Header
}

// ServerFromConfig turns rampart.yaml's scan.server into ServerOptions, reading the
// token through getenv (os.Getenv in the program). A nil cfg gives nil: scan locally.
// Errors name the field, relative to scan.
func ServerFromConfig(cfg *spec.ScanServer, getenv func(string) string) (*ServerOptions, error) {
	if cfg == nil {
		return nil, nil
	}
	o := &ServerOptions{URL: cfg.URL, TokenHeader: cfg.TokenHeader, TokenEnv: cfg.TokenEnv}
	if o.TokenEnv == "" {
		o.TokenEnv = DefaultTokenEnv
	}
	o.Token = getenv(o.TokenEnv)
	if o.Token == "" && cfg.TokenEnv != "" {
		return nil, fmt.Errorf("server.tokenEnv: $%s is not set; set it to the token the Trivy server was started with (trivy server --token), or drop tokenEnv if the server needs none", cfg.TokenEnv)
	}
	if len(cfg.Headers) > 0 {
		o.Headers = http.Header{}
		for k, v := range cfg.Headers {
			o.Headers.Set(k, v)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks what can be checked without asking the server. Errors name the
// rampart.yaml field, relative to scan.
func (o *ServerOptions) validate() error {
	u, err := url.Parse(o.URL)
	switch {
	case o.URL == "":
		return errors.New("server.url: required: the base URL of a running `trivy server`, e.g. http://trivy:4954")
	case err != nil:
		return fmt.Errorf("server.url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("server.url: %q is not an http:// or https:// URL with a host, e.g. http://trivy:4954", o.URL)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("server.url: %q has a query or fragment; give the server's base URL", o.URL)
	}
	if o.TokenHeader != "" && !httpguts.ValidHeaderFieldName(o.TokenHeader) {
		return fmt.Errorf("server.tokenHeader: %q is not an HTTP header name", o.TokenHeader)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Headers)) {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return fmt.Errorf("server.headers: %q is not an HTTP header name", k)
		case slices.Contains([]string{"Accept", "Content-Type", "Twirp-Version"}, http.CanonicalHeaderKey(k)):
			// Trivy's client drops every custom header, the token too, when one of these is set.
			return fmt.Errorf("server.headers: %s is set by Trivy's client and cannot be overridden", http.CanonicalHeaderKey(k))
		}
		for _, v := range o.Headers[k] {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("server.headers: the value of %s is not a valid HTTP header value", k)
			}
		}
	}
	return nil
}

// remoteServer is a Trivy server that answered New's checks.
type remoteServer struct {
	url         string // without a trailing slash
	tokenEnv    string
	tokenHeader string
	hasToken    bool
	headers     http.Header // custom headers and the token, as Trivy's CLI builds them
	version     string      // the server's Trivy version
	db          metadata.Metadata
	scanner     client.Service
}

func newRemoteServer(o ServerOptions) (*remoteServer, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("scan.%w", err)
	}
	r := &remoteServer{url: strings.TrimSuffix(o.URL, "/"), tokenEnv: o.TokenEnv,
		tokenHeader: cmp.Or(o.TokenHeader, DefaultTokenHeader), hasToken: o.Token != "", headers: o.Headers.Clone()}
	if r.headers == nil {
		r.headers = http.Header{}
	}
	if o.Token != "" {
		// As Trivy's CLI: the token is one more custom header.
		r.headers.Set(r.tokenHeader, o.Token)
	}
	r.scanner = client.NewService(client.ServiceOption{RemoteURL: r.url, CustomHeaders: r.headers})
	return r, nil
}

// check asks the server for its version and database (GET /version, which needs no
// token), then makes one token-checked call to its cache service, so that a wrong URL,
// a server without a database or a rejected token fail New rather than every image.
func (r *remoteServer) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverCheckTimeout)
	defer cancel()
	info, err := r.versionInfo(ctx)
	if err != nil {
		return err
	}
	if info.VulnerabilityDB == nil || info.VulnerabilityDB.UpdatedAt.IsZero() {
		return fmt.Errorf("the Trivy server at %s (scan.server.url) reports no vulnerability database; let it download one (trivy server without --skip-db-update) and try again", r.url)
	}
	r.version, r.db = info.Version, *info.VulnerabilityDB
	// An artifact ID nobody has: the server only looks it up.
	_, _, err = r.cache(ctx).MissingBlobs(ctx, "sha256:"+strings.Repeat("0", 64), nil)
	if err != nil {
		return r.explain(err)
	}
	return nil
}

// versionInfo is what the server's /version endpoint says (what Trivy's client asks in
// the background of every scan).
func (r *remoteServer) versionInfo(ctx context.Context) (ttypes.VersionInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/version", http.NoBody)
	if err != nil {
		return ttypes.VersionInfo{}, fmt.Errorf("asking the Trivy server at %s (scan.server.url) for its version: %w", r.url, err)
	}
	for k, vs := range r.headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := xhttp.Client().Do(req)
	if err != nil {
		return ttypes.VersionInfo{}, r.unreachable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ttypes.VersionInfo{}, r.unreachable(err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return ttypes.VersionInfo{}, r.rejected(fmt.Errorf("GET /version: HTTP %s", resp.Status))
	default:
		return ttypes.VersionInfo{}, fmt.Errorf("the Trivy server at %s (scan.server.url) answered GET /version with HTTP %s; is scan.server.url the base URL of a `trivy server` (e.g. http://trivy:4954)?", r.url, resp.Status)
	}
	var info ttypes.VersionInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return ttypes.VersionInfo{}, fmt.Errorf("the Trivy server at %s (scan.server.url) answered GET /version with something other than Trivy's version info: %w; is scan.server.url the base URL of a `trivy server`?", r.url, err)
	}
	return info, nil
}

// cache is Trivy's remote cache client for one scan: it sends requests with ctx (the
// client keeps the context it was made with for every request).
func (r *remoteServer) cache(ctx context.Context) *cache.RemoteCache {
	return cache.NewRemoteCache(ctx, cache.RemoteOptions{ServerAddr: r.url, CustomHeaders: r.headers})
}

// explain turns an error from Trivy's RPC clients into one that names the server, what
// went wrong and what to do. Errors that did not come from the server pass unchanged.
func (r *remoteServer) explain(err error) error {
	var twerr twirp.Error
	if !errors.As(err, &twerr) {
		return err
	}
	switch twerr.Code() {
	case twirp.Unauthenticated, twirp.PermissionDenied:
		// What the server said is the point; Trivy's wrapping of it is not.
		return r.rejected(twerr)
	case twirp.BadRoute:
		return fmt.Errorf("the Trivy server at %s (scan.server.url) has no Trivy API there: %w; give the server's base URL (e.g. http://trivy:4954), without /twirp", r.url, err)
	case twirp.Unavailable:
		return fmt.Errorf("the Trivy server at %s (scan.server.url) is unavailable: %w; check that it is running and healthy (GET %s/healthz)", r.url, err, r.url)
	case twirp.Internal, twirp.Unknown:
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return r.unreachable(err)
		}
	}
	return fmt.Errorf("the Trivy server at %s (scan.server.url) failed: %w", r.url, err)
}

func (r *remoteServer) unreachable(err error) error {
	return fmt.Errorf("cannot reach the Trivy server at %s (scan.server.url): %w; start `trivy server` there, or correct scan.server.url in rampart.yaml", r.url, err)
}

func (r *remoteServer) rejected(err error) error {
	where := "the token"
	if r.tokenEnv != "" {
		where = "$" + r.tokenEnv
	}
	if !r.hasToken {
		return fmt.Errorf("the Trivy server at %s (scan.server.url) wants a token and none was sent (%s is empty): %w; set %s to the token the server was started with (trivy server --token)",
			r.url, where, err, where)
	}
	return fmt.Errorf("the Trivy server at %s (scan.server.url) rejected the token in %s: %w; set %s to the token the server was started with (trivy server --token), and scan.server.tokenHeader if it reads the token from another header than %s",
		r.url, where, err, where, r.tokenHeader)
}

// dbVersion is how the server's database is named in results, as a local one is.
func dbVersionOf(m metadata.Metadata) string {
	return fmt.Sprintf("v%d-%s", m.Version, m.UpdatedAt.UTC().Format(time.RFC3339))
}
