// Package fleet writes synthetic Rampart repositories of any size, for measuring the
// pipeline at scale: teams/, clusters/, lib/, an example chart and a rampart.yaml that
// scans offline against the example images and database (internal/exampledata).
//
// The fleet is meant to look like a real one, so that timings mean something: every
// team runs on every cluster (units = teams × clusters); clusters mix production and
// development, Cilium and Calico, meshed and unmeshed; teams call a few apps of a few
// other teams with the callees' consent, expose some apps, reach hosts and CIDRs
// outside the cluster, carry vulnerability exceptions and groups, and about one team in
// ten renders a Helm chart. Each team's work is bounded whatever the fleet's size.
//
// Output is a function of Options alone: the same options give byte-identical files
// (the randomness is a PCG seeded from Options.Seed, drawn in a fixed order).
package fleet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultAppsPerTeam is the number of apps a team runs when Options.AppsPerTeam is 0.
const DefaultAppsPerTeam = 5

// Options size and seed a fleet.
type Options struct {
	// Teams and Clusters are the fleet's size; every team runs on every cluster.
	Teams, Clusters int
	// AppsPerTeam is the number of apps of each team (default DefaultAppsPerTeam).
	AppsPerTeam int
	// Seed picks the fleet; the same seed gives the same files.
	Seed uint64
	// Repo is the Rampart repository whose lib/, example chart and example images the
	// fleet uses; empty means the module root above the working directory.
	Repo string
}

// Paths inside a Rampart repository that a fleet takes from Options.Repo.
const (
	libDir    = "lib"
	chartDir  = "teams/charts/echo"
	layoutDir = "generator/internal/exampledata/images"
	dbDir     = "generator/internal/exampledata/db"
)

// Write writes a complete fleet repository into dir, which must be empty or not exist
// (the copied lib/ and chart never overwrite a file).
func Write(dir string, o Options) error {
	if o.Teams < 1 || o.Clusters < 1 {
		return fmt.Errorf("writing a fleet of %d teams on %d clusters: need at least one of each", o.Teams, o.Clusters)
	}
	if o.AppsPerTeam == 0 {
		o.AppsPerTeam = DefaultAppsPerTeam
	}
	if o.AppsPerTeam < 1 {
		return fmt.Errorf("writing a fleet with %d apps per team: need at least one", o.AppsPerTeam)
	}
	repo := o.Repo
	if repo == "" {
		var err error
		if repo, err = ModuleRoot(); err != nil {
			return err
		}
	}
	repo, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("finding the repository: %w", err)
	}

	rng := rand.New(rand.NewPCG(o.Seed, 0x72616d70617274)) // "rampart"
	clusters := makeClusters(o.Clusters, o.Teams)
	teams := makeTeams(rng, o, clusters)

	type file struct {
		name string
		doc  any
	}
	files := []file{{"rampart.yaml", config(repo)}}
	for _, c := range clusters {
		files = append(files, file{filepath.Join("clusters", c.Metadata.Name, "cluster.yaml"), c})
	}
	for _, t := range teams {
		files = append(files, file{filepath.Join("teams", t.Metadata.Name+".yaml"), t})
	}
	for _, f := range files {
		b, err := encode(f.doc)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", f.name, err)
		}
		if err := writeFile(filepath.Join(dir, f.name), b); err != nil {
			return err
		}
	}
	for _, d := range []string{libDir, chartDir} {
		if err := os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(repo, d))); err != nil {
			return fmt.Errorf("copying %s: %w", d, err)
		}
	}
	return nil
}

// header opens every written spec, so that nobody mistakes a fleet for real input.
const header = "# Synthetic fleet for measuring Rampart (generator/internal/fleet).\n"

// encode writes a spec as YAML with its fields in the Go types' order (as a person
// writes them), by way of JSON so that the spec types' json tags name the fields.
func encode(doc any) ([]byte, error) {
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	blockStyle(&n)
	var b bytes.Buffer
	b.WriteString(header)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// blockStyle drops the flow style and quotes JSON brought; the encoder quotes again
// only the strings that need it (such as "1.33").
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func writeFile(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

// EditTeam makes a real change to the spec of the i-th team of the fleet in dir (its
// first app's LOG_LEVEL flips between info and debug), so that the next render has
// exactly one team to redo.
func EditTeam(dir string, i int) error {
	name := filepath.Join(dir, "teams", teamName(i)+".yaml")
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("editing team %d: %w", i, err)
	}
	const info, debug = "value: info\n", "value: debug\n"
	at, from, to := bytes.Index(b, []byte(info)), info, debug
	if d := bytes.Index(b, []byte(debug)); d >= 0 && (at < 0 || d < at) {
		at, from, to = d, debug, info
	}
	if at < 0 {
		return fmt.Errorf("editing team %d: %s has no LOG_LEVEL to change", i, name)
	}
	b = append(b[:at:at], append([]byte(to), b[at+len(from):]...)...)
	return os.WriteFile(name, b, 0o644)
}

// ModuleRoot finds the Rampart repository above the working directory: the directory
// of the go.mod declaring module github.com/rampart-gitops/rampart.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	for {
		if isRampartModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository: no go.mod of github.com/rampart-gitops/rampart above the working directory")
		}
		dir = parent
	}
}

func isRampartModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(mod) == "github.com/rampart-gitops/rampart"
		}
	}
	return false
}
