package main

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// cliGramTol: the one-pass Gram of the CLI against its --gram reference,
// relative to √(G_kk·G_ll): the 1e-5 bar on the float32 backend.
const cliGramTol = 1e-5

// smallConflict are the flags of a fast toy conflict run.
var smallConflict = []string{"conflict", "--data", "toy:moons", "--width", "24", "--depth", "2", "--batch", "32",
	"--eval-size", "32", "--log-every", "10", "--seed", "4", "--bins", "t:4", "--per-bin", "4"}

func TestConflictTrainsAndProbes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append(append([]string(nil), smallConflict...), "--steps", "20", "--every", "10", "--lambda", "1e-3",
		"--progress", "lines", "--heatmap-steps", "0,20", "--out", dir)
	stdout, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "3 probe(s) of 4 bins")
	require.Contains(t, stderr, "probe step 10: ")
	require.Contains(t, stderr, "fw w=[")
	info, recs, err := conflict.ReadLog(filepath.Join(dir, "probes", "conflict"))
	require.NoError(t, err)
	require.Equal(t, []int{0, 250, 500, 750, 1000}, info.Edges)
	require.Equal(t, []string{"fw", "ugd"}, info.Methods)
	require.Len(t, recs, 3)
	for i, r := range recs {
		require.Equal(t, 10*i, r.Step)
		require.Len(t, r.Solutions, 2)
		require.Equal(t, 4, r.Gram.SymmetricDim())
	}
	_, stderr, code = runCLI(t, args...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "already holds a run")
	require.Contains(t, stdout, "# Methods on the probe at step 20")
	require.Contains(t, stdout, "| upgrad | aggregator |")
	require.Contains(t, stdout, "| min-snr:5 | closed-form |")
	for _, f := range []string{"cosine.png", "stats.png", "weights.png", "methods.md", "methods.csv", "spec.json", "checkpoint.bin", "metrics.jsonl", "done.json",
		"probes/conflict/gram/step-00000020.npy", "probes/conflict/cosine/step-00000000.npy"} {
		require.FileExists(t, filepath.Join(dir, f))
	}

	// The run resumes to more steps, with the probes of its spec, and the
	// figures are drawn from every probe.
	more := append(append([]string(nil), args...), "--resume", "--steps", "30")
	stdout, stderr, code = runCLI(t, more...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "4 probe(s) of 4 bins")
	_, stderr, code = runCLI(t, append(more, "--steps", "40", "--bins", "t:8")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "probe flags differ")
}

// Probing a checkpoint: the one-pass Gram equals the K-pass reference, and
// a parameter subset gives a smaller Gram.
func TestConflictCheckpoint(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, trainArgs(run, "--steps", "10", "--target", "x0")...)
	require.Equal(t, 0, code, stderr)
	gram := func(extra ...string) conflict.Record {
		out := t.TempDir()
		args := append([]string{"conflict", "--checkpoint", run, "--bins", "logsnr:4", "--per-bin", "6", "--out", out, "--figures", "none"}, extra...)
		stdout, stderr, code := runCLI(t, args...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "probe step 10:")
		_, recs, err := conflict.ReadLog(out)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		return recs[0]
	}
	fast, ref := gram(), gram("--gram", "reference")
	for k := 0; k < 4; k++ {
		for l := 0; l < 4; l++ {
			scale := math.Sqrt(ref.Gram.At(k, k) * ref.Gram.At(l, l))
			require.InDelta(t, ref.Gram.At(k, l), fast.Gram.At(k, l), cliGramTol*scale)
		}
	}
	head := gram("--params", "head", "--method", "none", "--ema-weights")
	require.Empty(t, head.Solutions)
	require.Less(t, head.Stats.Norms[0], fast.Stats.Norms[0])
}

