package python

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"codeberg.org/sbinet/npyio"
	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/matio"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// pythonTimeout bounds each Python run (the unittest suite takes seconds on
// two cores; the gloo test bounds its own processes at two minutes).
const pythonTimeout = 8 * time.Minute

// findPython returns a Python that imports torch and numpy, or skips.
func findPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import torch, numpy").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with torch and numpy (apt-get install python3-torch python3-numpy)")
	return ""
}

var built struct {
	once sync.Once
	bin  string
	err  error
}

// paretodiff builds the paretodiff command once per test binary.
func paretodiff(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "pdt-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "paretodiff")
		cmd := exec.Command("go", "build", "-o", built.bin, "../cmd/paretodiff")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = err
			t.Logf("go build: %s", out)
		}
	})
	require.NoError(t, built.err, "building paretodiff")
	return built.bin
}

// TestMain removes the built command.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(filepath.Dir(built.bin))
	}
	os.Exit(code)
}

// runPython runs a Python program (-c code, or a module with -m) in this
// folder with paretodiff on $PARETODIFF_BIN and returns its stdout.
func runPython(t *testing.T, py string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pythonTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = append(os.Environ(), "PARETODIFF_BIN="+paretodiff(t), "PYTHONDONTWRITEBYTECODE=1", "OMP_NUM_THREADS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python %s:\n%s", strings.Join(args, " "), stderr.String())
	t.Logf("python %s:\n%s", args[0], stderr.String())
	return string(out)
}

// TestPythonSuite runs python/tests (unittest): the probe against K
// autograd.grad calls in float64 on every model kind, two gloo ranks
// against one process, the log and the helpers, the twins against the Go
// models, and DiTTwin (the DiT bench/torch_dit.py times) against per-token
// loops.
func TestPythonSuite(t *testing.T) {
	py := findPython(t)
	runPython(t, py, "-m", "unittest", "discover", "-s", "tests", "-v")
}

// logScript probes a small model with an empty bin and writes a ProbeLog
// of two probes to the folder argv[1]; it prints the log's settings.
const logScript = `
import sys, torch, torch.nn as nn
import paretodiff_torch as pdt
torch.manual_seed(3)
m = nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 4)).double()
bins = pdt.parse_bins("t:4", pdt.schedule_table("cosine", 100)["log_snr"])
log = pdt.ProbeLog(sys.argv[1], bins, per_bin=3, selected=sum(p.numel() for p in m.parameters()), target="x0",
                   methods=["fw"], normalizer="none", seed=9)
for step in (0, 250):
    x = torch.randn(9, 4, dtype=torch.float64)
    t = bins.sample(3)[:9]
    b = bins.of(t)
    b[b == 2] = 3                                # bin 2 empty
    with pdt.GramProbe(m) as probe:
        G, L = probe.gram(((m(x) - x) ** 2).mean(1), b, bins.K)
    log.append(step, G, L, seconds=0.125, solutions=[{"method": "fw", "w": [0.25, 0.5, 0.0, 0.25], "f": 1.5, "gap": 1e-7,
               "norm_sq": 2.0, "iterations": 12, "status": "converged"}])
`

// TestProbeLogFromPython reads a log written by ProbeLog with
// conflict.ReadLog and checks it against the log conflict.Log writes from
// the same Info and Records: the same probe.json and probes.jsonl bytes,
// the same matrices.
func TestProbeLogFromPython(t *testing.T) {
	py := findPython(t)
	dir := filepath.Join(t.TempDir(), "log")
	runPython(t, py, "-c", logScript, dir)

	info, recs, err := conflict.ReadLog(dir)
	require.NoError(t, err)
	require.Equal(t, []int{0, 25, 50, 75, 100}, info.Edges)
	require.Len(t, recs, 2)
	for _, r := range recs {
		require.NotNil(t, r.Gram)
		require.Equal(t, conflict.Summarize(r.Gram), r.Stats, "the stats Python wrote are conflict.Summarize's")
		require.True(t, r.Losses[2] != r.Losses[2], "the empty bin's loss is NaN")
		require.Zero(t, r.Gram.At(2, 2))
		cos := readNPY(t, filepath.Join(dir, conflict.CosineDir, conflict.MatrixName(r.Step)))
		want := gram.Cosine(r.Gram)
		for i := range 4 {
			for j := range 4 {
				a, b := cos[i*4+j], want.At(i, j)
				require.True(t, a == b || a != a && b != b, "cosine[%d,%d] = %v, want %v", i, j, a, b)
			}
		}
		g, err := matio.ReadNPY(filepath.Join(dir, conflict.GramDir, conflict.MatrixName(r.Step)))
		require.NoError(t, err)
		require.Equal(t, []int{4, 4}, []int{g.RawMatrix().Rows, g.RawMatrix().Cols})
	}

	// conflict.Log from the same numbers writes the same bytes.
	goDir := filepath.Join(t.TempDir(), "golog")
	log, err := conflict.CreateLog(goDir, info)
	require.NoError(t, err)
	for _, r := range recs {
		r.Cosine = gram.Cosine(r.Gram)
		require.NoError(t, log.Append(r))
	}
	for _, name := range []string{conflict.InfoFile, conflict.RecordsFile} {
		a, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(goDir, name))
		require.NoError(t, err)
		require.Equal(t, string(b), string(a), "%s: Python's bytes (actual) against conflict.Log's (expected)", name)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*", ".*.tmp-*"))
	require.Empty(t, left, "no temporary file left")
}

