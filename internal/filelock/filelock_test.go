package filelock

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary a process that holds a lock (see TestMain).
const childEnv = "FILELOCK_TEST_HOLD"

// TestMain lets the test binary, re-executed with childEnv=PATH, take the
// lock on PATH, say "locked" and hold it until its stdin closes or it is
// killed.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		l, err := Acquire(context.Background(), path, nil)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Within one process, a second Acquire waits for the first Lock's
// Release: it reports the wait, with the holder's description, and gets
// the lock only after the release.
func TestSecondAcquireWaitsForRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	first, err := Acquire(context.Background(), path, nil)
	require.NoError(t, err)
	var released atomic.Bool
	waiting := make(chan string, 1)
	got := make(chan error, 1)
	go func() {
		second, err := Acquire(context.Background(), path, func(h string) { waiting <- h })
		if err == nil {
			if !released.Load() {
				err = fmt.Errorf("the second lock was taken before the first was released")
			}
			second.Release()
		}
		got <- err
	}()
	holder := <-waiting
	require.Contains(t, holder, fmt.Sprintf("pid %d on ", os.Getpid()))
	released.Store(true)
	require.NoError(t, first.Release())
	require.NoError(t, <-got)
	_, err = os.Stat(path)
	require.NoError(t, err, "the lock file stays")
}

// A cancelled context ends the wait with its error; the lock stays with
// its holder.
func TestAcquireStopsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	first, err := Acquire(context.Background(), path, nil)
	require.NoError(t, err)
	defer first.Release()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Acquire(ctx, path, func(string) { cancel() })
	require.ErrorIs(t, err, context.Canceled)
}

// holdInChild starts the test binary holding the lock on path and returns
// it once it holds it, with the pipe whose closing releases it.
func holdInChild(t *testing.T, path string) (*exec.Cmd, func()) {
	exe, err := os.Executable()
	require.NoError(t, err)
	child := exec.Command(exe)
	child.Env = append(os.Environ(), childEnv+"="+path)
	stdin, err := child.StdinPipe()
	require.NoError(t, err)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked", strings.TrimSpace(line))
	return child, func() { stdin.Close() }
}

// Between processes: a lock held by another process makes Acquire wait;
// the holder's release, or its death (SIGKILL: no chance to release),
// lets it through.
func TestLockBetweenProcesses(t *testing.T) {
	for _, kill := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "run.lock")
		child, release := holdInChild(t, path)
		var waited atomic.Bool
		l, err := Acquire(context.Background(), path, func(h string) {
			waited.Store(true)
			require.Contains(t, h, fmt.Sprintf("pid %d on ", child.Process.Pid))
			if kill {
				child.Process.Kill()
			} else {
				release()
			}
		})
		require.NoError(t, err)
		require.True(t, waited.Load(), "the child held the lock")
		require.NoError(t, l.Release())
		child.Wait()
	}
}
