// Package filelock holds exclusive locks on files between processes
// (flock(2) on Unix, LockFileEx on Windows), so that processes sharing a
// folder — on one machine or, where the file system supports locks
// (NFSv4, CephFS, Lustre mounted with flock), on many — take turns at work
// that must not run twice at once.
//
// Tour: Acquire opens (creating) a lock file and waits until it holds the
// lock or its context is done; Release lets the lock go. A process that
// dies releases its locks with it (the kernel drops them), so a lock never
// outlives its holder.
//
// Invariants:
//   - At most one Lock of a path is held at a time, across processes and
//     within one (each Acquire opens the file anew, and the lock belongs
//     to the open file).
//   - The lock file is never removed: removing it would let a process that
//     opened the old file and one that creates a new one both lock "the"
//     file at once.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Lock is a lock held on a file.
type Lock struct {
	f *os.File
}

// Backoff of Acquire: the first retry after minPoll, each later one after
// twice the previous, at most maxPoll. A lock is held for seconds to hours,
// so a second of latency is nothing, and polling (rather than a blocking
// call) lets a cancelled context stop the wait.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = time.Second
)

// errUnsupported is returned where the platform has no file locks.
var errUnsupported = errors.New("file locks are not supported on this platform")

// Acquire opens path (creating it) and takes the exclusive lock on it. If
// another Lock holds it, Acquire calls onWait once (if not nil) with what
// the holder wrote into the file (Holder: its process id, host and start,
// "" where it cannot be read), then retries until it gets the lock or ctx
// is done, when it returns ctx's error.
func Acquire(ctx context.Context, path string, onWait func(holder string)) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filelock: %w", err)
	}
	for poll, waited := minPoll, false; ; poll = min(2*poll, maxPoll) {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("filelock: %s: %w", path, err)
		}
		if ok {
			l := &Lock{f: f}
			l.writeHolder()
			return l, nil
		}
		if !waited && onWait != nil {
			onWait(Holder(path))
		}
		waited = true
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// writeHolder replaces the file's content with the holder's description;
// it is for people reading a waiting process's log, so failures are
// ignored.
func (l *Lock) writeHolder() {
	host, _ := os.Hostname()
	desc := fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if l.f.Truncate(0) == nil {
		l.f.WriteAt([]byte(desc), 0)
	}
}

// Holder returns what the holder of the lock on path wrote into it ("pid
// 123 on node7 since 2026-01-02T03:04:05Z"), or "" where the file cannot
// be read (Windows forbids reading a locked file).
func Holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Release lets the lock go and closes the file; the file stays (see the
// package's Invariants).
func (l *Lock) Release() error {
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
