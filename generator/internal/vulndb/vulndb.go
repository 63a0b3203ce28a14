// Package vulndb writes a real Trivy vulnerability database (the bolt file trivy.db and
// its metadata.json) from a small fixture, using trivy-db's own writer, so tests and the
// repository's examples scan against the same format Trivy v0.74.0 downloads, offline.
//
// The fixture is a typed YAML document rather than raw bolt buckets: each advisory names
// its ecosystem ("alpine 3.22", "npm", "go") and the package, and the writer lays the
// buckets out exactly where Trivy's detectors look for them (trivy-db's data-source,
// vulnerability and advisory buckets).
package vulndb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	bolt "go.etcd.io/bbolt"
	"sigs.k8s.io/yaml"
)

// SchemaVersion is the trivy-db schema this package writes; Trivy v0.74.0 reads it.
const SchemaVersion = trivydb.SchemaVersion

// Fixture is the content of a database.
type Fixture struct {
	// UpdatedAt is when the database was built; scanners judge its age from it.
	UpdatedAt time.Time `json:"updatedAt"`
	// NextUpdate is when Trivy would look for a newer database.
	NextUpdate time.Time `json:"nextUpdate"`
	// Vulnerabilities are the details (title, severity) per vulnerability ID.
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	// Advisories say which package versions a vulnerability affects.
	Advisories []Advisory `json:"advisories"`
}

// Vulnerability is one entry of trivy-db's "vulnerability" bucket.
type Vulnerability struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Severity    string   `json:"severity"`
	References  []string `json:"references,omitempty"`
}

// Advisory is one vulnerable package in one ecosystem.
type Advisory struct {
	// Ecosystem is an OS stream as Trivy names its bucket ("alpine 3.22") or a language
	// ecosystem ("npm", "go").
	Ecosystem string `json:"ecosystem"`
	// Package is the package name: the apk origin (source) name for Alpine, the module
	// path for Go, the package name for npm.
	Package string `json:"package"`
	// ID is the vulnerability ID.
	ID string `json:"id"`
	// FixedVersion, for OS packages, is the first fixed version.
	FixedVersion string `json:"fixedVersion,omitempty"`
	// VulnerableVersions and PatchedVersions, for language packages, are version
	// constraints such as "< 4.17.21".
	VulnerableVersions []string `json:"vulnerableVersions,omitempty"`
	PatchedVersions    []string `json:"patchedVersions,omitempty"`
}

// language ecosystems: the bucket Trivy's language detector scans by prefix, and the
// data source it attributes findings to.
var languages = map[string]dbtypes.DataSource{
	"npm": {ID: vulnerability.GHSA, Name: "GitHub Security Advisory npm",
		URL: "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Anpm"},
	"go": {ID: vulnerability.GHSA, Name: "GitHub Security Advisory Go",
		URL: "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Ago"},
}

// LoadFixture reads a fixture file.
func LoadFixture(path string) (Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fixture{}, fmt.Errorf("reading fixture: %w", err)
	}
	var f Fixture
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return Fixture{}, fmt.Errorf("parsing fixture %s: %w", path, err)
	}
	return f, nil
}

// Write creates dir/trivy.db and dir/metadata.json from f, replacing any database there.
// It opens its own bolt handle, so it does not disturb a database trivy-db has open.
func Write(dir string, f Fixture) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("writing vulnerability database: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing vulnerability database: %w", err)
	}
	path := trivydb.Path(dir)
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	bdb, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistArrayType})
	if err != nil {
		return fmt.Errorf("writing vulnerability database: %w", err)
	}
	// One transaction per write: bolt spills the buckets a transaction touched in map
	// order, so a transaction touching several would lay pages out differently on
	// every run. One bucket path per transaction gives the same file every time.
	for _, op := range f.ops() {
		if err = bdb.Update(op); err != nil {
			break
		}
	}
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing vulnerability database %s: %w", path, err)
	}
	meta := metadata.Metadata{Version: SchemaVersion, UpdatedAt: f.UpdatedAt.UTC(),
		NextUpdate: f.NextUpdate.UTC(), DownloadedAt: f.UpdatedAt.UTC()}
	if err := metadata.NewClient(dir).Update(meta); err != nil {
		return fmt.Errorf("writing vulnerability database metadata: %w", err)
	}
	return nil
}

// WriteFile is LoadFixture then Write.
func WriteFile(dir, fixturePath string) error {
	f, err := LoadFixture(fixturePath)
	if err != nil {
		return err
	}
	return Write(dir, f)
}

