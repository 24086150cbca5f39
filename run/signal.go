package run

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Signal is the cause of a context that NotifyContext cancelled: the
// signal the process received. A command exits with the shell's status for
// it, 128 + its number (130 for SIGINT, 143 for SIGTERM).
type Signal struct{ Sig os.Signal }

// Error says which signal stopped the work.
func (s Signal) Error() string { return "received " + s.Sig.String() }

// ExitCode returns 128 + the signal's number.
func (s Signal) ExitCode() int {
	if n, ok := s.Sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// NotifyContext returns a context that is cancelled, with a Signal as its
// cause (context.Cause), when the process receives SIGINT (Ctrl-C) or
// SIGTERM (what Slurm and Kubernetes send a job they preempt), so that a
// run writes its checkpoint and stops, and a resumed job continues it.
// After the first signal the default handling is back: a second one kills
// the process at once. stop releases the handler.
func NotifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(Signal{Sig: sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// Interrupted is the error of a run whose context was cancelled: the
// checkpoint of Step is on disk and a resume continues from it. Cause is
// the context's cause (a Signal, context.Canceled, a deadline).
type Interrupted struct {
	Dir   string
	Step  int
	Cause error
}

// Error says where the run stopped and how to continue it.
func (e *Interrupted) Error() string {
	return fmt.Sprintf("run: interrupted (%v) with the checkpoint of step %d saved in %s; resume the run to continue", e.Cause, e.Step, e.Dir)
}

// Unwrap returns the cause.
func (e *Interrupted) Unwrap() error { return e.Cause }
