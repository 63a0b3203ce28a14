package load

import (
	"fmt"
	"strings"
)

// requiredHints say what to write for a required field, by the field's name.
var requiredHints = map[string]string{
	"apiVersion":        "add: apiVersion: rampart.dev/v1alpha1",
	"metadata":          "add metadata with the document's name",
	"name":              "set a name: a DNS label such as payments",
	"spec":              "add the spec; see teams/ and clusters/ for examples",
	"owners":            "list the e-mail addresses of the people accountable, e.g. payments-lead@example.com",
	"clusters":          "list the clusters the team runs on, by the names of clusters/<name>/",
	"apps":              "list the team's apps",
	"image":             "set the image with a tag or digest, e.g. registry.example.com/team/app:1.2.3",
	"port":              "set the port the app listens on, 1024 or higher, e.g. 8080",
	"resources":         "set the app's resources, at least memory, e.g. memory: 256Mi",
	"memory":            "set the memory your app needs, e.g. 256Mi",
	"id":                "set the identity provider's ID",
	"value":             "set the value (an empty string is written \"\")",
	"secret":            "name the Secret in the team's namespace",
	"key":               "name the key within the Secret",
	"path":              "set the path, e.g. /healthz",
	"hosts":             "list the host names the app answers on, e.g. pay",
	"ports":             "list the destination ports, e.g. - port: 443",
	"team":              "name the team",
	"app":               "name the app",
	"reason":            "say why the exception is acceptable (10 characters or more)",
	"expires":           "set the last day the exception applies, YYYY-MM-DD",
	"images":            "list the image repositories the exception covers",
	"policy":            "name the admission policy",
	"average":           "set the sustained number of requests allowed per period, e.g. 20",
	"burst":             "set the largest burst of requests, at least average, e.g. 40",
	"patch":             "write the patch, a strategic merge or JSON 6902 patch",
	"environment":       "set production, staging or development",
	"kubernetesVersion": `set the cluster's minor version in quotes, e.g. "1.33"`,
	"cni":               "set cilium, calico or other",
	"dns":               "locate the cluster DNS pods: namespace and podLabels",
	"flux":              "set flux.repository.url",
	"repository":        "set the Git repository holding the rendered output",
	"url":               "set the URL, e.g. ssh://git@github.com/example/gitops.git",
	"ingress":           "describe the cluster's Traefik: namespace, podLabels, domains, rateLimit",
	"namespace":         "set the namespace",
	"podLabels":         "set the labels that select the pods, e.g. app.kubernetes.io/name: traefik",
	"domains":           "list the DNS suffixes teams may use, e.g. apps.example.com",
	"rateLimit":         "set the default rate limit: average and burst",
	"tls":               "set tls.issuer",
	"issuer":            "set the ClusterIssuer: name, server, email, solver",
	"server":            "set the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory",
	"email":             "set the ACME account's e-mail address",
	"solver":            "set http01 or dns01",
	"provider":          "set azureDNS or cloudflare",
	"type":              "set the type",
}

func requiredHint(name string) string {
	return requiredHints[name]
}

// patternHints say what a field's pattern wants, by the field's name.
var patternHints = map[string]string{
	"kubernetesVersion": `write the minor version in quotes, e.g. "1.33"`,
	"path":              "start the path with /",
	"url":               "use an https:// or ssh:// URL",
	"server":            "use an https:// URL",
	"expires":           "write a date as YYYY-MM-DD, e.g. 2027-01-31",
	"name":              "start with a letter or '_', then letters, digits or '_', e.g. LOG_LEVEL",
	"ephemeralStorage":  "write a whole number of Mi or Gi, e.g. 512Mi or 2Gi",
}

// patternHintsByPattern say what a pattern wants where the field's name does not
// tell (an object's name in a vault is not an environment variable's).
var patternHintsByPattern = map[string]string{
	"^[a-zA-Z0-9-]+$":                    "write the object's name in the vault: letters, digits and '-', e.g. db-password",
	"^[a-zA-Z0-9][-._a-zA-Z0-9]*$":       "write a file name: letters, digits, '-', '_' and '.', starting with a letter or digit, e.g. db-password",
	"^[a-zA-Z][-a-zA-Z0-9]+[a-zA-Z0-9]$": "write the Key Vault's name: 3 to 24 letters, digits and '-', starting with a letter, e.g. payments-weu",
	"^[a-zA-Z0-9]+$":                     "write the object version's ID (32 hexadecimal digits in Key Vault), or leave it out for the latest",
	"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$": "write the ID as a UUID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47",
}

func patternHint(name, pattern string) string {
	if h, ok := patternHintsByPattern[pattern]; ok {
		return h
	}
	return patternHints[name]
}

// unknownFieldHint suggests the allowed field closest to an unknown one.
func unknownFieldHint(got string, allowed []string) string {
	best, bestDist := "", -1
	if len(got) > 64 {
		// No field name is this long; skip the quadratic comparison.
		allowed, best = nil, ""
	}
	for _, a := range allowed {
		d := editDistance(strings.ToLower(got), strings.ToLower(a))
		if bestDist < 0 || d < bestDist {
			best, bestDist = a, d
		}
	}
	if best != "" && bestDist <= max(2, len(got)/3) {
		return fmt.Sprintf("remove it or fix the spelling (did you mean %q?)", best)
	}
	if len(allowed) > 0 {
		return "remove it or fix the spelling; the fields here are " + strings.Join(allowed, ", ")
	}
	return "remove it or fix the spelling"
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

const dnsLabelHint = `use lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most 63 characters, e.g. "payments"`

// dnsLabelProblem explains why a name is not a DNS label. Names become namespaces,
// object names and file names, so a name that looks like a path is called out.
func dnsLabelProblem(name string) (msg, hint string) {
	switch {
	case strings.ContainsAny(name, `/\`) || strings.Contains(name, ".."):
		return fmt.Sprintf("%q must be a DNS label and cannot be a path", name), dnsLabelHint
	case name == "":
		return "must not be empty", dnsLabelHint
	case len(name) > 63:
		return fmt.Sprintf("%q must be a DNS label, at most 63 characters", name), dnsLabelHint
	case strings.ToLower(name) != name:
		return fmt.Sprintf("%q must be a DNS label, in lowercase", name), dnsLabelHint
	default:
		return fmt.Sprintf("%q must be a DNS label", name), dnsLabelHint
	}
}

// isDNSLabel reports whether s is an RFC 1123 label that starts with a letter, as
// Kubernetes namespaces and Rampart names are.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return s[len(s)-1] != '-'
}

// privilegedPort explains why a container port below 1024 is refused.
func privilegedPort(port any) (msg, hint string) {
	return fmt.Sprintf("port %v is below 1024: the app runs as a non-root user under the restricted Pod Security level, without NET_BIND_SERVICE, so it cannot bind a privileged port", port),
		"listen on a port of 1024 or higher, e.g. 8080; the Service can still expose 80 or 443"
}