func (f Fixture) validate() error {
	var errs []error
	if f.UpdatedAt.IsZero() {
		errs = append(errs, errors.New("updatedAt is required"))
	}
	known := map[string]bool{}
	for _, v := range f.Vulnerabilities {
		if _, err := dbtypes.NewSeverity(v.Severity); err != nil || v.Severity == "" {
			errs = append(errs, fmt.Errorf("vulnerability %s: severity %q is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL", v.ID, v.Severity))
		}
		known[v.ID] = true
	}
	for _, a := range f.Advisories {
		if !known[a.ID] {
			errs = append(errs, fmt.Errorf("advisory %s for %s %s: no vulnerability with that ID", a.ID, a.Ecosystem, a.Package))
		}
		if _, ok := languages[a.Ecosystem]; !ok && osFamily(a.Ecosystem) == "" {
			errs = append(errs, fmt.Errorf("advisory %s: unknown ecosystem %q (want \"alpine 3.N\", \"npm\" or \"go\")", a.ID, a.Ecosystem))
		}
	}
	return errors.Join(errs...)
}

// osFamily returns the OS family of an OS stream bucket ("alpine 3.22" → "alpine").
func osFamily(ecosystem string) string {
	family, release, ok := strings.Cut(ecosystem, " ")
	if !ok || release == "" {
		return ""
	}
	if family == "alpine" {
		return family
	}
	return ""
}

// ops are the writes, in a fixed order, so the same fixture gives the same file.
func (f Fixture) ops() []func(*bolt.Tx) error {
	var ops []func(*bolt.Tx) error
	dbc := trivydb.Config{}
	vulns := slices.Clone(f.Vulnerabilities)
	slices.SortFunc(vulns, func(a, b Vulnerability) int { return strings.Compare(a.ID, b.ID) })
	advs := slices.Clone(f.Advisories)
	slices.SortFunc(advs, func(a, b Advisory) int {
		return strings.Compare(a.Ecosystem+"\x00"+a.Package+"\x00"+a.ID, b.Ecosystem+"\x00"+b.Package+"\x00"+b.ID)
	})

	for _, v := range vulns {
		sev, _ := dbtypes.NewSeverity(v.Severity)
		src := map[dbtypes.SourceID]dbtypes.Severity{vulnerability.NVD: sev}
		for _, a := range advs {
			if a.ID != v.ID {
				continue
			}
			if ds, ok := languages[a.Ecosystem]; ok {
				src[ds.ID] = sev
			} else {
				src[vulnerability.Alpine] = sev
			}
		}
		ops = append(ops, func(tx *bolt.Tx) error {
			err := dbc.PutVulnerability(tx, v.ID, dbtypes.Vulnerability{
				Title:          v.Title,
				Description:    v.Description,
				Severity:       v.Severity, //nolint:staticcheck // Trivy v0.74.0 still reads the overall severity.
				VendorSeverity: src,
				References:     v.References,
			})
			if err != nil {
				return fmt.Errorf("putting vulnerability %s: %w", v.ID, err)
			}
			return nil
		}, func(tx *bolt.Tx) error {
			if err := dbc.PutVulnerabilityID(tx, v.ID); err != nil {
				return fmt.Errorf("putting vulnerability ID %s: %w", v.ID, err)
			}
			return nil
		})
	}
	for _, a := range advs {
		bucket := a.Ecosystem
		var ds dbtypes.DataSource
		if lang, ok := languages[a.Ecosystem]; ok {
			ds = lang
			bucket = a.Ecosystem + "::" + lang.Name
		} else {
			ds = dbtypes.DataSource{ID: vulnerability.Alpine, Name: "Alpine Secdb", URL: "https://secdb.alpinelinux.org/"}
		}
		adv := dbtypes.Advisory{
			FixedVersion:       a.FixedVersion,
			VulnerableVersions: a.VulnerableVersions,
			PatchedVersions:    a.PatchedVersions,
		}
		ops = append(ops, func(tx *bolt.Tx) error {
			if err := dbc.PutDataSource(tx, bucket, ds); err != nil {
				return fmt.Errorf("putting data source %s: %w", bucket, err)
			}
			return nil
		}, func(tx *bolt.Tx) error {
			if err := dbc.PutAdvisory(tx, []string{bucket, a.Package}, a.ID, adv); err != nil {
				return fmt.Errorf("putting advisory %s for %s %s: %w", a.ID, a.Ecosystem, a.Package, err)
			}
			return nil
		})
	}
	return ops
}

// Dir returns the directory of a database inside a Trivy-style cache directory
// (CACHE/db), for callers that mimic Trivy's layout.
func Dir(cacheDir string) string { return filepath.Join(cacheDir, "db") }
