package defaults_test

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/google/go-jsonnet"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
)

// TestAgreesWithLib: the Go copies of the defaults equal lib/defaults.libsonnet's.
func TestAgreesWithLib(t *testing.T) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../../../lib"}})
	js, err := vm.EvaluateAnonymousSnippet("defaults_test.jsonnet", `
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
{
  hsts: d.ingress.headers.hstsMaxAgeSeconds,
  referrer: d.ingress.headers.referrerPolicy,
  duration: d.ingress.certificate.duration,
  root: d.mesh.rootNamespace,
  trust: d.mesh.trustDomain,
  role: d.tenantReconcilerRole,
  sa: d.tenantReconcilerServiceAccount,
  labels: k.labels('team'),
  ephemeral: d.app.ephemeralStorageMi,
  viewer: d.peopleRoles.viewer,
  developer: d.peopleRoles.developer,
  metadata: d.cloudMetadata.address,
  metadataPolicy: d.cloudMetadata.policyName,
  teamLabel: d.teamLabel,
  quarantineLabel: d.quarantine.label,
  quarantineAnnotation: d.quarantine.annotation,
  authorityHost: d.identity.azure.authorityHost,
}`)
	if err != nil {
		t.Fatal(err)
	}
	var lib struct {
		HSTS           int               `json:"hsts"`
		Referrer       string            `json:"referrer"`
		Duration       string            `json:"duration"`
		Root           string            `json:"root"`
		Trust          string            `json:"trust"`
		Role           string            `json:"role"`
		SA             string            `json:"sa"`
		Labels         map[string]string `json:"labels"`
		Ephemeral      int               `json:"ephemeral"`
		Viewer         string            `json:"viewer"`
		Developer      string            `json:"developer"`
		Metadata       string            `json:"metadata"`
		MetadataPolicy string            `json:"metadataPolicy"`
		TeamLabel      string            `json:"teamLabel"`
		QLabel         string            `json:"quarantineLabel"`
		QAnnotation    string            `json:"quarantineAnnotation"`
		AuthorityHost  string            `json:"authorityHost"`
	}
	if err := json.Unmarshal([]byte(js), &lib); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, lib, goValue any }{
		{"ingress.headers.hstsMaxAgeSeconds", lib.HSTS, defaults.HSTSMaxAgeSeconds},
		{"ingress.headers.referrerPolicy", lib.Referrer, defaults.ReferrerPolicy},
		{"ingress.certificate.duration", lib.Duration, defaults.CertificateDuration},
		{"mesh.rootNamespace", lib.Root, defaults.MeshRootNamespace},
		{"mesh.trustDomain", lib.Trust, defaults.MeshTrustDomain},
		{"tenantReconcilerRole", lib.Role, defaults.TenantReconcilerRole},
		{"tenantReconcilerServiceAccount", lib.SA, defaults.TenantReconcilerServiceAccount},
		{"k.labels managed-by", lib.Labels[defaults.LabelManagedBy], defaults.ManagedBy},
		{"k.labels part-of", lib.Labels[defaults.LabelPartOf], "team"},
		{"app.ephemeralStorageMi", lib.Ephemeral, defaults.EphemeralStorageMi},
		{"peopleRoles.viewer", lib.Viewer, defaults.ViewerRole},
		{"peopleRoles.developer", lib.Developer, defaults.DeveloperRole},
		{"cloudMetadata.address", lib.Metadata, defaults.CloudMetadataAddress},
		{"cloudMetadata.policyName", lib.MetadataPolicy, defaults.CloudMetadataPolicy},
		{"teamLabel", lib.TeamLabel, defaults.TeamLabel},
		{"quarantine.label", lib.QLabel, defaults.QuarantineLabel},
		{"quarantine.annotation", lib.QAnnotation, defaults.QuarantineAnnotation},
		{"identity.azure.authorityHost", lib.AuthorityHost, defaults.AzureAuthorityHost},
	} {
		if c.lib != c.goValue {
			t.Errorf("lib/defaults.libsonnet %s is %v, generator/internal/defaults says %v: change both", c.name, c.lib, c.goValue)
		}
	}
	if _, err := os.Stat("../../../lib/defaults.libsonnet"); err != nil {
		t.Fatal(err)
	}
}

// TestAdmissionCatalogueAgreesWithLib: the Go copy of the admission policies and
// their rules equals lib/admission.libsonnet's catalogue.
func TestAdmissionCatalogueAgreesWithLib(t *testing.T) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../../../lib"}})
	js, err := vm.EvaluateAnonymousSnippet("admission_test.jsonnet", `(import 'admission.libsonnet').catalogue`)
	if err != nil {
		t.Fatal(err)
	}
	var lib []defaults.AdmissionPolicy
	if err := json.Unmarshal([]byte(js), &lib); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lib, defaults.AdmissionPolicies) {
		t.Errorf("lib/admission.libsonnet's catalogue is\n%+v\ngenerator/internal/defaults says\n%+v\nchange both", lib, defaults.AdmissionPolicies)
	}
}
