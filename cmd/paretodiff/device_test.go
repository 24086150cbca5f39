package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest"
	"github.com/paretodiff/paretodiff/internal/cuda/nncuda"
	"github.com/stretchr/testify/require"
)

// gpuUsable reports whether a CUDA device is usable here (the GPU machine),
// failing the test when one is required but missing.
func gpuUsable(t *testing.T) bool {
	err := cuda.Available()
	if err != nil && cudatest.Required() {
		t.Fatalf("a GPU is required: %v", err)
	}
	return err == nil
}

func TestDeviceFlag(t *testing.T) {
	_, stderr, code := runCLI(t, trainArgs(t.TempDir(), "--steps", "2", "--device", "tpu")...)
	require.Equal(t, 2, code)
	require.Equal(t, "paretodiff: --device \"tpu\": want cpu, cuda or auto\n", stderr)

	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code = runCLI(t, trainArgs(dir, "--steps", "2", "--device", "cuda")...)
	if !gpuUsable(t) {
		require.Equal(t, 2, code, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: --device cuda: cuda: no usable CUDA driver: "), stderr)
	} else {
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stderr, "device: cuda:0 ")
	}

	dir = filepath.Join(t.TempDir(), "run")
	_, stderr, code = runCLI(t, trainArgs(dir, "--steps", "2", "--device", "auto")...)
	require.Equal(t, 0, code, stderr)
	if gpuUsable(t) {
		require.Contains(t, stderr, "device: cuda:0 ")
	} else {
		require.Contains(t, stderr, "device: cpu (no usable GPU: cuda: no usable CUDA driver: ")
	}
	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, 2, ck.Step)
}

// TestTrainOnGPUResumesOnCPU trains on the GPU, resumes on the CPU and
// compares the loss trajectory with a CPU-only run of the same seed. It
// needs a GPU.
func TestTrainOnGPUResumesOnCPU(t *testing.T) {
	if !gpuUsable(t) {
		t.Skip("no GPU")
	}
	gpu := filepath.Join(t.TempDir(), "gpu")
	_, stderr, code := runCLI(t, trainArgs(gpu, "--steps", "10", "--device", "cuda")...)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runCLI(t, "train", "--out", gpu, "--resume", "--steps", "20", "--progress", "none", "--device", "cpu")
	require.Equal(t, 0, code, stderr)
	cpu := filepath.Join(t.TempDir(), "cpu")
	_, stderr, code = runCLI(t, trainArgs(cpu, "--steps", "20")...)
	require.Equal(t, 0, code, stderr)
	g, c := metricLines(t, filepath.Join(gpu, "metrics.jsonl")), metricLines(t, filepath.Join(cpu, "metrics.jsonl"))
	require.Len(t, g, len(c))
	// The same batches and weights up to float32 rounding: the logged losses
	// agree to far better than training changes them.
	const tolTrajectory = 1e-3
	for i := range c {
		require.InEpsilon(t, c[i]["loss"], g[i]["loss"], tolTrajectory, "record %d", i)
		require.InEpsilon(t, c[i]["eval_loss"], g[i]["eval_loss"], tolTrajectory, "record %d", i)
	}
}

// TestTrainOnEmulatedGPU runs `train --device cuda` end to end on the
// emulated GPU (cudaemu.Open) and compares its metrics with a CPU run
// of the same seed.
func TestTrainOnEmulatedGPU(t *testing.T) {
	cudatest.SkipEmulated(t)
	d, err := cudaemu.Open(64<<20, cuda.Options{})
	require.NoError(t, err)
	defer d.Close()
	old := newCUDA
	newCUDA = func() (*nncuda.Backend, error) { return nncuda.NewOn(d), nil }
	defer func() { newCUDA = old }()

	emu := filepath.Join(t.TempDir(), "emu")
	_, stderr, code := runCLI(t, trainArgs(emu, "--steps", "10", "--device", "cuda", "--target", "x0")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "device: cuda:0 Emulated GPU")
	cpu := filepath.Join(t.TempDir(), "cpu")
	_, stderr, code = runCLI(t, trainArgs(cpu, "--steps", "10", "--target", "x0")...)
	require.Equal(t, 0, code, stderr)
	g, c := metricLines(t, filepath.Join(emu, "metrics.jsonl")), metricLines(t, filepath.Join(cpu, "metrics.jsonl"))
	require.Len(t, g, len(c))
	const tolTrajectory = 1e-3 // as in TestTrainOnGPUResumesOnCPU
	for i := range c {
		require.InEpsilon(t, c[i]["loss"], g[i]["loss"], tolTrajectory, "record %d", i)
		require.InEpsilon(t, c[i]["x0_mse_800_900"], g[i]["x0_mse_800_900"], tolTrajectory, "record %d", i)
	}
}

// conflictGrams trains and probes with `conflict --device device` and
// returns the probe records.
func conflictGrams(t *testing.T, device string) []conflict.Record {
	dir := filepath.Join(t.TempDir(), device)
	args := append(append([]string(nil), smallConflict...), "--steps", "10", "--every", "10", "--figures", "none",
		"--progress", "none", "--device", device, "--out", dir)
	_, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	if device == "cuda" {
		require.Contains(t, stderr, "device: cuda:0 ")
	}
	_, recs, err := conflict.ReadLog(filepath.Join(dir, "probes", "conflict"))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	return recs
}

// requireSameGrams compares the Gram matrices of two conflict runs.
func requireSameGrams(t *testing.T, want, got []conflict.Record) {
	// tolGramDevices: the same float32 training on both devices (see
	// TestTrainOnEmulatedGPU), then float32 per-example products summed in
	// another order: far below 1e-4 of √(G_kk·G_ll).
	const tolGramDevices = 1e-4
	for i, rc := range want {
		rg := got[i]
		K := rc.Gram.SymmetricDim()
		for k := range K {
			for l := range K {
				scale := math.Sqrt(rc.Gram.At(k, k) * rc.Gram.At(l, l))
				require.InDelta(t, rc.Gram.At(k, l), rg.Gram.At(k, l), tolGramDevices*scale, "probe %d G[%d, %d]", i, k, l)
			}
		}
	}
}

// TestConflictOnEmulatedGPU trains and probes with `conflict --device cuda`
// on the emulated GPU (the one-pass Gram runs on the backend) and compares
// the Gram matrices with a CPU run of the same seed.
func TestConflictOnEmulatedGPU(t *testing.T) {
	cudatest.SkipEmulated(t)
	d, err := cudaemu.Open(64<<20, cuda.Options{})
	require.NoError(t, err)
	defer d.Close()
	old := newCUDA
	newCUDA = func() (*nncuda.Backend, error) { return nncuda.NewOn(d), nil }
	defer func() { newCUDA = old }()
	requireSameGrams(t, conflictGrams(t, "cpu"), conflictGrams(t, "cuda"))
}

// TestConflictOnGPU is TestConflictOnEmulatedGPU on the real GPU.
func TestConflictOnGPU(t *testing.T) {
	if !gpuUsable(t) {
		t.Skip("no GPU")
	}
	requireSameGrams(t, conflictGrams(t, "cpu"), conflictGrams(t, "cuda"))
}
