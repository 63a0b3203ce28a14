// Command benchfleet times whole rampart processes on synthetic fleets (package
// fleet) and prints a markdown table, so that a change to the pipeline can be judged
// at the scale it must serve, process start, scan cache and disk included.
//
//	benchfleet -rampart bin/rampart -sizes 10x1,100x1,1000x10 -n 3 [-keep DIR] [-timeout 20m]
//
// For each size (teams×clusters) it writes a fleet into a fresh directory, renders it
// once to warm the scan cache, then n times measures:
//
//   - cold: every rendered file and the per-unit render cache (.rampart/cache/units)
//     deleted, the scan cache kept; rampart render;
//   - no-op: rampart render again, which must write nothing (sizes and mtimes of
//     clusters/ are compared);
//   - one-team: one team's spec changed (another team each run); rampart render;
//   - validate: another team's spec changed; rampart validate.
//
// Each figure is the median of n runs, with the minimum and maximum; peak RSS is the
// largest ru_maxrss of the measured runs; files and MB are the rendered output after a
// cold render (cluster.yaml excluded).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-gitops/rampart/generator/internal/fleet"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the harness's flags.
type config struct {
	rampart string
	sizes   []size
	n       int
	keep    string
	timeout time.Duration
	seed    uint64
}

// size is a fleet's size.
type size struct{ teams, clusters int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.teams, s.clusters) }

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "benchfleet:", err)
		return 2
	}
	var results []*figures
	for _, s := range cfg.sizes {
		f, err := measure(context.Background(), cfg, s, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "benchfleet: %s: %v\n", s, err)
			return 1
		}
		results = append(results, f)
	}
	printTable(stdout, cfg, results)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fl := flag.NewFlagSet("benchfleet", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&cfg.rampart, "rampart", "bin/rampart", "the rampart binary to time")
	sizes := fl.String("sizes", "10x1,100x1,1000x10", "fleet sizes, teams×clusters, comma-separated")
	fl.IntVar(&cfg.n, "n", 3, "runs per figure (the median is reported, with min and max)")
	fl.StringVar(&cfg.keep, "keep", "", "write the fleets into DIR/<teams>x<clusters> and keep them")
	fl.DurationVar(&cfg.timeout, "timeout", 20*time.Minute, "limit for each rampart command")
	fl.Uint64Var(&cfg.seed, "seed", 1, "fleet seed")
	if err := fl.Parse(args); err != nil {
		return cfg, err
	}
	if fl.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if cfg.n < 1 {
		return cfg, fmt.Errorf("-n %d: need at least one run", cfg.n)
	}
	bin, err := filepath.Abs(cfg.rampart)
	if err != nil {
		return cfg, err
	}
	if _, err := os.Stat(bin); err != nil {
		return cfg, fmt.Errorf("-rampart: %w (make build writes bin/rampart)", err)
	}
	cfg.rampart = bin
	for _, s := range strings.Split(*sizes, ",") {
		t, c, ok := strings.Cut(strings.TrimSpace(s), "x")
		teams, err1 := strconv.Atoi(t)
		clusters, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || teams < 1 || clusters < 1 {
			return cfg, fmt.Errorf("-sizes: %q is not teams×clusters, e.g. 100x10", s)
		}
		cfg.sizes = append(cfg.sizes, size{teams, clusters})
	}
	return cfg, nil
}

// figures are one size's measurements.
type figures struct {
	size
	cold, noop, oneTeam, validate []time.Duration
	// writesNothing is false when any no-op render touched clusters/.
	writesNothing bool
	peakRSS       int64 // bytes
	files         int
	bytes         int64
}

// measure writes a fleet of size s and times the four commands cfg.n times each.
func measure(ctx context.Context, cfg config, s size, log io.Writer) (*figures, error) {
	dir, err := fleetDir(cfg.keep, s)
	if err != nil {
		return nil, err
	}
	if cfg.keep == "" {
		defer os.RemoveAll(dir)
	}
	if err := fleet.Write(dir, fleet.Options{Teams: s.teams, Clusters: s.clusters, Seed: cfg.seed}); err != nil {
		return nil, err
	}
	r := &runner{bin: cfg.rampart, dir: dir, timeout: cfg.timeout}
	fmt.Fprintf(log, "%s: warm-up render in %s\n", s, dir)
	if _, err := r.run(ctx, "render"); err != nil {
		return nil, err
	}
	f := &figures{size: s, writesNothing: true}
	for i := range cfg.n {
		if err := clean(dir); err != nil {
			return nil, err
		}
		d, err := r.run(ctx, "render")
		if err != nil {
			return nil, fmt.Errorf("cold render: %w", err)
		}
		f.cold = append(f.cold, d)
		before, err := snapshot(dir)
		if err != nil {
			return nil, err
		}
		f.files, f.bytes = len(before), 0
		for _, st := range before {
			f.bytes += st.size
		}

		if d, err = r.run(ctx, "render"); err != nil {
			return nil, fmt.Errorf("no-op render: %w", err)
		}
		f.noop = append(f.noop, d)
		after, err := snapshot(dir)
		if err != nil {
			return nil, err
		}
		if changed := diff(before, after); len(changed) > 0 {
			f.writesNothing = false
			fmt.Fprintf(log, "%s: the no-op render changed %d files, e.g. %s\n", s, len(changed), strings.Join(changed[:min(5, len(changed))], ", "))
		}

		if err := fleet.EditTeam(dir, 2*i%s.teams); err != nil {
			return nil, err
		}
		if d, err = r.run(ctx, "render"); err != nil {
			return nil, fmt.Errorf("one-team render: %w", err)
		}
		f.oneTeam = append(f.oneTeam, d)

		if err := fleet.EditTeam(dir, (2*i+1)%s.teams); err != nil {
			return nil, err
		}
		if d, err = r.run(ctx, "validate"); err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		f.validate = append(f.validate, d)
		fmt.Fprintf(log, "%s: run %d: cold %s, no-op %s, one-team %s, validate %s\n", s, i+1,
			seconds(f.cold[i]), seconds(f.noop[i]), seconds(f.oneTeam[i]), seconds(f.validate[i]))
	}
	f.peakRSS = r.peakRSS
	return f, nil
}

