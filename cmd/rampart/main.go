// Command rampart renders team specs into per-cluster Flux directories. It is thin:
// it parses flags, calls package generator, and prints. Exit codes: 0 ok, 1 findings
// or drift, 2 bad input or a failure to run.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	xos "github.com/aquasecurity/trivy/pkg/x/os"
)

// tuneGC trades memory for time: a render allocates many short-lived objects per
// team, and a collector paced by GOGC spends a fifth of a large render collecting.
// Instead the heap may grow to a soft limit of 1.5 GiB before the collector runs
// (a small repository never gets there). GOGC and GOMEMLIMIT still win.
func tuneGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(1536 << 20)
	}
}

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	// Trivy keeps a temporary directory per process (layers it unpacks); its own
	// CLI removes it on exit, and so does this one.
	_ = xos.Cleanup()
	os.Exit(code)
}
