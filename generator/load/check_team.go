package load

import (
	"fmt"
	"io/fs"
	"net/mail"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// minMemory is the smallest memory an app may ask for; less is a unit mistake
// (256 is bytes, 256m is millibytes) and a container that cannot start.
var minMemory = resource.MustParse("4Mi")

// minEphemeralStorage is the platform's default ephemeral storage of a container
// beyond its writable paths (lib/defaults.libsonnet app.ephemeralStorageMi), which
// resources.ephemeralStorage may only raise.
var minEphemeralStorage = *resource.NewQuantity(defaults.EphemeralStorageMi<<20, resource.BinarySI)

// checkTeam runs the checks that need only the team's own file and the cluster list.
func (l *loader) checkTeam(f *fileCtx, base string, t *spec.Team) {
	if t.Metadata.Name != base {
		f.errorf("metadata.name", fmt.Sprintf("name the file teams/%s.yaml after the team, or set metadata.name to %q", t.Metadata.Name, base),
			"name %q does not match the file name %s", t.Metadata.Name, f.file)
	}
	if !isDNSLabel(t.Metadata.Name) {
		msg, hint := dnsLabelProblem(t.Metadata.Name)
		f.errorf("metadata.name", hint, "%s", msg)
	}
	for i, o := range t.Spec.Owners {
		if a, err := mail.ParseAddress(o); err != nil || a.Address != o {
			f.errorf(Index("spec.owners", i), "write a plain address, e.g. payments-lead@example.com", "%q is not an e-mail address", o)
		}
	}
	seen := map[string]int{}
	for i, c := range t.Spec.Clusters {
		field := Index("spec.clusters", i)
		if j, dup := seen[c]; dup {
			f.errorf(field, "list each cluster once", "cluster %q is already listed at spec.clusters[%d]", c, j)
			continue
		}
		seen[c] = i
		if !slices.Contains(l.clusterDirs, c) {
			f.errorf(field, knownList("known clusters", l.clusterDirs, "add clusters/"+c+"/cluster.yaml first"), "cluster %q does not exist", c)
		}
	}
	l.checkGroups(f, t.Spec.Groups)
	apps := map[string]int{}
	for i := range t.Spec.Apps {
		a := &t.Spec.Apps[i]
		field := Index("spec.apps", i)
		if a.Name != "" {
			if j, dup := apps[a.Name]; dup {
				f.errorf(Field(field, "name"), "app names are unique within a team; rename one of them",
					"duplicate app name %q (also spec.apps[%d], line %d)", a.Name, j, line(f, Index("spec.apps", j)))
			} else {
				apps[a.Name] = i
			}
			if !isDNSLabel(a.Name) {
				msg, hint := dnsLabelProblem(a.Name)
				f.errorf(Field(field, "name"), hint, "%s", msg)
			}
		}
		checkApp(f, field, a)
	}
	charts := map[string]int{}
	for i, c := range t.Spec.Charts {
		field := Index("spec.charts", i)
		if j, dup := charts[c.Name]; dup {
			f.errorf(Field(field, "name"), "chart names are unique within a team; rename one of them",
				"duplicate chart name %q (also spec.charts[%d], line %d)", c.Name, j, line(f, Index("spec.charts", j)))
		} else {
			charts[c.Name] = i
		}
		if _, isApp := apps[c.Name]; isApp && c.Name != "" {
			f.errorf(Field(field, "name"), "rename the chart's release: its objects would collide with the app's", "chart name %q is also an app's name", c.Name)
		}
		l.checkChartPath(f, Field(field, "path"), c.Path)
	}
	for i, v := range t.Spec.Exceptions.Vulnerabilities {
		field := Index("spec.exceptions.vulnerabilities", i)
		checkDate(f, Field(field, "expires"), v.Expires)
	}
	for i, p := range t.Spec.Exceptions.Policies {
		checkDate(f, Field(Index("spec.exceptions.policies", i), "expires"), p.Expires)
	}
	l.checkPolicyExceptions(f, t, apps)
	l.checkRuntimeExceptions(f, t, apps)
}

func line(f *fileCtx, field string) int {
	l, _ := f.pos.Lookup(field)
	return l
}

func (l *loader) checkGroups(f *fileCtx, groups []spec.Group) {
	names, ids := map[string]int{}, map[string]int{}
	for i, g := range groups {
		field := Index("spec.groups", i)
		if j, dup := names[g.Name]; dup {
			f.errorf(Field(field, "name"), "group names are unique within a team", "duplicate group name %q (also spec.groups[%d])", g.Name, j)
		} else {
			names[g.Name] = i
		}
		if j, dup := ids[g.ID]; dup {
			f.errorf(Field(field, "id"), "bind each group once", "duplicate group id %q (also spec.groups[%d])", g.ID, j)
		} else {
			ids[g.ID] = i
		}
	}
}

// checkChartPath makes sure a chart's path stays inside the repository and holds a chart.
func (l *loader) checkChartPath(f *fileCtx, field, p string) {
	if p == "" {
		return
	}
	if !fs.ValidPath(p) || p == "." {
		f.errorf(field, "write the chart's directory relative to the repository root, without '..', e.g. teams/payments/charts/worker",
			"chart path %q must be a relative path inside the repository", p)
		return
	}
	if _, err := fs.Stat(l.root, path.Join(p, "Chart.yaml")); err != nil {
		f.errorf(field, "point at a directory holding Chart.yaml, relative to the repository root", "no chart at %q: %s/Chart.yaml does not exist", p, p)
	}
}

func checkApp(f *fileCtx, field string, a *spec.App) {
	checkRuntime(f, field, a.Runtime)
	if a.Port > 0 && a.Port < 1024 {
		msg, hint := privilegedPort(a.Port)
		f.errorf(Field(field, "port"), hint, "%s", msg)
	}
	if a.Image != "" {
		if msg, hint := imageProblem(a.Image); msg != "" {
			f.errorf(Field(field, "image"), hint, "%s", msg)
		}
	}
	checkResources(f, Field(field, "resources"), a.Resources)
	checkWritablePaths(f, Field(field, "writablePaths"), a.WritablePaths)
	checkIdentity(f, field, a)
	vars := map[string]string{}
	for i, e := range a.Env {
		ef := Index(Field(field, "env"), i)
		if prev, dup := vars[e.Name]; dup {
			f.errorf(Field(ef, "name"), "set each variable once", "duplicate environment variable %q (also %s)", e.Name, prev)
		} else {
			vars[e.Name] = ef
		}
	}
	for i, e := range a.SecretEnv {
		ef := Index(Field(field, "secretEnv"), i)
		if prev, dup := vars[e.Name]; dup {
			f.errorf(Field(ef, "name"), "set each variable once, in env or secretEnv", "duplicate environment variable %q (also %s)", e.Name, prev)
		} else {
			vars[e.Name] = ef
		}
	}
	if a.Expose != nil {
		checkExpose(f, Field(field, "expose"), a.Expose)
	}
	for i, e := range a.Egress {
		checkEgress(f, Index(Field(field, "egress"), i), e)
	}
}

func checkResources(f *fileCtx, field string, r spec.Resources) {
	parse := func(name, v string) (resource.Quantity, bool) {
		if v == "" {
			return resource.Quantity{}, false
		}
		if msg := quantityShape(v); msg != "" {
			f.errorf(Field(field, name), "write a Kubernetes quantity, e.g. 256Mi, 1Gi, 250m or 1", "%q %s", v, msg)
			return resource.Quantity{}, false
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			hint := "write a Kubernetes quantity, e.g. 256Mi or 1Gi"
			if strings.HasPrefix(strings.ToLower(name), "cpu") {
				hint = "write a Kubernetes quantity, e.g. 250m or 1"
			}
			f.errorf(Field(field, name), hint, "%q is not a quantity", v)
			return q, false
		}
		if q.Sign() <= 0 {
			f.errorf(Field(field, name), "", "%q must be more than zero", v)
			return q, false
		}
		return q, true
	}
	cpu, cpuOK := parse("cpu", r.CPU)
	mem, memOK := parse("memory", r.Memory)
	cpuLimit, cpuLimitOK := parse("cpuLimit", r.CPULimit)
	memLimit, memLimitOK := parse("memoryLimit", r.MemoryLimit)
	if memOK && mem.Cmp(minMemory) < 0 {
		f.errorf(Field(field, "memory"), "memory is in bytes unless it has a unit; e.g. 256Mi",
			"%q is less than 4Mi, too little for any container (did you mean %sMi?)", r.Memory, strings.TrimRight(r.Memory, "mkKMGTPEi"))
	}
	if memOK && memLimitOK && memLimit.Cmp(mem) < 0 {
		f.errorf(Field(field, "memoryLimit"), "raise memoryLimit to at least memory, or leave it out: memory is also the limit",
			"memoryLimit %s is below memory %s", r.MemoryLimit, r.Memory)
	}
	if r.EphemeralStorage != "" {
		if q, ok := parse("ephemeralStorage", r.EphemeralStorage); ok && q.Cmp(minEphemeralStorage) < 0 {
			f.errorf(Field(field, "ephemeralStorage"), fmt.Sprintf("leave it out for the default %s, or raise it above", minEphemeralStorage.String()),
				"ephemeralStorage %s is below the default %s; it may only raise what the app writes outside its writable paths", r.EphemeralStorage, minEphemeralStorage.String())
		}
	}
	if cpuOK && cpuLimitOK && cpuLimit.Cmp(cpu) < 0 {
		f.errorf(Field(field, "cpuLimit"), "raise cpuLimit to at least cpu, or leave it out", "cpuLimit %s is below cpu %s", r.CPULimit, r.CPU)
	}
}

// quantityShape refuses quantities that are costly to parse or compare before they
// reach resource.ParseQuantity: it takes minutes over "1e-999999999", and comparing
// "1e999999999" builds a billion-digit number. No app needs an exponent beyond ±99.
func quantityShape(v string) string {
	if len(v) > 40 {
		return "is too long for a quantity"
	}
	i := strings.IndexAny(v, "eE")
	if i < 0 || i == len(v)-1 {
		return ""
	}
	exp := strings.TrimLeft(strings.TrimLeft(v[i+1:], "+-"), "0")
	if exp == "" || strings.Trim(exp, "0123456789") != "" {
		return ""
	}
	if len(exp) > 2 {
		return "has an exponent out of range"
	}
	return ""
}

// imageProblem explains what is wrong with an image reference, or returns "". An
// image must say which version it runs: name.ParseReference would quietly default a
// bare name to :latest, so the tag or digest is looked for in the string itself.
func imageProblem(img string) (msg, hint string) {
	if _, err := name.ParseReference(img); err != nil {
		return fmt.Sprintf("%q is not a valid image reference: %v", img, err),
			"write registry/repository:tag or registry/repository@sha256:<digest>, e.g. registry.example.com/team/app:1.2.3"
	}
	base, _, hasDigest := strings.Cut(img, "@")
	lastPart := base[strings.LastIndex(base, "/")+1:]
	_, tag, hasTag := strings.Cut(lastPart, ":")
	if !hasDigest && !hasTag {
		return fmt.Sprintf("image %q has neither a tag nor a digest", img),
			fmt.Sprintf("pin a version: %s:1.2.3 or %s@sha256:<digest>", img, img)
	}
	if tag == "latest" {
		return fmt.Sprintf("image %q uses the tag latest, which changes under you", img),
			fmt.Sprintf("pin a version, e.g. %s:1.2.3, or a digest", strings.TrimSuffix(base, ":latest"))
	}
	return "", ""
}

func checkWritablePaths(f *fileCtx, field string, paths []string) {
	seen := map[string]int{}
	for i, p := range paths {
		pf := Index(field, i)
		switch {
		case !strings.HasPrefix(p, "/"):
			f.errorf(pf, "write an absolute path, e.g. /tmp", "writable path %q is not absolute", p)
		case p == "/":
			f.errorf(pf, "list the directories the app writes to, e.g. /tmp; the root filesystem stays read-only", "the root directory cannot be writable")
		case path.Clean(p) != p:
			f.errorf(pf, fmt.Sprintf("write it as %s", path.Clean(p)), "writable path %q is not clean", p)
		default:
			if j, dup := seen[p]; dup {
				f.errorf(pf, "list each path once", "duplicate writable path %q (also %s)", p, Index(field, j))
				continue
			}
			seen[p] = i
		}
	}
}

func checkExpose(f *fileCtx, field string, e *spec.Expose) {
	hosts := map[string]bool{}
	for i, h := range e.Hosts {
		hf := Index(Field(field, "hosts"), i)
		if hosts[h] {
			f.errorf(hf, "list each host once", "duplicate host %q", h)
		}
		hosts[h] = true
		if !isDNSLabel(h) && len(validation.IsDNS1123Subdomain(h)) > 0 && len(validation.IsWildcardDNS1123Subdomain(h)) > 0 {
			f.errorf(hf, `write a label such as "pay", or a full name inside the cluster's domains, e.g. pay.example.com`, "%q is not a host name", h)
		}
	}
	for i, p := range e.Paths {
		if !strings.HasPrefix(p, "/") {
			f.errorf(Index(Field(field, "paths"), i), "start the path with /, e.g. /api", "path %q does not start with /", p)
		}
	}
	for i, c := range e.IPAllowList {
		checkCIDR(f, Index(Field(field, "ipAllowList"), i), c)
	}
	if rl := e.RateLimit; rl != nil {
		checkRateLimit(f, Field(field, "rateLimit"), *rl)
	}
}

func checkRateLimit(f *fileCtx, field string, rl spec.RateLimit) {
	if rl.Average <= 0 {
		f.errorf(Field(field, "average"), "allow at least one request per period", "average must be more than zero")
	}
	if rl.Burst < rl.Average {
		f.errorf(Field(field, "burst"), "set burst to at least average", "burst %d is below average %d", rl.Burst, rl.Average)
	}
	if rl.Period != "" {
		if d, err := time.ParseDuration(rl.Period); err != nil || d <= 0 {
			f.errorf(Field(field, "period"), "write a duration such as 1s or 1m", "%q is not a positive duration", rl.Period)
		}
	}
}

func checkCIDR(f *fileCtx, field, c string) {
	p, err := netip.ParsePrefix(c)
	if err != nil {
		f.errorf(field, "write an address range such as 10.20.0.0/16, or 192.0.2.10/32 for one address", "%q is not a CIDR", c)
		return
	}
	if p.Masked() != p {
		f.errorf(field, fmt.Sprintf("write %s", p.Masked()), "%q has bits set beyond its prefix length", c)
	}
}

// cloudMetadata is the node's cloud metadata endpoint, which no team pod may reach.
var cloudMetadata = netip.MustParseAddr(defaults.CloudMetadataAddress)

// checkNotMetadata refuses egress to the cloud metadata endpoint alone. A wider range
// that holds it is rendered with it as an except; the endpoint itself cannot be (an
// except must be narrower than its CIDR), and it is never allowed.
func checkNotMetadata(f *fileCtx, field, c string) {
	p, err := netip.ParsePrefix(c)
	if err != nil || p.Bits() != p.Addr().BitLen() || p.Addr().Unmap() != cloudMetadata {
		return
	}
	f.errorf(field, "an app that needs its cloud identity gets it through workload identity, not the node's metadata endpoint",
		"egress to %s, the cloud metadata endpoint, is never allowed to team pods", c)
}

func checkEgress(f *fileCtx, field string, e spec.Egress) {
	switch {
	case e.CIDR == "" && e.Host == "":
		f.errorf(field, "set cidr (e.g. 10.20.0.0/16) or host (e.g. api.example.com)", "egress needs a cidr or a host")
	case e.CIDR != "" && e.Host != "":
		f.errorf(field, "split it into two egress entries", "egress sets both cidr and host; set one of them")
	case e.CIDR != "":
		checkCIDR(f, Field(field, "cidr"), e.CIDR)
		checkNotMetadata(f, Field(field, "cidr"), e.CIDR)
	default:
		if errs := validation.IsDNS1123Subdomain(e.Host); len(errs) > 0 && len(validation.IsWildcardDNS1123Subdomain(e.Host)) > 0 {
			f.errorf(Field(field, "host"), "write a DNS name such as api.example.com, or a pattern such as *.example.com", "%q is not a host name", e.Host)
		}
	}
}

func checkDate(f *fileCtx, field string, d spec.Date) {
	if d == "" {
		return
	}
	if _, err := time.Parse(time.DateOnly, string(d)); err != nil {
		f.errorf(field, "write a real calendar day as YYYY-MM-DD, e.g. 2027-01-31", "%q is not a date", string(d))
	}
}

// checkTeamRefs checks the calls of a team's apps: the callee's team and app must
// exist, and a port must be the one the callee serves. Consents (allowCallsFrom) are
// the network checks' (checkNetwork), which warn about unknown teams.
func (l *loader) checkTeamRefs(tf *teamFile) {
	t, f := tf.team, tf.f
	for i := range t.Spec.Apps {
		a := &t.Spec.Apps[i]
		af := Index("spec.apps", i)
		for j, c := range a.Calls {
			cf := Index(Field(af, "calls"), j)
			team := c.Team
			teamField := Field(cf, "team")
			if team == "" {
				team, teamField = t.Metadata.Name, cf
			}
			callee, ok := l.lookupTeam(f, teamField, team)
			if !ok || callee == nil {
				continue
			}
			app := findApp(callee, c.App)
			if app == nil {
				f.errorf(Field(cf, "app"), knownList(fmt.Sprintf("apps of team %q", team), appNames(callee), ""), "team %q has no app %q", team, c.App)
				continue
			}
			if c.Port != 0 && c.Port != app.Port {
				f.errorf(Field(cf, "port"), fmt.Sprintf("set port: %d, or leave it out", app.Port), "app %s/%s serves port %d, not %d", team, c.App, app.Port, c.Port)
			}
		}
	}
}

// lookupTeam finds a team by name for a reference. ok is false when the team does not
// exist (reported here); the team is nil when its file exists but did not decode.
func (l *loader) lookupTeam(f *fileCtx, field, name string) (*spec.Team, bool) {
	if tf := l.teams[name]; tf != nil {
		return tf.team, true
	}
	if l.teamFiles[name] {
		return nil, true
	}
	f.errorf(field, knownList("known teams", sortedKeys(l.teamFiles), "add teams/"+name+".yaml first"), "team %q does not exist", name)
	return nil, false
}

func findApp(t *spec.Team, name string) *spec.App {
	for i := range t.Spec.Apps {
		if t.Spec.Apps[i].Name == name {
			return &t.Spec.Apps[i]
		}
	}
	return nil
}

func appNames(t *spec.Team) []string {
	var names []string
	for _, a := range t.Spec.Apps {
		names = append(names, a.Name)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// knownList is a hint naming what does exist.
func knownList(what string, names []string, empty string) string {
	if len(names) == 0 {
		return empty
	}
	return what + ": " + strings.Join(names, ", ")
}