// fleetDir is a fresh directory for a fleet: under keep when set, else a temporary one.
func fleetDir(keep string, s size) (string, error) {
	if keep == "" {
		return os.MkdirTemp("", "benchfleet-"+s.String()+"-")
	}
	dir := filepath.Join(keep, s.String())
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// clean deletes what a render wrote under clusters/ (keeping each cluster.yaml) and
// the per-unit render cache; the scan cache elsewhere in .rampart/cache stays warm.
func clean(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, ".rampart", "cache", "units")); err != nil {
		return err
	}
	clusters := filepath.Join(dir, "clusters")
	entries, err := os.ReadDir(clusters)
	if err != nil {
		return err
	}
	for _, c := range entries {
		files, err := os.ReadDir(filepath.Join(clusters, c.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Name() != "cluster.yaml" {
				if err := os.RemoveAll(filepath.Join(clusters, c.Name(), f.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fileState is what a no-op render must leave alone.
type fileState struct {
	size    int64
	modTime time.Time
}

// snapshot records every rendered file under clusters/ (cluster.yaml excluded).
func snapshot(dir string) (map[string]fileState, error) {
	out := map[string]fileState{}
	root := filepath.Join(dir, "clusters")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "cluster.yaml" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		out[rel] = fileState{info.Size(), info.ModTime()}
		return err
	})
	return out, err
}

// diff lists, sorted, the files added, removed or changed between two snapshots.
func diff(before, after map[string]fileState) []string {
	var out []string
	for name, st := range after {
		if prev, ok := before[name]; !ok || prev.size != st.size || !prev.modTime.Equal(st.modTime) {
			out = append(out, name)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// runner runs rampart commands in one fleet and keeps the largest RSS seen.
type runner struct {
	bin, dir string
	timeout  time.Duration
	peakRSS  int64
}

// run runs `rampart <command> -C dir` and returns its wall time; a non-zero exit is an
// error carrying the end of its stderr.
func (r *runner) run(ctx context.Context, command string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, command, "-C", r.dir)
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return elapsed, fmt.Errorf("rampart %s timed out after %s\n%s", command, r.timeout, tail(stderr.String(), 20))
	}
	if err != nil {
		return elapsed, fmt.Errorf("rampart %s: %w\n%s", command, err, tail(stderr.String(), 20))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakRSS = max(r.peakRSS, ru.Maxrss*1024) // kilobytes on Linux
	}
	return elapsed, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func printTable(w io.Writer, cfg config, results []*figures) {
	fmt.Fprintf(w, "%s, %d runs per figure: seconds, median (min–max)\n\n", cfg.rampart, cfg.n)
	fmt.Fprintln(w, "| teams | clusters | units | cold | no-op | one-team | validate | peak RSS MiB | files | MB | no-op writes nothing |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
	for _, f := range results {
		fmt.Fprintf(w, "| %d | %d | %d | %s | %s | %s | %s | %.0f | %d | %.1f | %s |\n",
			f.teams, f.clusters, f.teams*f.clusters, spread(f.cold), spread(f.noop), spread(f.oneTeam), spread(f.validate),
			float64(f.peakRSS)/(1<<20), f.files, float64(f.bytes)/1e6, yesNo(f.writesNothing))
	}
	// Scaling: each size against the last smaller one on as many clusters.
	var ratios []string
	for i, b := range results {
		for _, a := range slices.Backward(results[:i]) {
			if a.clusters == b.clusters && a.teams < b.teams && b.teams%a.teams == 0 {
				ratios = append(ratios, fmt.Sprintf("- cold %s / %s: ×%.2f for ×%d teams", b.size, a.size,
					median(b.cold).Seconds()/median(a.cold).Seconds(), b.teams/a.teams))
				break
			}
		}
	}
	if len(ratios) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(ratios, "\n"))
	}
}

func spread(ds []time.Duration) string {
	return fmt.Sprintf("%s (%s–%s)", seconds(median(ds)), seconds(slices.Min(ds)), seconds(slices.Max(ds)))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