// readNPY reads a float64 NPY matrix that may hold NaN (a cosine matrix
// with an empty bin, which matio.ReadNPY refuses).
func readNPY(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var v []float64
	require.NoError(t, npyio.Read(f, &v))
	return v
}

// binsScript prints, for each (spec, schedule, T, zero_terminal) of the
// JSON on argv[1], the edges paretodiff_torch.parse_bins gives.
const binsScript = `
import json, sys
import paretodiff_torch as pdt
out = []
for spec, sched, T, zt in json.loads(sys.argv[1]):
    out.append(pdt.parse_bins(spec, pdt.schedule_table(sched, T, zt)["log_snr"]).edges)
print(json.dumps(out))
`

// TestBinsMatchGo compares paretodiff_torch.parse_bins with
// weighting.ParseBins on every spec kind and schedule.
func TestBinsMatchGo(t *testing.T) {
	py := findPython(t)
	type c struct {
		spec, sched string
		T           int
		zt          bool
	}
	var cases []c
	for _, sched := range []string{"cosine", "linear", "scaled-linear"} {
		for _, zt := range []bool{false, true} {
			for _, spec := range []string{"t:8", "t:7", "logsnr:8", "logsnr:16", "logsnr:50", "edges:0,10,500,1000"} {
				cases = append(cases, c{spec, sched, 1000, zt})
			}
		}
	}
	cases = append(cases, c{"logsnr:8", "flow", 1000, false}, c{"logsnr:5", "cosine", 37, false}, c{"t:3", "flow", 10, false})
	arg := make([][]any, len(cases))
	for i, k := range cases {
		arg[i] = []any{k.spec, k.sched, k.T, k.zt}
	}
	js, err := json.Marshal(arg)
	require.NoError(t, err)
	var got [][]int
	require.NoError(t, json.Unmarshal([]byte(runPython(t, py, "-c", binsScript, string(js))), &got))
	require.Len(t, got, len(cases))
	for i, k := range cases {
		s, err := diffusion.NewSchedule(k.sched, k.T, k.zt)
		require.NoError(t, err)
		want, err := weighting.ParseBins(k.spec, s.LogSNRs())
		require.NoError(t, err)
		require.Equal(t, want.Edges, got[i], "%+v", k)
	}
}

// TestMNISTExample runs examples/torch/train_mnist.py at a tiny size and
// reads its probe log with conflict.ReadLog.
func TestMNISTExample(t *testing.T) {
	py := findPython(t)
	out := filepath.Join(t.TempDir(), "torch-mnist")
	stdout := runPython(t, py, "../examples/torch/train_mnist.py", "--steps", "4", "--every", "2", "--batch", "16",
		"--per-bin", "2", "--width", "32", "--device", "cpu", "--out", out)
	require.Contains(t, stdout, "trained 4 steps")
	info, recs, err := conflict.ReadLog(out)
	require.NoError(t, err)
	require.Equal(t, 8, len(info.Edges)-1)
	require.Len(t, recs, 2)
	require.Equal(t, []int{2, 4}, []int{recs[0].Step, recs[1].Step})
}

