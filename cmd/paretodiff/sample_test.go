package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tinyModel trains a toy or MNIST model of a few steps (enough to have a
// checkpoint; not a good model) and returns its run folder.
func tinyModel(t *testing.T, dataSpec string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, "train", "--data", dataSpec, "--width", "16", "--depth", "1", "--batch", "16",
		"--eval-size", "8", "--steps", "5", "--progress", "none", "--out", dir)
	require.Equal(t, 0, code, stderr)
	return dir
}

// readNPY reads an (N, D) little-endian float32 .npy file with its own
// parser (format 1.0 or 2.0), independent of the writer.
func readNPY(t *testing.T, path string) (x []float32, n, d int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw, []byte("\x93NUMPY")), "magic")
	var hl, off int
	switch raw[6] {
	case 1:
		hl, off = int(binary.LittleEndian.Uint16(raw[8:])), 10
	case 2:
		hl, off = int(binary.LittleEndian.Uint32(raw[8:])), 12
	default:
		t.Fatalf("npy version %d", raw[6])
	}
	header := string(raw[off : off+hl])
	require.Contains(t, header, "'descr': '<f4'")
	require.Contains(t, header, "'fortran_order': False")
	m := regexp.MustCompile(`'shape': \((\d+), (\d+)\)`).FindStringSubmatch(header)
	require.NotNil(t, m, header)
	n, _ = strconv.Atoi(m[1])
	d, _ = strconv.Atoi(m[2])
	body := raw[off+hl:]
	require.Len(t, body, 4*n*d)
	x = make([]float32, n*d)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return x, n, d
}

// evalJSON runs eval and decodes its output.
func evalJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	stdout, stderr, code := runCLI(t, append([]string{"eval", "--progress", "none"}, args...)...)
	require.Equal(t, 0, code, stderr)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	return res
}

func metric(t *testing.T, res map[string]any, name, field string) float64 {
	t.Helper()
	m, ok := res["metrics"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "metric %s in %v", name, res["metrics"])
	v, ok := m[field].(float64)
	require.True(t, ok, "%s.%s", name, field)
	return v
}

// Thresholds of the 8gaussians check. A model that has learnt the circle
// but not its modes puts its samples on a ring: about half of them then
// lie more than 3σ = 0.3 from every mode (the arcs within 0.3 of a mode
// cover 8·0.6/(2π√2) ≈ 54% of the circle); the ground truth puts 1.1%
// there (e^{−4.5}). The run below (3000 steps of a width-32 ResMLP with
// the plain ε loss, 5 s) measured 0.17–0.21 over seeds 1–3, SWD 0.05–0.07
// against a noise floor of 0.04 at n = 2000, and 0.80 untrained.
const (
	toyMaxOffMode = 0.3
	// toyMinModeShare: every mode must hold at least half its fair share.
	toyMinModeShare = 0.5
	// toyMaxSWD is far below the untrained model's 0.8.
	toyMaxSWD = 0.1
	// toyUntrainedRatio: the untrained model's SWD is at least this many
	// times the trained one's.
	toyUntrainedRatio = 5
)

// The "Done when" for toy data: a model trained with train on
// toy:8gaussians samples all 8 modes, and its SWD is far below an untrained
// model's.
func TestSampleAndEvalToyModelFindsAllModes(t *testing.T) {
	run := filepath.Join(t.TempDir(), "toy")
	_, stderr, code := runCLI(t, "train", "--data", "toy:8gaussians", "--width", "32", "--depth", "1", "--steps", "3000",
		"--lr", "5e-3", "--weighting", "snr", "--ema", "0.995", "--seed", "1", "--log-every", "1000", "--progress", "none", "--out", run)
	require.Equal(t, 0, code, stderr)

	const n = 2000
	npy := filepath.Join(t.TempDir(), "x.npy")
	stdout, stderr, code := runCLI(t, "sample", "--checkpoint", run, "--n", strconv.Itoa(n), "--progress", "none", "--out", npy)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "wrote 2000 samples to "+npy+": EMA weights of step 3000 (toy:8gaussians), sampler heun:7,80, 34 denoiser calls per sample")
	x, rows, d := readNPY(t, npy)
	require.Equal(t, n, rows)
	require.Equal(t, 2, d)

	// Count by nearest mode, independently of eval's counting.
	counts := make([]int, 8)
	off := 0
	for i := 0; i < len(x); i += 2 {
		best, bd := 0, math.Inf(1)
		for k := range 8 {
			a := float64(k) * math.Pi / 4
			if dd := math.Hypot(float64(x[i])-math.Sqrt2*math.Cos(a), float64(x[i+1])-math.Sqrt2*math.Sin(a)); dd < bd {
				best, bd = k, dd
			}
		}
		counts[best]++
		if bd > 0.3 {
			off++
		}
	}
	t.Logf("samples per mode %v, %.1f%% off every mode", counts, 100*float64(off)/n)
	for k, c := range counts {
		require.GreaterOrEqual(t, float64(c), toyMinModeShare*n/8, "mode %d", k)
	}
	require.Less(t, float64(off)/n, toyMaxOffMode)

	res := evalJSON(t, "--checkpoint", run, "--n", strconv.Itoa(n))
	swd, floor := metric(t, res, "swd", "value"), metric(t, res, "swd", "noise_floor")
	res0 := evalJSON(t, "--checkpoint", run, "--n", strconv.Itoa(n), "--untrained")
	swd0 := metric(t, res0, "swd", "value")
	t.Logf("SWD trained %.4f, untrained %.4f, noise floor %.4f", swd, swd0, floor)
	require.Less(t, swd, toyMaxSWD)
	require.Greater(t, swd0, toyUntrainedRatio*swd)
	require.Less(t, floor, swd, "two ground-truth sets are closer than the model")
	require.Equal(t, float64(metric(t, res0, "swd", "noise_floor")), floor, "the same seed gives the same noise floor")
	modes := res["modes"].(map[string]any)
	require.Equal(t, 8.0, modes["covered"])
	var evalCounts []int
	for _, c := range modes["counts"].([]any) {
		evalCounts = append(evalCounts, int(c.(float64)))
	}
	require.Equal(t, counts, evalCounts, "eval draws the same samples as sample for the same seed")
	require.Less(t, metric(t, res, "mmd", "value"), metric(t, res0, "mmd", "value"))
	require.Equal(t, "init", res0["weights"])
	require.Equal(t, "ema", res["weights"])
}

