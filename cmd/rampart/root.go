package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// Exit codes, documented in `rampart --help`.
const (
	exitOK       = 0
	exitFindings = 1 // drift, blocking findings, a failing team
	exitBadInput = 2 // invalid specs, bad flags, or a failure to run at all
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// reportWriter is where a command's report goes: stdout, or the file of
// --output-file. closeOut closes the file once (later calls return nil) and reports
// a failed write as bad input, so a report cut short never passes for a whole one.
func reportWriter(stdout io.Writer, outFile string) (w io.Writer, closeOut func() error, err error) {
	if outFile == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(outFile)
	if err != nil {
		return nil, nil, withCode(exitBadInput, fmt.Errorf("writing the report: %w", err))
	}
	closed := false
	return f, func() error {
		if closed {
			return nil
		}
		closed = true
		if err := f.Close(); err != nil {
			return withCode(exitBadInput, fmt.Errorf("writing the report: %w", err))
		}
		return nil
	}, nil
}

// withCode marks err with an exit code; a nil err with a code only sets the code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// rootOptions are the flags every command shares.
type rootOptions struct {
	dir     string
	verbose bool
	stdout  io.Writer
	stderr  io.Writer
	stdin   io.Reader
	logger  *slog.Logger
	// cpuProfile, when set, is where the run's CPU profile goes.
	cpuProfile  string
	memProfile  string
	stopProfile func()
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts := &rootOptions{stdin: stdin, stdout: stdout, stderr: stderr}
	cmd := newRootCmd(opts)
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if opts.stopProfile != nil {
		opts.stopProfile()
	}
	if opts.memProfile != "" {
		if f, ferr := os.Create(opts.memProfile); ferr == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "rampart:", ee.err)
		}
		return ee.code
	}
	// Flag and argument errors from cobra, and anything unmarked, are bad input.
	fmt.Fprintln(stderr, "rampart:", err)
	return exitBadInput
}

func newRootCmd(opts *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rampart",
		Short: "Render team specs into hardened, per-cluster Flux directories",
		Long: `Rampart renders every team's spec (teams/<team>.yaml) for every cluster the team
runs on (clusters/<cluster>/cluster.yaml) into clusters/<cluster>/: hardened
workloads, namespace isolation and RBAC, and the Flux tenant that applies them as
the team's own service account. Every image is resolved to a digest and scanned
first, and every rendered object is verified before anything is written.

Exit codes:
  0  success
  1  findings: clusters/ is stale (check), or a team failed the scan gate (render)
  2  bad input (the message names file:line:col), bad flags, or a failure to run`,
		Example: `  # Check every spec and report every mistake at once
  rampart validate

  # Render teams/ into clusters/
  rampart render

  # In CI: fail when clusters/ does not match teams/, lib/ and cluster.yaml
  rampart check --output json`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelInfo
			if opts.verbose {
				level = slog.LevelDebug
			}
			opts.logger = slog.New(slog.NewTextHandler(opts.stderr, &slog.HandlerOptions{Level: level}))
			if opts.cpuProfile != "" {
				if f, err := os.Create(opts.cpuProfile); err == nil && pprof.StartCPUProfile(f) == nil {
					opts.stopProfile = func() { pprof.StopCPUProfile(); _ = f.Close() }
				}
			}
		},
	}
	cmd.PersistentFlags().StringVarP(&opts.dir, "dir", "C", ".", "repository root holding teams/, clusters/ and lib/")
	cmd.PersistentFlags().BoolVarP(&opts.verbose, "verbose", "v", false, "log debug diagnostics to stderr")
	cmd.PersistentFlags().StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for go tool pprof)")
	_ = cmd.PersistentFlags().MarkHidden("cpuprofile")
	cmd.PersistentFlags().StringVar(&opts.memProfile, "memprofile", "", "write a heap profile at the end of the run to this file (for go tool pprof)")
	_ = cmd.PersistentFlags().MarkHidden("memprofile")
	cmd.AddCommand(
		newRenderCmd(opts),
		newValidateCmd(opts),
		newCheckCmd(opts),
		newReachCmd(opts),
		newDiffCmd(opts),
		newReportCmd(opts),
		newPRCmd(opts),
		newScanCmd(opts),
		newSchemaCmd(opts),
		newQuarantineCmd(opts),
		newVersionCmd(opts),
	)
	return cmd
}
