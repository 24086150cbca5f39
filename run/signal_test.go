//go:build unix

package run_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// SIGTERM (what a preempted Slurm or Kubernetes job gets) cancels the
// context with the signal as its cause, as Ctrl-C does; a run stopped by
// it is an *Interrupted whose cause gives the shell's exit status.
func TestNotifyContextSIGTERM(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		exit int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		ctx, stop := run.NotifyContext(context.Background())
		require.NoError(t, syscall.Kill(syscall.Getpid(), c.sig))
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%v did not cancel the context", c.sig)
		}
		var sig run.Signal
		require.True(t, errors.As(context.Cause(ctx), &sig))
		require.Equal(t, c.sig, sig.Sig)
		require.Equal(t, c.exit, sig.ExitCode())

		_, err := run.Train(ctx, t.TempDir(), toySpec(5), run.Options{})
		var stopped *run.Interrupted
		require.ErrorAs(t, err, &stopped)
		require.ErrorAs(t, err, &sig)
		require.Equal(t, c.exit, sig.ExitCode())
		stop()
	}
	// stop releases the handler without a signal.
	ctx, stop := run.NotifyContext(context.Background())
	stop()
	require.ErrorIs(t, context.Cause(ctx), context.Canceled)
}
