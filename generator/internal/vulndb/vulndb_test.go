package vulndb_test

import (
	"testing"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"

	"github.com/rampart-gitops/rampart/generator/internal/vulndb"
)

func TestWriteReadsBackWithTrivyDB(t *testing.T) {
	dir := t.TempDir()
	if err := vulndb.WriteFile(dir, "testdata/fixture.yaml"); err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.NewClient(dir).Get()
	if err != nil {
		t.Fatal(err)
	}
	if meta.Version != trivydb.SchemaVersion || meta.UpdatedAt.Format("2006-01-02") != "2026-11-20" {
		t.Errorf("metadata = %+v", meta)
	}
	if err := trivydb.Init(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trivydb.Close() })
	dbc := trivydb.Config{}
	advs, err := dbc.GetAdvisories("alpine 3.22", "openssl")
	if err != nil {
		t.Fatal(err)
	}
	if len(advs) != 1 || advs[0].VulnerabilityID != "CVE-2026-20001" || advs[0].FixedVersion != "3.5.1-r0" {
		t.Errorf("alpine advisories = %+v", advs)
	}
	npm, err := dbc.ForEachAdvisory([]string{"npm::"}, "lodash")
	if err != nil {
		t.Fatal(err)
	}
	if len(npm) != 1 {
		t.Errorf("npm advisories = %v", npm)
	}
	v, err := dbc.GetVulnerability("CVE-2026-20003")
	if err != nil {
		t.Fatal(err)
	}
	if v.Severity != "CRITICAL" || v.Title == "" { //nolint:staticcheck // the field Trivy v0.74.0 reads
		t.Errorf("vulnerability = %+v", v)
	}
}

func TestWriteRejectsBadFixture(t *testing.T) {
	err := vulndb.Write(t.TempDir(), vulndb.Fixture{
		Vulnerabilities: []vulndb.Vulnerability{{ID: "X", Severity: "SEVERE"}},
		Advisories:      []vulndb.Advisory{{Ecosystem: "debian 12", Package: "p", ID: "Y"}},
	})
	if err == nil {
		t.Fatal("want an error")
	}
	t.Log(err)
}
