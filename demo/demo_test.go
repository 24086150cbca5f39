package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// demoSimplexTol: weights from the solvers and from BinWeights are
// normalised in float64, so they sum to 1 within a few roundings.
const demoSimplexTol = 1e-12

// demoOptTol: the Pareto solves stop at a relative duality gap of 1e-10
// (solvers' default), so no weighting may beat them by more than that.
const demoOptTol = 1e-9

// runSmokeDemo runs the demo at smoke size into a fresh folder and renders
// it there.
func runSmokeDemo(t *testing.T, seed uint64) (*Result, string) {
	t.Helper()
	dir := t.TempDir()
	sz, err := SizesFor(reproduce.Smoke)
	require.NoError(t, err)
	var log bytes.Buffer
	res, err := Run(context.Background(), &reproduce.Env{Scale: reproduce.Smoke, Out: dir, Seed: seed, Log: &log}, sz)
	require.NoError(t, err)
	require.Contains(t, log.String(), "demo: [4/5]")
	require.Contains(t, log.String(), "demo: probe at step 0:")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "Run writes the run folder only")
	require.Equal(t, ModelDir, entries[0].Name())
	require.NoError(t, res.Render(dir))
	return res, dir
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, path)
	return rows
}

func TestRenderWritesEveryFile(t *testing.T) {
	res, dir := runSmokeDemo(t, 1)
	for _, f := range []string{"report.md", "weights.png", "training.png", "pareto.png", "pareto.csv", "samples.png", "quality.csv",
		"model/spec.json", "model/checkpoint.bin", "model/metrics.jsonl", "model/done.json", "model/probes/conflict/probe.json",
		"model/probes/conflict/probes.jsonl", "conflict/cosine.png", "conflict/stats.png", "conflict/weights.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		require.Positive(t, st.Size(), f)
	}
	for _, f := range res.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, "listed file %s", f)
	}
	// Files lists everything Render wrote.
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		switch {
		case err != nil:
			return err
		case d.IsDir() && rel == ModelDir:
			return filepath.SkipDir
		case !d.IsDir():
			require.Contains(t, res.Files, filepath.ToSlash(rel))
		}
		return nil
	}))
	rows := readCSV(t, filepath.Join(dir, "pareto.csv"))
	require.Equal(t, []string{"weighting", "pareto", "lambda", "w_0-249", "w_250-499", "w_500-749", "w_750-999",
		"objective_lambda0", "objective_lambda", "ratio_lambda0", "ratio_lambda", "decreases_all", "worst_inner", "tv_to_fw_lambda"}, rows[0])
	require.Len(t, rows, 1+2+2+len(reproduce.PaperStrategies))

	// The probe log reads back with one record per probe: step 0 and every
	// ProbeEvery steps.
	_, recs, err := conflict.ReadLog(filepath.Join(dir, ModelDir, run.ProbesDir, ProbeName))
	require.NoError(t, err)
	sz := res.Sizes
	require.Len(t, recs, 1+sz.Model.Steps/sz.ProbeEvery)
	require.Equal(t, sz.Model.Steps, recs[len(recs)-1].Step)

	rep, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	for _, h := range []string{"## In short", "## 1. The weightings", "## 2. Training", "## 3. Gradient conflict", "## 4. Pareto weights",
		"## 5. Pareto weights against Min-SNR-5", "## 6. Samples", "## What this demo does not show", "](samples.png)"} {
		require.Contains(t, string(rep), h)
	}
}

// TestNumbers checks the comparison against independent references:
// λ from the last probe's Gram, the optimum against a brute-force search
// of the simplex, the weightings on the simplex, the objectives recomputed
// from G.
func TestNumbers(t *testing.T) {
	res, _ := runSmokeDemo(t, 3)
	g := res.Final().Gram
	K := g.SymmetricDim()
	tr := 0.0
	for k := 0; k < K; k++ {
		tr += g.At(k, k)
	}
	require.InDelta(t, res.Sizes.Lambda*tr/float64(K), res.Lambda, 1e-15*tr)
	obj := func(w []float64, lambda float64) float64 {
		f := 0.0
		for i := range w {
			f += lambda * w[i] * w[i]
			for j := range w {
				f += w[i] * g.At(i, j) * w[j]
			}
		}
		return f
	}
	// Brute force: every point of a grid of step 1/40 on the simplex.
	const n = 40
	best0, bestL := math.Inf(1), math.Inf(1)
	var walk func(w []float64, k, left int)
	walk = func(w []float64, k, left int) {
		if k == K-1 {
			w[k] = float64(left) / n
			best0, bestL = math.Min(best0, obj(w, 0)), math.Min(bestL, obj(w, res.Lambda))
			return
		}
		for i := 0; i <= left; i++ {
			w[k] = float64(i) / n
			walk(w, k+1, left-i)
		}
	}
	walk(make([]float64, K), 0, n)

	require.Len(t, res.Weightings, 2+2+len(reproduce.PaperStrategies))
	for _, w := range res.Weightings {
		sum := 0.0
		for _, v := range w.W {
			require.GreaterOrEqual(t, v, 0.0, w.Name)
			sum += v
		}
		require.InDelta(t, 1, sum, demoSimplexTol, w.Name)
		require.InDelta(t, obj(w.W, 0), w.F0, 1e-12*w.F0, w.Name)
		require.InDelta(t, obj(w.W, res.Lambda), w.FL, 1e-12*w.FL, w.Name)
		require.GreaterOrEqual(t, w.Ratio0, 1-demoOptTol, w.Name)
		require.GreaterOrEqual(t, w.RatioL, 1-demoOptTol, w.Name)
		if w.Pareto && w.Lambda == 0 {
			require.LessOrEqual(t, w.F0, best0*(1+demoOptTol), "%s beats no grid point", w.Name)
			require.True(t, w.Descent.DecreasesAll, "Theorem 1: the min-norm step lowers every bin (%s)", w.Name)
		}
		if w.Pareto && w.Lambda > 0 {
			require.LessOrEqual(t, w.FL, bestL*(1+demoOptTol), "%s beats no grid point", w.Name)
			require.InDelta(t, res.Lambda, w.Lambda, 0)
		}
	}
	require.Zero(t, res.Weighting("fw"+lambdaSuffix).TV, "the reference is at distance 0 from itself")
	c := res.Weighting("constant")
	for _, v := range c.W {
		require.InDelta(t, 1/float64(K), v, demoSimplexTol, "constant weights equal-width bins equally")
	}
	require.Len(t, res.Quality.Trained, res.Sizes.Model.Repeats)
	require.Positive(t, res.Quality.Floor)
}