// --gram-estimator split while training and on a checkpoint: the log
// names the estimator, every record has a PSD Gram, a signal fraction per
// bin and the projection's statistics, the progress lines print them, and
// the run resumes with the same flag (plain is another probe).
func TestConflictGramEstimatorSplit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append(append([]string(nil), smallConflict...), "--steps", "10", "--every", "10", "--gram-estimator", "split",
		"--progress", "lines", "--figures", "none", "--out", dir)
	_, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "; signal s=[")
	info, recs, err := conflict.ReadLog(filepath.Join(dir, "probes", "conflict"))
	require.NoError(t, err)
	require.Equal(t, "split", info.GramEstimator)
	require.Len(t, recs, 2)
	for _, r := range recs {
		require.Len(t, r.Signal, 4)
		require.NotNil(t, r.Projection)
		var e mat.EigenSym
		require.True(t, e.Factorize(r.Gram, false))
		require.GreaterOrEqual(t, e.Values(nil)[0], -1e-12*mat.Norm(r.Gram, 2), "the projected Gram is PSD")
		for _, s := range r.Signal {
			require.LessOrEqual(t, s, 1.0)
		}
	}
	_, stderr, code = runCLI(t, append(append([]string(nil), args...), "--resume", "--steps", "20")...)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runCLI(t, append(append([]string(nil), args...), "--resume", "--steps", "30", "--gram-estimator", "plain")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "probe flags differ")

	out := t.TempDir()
	_, stderr, code = runCLI(t, "conflict", "--checkpoint", dir, "--bins", "t:4", "--per-bin", "5", "--gram-estimator", "split", "--figures", "none", "--out", out)
	require.Equal(t, 0, code, stderr)
	info, recs, err = conflict.ReadLog(out)
	require.NoError(t, err)
	require.Equal(t, "split", info.GramEstimator)
	require.Len(t, recs[0].Signal, 4)
}

// --mtl-options set the aggregators' hyper-parameters of the probe's
// solves (kept in the log's info) and of the --compare table: CAGrad's
// weights are those of c = 5 solved on the logged Gram, not the default's.
func TestConflictMTLOptions(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, trainArgs(run, "--steps", "10", "--target", "x0")...)
	require.Equal(t, 0, code, stderr)
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "conflict", "--checkpoint", run, "--bins", "t:4", "--per-bin", "6", "--method", "cagrad",
		"--compare", "cagrad,upgrad", "--mtl-options", "c=5.0", "--figures", "none", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "Aggregator options: c=5 ")
	info, recs, err := conflict.ReadLog(out)
	require.NoError(t, err)
	require.Equal(t, "c=5", info.MTLOptions)
	rec := recs[0]
	solve := func(c float64) []float64 {
		sols, err := conflict.SolveConfig{Methods: []string{"cagrad"}, Options: mtl.Config{C: c}}.Solve(rec.Gram, rec.Losses)
		require.NoError(t, err)
		return sols[0].W
	}
	want, def := solve(5), solve(0)
	require.Greater(t, floats.Distance(want, def, math.Inf(1)), 1e-3, "c matters on this Gram")
	require.InDeltaSlice(t, want, rec.Solutions[0].W, 1e-12)
	rows := readCSV(t, filepath.Join(out, "methods.csv"))
	require.Equal(t, "cagrad", rows[1][0])
	for k, x := range want {
		v, err := strconv.ParseFloat(rows[1][9+k], 64)
		require.NoError(t, err)
		require.InDelta(t, x, v, 1e-12, "the table's w_%d", k)
	}

	_, stderr, code = runCLI(t, "conflict", "--checkpoint", run, "--mtl-options", "c=-1", "--figures", "none", "--out", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--mtl-options")
}