// The progress line and eval's JSON count denoiser calls the same way: the
// JSON's evaluations are per sample, the progress counts them over the
// batches the sampler makes (512 rows each), and says so.
func TestDenoiserCallCountsAgree(t *testing.T) {
	run := tinyModel(t, "toy:moons")
	stdout, stderr, code := runCLI(t, "eval", "--checkpoint", run, "--n", "1100", "--sampler", "ddim", "--steps", "10", "--progress", "lines")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "sample: 30/30 denoiser calls (10 per sample × 3 batches)")
	var res struct {
		Evaluations int `json:"evaluations"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Equal(t, 10, res.Evaluations)
}

func TestSampleOutputs(t *testing.T) {
	run := tinyModel(t, "toy:moons")
	dir := t.TempDir()
	for _, ext := range []string{"png", "svg", "pdf", "npy"} {
		out := filepath.Join(dir, "s."+ext)
		_, stderr, code := runCLI(t, "sample", "--checkpoint", run, "--n", "50", "--sampler", "ddim:0.5", "--steps", "10",
			"--progress", "lines", "--out", out)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stderr, "sample: 10/10 denoiser calls (10 per sample × 1 batch)")
		st, err := os.Stat(out)
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
	f, err := os.Open(filepath.Join(dir, "s.png"))
	require.NoError(t, err)
	_, err = png.Decode(f)
	f.Close()
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "no temporary files are left behind")

	// The same seed gives the same samples, another seed others; the raw
	// weights differ from the EMA.
	npy := func(args ...string) []float32 {
		out := filepath.Join(t.TempDir(), "x.npy")
		_, stderr, code := runCLI(t, append([]string{"sample", "--checkpoint", run, "--n", "20", "--progress", "none", "--out", out}, args...)...)
		require.Equal(t, 0, code, stderr)
		x, _, _ := readNPY(t, out)
		return x
	}
	a := npy("--seed", "7")
	require.Equal(t, a, npy("--seed", "7"))
	require.NotEqual(t, a, npy("--seed", "8"))
	require.NotEqual(t, a, npy("--seed", "7", "--ema=false"))

	// A run folder or its checkpoint file both work.
	out := filepath.Join(t.TempDir(), "x.npy")
	_, stderr, code := runCLI(t, "sample", "--checkpoint", filepath.Join(run, "checkpoint.bin"), "--n", "20", "--seed", "7", "--progress", "none", "--out", out)
	require.Equal(t, 0, code, stderr)
	x, _, _ := readNPY(t, out)
	require.Equal(t, a, x)
}

func TestSampleMNISTGrid(t *testing.T) {
	run := tinyModel(t, "mnist")
	out := filepath.Join(t.TempDir(), "digits.png")
	_, stderr, code := runCLI(t, "sample", "--checkpoint", run, "--n", "10", "--sampler", "ddim", "--steps", "3", "--progress", "none", "--out", out)
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	// ⌈√10⌉ = 4 columns, 3 rows of 56-pixel tiles (28 × 2) with 2 pixels
	// of padding.
	require.Equal(t, 4*58+2, img.Bounds().Dx())
	require.Equal(t, 3*58+2, img.Bounds().Dy())
	npy := filepath.Join(t.TempDir(), "digits.npy")
	_, stderr, code = runCLI(t, "sample", "--checkpoint", run, "--n", "3", "--sampler", "ddim", "--steps", "3", "--progress", "none", "--out", npy)
	require.Equal(t, 0, code, stderr)
	x, n, d := readNPY(t, npy)
	require.Equal(t, 3, n)
	require.Equal(t, 784, d)
	for _, v := range x {
		require.LessOrEqual(t, math.Abs(float64(v)), 1+1e-6, "x̂0 is clipped to the pixel range")
	}
}

func TestSampleAndEvalBadInput(t *testing.T) {
	toy := tinyModel(t, "toy:8gaussians")
	mnist := tinyModel(t, "mnist")
	out := filepath.Join(t.TempDir(), "x.png")
	corrupt := filepath.Join(t.TempDir(), "checkpoint.bin")
	require.NoError(t, os.WriteFile(corrupt, []byte("PDIFFCK1 and not much else"), 0o644))
	empty := t.TempDir()
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"sample", "--out", out}, "--checkpoint: give a run folder"},
		{[]string{"sample", "--checkpoint", filepath.Join(empty, "nope"), "--out", out}, "nope: no run"},
		{[]string{"sample", "--checkpoint", empty, "--out", out}, "holds no spec.json or checkpoint.bin"},
		{[]string{"sample", "--checkpoint", corrupt, "--out", out}, "checksum mismatch"},
		{[]string{"sample", "--checkpoint", toy}, "--out: give a .png"},
		{[]string{"sample", "--checkpoint", toy, "--out", "x.txt"}, "--out x.txt: want a .png, .svg, .pdf or .npy file"},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--n", "0"}, "--n must be ≥ 1"},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--sampler", "euler"}, `unknown sampler "euler"`},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--sampler", "ddim:2"}, "η must be in [0, 1]"},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--steps", "-1"}, "--steps must be ≥ 0"},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--sampler", "ddim", "--steps", "5000"}, "--steps:"},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--clip-x0", "-1"}, `--clip-x0 "-1": want auto, off or a positive number`},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--progress", "loud"}, `--progress "loud"`},
		{[]string{"sample", "--checkpoint", toy, "--out", out, "--n", "x"}, "invalid argument"},
		{[]string{"eval", "--checkpoint", toy, "--n", "1"}, "--n must be ≥ 2"},
		{[]string{"eval", "--checkpoint", toy, "--metric", "fd"}, "--metric fd is for MNIST; this checkpoint generates toy:8gaussians"},
		{[]string{"eval", "--checkpoint", toy, "--metric", "swd,kid"}, `--metric "kid": want swd, mmd or fd`},
		{[]string{"eval", "--checkpoint", mnist, "--metric", "swd"}, "--metric swd is for 2-D toy data; this checkpoint generates MNIST"},
		{[]string{"eval", "--checkpoint", filepath.Join(empty, "nope")}, "--checkpoint:"},
		{[]string{"eval", "--checkpoint", mnist, "--mnist-dir", empty}, "--mnist-dir: "},
		{[]string{"eval", "--checkpoint", toy, "extra"}, "unknown command"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, c.args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, c.msg)
			require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "no output from bad input")

	// A failure while writing (the folder does not exist) is exit 1.
	_, stderr, code := runCLI(t, "sample", "--checkpoint", toy, "--n", "5", "--progress", "none", "--out", filepath.Join(empty, "no", "x.png"))
	require.Equal(t, 1, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"))
}

// ExampleJSON-like check of the fields eval prints for toy data.
func TestEvalToyJSONFields(t *testing.T) {
	run := tinyModel(t, "toy:swissroll")
	res := evalJSON(t, "--checkpoint", run, "--n", "100", "--sampler", "ddim", "--steps", "5", "--metric", "mmd", "--metric", "MMD", "--seed", "3")
	for _, k := range []string{"checkpoint", "data", "step", "weights", "sampler", "steps", "evaluations", "n", "seed", "seconds", "metrics"} {
		require.Contains(t, res, k)
	}
	require.Equal(t, "toy:swissroll", res["data"])
	require.Equal(t, 5.0, res["step"])
	require.Equal(t, "ddim:0", res["sampler"])
	require.Equal(t, 5.0, res["steps"])
	require.Equal(t, 100.0, res["n"])
	require.Equal(t, 3.0, res["seed"])
	require.Len(t, res["metrics"], 1, "repeated metrics are measured once")
	require.Positive(t, metric(t, res, "mmd", "bandwidth"))
	metric(t, res, "mmd", "noise_floor")
	require.NotContains(t, res, "modes", "swissroll has no modes")
	require.NotContains(t, res, "classifier")
	again := evalJSON(t, "--checkpoint", run, "--n", "100", "--sampler", "ddim", "--steps", "5", "--metric", "mmd", "--seed", "3")
	require.Equal(t, metric(t, res, "mmd", "value"), metric(t, again, "mmd", "value"), "seed-reproducible")
	require.Equal(t, fmt.Sprint(res["checkpoint"]), filepath.Join(run, "checkpoint.bin"))
}
