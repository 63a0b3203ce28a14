package fleet

import (
	"fmt"
	"math/rand/v2"

	"github.com/rampart-gitops/rampart/generator/spec"
)

// The example images (internal/exampledata) a fleet runs; each passes the scan gate on
// every cluster, payments/api only with its exception. storefront/web:2.0.0 would not
// (CRITICAL), so the fleet runs 2.0.1.
const (
	imageAPI  = "registry.example.com/payments/api:1.4.2"
	imageWeb  = "registry.example.com/storefront/web:2.0.1"
	imageCore = "registry.example.com/ledger/core:3.2.0"
	imageEcho = "registry.example.com/platform/echo:1.0.0"
)

// apiException covers the HIGH finding in payments/api, as teams/payments.yaml does.
var apiException = spec.VulnerabilityException{
	ID:     "CVE-2026-10001",
	Images: []string{"registry.example.com/payments/api"},
	Reason: "The API never prints peer X.509 names, so the over-read is unreachable; the fixed openssl ships with the next base image.",
	// Far ahead, so that the fleet's render does not change with the date.
	Expires: "2099-12-31",
}

// Limits that keep each team's work the same whatever the fleet's size.
const (
	// ringCallees are the next teams in a ring that each team calls.
	ringCallees = 2
	// randomCallees are the other teams each team calls, picked at random.
	randomCallees = 2
	// maxRandomCallers bounds how many teams pick a team at random, so that no team
	// collects consents without limit.
	maxRandomCallers = 4
	// chartEvery: teams 0, chartEvery, 2·chartEvery, … render the example chart.
	chartEvery = 10
)

// appKind is a kind of service, after one of the example images.
type appKind int

const (
	kindAPI  appKind = iota // HTTP API with a database secret and host-name egress
	kindWeb                 // exposed web front end
	kindCore                // gRPC service with CIDR egress to its database
	kindEcho                // small HTTP worker
)

// appNames are the apps a team picks from, with their kinds.
var appNames = []struct {
	name string
	kind appKind
}{
	{"api", kindAPI}, {"web", kindWeb}, {"core", kindCore}, {"worker", kindEcho}, {"gateway", kindAPI},
	{"search", kindCore}, {"admin", kindWeb}, {"notify", kindEcho}, {"reports", kindCore}, {"auth", kindAPI},
}

// egressHosts are the SaaS endpoints API apps reach.
var egressHosts = []string{"api.stripe.com", "hooks.slack.com", "login.microsoftonline.com", "api.sendgrid.com"}

func teamName(i int) string { return fmt.Sprintf("team-%04d", i) }

// makeTeams returns o.Teams teams, each on every cluster, with their calls and the
// callees' consents.
func makeTeams(rng *rand.Rand, o Options, clusters []*spec.Cluster) []*spec.Team {
	names := make([]string, len(clusters))
	for i, c := range clusters {
		names[i] = c.Metadata.Name
	}
	teams := make([]*spec.Team, o.Teams)
	for i := range teams {
		teams[i] = makeTeam(rng, i, o.AppsPerTeam, names)
	}
	addCalls(rng, teams)
	return teams
}

func makeTeam(rng *rand.Rand, i, apps int, clusters []string) *spec.Team {
	name := teamName(i)
	t := &spec.Team{
		APIVersion: spec.APIVersion,
		Kind:       spec.KindTeam,
		Metadata:   spec.Metadata{Name: name},
		Spec: spec.TeamSpec{
			Owners:   []string{name + "-lead@example.com"},
			Groups:   []spec.Group{{Name: name + "-engineers", ID: uuid(rng)}},
			Clusters: clusters,
		},
	}
	if rng.IntN(3) == 0 {
		t.Spec.Groups = append(t.Spec.Groups, spec.Group{Name: name + "-oncall", ID: uuid(rng)})
	}
	first := rng.IntN(len(appNames))
	usesAPI := false
	for k := range apps {
		n := appNames[(first+k)%len(appNames)]
		app := n.name
		if k >= len(appNames) {
			app += fmt.Sprint(k / len(appNames))
		}
		t.Spec.Apps = append(t.Spec.Apps, makeApp(rng, name, app, n.kind))
		usesAPI = usesAPI || n.kind == kindAPI
	}
	// Calls inside the team need no consent: each app may call the next.
	for k := 0; k+1 < apps; k++ {
		if k == 0 || rng.IntN(2) == 0 {
			callee := &t.Spec.Apps[k+1]
			t.Spec.Apps[k].Calls = append(t.Spec.Apps[k].Calls, call("", callee))
		}
	}
	if usesAPI {
		t.Spec.Exceptions.Vulnerabilities = []spec.VulnerabilityException{apiException}
	}
	if i%chartEvery == 0 {
		t.Spec.Charts = []spec.Chart{{Name: "echo", Path: chartDir, Values: map[string]any{"replicas": 1 + rng.IntN(2)}}}
	}
	return t
}

