// Command rampart renders team specs into per-cluster Flux directories. It is thin:
// it parses flags, calls package generator, and prints. Exit codes: 0 ok, 1 findings
// or drift, 2 bad input or a failure to run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
