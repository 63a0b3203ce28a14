package spec

// Config is the repository's optional top-level configuration, read from rampart.yaml.
// It holds settings that are not per cluster: where images and the vulnerability
// database come from, and where scan results are cached.
type Config struct {
	// APIVersion must be rampart.dev/v1alpha1.
	APIVersion string `json:"apiVersion" jsonschema:"enum=rampart.dev/v1alpha1"`
	// Kind must be Config.
	Kind string `json:"kind" jsonschema:"enum=Config"`
	// Scan configures image resolution and scanning.
	Scan ScanConfig `json:"scan,omitzero"`
}

// ScanConfig configures the supply-chain stage. Relative paths are relative to the
// repository root.
type ScanConfig struct {
	// DBDir holds Trivy's vulnerability database (trivy.db and metadata.json), as
	// `trivy image --download-db-only --cache-dir C` leaves it in C/db. Required unless
	// server is set; with a server it is not used.
	DBDir string `json:"dbDir,omitempty"`
	// MaxDBAge is how old the database may be before the render refuses it, as a Go
	// duration (default 72h); "0" means no limit (for a fixed, committed database).
	// With a server it applies to the server's database.
	MaxDBAge string `json:"maxDBAge,omitempty"`
	// CacheDir keeps scan results by image digest and database version between runs
	// (e.g. .rampart/cache); empty keeps nothing.
	CacheDir string `json:"cacheDir,omitempty"`
	// DockerConfig is a docker config.json with registry credentials (default:
	// $DOCKER_CONFIG or ~/.docker/config.json).
	DockerConfig string `json:"dockerConfig,omitempty"`
	// Mirrors maps a registry host to the mirror to pull its images from, e.g.
	// "docker.io": "mirror.example.com/dockerhub". Pinned references keep the original name.
	Mirrors map[string]string `json:"mirrors,omitempty"`
	// InsecureRegistries are registry hosts reached over plain HTTP.
	InsecureRegistries []string `json:"insecureRegistries,omitempty"`
	// OCILayout, when set, is an OCI image layout directory that serves every image
	// (by its full reference); no registry is contacted. The examples use it offline.
	OCILayout string `json:"ociLayout,omitempty"`
	// Server, when set, scans through a running `trivy server` instead of a local
	// database: Rampart still pulls the images and reads their layers, the server
	// matches the packages found against its database. No dbDir is needed.
	Server *ScanServer `json:"server,omitempty"`
}

// ScanServer is a running `trivy server` (Trivy's client/server mode) that detects the
// vulnerabilities in the packages Rampart finds in the images.
type ScanServer struct {
	// URL is the server's base URL, e.g. "http://trivy.security.svc:4954", as
	// `trivy image --server` takes it.
	URL string `json:"url" jsonschema:"pattern=^https?://[^/]"`
	// TokenEnv names the environment variable holding the token the server was started
	// with (`trivy server --token`). Default TRIVY_TOKEN, the variable Trivy's own client
	// reads; then an unset variable sends no token. A variable named here must be set.
	TokenEnv string `json:"tokenEnv,omitempty"`
	// TokenHeader is the HTTP header that carries the token (default Trivy-Token, as
	// `trivy server --token-header`).
	TokenHeader string `json:"tokenHeader,omitempty"`
	// Headers are extra HTTP headers sent with every request to the server, e.g. for a
	// proxy in front of it (as `trivy --custom-headers`). They are written in this file,
	// so put no secrets here: the token comes from tokenEnv.
	Headers map[string]string `json:"headers,omitempty"`
}
