package main

import (
	"errors"
	"fmt"
	"io"
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

// runError classifies an error of the run layer: a run stopped by a signal
// exits with the shell's status for it (130 for SIGINT, 143 for SIGTERM;
// its checkpoint is saved), bad input (run.ErrInput) with 2, anything else
// with 1.
func runError(err error) error {
	var sig run.Signal
	var stop *run.Interrupted
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stop) && errors.As(err, &sig):
		return &exitError{code: sig.ExitCode(), err: err}
	case errors.As(err, &stop):
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
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%s: %w", c.CommandPath(), err)}
	})
	root.CompletionOptions.DisableDefaultCmd = true
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
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
