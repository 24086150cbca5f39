package cuda_test

import (
	"errors"
	"math"
	"os"
	"sync"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest"
	"github.com/stretchr/testify/require"
)

// The tests that run on a Device are in package cuda_test, so that they can
// use the emulator (package cudaemu imports this package); they dot-import
// package cuda, as such tests may, and reach its internals through
// export_test.go.

// The GPU tests share one Device (the kernels compile once per process);
// TestMain closes it. Without a driver they skip, unless RequireEnv is 1.
var shared struct {
	once sync.Once
	dev  *Device
	err  error
}

// emulated is the emulator device that kernelDevice falls back to.
var emulated struct {
	once sync.Once
	dev  *Device
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emulated.dev != nil {
		if err := emulated.dev.Close(); err != nil && code == 0 {
			println("closing the emulator:", err.Error())
			code = 1
		}
	}
	if shared.dev != nil {
		if err := shared.dev.Close(); err != nil && code == 0 {
			println("closing the shared GPU:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// requireGPU returns the shared device, or skips (fails when RequireEnv is
// 1) without a usable driver.
func requireGPU(t testing.TB) *Device {
	t.Helper()
	shared.once.Do(func() { shared.dev, shared.err = Open(0, Options{NoDiskCache: true}) })
	skipOrFail(t, shared.err)
	return shared.dev
}

// kernelDevice returns the shared GPU, or without a driver (unless
// RequireEnv is 1) the shared emulator (cudaemu.Open), so that the kernel
// tests also check the emulator's Go transcriptions of the kernels against
// the same references on machines without a GPU; it skips instead of
// falling back when cudatest.SkipEmulated says so.
func kernelDevice(t testing.TB) *Device {
	t.Helper()
	shared.once.Do(func() { shared.dev, shared.err = Open(0, Options{NoDiskCache: true}) })
	if shared.err == nil {
		return shared.dev
	}
	if !errors.Is(shared.err, ErrNoDriver) || os.Getenv(RequireEnv) == "1" {
		skipOrFail(t, shared.err)
	}
	t.Logf("no GPU: %v", shared.err)
	cudatest.SkipEmulated(t)
	emulated.once.Do(func() { emulated.dev, emulated.err = cudaemu.Open(512<<20, Options{}) })
	require.NoError(t, emulated.err)
	t.Log("on the emulator")
	return emulated.dev
}

// openGPU opens a separate device for one test, closed when it ends.
func openGPU(t testing.TB, opts Options) *Device {
	t.Helper()
	d, err := Open(0, opts)
	skipOrFail(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrNoDriver) && os.Getenv(RequireEnv) != "1" {
		t.Skipf("no GPU: %v", err)
	}
	t.Fatalf("opening the GPU: %v", err)
}

// upload copies x to a new device buffer, freed when the test ends.
func upload[T Elem](t testing.TB, d *Device, x []T) *Buffer[T] {
	t.Helper()
	b, err := Upload(d, x)
	require.NoError(t, err)
	t.Cleanup(b.Free)
	return b
}

// poisoned allocates n elements filled with NaN (all bits set), so that
// any element a kernel fails to write shows as NaN.
func poisoned[T Elem](t testing.TB, d *Device, n int) *Buffer[T] {
	t.Helper()
	b, err := Alloc[T](d, n)
	require.NoError(t, err)
	t.Cleanup(b.Free)
	require.NoError(t, b.Memset32(0xFFFFFFFF))
	return b
}

func download[T Elem](t testing.TB, b *Buffer[T]) []T {
	t.Helper()
	x, err := b.Download()
	require.NoError(t, err)
	return x
}

// requireNear checks |got[i] − want[i]| ≤ tol(i) for every i and that got
// holds no NaN, reporting the first few failures.
func requireNear[T float32 | float64](t testing.TB, what string, want []float64, got []T, tol func(i int) float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	bad := 0
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) || !(math.Abs(g-want[i]) <= tol(i)) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, want %.9g ± %.3g", what, i, g, want[i], tol(i))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d elements out of tolerance", what, bad, len(want))
	}
}

// mixed is the tolerance atol + rtol·|want[i]|.
func mixed(want []float64, atol, rtol float64) func(int) float64 {
	return func(i int) float64 { return atol + rtol*math.Abs(want[i]) }
}

// scaled is the tolerance rtol·scale[i] + tiny, for results whose error is
// relative to the magnitudes of the terms they sum (scale).
func scaled(scale []float64, rtol float64) func(int) float64 {
	return func(i int) float64 { return rtol*scale[i] + 1e-30 }
}

func f64s[T float32 | int32](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func abs64(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Abs(v)
	}
	return out
}
