// Package cudatest opens a GPU for tests: it skips the test when no CUDA
// driver loads, and fails it instead when the environment variable
// cuda.RequireEnv (PARETODIFF_REQUIRE_CUDA) is 1, as on the GPU machine.
// SkipEmulated skips a test that runs on the emulator (package cudaemu)
// when cuda.SkipEmulatorEnv (PARETODIFF_SKIP_EMULATOR) is 1, as on the GPU
// machine, where only the tests that reach the real GPU are run.
package cudatest

import (
	"errors"
	"os"
	"testing"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// Required reports whether GPU tests must not skip (cuda.RequireEnv is 1).
func Required() bool { return os.Getenv(cuda.RequireEnv) == "1" }

// Device opens device 0 with opts for the duration of the test (it is
// closed by t.Cleanup). Without a usable driver it skips the test, or
// fails it when Required.
func Device(t testing.TB, opts cuda.Options) *cuda.Device {
	t.Helper()
	d, err := cuda.Open(0, opts)
	if err != nil {
		if errors.Is(err, cuda.ErrNoDriver) && !Required() {
			t.Skipf("no GPU: %v", err)
		}
		t.Fatalf("opening the GPU: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("closing the GPU: %v", err)
		}
	})
	return d
}

// Emulated reports whether tests that run on the emulator should run
// (cuda.SkipEmulatorEnv is not 1).
func Emulated() bool { return os.Getenv(cuda.SkipEmulatorEnv) != "1" }

// SkipEmulated skips the test when cuda.SkipEmulatorEnv is 1. Every test
// that runs on the emulator rather than on a GPU calls it first.
func SkipEmulated(t testing.TB) {
	t.Helper()
	if !Emulated() {
		t.Skipf("runs on the emulator, which %s=1 skips (only real-GPU tests run here)", cuda.SkipEmulatorEnv)
	}
}