// ditTwinScript loads the export argv[1] with paretodiff_torch.twins and
// prints, as JSON, the twin's class, its largest difference from the Go
// predictions argv[4] on the inputs argv[2], argv[3] relative to each
// row's scale max(1, max_i |pred_i|) ("row"), the same for the float64
// twin against the float32 one ("f64": the float32 rounding floor), the
// elementwise |Δ|/max(1, |pred|) of python/tests/test_twins.py ("elem")
// and the largest learned-skip weight.
const ditTwinScript = `
import json, sys
import numpy as np, torch
from paretodiff_torch import twins
net = twins.from_safetensors(sys.argv[1])
x = torch.from_numpy(np.load(sys.argv[2]).astype(np.float32))
t = torch.from_numpy(np.load(sys.argv[3]).astype(np.int64))
want = np.load(sys.argv[4])
with torch.no_grad():
    got = net(x, t).numpy().astype(np.float64)
    g64 = net.double()(x.double(), t).numpy()
scale = np.maximum(1.0, np.abs(want).max(1))
print(json.dumps({"class": type(net).__name__,
                  "row": float((np.abs(got - want).max(1) / scale).max()),
                  "f64": float((np.abs(got - g64).max(1) / scale).max()),
                  "elem": float((np.abs(got - want) / np.maximum(1.0, np.abs(want))).max()),
                  "skip": float(net.skip.weight.abs().max()) if net.skip is not None else 0.0}))
`

// TestDiTTwinOfTrainedRun trains a tiny DiT with the command line
// (paretodiff train --model dit on MNIST: both input skips, as auto gives
// them for ε), exports it (paretodiff export) and checks that the PyTorch
// twin predicts what the Go model predicts on fixed inputs, to 1e-5: the
// learned 784×784 skip included, which the committed fixture leaves out.
func TestDiTTwinOfTrainedRun(t *testing.T) {
	py := findPython(t)
	dir := filepath.Join(t.TempDir(), "dit")
	bin := paretodiff(t)
	for _, args := range [][]string{
		{"train", "--data", "mnist", "--model", "dit", "--patch", "7", "--width", "8", "--depth", "1", "--heads", "2",
			"--steps", "6", "--batch", "8", "--eval-size", "2", "--lr", "1e-2", "--warmup", "1", "--ema", "0.5", "--progress", "none", "--out", dir},
		{"export", "--checkpoint", dir},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "paretodiff %s: %s", args[0], out)
	}
	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, "dit", ck.Spec.Kind)
	require.True(t, ck.Spec.DiT.Skip)
	require.Equal(t, 0.5, ck.Spec.DiT.SigmaData)
	den, err := ck.Denoiser(nn.NewCPU(), true)
	require.NoError(t, err)
	const rows, D, T = 8, 784, 1000
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, rows*D)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	ts := []int{0, 1, 10, 100, 400, 700, 950, T - 1}
	pred := make([]float32, len(x))
	den.Predict(pred, x, ts)
	tf := make([]float64, rows)
	for i, v := range ts {
		tf[i] = float64(v)
	}
	dense := func(v []float32) *mat.Dense {
		m := mat.NewDense(rows, D, nil)
		for i, x := range v {
			m.Set(i/D, i%D, float64(x))
		}
		return m
	}
	files := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.MkdirAll(files, 0o755))
	xp, tp, pp := filepath.Join(files, "x.npy"), filepath.Join(files, "t.npy"), filepath.Join(files, "pred.npy")
	require.NoError(t, matio.WriteNPY(xp, dense(x)))
	require.NoError(t, matio.WriteVectorNPY(tp, tf))
	require.NoError(t, matio.WriteNPY(pp, dense(pred)))

	var got struct {
		Class                string
		Row, F64, Elem, Skip float64
	}
	require.NoError(t, json.Unmarshal([]byte(runPython(t, py, "-c", ditTwinScript, filepath.Join(dir, "model.safetensors"), xp, tp, pp)), &got))
	require.Equal(t, "DiTTwin", got.Class)
	require.Positive(t, got.Skip, "six steps moved the learned skip off zero: it is part of the comparison")
	// Measured against each row's scale: at t = 0 the learned skip's gain
	// b/σ_0 ≈ 64 multiplies float32 sums of 784 products, and the terms
	// of the output cancel, so an element can be off by 5e-5 of itself in
	// either model (the Go model's own distance to the float64 twin there
	// is 1.3e-4 of a prediction about 120, measured); the ResMLP fixtures'
	// elementwise measure holds where the gains are small.
	require.LessOrEqual(t, got.Row, twinTol, "the twin against the Go DiT")
	require.LessOrEqual(t, got.F64, twinTol, "float32 against float64 in the twin")
	t.Logf("DiT twin of a trained run: max |Δ| / row scale %.3g (float32 vs float64 twin %.3g), elementwise max |Δ|/max(1, |pred|) %.3g", got.Row, got.F64, got.Elem)
}

// twinTol is python/tests/test_twins.py's TWIN_TOL.
const twinTol = 1e-5