func TestConflictErrors(t *testing.T) {
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--bins", "t:0"}, "--bins"},
		{[]string{"--method", "newton"}, "unknown method"},
		{[]string{"--params", "block9.*"}, "matches no parameter"},
		{[]string{"--lambda", "-1"}, "λ must be"},
		{[]string{"--gram", "fast"}, "--gram"},
		{[]string{"--gram-estimator", "halves"}, "--gram-estimator"},
		{[]string{"--gram-estimator", "split", "--per-bin", "1"}, "--per-bin: the split estimator needs ≥ 2 examples per bin"},
		{[]string{"--every", "0"}, "--every"},
		{[]string{"--resume"}, "--resume: run:"},
		{[]string{"--figures", "gif"}, "--figures"},
		{[]string{"--compare", "upgrad,sgd"}, `--compare: conflict: unknown method "sgd"`},
		{[]string{"--checkpoint", filepath.Join(out, "none")}, "--checkpoint"},
	} {
		args := append(append(append([]string(nil), smallConflict...), "--steps", "2", "--progress", "none", "--out", filepath.Join(out, "x")), c.args...)
		_, stderr, code := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
	}
}

// train --weighting pareto:… trains with a stratified batch, stores the
// spec in the checkpoint, and resumes bit for bit (every=1).
func TestTrainParetoWeighting(t *testing.T) {
	base := t.TempDir()
	whole, part := filepath.Join(base, "whole"), filepath.Join(base, "part")
	w := "pareto:fw,bins=4,lambda=0.01"
	_, stderr, code := runCLI(t, trainArgs(whole, "--steps", "12", "--weighting", w)...)
	require.Equal(t, 0, code, stderr)
	ck, err := diffusion.LoadCheckpoint(filepath.Join(whole, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, "pareto:fw,lambda=0.01,bins=t:4,every=1,norm=none,tol=0.0001", ck.Config.Weighting, "the checkpoint stores the weighting trained")
	require.Equal(t, "stratified:4", ck.Config.Density)

	_, stderr, code = runCLI(t, trainArgs(part, "--steps", "6", "--weighting", w)...)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runCLI(t, "train", "--out", part, "--resume", "--steps", "12", "--weighting", "pareto:fw,lambda=0.01,bins=4", "--progress", "none")
	require.Equal(t, 0, code, stderr)
	resumed, err := diffusion.LoadCheckpoint(filepath.Join(part, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, ck.Params, resumed.Params)

	_, stderr, code = runCLI(t, "train", "--out", part, "--resume", "--steps", "14", "--weighting", "pareto:ugd,bins=4")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--weighting pareto:ugd,bins=4 differs from the run's pareto:fw,lambda=0.01,bins=t:4,every=1,norm=none,tol=0.0001")

	_, stderr, code = runCLI(t, trainArgs(filepath.Join(base, "bad"), "--steps", "2", "--weighting", "pareto:fw,every=0")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "every=0")
	require.NoFileExists(t, filepath.Join(base, "bad", "checkpoint.bin"))
}

// train --weighting mtl:… goes through the same machinery: the checkpoint
// stores the canonical spec, and a stateless aggregator resumes bit for
// bit.
func TestTrainMTLWeighting(t *testing.T) {
	base := t.TempDir()
	whole, part := filepath.Join(base, "whole"), filepath.Join(base, "part")
	w := "mtl:cagrad,bins=4,c=0.3"
	_, stderr, code := runCLI(t, trainArgs(whole, "--steps", "10", "--weighting", w)...)
	require.Equal(t, 0, code, stderr)
	ck, err := diffusion.LoadCheckpoint(filepath.Join(whole, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, "mtl:cagrad,bins=t:4,every=1,norm=none,c=0.3", ck.Config.Weighting)
	require.Equal(t, "stratified:4", ck.Config.Density)
	_, stderr, code = runCLI(t, trainArgs(part, "--steps", "5", "--weighting", w)...)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runCLI(t, "train", "--out", part, "--resume", "--steps", "10", "--weighting", w, "--progress", "none")
	require.Equal(t, 0, code, stderr)
	resumed, err := diffusion.LoadCheckpoint(filepath.Join(part, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, ck.Params, resumed.Params)

	_, stderr, code = runCLI(t, trainArgs(filepath.Join(base, "bad"), "--steps", "2", "--weighting", "mtl:sgd")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "name an aggregator")
}
