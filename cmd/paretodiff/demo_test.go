package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest"
	"github.com/paretodiff/paretodiff/internal/cuda/nncuda"
	"github.com/stretchr/testify/require"
)

func TestDemoSmoke(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	stdout, stderr, code := runCLI(t, "demo", "--size", "smoke", "--out", dir, "--seed", "3")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "demo: [1/5]")
	require.Contains(t, stderr, "demo: step 60/60")
	require.Contains(t, stderr, "demo: [5/5] writing "+filepath.Join(dir, "report.md"))
	require.Contains(t, stdout, "report: "+filepath.Join(dir, "report.md"))
	require.Contains(t, stdout, "min-snr:5: Eq. 11 objective")
	rep, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "seed 3, device cpu")
	for _, f := range []string{"training.png", "pareto.png", "samples.png", "weights.png", "conflict/cosine.png"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	// The trained model is a run folder the other commands read.
	stdout, stderr, code = runCLI(t, "eval", "--checkpoint", filepath.Join(dir, "model"), "--n", "64", "--steps", "4")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, `"swd"`)
}

func TestDemoQuietAndHelp(t *testing.T) {
	stdout, stderr, code := runCLI(t, "demo", "--size", "smoke", "--out", t.TempDir(), "--quiet")
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stderr)
	require.Contains(t, stdout, "demo finished in")
	stdout, _, code = runCLI(t, "demo", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "--device")
	require.NotContains(t, stdout, "--size", "the test size stays hidden")
}

func TestDemoBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"demo", "--size", "paper", "--out", dir},
		{"demo", "--size", "huge", "--out", dir},
		{"demo", "--device", "tpu", "--out", dir},
		{"demo", "--out", ""},
		{"demo", "extra", "--out", dir},
	} {
		stdout, stderr, code := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
		require.Empty(t, stdout)
	}
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "bad input writes nothing")
}

// TestDemoOnEmulatedGPU runs the demo with --device cuda on the emulated
// GPU and compares its numbers with the CPU run's.
func TestDemoOnEmulatedGPU(t *testing.T) {
	cudatest.SkipEmulated(t)
	d, err := cudaemu.Open(64<<20, cuda.Options{})
	require.NoError(t, err)
	old := newCUDA
	newCUDA = func() (*nncuda.Backend, error) { return nncuda.NewOn(d), nil }
	defer func() { newCUDA = old }()

	gpu, cpu := t.TempDir(), t.TempDir()
	_, stderr, code := runCLI(t, "demo", "--size", "smoke", "--device", "cuda", "--out", gpu)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "device: ")
	_, stderr, code = runCLI(t, "demo", "--size", "smoke", "--out", cpu, "--quiet")
	require.Equal(t, 0, code, stderr)
	a := readCSVFile(t, filepath.Join(gpu, "quality.csv"))
	b := readCSVFile(t, filepath.Join(cpu, "quality.csv"))
	require.Equal(t, len(b), len(a))
	worst := 0.0
	defer func() { t.Logf("largest relative difference of the SWD, emulated GPU vs CPU: %.2g", worst) }()
	for i := 1; i < len(a); i++ {
		require.Equal(t, b[i][:2], a[i][:2])
		x, err := strconv.ParseFloat(a[i][2], 64)
		require.NoError(t, err)
		y, err := strconv.ParseFloat(b[i][2], 64)
		require.NoError(t, err)
		// demoEmulatedTol: as in TestReproduceOnEmulatedGPU, float32
		// rounding differences carried through 60 AdamW steps and a 4-step
		// sampler.
		const demoEmulatedTol = 1e-4
		worst = math.Max(worst, math.Abs(x-y)/y)
		require.InDelta(t, y, x, demoEmulatedTol*y, "row %d: %v vs %v", i, a[i], b[i])
	}
}