func makeApp(rng *rand.Rand, team, name string, kind appKind) spec.App {
	a := spec.App{
		Name:     name,
		Replicas: ptr(int32(1 + rng.IntN(4))),
		Env:      []spec.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
	}
	switch kind {
	case kindAPI:
		a.Image, a.Port = imageAPI, 8080
		a.Resources = spec.Resources{CPU: "250m", Memory: pick(rng, "256Mi", "384Mi", "512Mi")}
		a.SecretEnv = []spec.SecretEnvVar{{Name: "DB_PASSWORD", Secret: name + "-db", Key: "password"}}
		a.WritablePaths = []string{"/tmp"}
		a.Probes = spec.Probes{Liveness: &spec.Probe{Path: "/healthz"}, Readiness: &spec.Probe{Path: "/ready"}}
		a.Egress = []spec.Egress{{Host: pick(rng, egressHosts...), Ports: []spec.EgressPort{{Port: 443}}}}
		if rng.IntN(3) == 0 {
			a.Expose = &spec.Expose{
				Hosts: []string{team + "-" + name}, Paths: []string{"/api"},
				RateLimit: &spec.RateLimit{Average: 20, Burst: 40, Period: "1s"},
			}
		}
	case kindWeb:
		a.Image, a.Port = imageWeb, 3000
		a.Resources = spec.Resources{CPU: "100m", Memory: "192Mi"}
		a.WritablePaths = []string{"/tmp", "/app/.next/cache"}
		a.Probes = spec.Probes{Readiness: &spec.Probe{Path: "/healthz"}}
		// A single label becomes <label>.<the cluster's domain>: unique on every cluster.
		a.Expose = &spec.Expose{Hosts: []string{team + "-" + name}}
	case kindCore:
		a.Image, a.Port, a.Protocol = imageCore, 9090, spec.ProtocolGRPC
		a.Args = []string{"--listen=:9090"}
		a.Resources = spec.Resources{CPU: "500m", Memory: "512Mi", MemoryLimit: "768Mi"}
		a.Probes = spec.Probes{Liveness: &spec.Probe{Path: "/healthz"}}
		a.Egress = []spec.Egress{{CIDR: fmt.Sprintf("10.%d.0.0/16", 40+rng.IntN(20)), Ports: []spec.EgressPort{{Port: 5432}}}}
	case kindEcho:
		a.Image, a.Port = imageEcho, 8080
		a.Resources = spec.Resources{CPU: "50m", Memory: pick(rng, "32Mi", "64Mi")}
	}
	return a
}

// addCalls makes each team call one app of each of a few other teams (the next in a
// ring and a few at random), and gives each callee's consent to its caller.
func addCalls(rng *rand.Rand, teams []*spec.Team) {
	n := len(teams)
	randomCallers := make([]int, n)
	for i, t := range teams {
		chosen := map[int]bool{i: true}
		var callees []int
		for d := 1; d <= ringCallees && d < n; d++ {
			if j := (i + d) % n; !chosen[j] {
				chosen[j] = true
				callees = append(callees, j)
			}
		}
		for range randomCallees {
			// A few tries suffice in a large fleet; a small one may run out of teams.
			for range 16 {
				j := rng.IntN(n)
				if !chosen[j] && randomCallers[j] < maxRandomCallers {
					chosen[j] = true
					randomCallers[j]++
					callees = append(callees, j)
					break
				}
			}
		}
		for _, j := range callees {
			caller := &t.Spec.Apps[rng.IntN(len(t.Spec.Apps))]
			callee := &teams[j].Spec.Apps[rng.IntN(len(teams[j].Spec.Apps))]
			caller.Calls = append(caller.Calls, call(teams[j].Metadata.Name, callee))
			consent := spec.CallerRef{Team: t.Metadata.Name, App: caller.Name}
			if rng.IntN(4) == 0 {
				consent.App = "" // any app of the caller's team
			}
			callee.AllowCallsFrom = append(callee.AllowCallsFrom, consent)
		}
	}
}

// call is a call to callee of team (empty: the caller's own team), restricted to the
// operations its protocol has.
func call(team string, callee *spec.App) spec.Call {
	c := spec.Call{Team: team, App: callee.Name, Port: callee.Port}
	switch callee.Protocol {
	case spec.ProtocolGRPC:
		c.Methods = []string{"POST"}
	default:
		c.Methods = []string{"GET", "POST"}
		c.Paths = []string{"/api/*"}
	}
	return c
}

// uuid draws a group's object ID in the shape of Entra ID's (a version 4 UUID).
func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

func pick(rng *rand.Rand, options ...string) string { return options[rng.IntN(len(options))] }

func ptr[T any](v T) *T { return &v }
