package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/paretodiff/paretodiff/run"
	"github.com/spf13/cobra"
)

// commands holds the constructors of the subcommands; each command's file
// registers its own in init, so commands live in separate files.
var commands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

// exitError carries the process exit status of an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// failure marks an error that happened while doing the work (exit 1), as
// opposed to bad input, which is every other error (exit 2).
func failure(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: 1, err: err}
}

// workError classifies an error of work done under ctx (a run, a demo, a
// reproduction): stopped by a signal, it exits with the shell's status for
// the signal (130 for SIGINT, 143 for SIGTERM; a run's checkpoint is
// saved, see run.NotifyContext), stopped otherwise with 1; bad input
// (run.ErrInput) exits with 2, any other failure with 1.
func workError(ctx context.Context, err error) error {
	var sig run.Signal
	var stop *run.Interrupted
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stop) || ctx.Err() != nil && errors.Is(err, ctx.Err()):
		if errors.As(context.Cause(ctx), &sig) || errors.As(err, &sig) {
			return &exitError{code: sig.ExitCode(), err: err}
		}
		return failure(err)
	case errors.Is(err, run.ErrInput):
		return &exitError{code: 2, err: err}
	}
	return failure(err)
}

// usagef is a bad-input error (exit 2).
func usagef(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "paretodiff",
		Short: "Timestep weighting of diffusion losses: closed forms, Pareto solvers, gradient conflict",
		Long: `paretodiff studies how diffusion models weight their timesteps in the loss,
after "Efficient Diffusion Training via Min-SNR Weighting Strategy" (Hang et al., ICCV 2023).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(debug.ReadBuildInfo()),
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// run prefixes "paretodiff: "; a subcommand's errors name it.
		if path := strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), c.Root().Name())); path != "" {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return &exitError{code: 2, err: err}
	})
	root.CompletionOptions.DisableDefaultCmd = true
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this build",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(c.OutOrStdout(), root.Version)
			return failure(err)
		},
	})
	return root
}

// version describes the build from its build information (ok false: none):
// the module's version, the VCS revision with its time and whether the
// tree was modified, and the Go version and platform. A "go run" or test
// build has version "(devel)" and often no VCS information; what is
// unknown is said so.
func version(bi *debug.BuildInfo, ok bool) string {
	mod, goVersion := "unknown", runtime.Version()
	settings := map[string]string{}
	if ok && bi != nil {
		if bi.Main.Version != "" {
			mod = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	rev := "unknown (no VCS information in this build)"
	if r := settings["vcs.revision"]; r != "" {
		rev = r
		var notes []string
		if t := settings["vcs.time"]; t != "" {
			notes = append(notes, t)
		}
		switch settings["vcs.modified"] {
		case "true":
			notes = append(notes, "modified")
		case "false":
			notes = append(notes, "clean")
		}
		if len(notes) > 0 {
			rev += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	return fmt.Sprintf("paretodiff %s\nrevision %s\n%s %s/%s", mod, rev, goVersion, runtime.GOOS, runtime.GOARCH)
}

// execute runs the command line and returns the exit status, printing any
// error as one line on stderr.
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	fmt.Fprintf(stderr, "paretodiff: %s\n", msg)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2 // cobra's own errors: unknown command, wrong arguments
}