// TestIsDeterministic: the same seed gives the same numbers (the
// files without wall times).
func TestIsDeterministic(t *testing.T) {
	_, a := runSmokeDemo(t, 2)
	_, b := runSmokeDemo(t, 2)
	for _, f := range []string{"pareto.csv", "quality.csv", "model/probes/conflict/gram/" + conflict.MatrixName(60)} {
		x, err := os.ReadFile(filepath.Join(a, f))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, f))
		require.NoError(t, err)
		require.Equal(t, x, y, f)
	}
}

// TestReportFollowsTheNumbers changes measured numbers and checks
// that the report's words change with them: nothing in it is written
// before the measurement.
func TestReportFollowsTheNumbers(t *testing.T) {
	res, _ := runSmokeDemo(t, 1)
	f := &res.Probes[len(res.Probes)-1]
	K := res.Bins.K()

	f.Stats.NegativeFraction = 0
	md := res.Markdown()
	require.Contains(t, md, "0 of the 6 bin pairs (0%) have a negative cosine")

	res.Quality.Trained = []float64{res.Quality.Floor * 1.1}
	require.Contains(t, res.Markdown(), "at 1.1× the floor the samples are about as close to the data as real points are")
	res.Quality.Trained = []float64{res.Quality.Floor * 5}
	require.Contains(t, res.Markdown(), "at 5× the floor the samples are still far from the data")

	// Make min-SNR-5 the best closed form on both objectives and the
	// closest to the Pareto weights, then the worst.
	m := res.Weighting("min-snr:5")
	m.Ratio0, m.RatioL, m.TV = 1.0001, 1.0001, 0.001
	md = res.Markdown()
	require.Contains(t, md, "it is 1× the optimum, the best of the 4 closed forms (next:")
	require.Contains(t, md, "it is the closest of the 4 closed forms (distance 0.001)")
	m.Ratio0, m.RatioL, m.TV = 1e6, 1e6, 0.999
	md = res.Markdown()
	require.Contains(t, md, "1e+06× the optimum, 4th of the 4 closed forms (best:")
	require.Contains(t, md, "the 4th closest of 4 (distance 0.999")

	m.Descent.DecreasesAll, m.Descent.Task = false, K-1
	require.Contains(t, res.Markdown(), "Its step raises the loss of timesteps 750–999 to first order")
	m.Descent.DecreasesAll = true
	require.Contains(t, res.Markdown(), "Its step lowers every bin's loss to first order")

	// x0-MSE by range: rising with noise or not.
	last := res.Records[len(res.Records)-1]
	for i := range res.RangeLabels {
		last.X0MSE[i] = float64(len(res.RangeLabels) - i)
	}
	require.Contains(t, res.Markdown(), "The error does not grow steadily with the noise level here")
	for i := range res.RangeLabels {
		last.X0MSE[i] = 0.01 * float64(i+1)
	}
	require.Contains(t, res.Markdown(), "The error grows with the noise level")
	require.Contains(t, res.Markdown(), "the model still recovers much of x0 from x_t there")
	require.False(t, strings.Contains(res.Markdown(), "NaN"), "no undefined number in the report")
}

func TestSizes(t *testing.T) {
	for _, s := range []reproduce.Scale{reproduce.Smoke, reproduce.Quick} {
		sz, err := SizesFor(s)
		require.NoError(t, err)
		require.NoError(t, sz.validate())
		require.Zero(t, sz.Model.Steps%sz.Model.EvalEvery)
	}
	_, err := SizesFor(reproduce.Paper)
	require.Error(t, err)
	sz, _ := SizesFor(reproduce.Smoke)
	bad := []func(*Sizes){
		func(d *Sizes) { d.Model.Data = "mnist" },
		func(d *Sizes) { d.Bins = 1 },
		func(d *Sizes) { d.ProbeEvery = 7 },
		func(d *Sizes) { d.Lambda = 0 },
	}
	for i, f := range bad {
		d := sz
		f(&d)
		_, err := Run(context.Background(), &reproduce.Env{Scale: reproduce.Smoke, Out: t.TempDir(), Seed: 1}, d)
		require.Error(t, err, "case %d", i)
	}
}

// TestRenderReadsOnlyTheResult renders one result into a second, empty
// folder: the same CSVs and the same report.
func TestRenderReadsOnlyTheResult(t *testing.T) {
	res, a := runSmokeDemo(t, 4)
	b := t.TempDir()
	require.NoError(t, res.Render(b))
	for _, f := range []string{"pareto.csv", "quality.csv", ReportFile} {
		x, err := os.ReadFile(filepath.Join(a, f))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, f))
		require.NoError(t, err)
		require.Equal(t, string(x), string(y), f)
	}
}
