package defaults

// AdmissionPolicy is one admission policy lib/admission.libsonnet renders, as a team's
// exception names it (spec.exceptions.policies): its name, its Kyverno kind, its
// rules, and whether an app may be excepted from it at all.
type AdmissionPolicy struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Rules    []string `json:"rules"`
	Waivable bool     `json:"waivable"`
}

// AdmissionPolicies are the catalogue of lib/admission.libsonnet, in its order. The
// loader checks every policy exception against it.
var AdmissionPolicies = []AdmissionPolicy{
	{Name: "rampart-pod-security", Kind: "ValidatingPolicy", Waivable: true, Rules: []string{
		"host-namespaces", "privileged", "capabilities", "host-path", "volume-types", "host-ports",
		"privilege-escalation", "run-as-non-root", "run-as-user", "seccomp", "proc-mount", "sysctls",
		"apparmor", "selinux",
	}},
	{Name: "rampart-resources", Kind: "ValidatingPolicy", Waivable: true, Rules: []string{"memory", "ephemeral-storage"}},
	{Name: "rampart-images", Kind: "ValidatingPolicy", Waivable: true, Rules: []string{"allowed-registries", "latest-tag", "digest"}},
	{Name: "rampart-service-account-token", Kind: "ValidatingPolicy", Waivable: true, Rules: []string{"automount"}},
	{Name: "rampart-service-types", Kind: "ValidatingPolicy", Waivable: true, Rules: []string{"type"}},
	{Name: "rampart-token-secrets", Kind: "ValidatingPolicy", Waivable: false, Rules: []string{"service-account-token"}},
	{Name: "rampart-image-signatures", Kind: "ImageValidatingPolicy", Waivable: true, Rules: []string{}},
}

// AdmissionPolicyNamed finds a policy of the catalogue by name.
func AdmissionPolicyNamed(name string) (AdmissionPolicy, bool) {
	for _, p := range AdmissionPolicies {
		if p.Name == name {
			return p, true
		}
	}
	return AdmissionPolicy{}, false
}
