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
)

// tuneGC trades memory for time: a render allocates many short-lived objects per
// team, and the default GC target spends a third of a large render collecting. The
// heap may grow to five times the live data, but a soft limit of 1.5 GiB makes the
// collector work harder before it grows past that. GOGC and GOMEMLIMIT still win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1536 << 20)
	}
}

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
