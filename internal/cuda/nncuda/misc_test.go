package nncuda

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

func TestRegistered(t *testing.T) {
	require.Contains(t, nn.Backends(), "cuda")
	openDevices()
	be, err := nn.NewBackend("cuda")
	auto, aerr := nn.NewBackend("auto")
	require.NoError(t, aerr)
	if gpuErr != nil {
		require.Error(t, err)
		require.ErrorIs(t, err, cuda.ErrNoDriver)
		require.NotContains(t, err.Error(), "\n", "one line")
		require.Equal(t, "cpu", auto.Name(), "auto falls back to the CPU")
		return
	}
	require.NoError(t, err)
	require.Equal(t, "cuda", be.Name())
	require.Equal(t, "cuda", auto.Name())
	require.True(t, strings.HasPrefix(be.(*Backend).String(), "cuda:0 "), be.(*Backend).String())
}

// TestQueue checks that work runs in order across flushes, that uploads
// copy their source at once, and that a long queue is handed over by
// itself.
func TestQueue(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		x := be.Alloc(4)
		src := []float32{1, 2, 3, 4}
		be.Upload(x, src)
		src[0] = 100 // the upload copied it
		for range maxQueue + 10 {
			be.Scale(x, 2)
			be.Scale(x, 0.5)
		}
		require.Less(t, len(be.queue), maxQueue, "a long queue runs by itself")
		x2 := be.Alloc(4)
		be.Copy(x2, x)
		be.Axpy(x, 1, x2)
		require.Equal(t, []float32{2, 4, 6, 8}, download(be, x))
		require.Empty(t, be.queue)
		y := be.Alloc(3)
		be.Copy(y, x.View(1, 3))
		be.Free(x)
		require.Equal(t, []float32{4, 6, 8}, download(be, y))
		require.PanicsWithValue(t, "nncuda: Scale: x was freed", func() { be.Scale(x, 1) })
		require.Panics(t, func() { be.Free(y.View(1, 2)) }, "a view is not an allocation")
	})
}

func TestProgrammerErrorsPanic(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		x := be.Alloc(10)
		cpu := nn.NewCPU().Alloc(10)
		require.PanicsWithValue(t, "nncuda: Axpy: x is absent", func() { be.Axpy(x, 1, nn.Tensor{}) })
		require.Panics(t, func() { be.Axpy(x, 1, cpu) }, "a CPU tensor")
		require.Panics(t, func() { NewOn(be.Device()).Scale(x, 1) }, "another CUDA backend's tensor")
		require.PanicsWithValue(t, "nncuda: AddBias: y has 10 elements, needs 12", func() { be.AddBias(x, x, 3, 4) })
		require.Panics(t, func() { be.Gemm(false, false, 2, 2, 2, 1, x, 1, x, 2, 0, x, 2) }, "lda below the columns")
		require.Panics(t, func() { be.TimeEmbedding(x, x, 1, 3, 10) }, "odd dimension")
		require.Panics(t, func() { be.Activate(nn.Activation(7), x, x) })
		require.Panics(t, func() { be.Gram(make([]float64, 3), x, 2, 5) }, "dst too short")
	})
}

// TestFailureIsSticky runs out of (emulated) device memory: the error is
// kept, later work is skipped, host results are NaN, and Sync reports it,
// every time.
func TestFailureIsSticky(t *testing.T) {
	cudatest.SkipEmulated(t)
	d, err := cudaemu.Open(1<<20, cuda.Options{})
	require.NoError(t, err)
	defer d.Close()
	be := NewOn(d)
	x := be.Alloc(100)
	be.Fill(x, 1)
	require.Equal(t, 100.0, be.Dot(x, x))
	huge := be.Alloc(1 << 20) // 4 MiB on a 1 MiB device
	require.Equal(t, 1<<20, huge.Len())
	be.Fill(huge, 1)
	be.Scale(x, 2)
	require.True(t, math.IsNaN(be.Dot(x, x)))
	got := []float32{0, 0}
	be.Download(got, x)
	require.True(t, math.IsNaN(float64(got[0])) && math.IsNaN(float64(got[1])))
	g := make([]float64, 4)
	be.Gram(g, x, 2, 50)
	require.True(t, math.IsNaN(g[3]))
	err = be.Sync()
	require.EqualError(t, err, "cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)")
	require.Equal(t, err, be.Sync(), "sticky")
	require.True(t, errors.Is(be.Close(), err))
	be.Free(huge) // harmless
}

// TestTrainerReportsDeviceError: a training step on a failed backend
// returns the device's error, not just "loss is NaN".
func TestTrainerReportsDeviceError(t *testing.T) {
	cudatest.SkipEmulated(t)
	d, err := cudaemu.Open(16<<20, cuda.Options{})
	require.NoError(t, err)
	defer d.Close()
	be := NewOn(d)
	tr := toyTrainer(t, be, weighting.Eps)
	require.NoError(t, tr.StepOnce())
	be.Alloc(1 << 24) // 64 MiB on a 16 MiB device
	err = tr.StepOnce()
	require.EqualError(t, err, "diffusion: step 2: cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)")
}

// TestStepHandovers: a training step hands work to the device's worker
// three times (the loss after the forward and backward passes, the gradient
// norm, Sync after AdamW and the EMA), whatever the network's depth.
func TestStepHandovers(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		tr := toyTrainer(t, be, weighting.Eps)
		require.NoError(t, tr.StepOnce()) // the first step allocates its buffers
		n := be.handovers
		require.NoError(t, tr.StepOnce())
		require.Equal(t, 3, be.handovers-n)
	})
}
