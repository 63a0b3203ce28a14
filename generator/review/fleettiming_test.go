package review

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-gitops/rampart/generator"
	"github.com/rampart-gitops/rampart/generator/internal/fleet"
)

// TestFleetTiming measures diff and report for a one-team change on a synthetic
// fleet; opt-in (RAMPART_FLEET_TEAMS=300), it renders the whole fleet first.
func TestFleetTiming(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RAMPART_FLEET_TEAMS"))
	if n == 0 {
		t.Skip("set RAMPART_FLEET_TEAMS to measure")
	}
	dir := t.TempDir()
	root, err := fleet.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.Write(dir, fleet.Options{Teams: n, Clusters: 1, Seed: 1, Repo: root}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := generator.Generate(ctx, generator.Options{Dir: dir, Mode: generator.Render}); err != nil {
		t.Fatal(err)
	}
	t.Logf("full render: %s", time.Since(start))
	_ = os.WriteFile(dir+"/.gitignore", []byte(".rampart/\n"), 0o644)
	run(t, dir, "git", "init", "-q", "-b", "main")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "-m", "fleet")
	if err := fleet.EditTeam(dir, 3); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := generator.Generate(ctx, generator.Options{Dir: dir, Mode: generator.Check}); err != nil {
		t.Fatal(err)
	}
	t.Logf("check alone: %s", time.Since(start))
	start = time.Now()
	rv, err := Run(ctx, generator.Options{Dir: dir, Mode: generator.Render}, "main")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report (render with cache + diff + reach + gate): %s; %s", time.Since(start), rv.Report.Summary())
	start = time.Now()
	if _, err := Run(ctx, generator.Options{Dir: dir, Mode: generator.Render}, "main"); err != nil {
		t.Fatal(err)
	}
	t.Logf("report again (reachability cache warm): %s", time.Since(start))
	start = time.Now()
	d, err := DiffTrees(ctx, Options{Dir: dir, Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("diff against the disk: %s; %s (%d files parsed)", time.Since(start), d.Summary(), d.Files)
}
