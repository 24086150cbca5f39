package nncuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest"
	"github.com/stretchr/testify/require"
)

// Every test of the backend runs on two devices: "emulator", the Go
// emulation of the driver, NVRTC and cuBLAS (cudaemu.Open), which runs
// everywhere and checks the backend's launches, shapes, strides, queue and
// thread handling against the CPU backend; and "gpu", device 0, which
// checks the CUDA C and cuBLAS themselves and skips without a driver
// (fails instead when cuda.RequireEnv is 1, as on the GPU machine). The
// GPU machine's check skips "emulator" (cudatest.SkipEmulated).

var devices struct {
	once     sync.Once
	emu, gpu *cuda.Device
	emuErr   error
}

// gpuErr is why there is no GPU device (nil when there is one).
var gpuErr error

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []*cuda.Device{devices.emu, devices.gpu} {
		if d != nil {
			if err := d.Close(); err != nil && code == 0 {
				fmt.Fprintln(os.Stderr, "closing a device:", err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

func openDevices() {
	devices.once.Do(func() {
		devices.emu, devices.emuErr = cudaemu.Open(256<<20, cuda.Options{})
		d, err := cuda.Open(0, cuda.Options{})
		if err == nil {
			if err = d.Warm(); err != nil {
				d.Close()
			}
		}
		if err == nil {
			devices.gpu = d
		}
		gpuErr = err
	})
}

// forDevices runs f as the subtests "emulator" and "gpu", each with a fresh
// backend on the device.
func forDevices(t *testing.T, f func(t *testing.T, be *Backend)) {
	t.Helper()
	openDevices()
	require.NoError(t, devices.emuErr)
	for _, name := range []string{"emulator", "gpu"} {
		t.Run(name, func(t *testing.T) {
			d := devices.emu
			if name == "emulator" {
				cudatest.SkipEmulated(t)
			}
			if name == "gpu" {
				if gpuErr != nil {
					if errors.Is(gpuErr, cuda.ErrNoDriver) && !cudatest.Required() {
						t.Skipf("no GPU: %v", gpuErr)
					}
					t.Fatalf("opening the GPU: %v", gpuErr)
				}
				d = devices.gpu
			}
			be := NewOn(d)
			f(t, be)
			require.NoError(t, be.Sync())
		})
	}
}

// upload returns a tensor of be holding x, plus tail extra elements set to
// NaN (a poisoned margin that no operation may write).
func upload(be nn.Backend, x []float32, tail int) nn.Tensor {
	t := be.Alloc(len(x) + tail)
	host := append(append([]float32(nil), x...), nanSlice(tail)...)
	be.Upload(t, host)
	return t
}

func nanSlice(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

func download(be nn.Backend, t nn.Tensor) []float32 {
	x := make([]float32, t.Len())
	be.Download(x, t)
	return x
}

// requireClose checks got against the CPU backend's want element by
// element: |got − want| ≤ tol·scale, where scale is the largest |want| (a
// norm-wise bound: float32 results computed in another order differ by
// rounding relative to the magnitudes involved, not to each element). NaN
// must match NaN (poisoned elements no operation may write) and nothing
// else.
func requireClose(t *testing.T, what string, want, got []float32, tol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	scale := 0.0
	for _, v := range want {
		if !math.IsNaN(float64(v)) {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
	}
	bad := 0
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		ok := math.IsNaN(w) == math.IsNaN(g) && (math.IsNaN(w) || math.Abs(g-w) <= tol*scale)
		if !ok {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, want %.9g (± %.3g)", what, i, g, w, tol*scale)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d elements differ", what, bad, len(want))
	}
}
