package reproduce

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// The split targets compute without writing into their folder, and their
// results render the files of `reproduce NAME` byte for byte (the smoke
// run's, from the same models).
func TestComputeThenRender(t *testing.T) {
	dir, err := smokeRun()
	require.NoError(t, err)
	env := &Env{Scale: Smoke, Out: t.TempDir(), Models: filepath.Join(dir, "models"), Seed: 1}
	for _, name := range []string{"fig5", "fig6", "table2", "conflict"} {
		t.Run(name, func(t *testing.T) {
			tg, _ := Lookup(name)
			res, err := tg.Compute(context.Background(), env)
			require.NoError(t, err)
			entries, _ := os.ReadDir(env.Out)
			for _, e := range entries {
				require.Equal(t, "models", e.Name(), "compute writes only the model cache")
			}
			out := t.TempDir()
			r, err := res.Render(out)
			require.NoError(t, err)
			var files []string
			for f := range wantFiles[name] {
				files = append(files, f)
			}
			require.ElementsMatch(t, files, r.Files)
			for _, f := range r.Files {
				a, err := os.ReadFile(filepath.Join(dir, name, f))
				require.NoError(t, err)
				b, err := os.ReadFile(filepath.Join(out, f))
				require.NoError(t, err)
				require.Equal(t, a, b, "%s/%s", name, f)
			}
		})
	}
}

// handGrid is a grid of hand-made models: model(target, strategy) gives
// each one's quality curve (at steps 10, 20, …) and final qualities, and
// its x0-MSE by range is curve[i]·(k+1) in range k.
func handGrid(targets, strategies []string, model func(target, strategy string) (curve, final []float64)) *ModelGrid {
	sizes := ModelSizesFor(Smoke)
	g := &ModelGrid{Sizes: sizes, Targets: targets, Strategies: strategies, Seeds: []uint64{1}, models: map[[3]string]*TrainedModel{}}
	for _, tg := range targets {
		for _, st := range strategies {
			curve, final := model(tg, st)
			m := &TrainedModel{Final: final, Metric: "SWD", Floor: 0.01}
			for i, v := range curve {
				x0 := make([]float64, len(Fig6Labels(sizes.T)))
				for k := range x0 {
					x0[k] = v * float64(k+1)
				}
				m.Quality = append(m.Quality, QualityPoint{Step: 10 * (i + 1), Value: v})
				m.Records = append(m.Records, run.Record{Metrics: diffusion.Metrics{Step: 10 * (i + 1), X0MSE: x0}})
			}
			g.models[[3]string{tg, st, "1"}] = m
		}
	}
	return g
}

// A hand-made fig5 result renders every file, and its verdicts follow its
// numbers.
func TestFig5RenderFollowsTheNumbers(t *testing.T) {
	targets := []string{"eps", "v"}
	g := handGrid(targets, PaperStrategies, func(string, string) ([]float64, []float64) {
		return []float64{0.5, 0.3, 0.2}, []float64{0.2, 0.22}
	})
	samples := &GridSamples{Rows: targets, Cols: PaperStrategies, Reference: make([]float32, 16), Range: 1}
	for range len(targets) * len(PaperStrategies) {
		samples.X = append(samples.X, make([]float32, 8))
		samples.Titles = append(samples.Titles, "model")
	}
	fast := SpeedUp{Threshold: 0.2, BaseSteps: 30, Steps: 10, Ratio: 3}
	slow := SpeedUp{Threshold: 0.2, BaseSteps: 30, Steps: 30 + float64(g.Sizes.EvalEvery) + 10, Ratio: 0.5}
	never := SpeedUp{Threshold: 0.2, BaseSteps: 30, Steps: 0, Ratio: 0.9, Bound: "<"}
	r := &Fig5Result{Scale: Smoke, Sizes: g.Sizes, Grid: g, Samples: samples,
		SpeedUps:   [][]SpeedUp{{fast, fast, fast}, {fast, slow, fast}},
		SeedRatios: [][][]float64{{{3}, {3}, {3}}, {{3}, {0.5}, {3}}},
		// min-SNR-5 (last) ends best for eps, worse beyond noise for v.
		Final: [][]FinalStats{{{0.3, 0.01, 0.01}, {0.3, 0.01, 0.01}, {0.3, 0.01, 0.01}, {0.2, 0.01, 0.01}},
			{{0.2, 0.01, 0.01}, {0.3, 0.01, 0.01}, {0.3, 0.01, 0.01}, {0.3, 0.01, 0.01}}},
	}
	dir := t.TempDir()
	rep, err := r.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"quality.csv", "final.csv", "quality.png", "samples.png", "speedups.csv"}, rep.Files)
	for _, f := range rep.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	rows := readCSV(t, filepath.Join(dir, "speedups.csv"))
	require.Equal(t, []string{"v", "snr", "0.2", "30", fmt.Sprint(slow.Steps), "0.5", ""}, rows[5])
	require.Equal(t, Partly, rep.Findings[0].Verdict, "eps fastest, v not")
	require.Contains(t, rep.Findings[0].Measured, "v: 3× over constant, 0.5× over snr, 3× over max-snr:1 → not fastest")
	require.Contains(t, rep.Findings[0].Measured, "eps: 3× over constant, 3× over snr, 3× over max-snr:1 → fastest")
	require.Equal(t, Partly, rep.Findings[1].Verdict, "eps best, v worse beyond noise")
	require.Contains(t, rep.Findings[1].Measured, "eps: min-SNR-5 0.2000 ± 0.0100, best other constant 0.3000 ± 0.0100 (min-SNR-5 is best)")
	require.Contains(t, rep.Findings[1].Measured, "v: min-SNR-5 0.3000 ± 0.0100, best other constant 0.2000 ± 0.0100 (worse beyond noise)")

	r.SpeedUps[1] = []SpeedUp{never, never, never}
	r.Final[1][3].Mean = 0.21 // within twice the combined sd of the best other's 0.2
	rep, err = r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Partly, rep.Findings[0].Verdict)
	require.Contains(t, rep.Findings[0].Measured, "< 0.9× over snr")
	require.Equal(t, Partly, rep.Findings[1].Verdict)
	require.Contains(t, rep.Findings[1].Measured, "worse, within noise")
	r.SpeedUps[0] = r.SpeedUps[1]
	r.Final[0][3].Mean = 0.305
	rep, err = r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, rep.Findings[0].Verdict, "never reached anywhere")
	require.Equal(t, Inconclusive, rep.Findings[1].Verdict, "worse within noise everywhere")
}

// A hand-made fig6 result: min-SNR-5's worst excess against the most
// balanced other strategy decides, within twice its standard error.
func TestFig6RenderFollowsTheNumbers(t *testing.T) {
	g := handGrid([]string{"v"}, PaperStrategies, func(string, string) ([]float64, []float64) {
		return []float64{1, 0.5, 0.4, 0.3}, []float64{0.1}
	})
	// Strategies (constant, snr, max-snr:1, min-snr:5) × ranges.
	vals := [][]float64{{1, 2, 1, 1}, {2, 1, 1, 1}, {1.5, 1.5, 1, 1}, {1.1, 1.1, 1.1, 1.1}}
	rse := func(x float64) [][]float64 {
		out := make([][]float64, 4)
		for i := range out {
			out[i] = []float64{x, x, x, x}
		}
		return out
	}
	r := &Fig6Result{Scale: Smoke, Sizes: g.Sizes, Grid: g, Labels: Fig6Labels(g.Sizes.T), Final: [][][]float64{vals}, FinalRSE: [][][]float64{rse(0.001)}}
	dir := t.TempDir()
	rep, err := r.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"x0mse.csv", "x0mse.png", "final_x0mse.csv"}, rep.Files)
	require.Equal(t, Agrees, rep.Findings[0].Verdict, "10% worst excess against max-snr:1's 50%")
	require.Contains(t, rep.Findings[0].Measured, "most balanced other strategy (max-snr:1) 50.0%")
	rows := readCSV(t, filepath.Join(dir, "final_x0mse.csv"))
	require.Equal(t, []string{"v", "min-snr:5", "1.1", "1.1", "1.1", "1.1", "0.10000000000000009"}, rows[4])

	r.Final[0][3] = []float64{1.6, 1.6, 1.6, 1.6}
	rep, err = r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, rep.Findings[0].Verdict, "60% against 50%")
	r.FinalRSE[0] = rse(0.1)
	rep, err = r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Inconclusive, rep.Findings[0].Verdict, "the same 10 points within noise of 10% errors")
}

// A hand-made table2 result: γ = 5 best, within noise of the best, or
// worse beyond noise.
func TestTable2RenderFollowsTheNumbers(t *testing.T) {
	var specs []string
	for _, gm := range Table2Gammas {
		specs = append(specs, GammaSpec(gm))
	}
	finals := map[string][]float64{ // by target, by γ
		"eps": {0.3, 0.2, 0.25, 0.3},
		"x0":  {0.2, 0.21, 0.25, 0.3},
		"v":   {0.1, 0.3, 0.25, 0.3},
	}
	g := handGrid(PaperTargets, specs, func(tg, st string) ([]float64, []float64) {
		m := finals[tg][slices.Index(specs, st)]
		return []float64{1, m}, []float64{m - 0.005, m + 0.005}
	})
	r := &Table2Result{Scale: Smoke, Sizes: g.Sizes, Grid: g, Gammas: Table2Gammas}
	for _, tg := range g.Targets {
		var row []FinalStats
		for _, s := range specs {
			row = append(row, finalStats(g, tg, s))
		}
		r.Final = append(r.Final, row)
	}
	dir := t.TempDir()
	rep, err := r.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"table2.csv", "table2.png"}, rep.Files)
	require.Equal(t, Partly, rep.Findings[0].Verdict)
	require.Contains(t, rep.Findings[0].Measured, "eps: best γ = 5 (0.2000), γ = 5 0.2000 ± 0.0071 (best)")
	require.Contains(t, rep.Findings[0].Measured, "x0: best γ = 1 (0.2000), γ = 5 0.2100 ± 0.0071 (worse, within noise)")
	require.Contains(t, rep.Findings[0].Measured, "v: best γ = 1 (0.1000), γ = 5 0.3000 ± 0.0071 (worse beyond noise)")
	require.NotContains(t, rep.Findings[0].Measured, "best for every target")
	rows := readCSV(t, filepath.Join(dir, "table2.csv"))
	require.Equal(t, []string{"target", "gamma", "mean", "sd", "n"}, rows[0])
	require.Equal(t, "5", rows[2][1])
	require.Equal(t, fmt.Sprint(g.Sizes.Repeats), rows[2][4])

	for i := range r.Final {
		r.Final[i][1].Mean = 0.01
	}
	rep, err = r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Agrees, rep.Findings[0].Verdict)
	require.Contains(t, rep.Findings[0].Measured, "γ = 5 is best for every target")
}

// conflictRecord is a probe of 4 bins whose unit gradients lie at angles
// k·φ in a plane: the cosine of bins d apart is cos(dφ).
func conflictRecord(step int, phi float64) conflict.Record {
	var rows [][]float64
	for k := range 4 {
		rows = append(rows, []float64{math.Cos(float64(k) * phi), math.Sin(float64(k) * phi)})
	}
	g := gram.FromRows(rows)
	return conflict.Record{Step: step, Gram: g, Cosine: gram.Cosine(g), Stats: conflict.Summarize(g)}
}

// conflictMade is a hand-made conflict result: every training weighting
// of ProbedStrategies, one seed, 3 draws, probes at steps 0, 10 and 20 and
// one sensitivity binning at the last step; phi(a, step) is the angle step
// of model a (1% larger on each further draw).
func conflictMade(phi func(a, step int) float64) *ConflictResult {
	ms := ModelSizesFor(Smoke)
	ps := ms.Probes
	ps.Binnings = ps.Binnings[:1]
	r := &ConflictResult{Scale: Smoke, Sizes: ms, Probes: ps, Trained: ProbedStrategies, Seeds: []uint64{1}, Strategies: PaperStrategies,
		Closed:   [][]float64{{0.25, 0.25, 0.25, 0.25}, {0.7, 0.1, 0.1, 0.1}, {0.55, 0.15, 0.15, 0.15}, {0.4, 0.3, 0.2, 0.1}},
		Schedule: diffusion.Cosine(1000), HeatmapSteps: []int{0, 10, 20}}
	info := conflict.Info{Edges: []int{0, 250, 500, 750, 1000}, Labels: []string{"0-249", "250-499", "500-749", "750-999"}, PerBin: 8}
	for a, tr := range r.Trained {
		p := &ProbeRun{Info: info}
		for d := range 3 {
			var recs []conflict.Record
			for _, step := range []int{0, 10, 20} {
				recs = append(recs, conflictRecord(step, phi(a, step)*(1+0.01*float64(d))))
			}
			p.Draws = append(p.Draws, recs)
		}
		b := BinningProbes{Spec: ps.Binnings[0], Info: info}
		for d := range 3 {
			b.Draws = append(b.Draws, []conflict.Record{conflictRecord(0, 0.3), conflictRecord(20, 0.3*(1+0.01*float64(d)))})
		}
		p.Binnings = []BinningProbes{b}
		m := ConflictModel{Trained: tr, Seed: 1, Run: p}
		for i := range p.Steps() {
			m.Stats = append(m.Stats, SummarizeConflict(p.At(i)))
		}
		r.Models = append(r.Models, []ConflictModel{m})
	}
	return r
}

// conflict's verdicts: the primary test is the slope at the last probe on
// every training weighting's models; the cancellation finding compares
// each closed form's own cancellation with the others'.
func TestConflictVerdictFollowsTheSlopes(t *testing.T) {
	// Angles 0.3 apart: the cosine falls with distance (cos 0.3d).
	r := conflictMade(func(int, int) float64 { return 0.3 })
	dir := t.TempDir()
	rep, err := r.Render(dir)
	require.NoError(t, err)
	for _, f := range []string{"cosine.png", "stats.png", "pairs.csv", "summary.csv", "by_distance.csv", "cancellation.csv", "sensitivity.csv", "distance.png", "cross.png"} {
		require.Contains(t, rep.Files, f)
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	require.Equal(t, Agrees, rep.Findings[0].Verdict)
	require.Equal(t, RolePrimary, rep.Findings[0].Role)
	require.Equal(t, Agrees, rep.Overall())
	require.Contains(t, rep.Findings[0].Measured, "on the models of 6 of 6 training weightings")
	require.Contains(t, rep.Findings[0].Measured, fmt.Sprintf("constant %+.2f one bin apart", (math.Cos(0.3)+math.Cos(0.303)+math.Cos(0.306))/3))
	require.Contains(t, rep.Markdown(), "| t:4 | 4 | 8 | 6 / 0 / 0 | agrees |")
	require.Len(t, readCSV(t, filepath.Join(dir, "pairs.csv")), 1+len(ProbedStrategies)*3*3*6)

	// Angles 2π/3 apart: cosines −0.5, −0.5, +1 by distance, the slope
	// rises; for one training weighting only, the verdict is partly.
	rising := func(a, step int) float64 {
		if a == 2 && step > 0 {
			return 2 * math.Pi / 3
		}
		return 0.3
	}
	rep, err = conflictMade(rising).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Partly, rep.Findings[0].Verdict)
	require.Contains(t, rep.Findings[0].Measured, "rises beyond noise on 1")
	require.Contains(t, rep.Findings[0].Measured, "max-snr:1 +")
	require.Equal(t, Partly, rep.Findings[1].Verdict, "throughout training: 2 of 12 cases rise")
	rep, err = conflictMade(func(_, step int) float64 {
		if step > 0 {
			return 2 * math.Pi / 3
		}
		return 0.3
	}).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, rep.Findings[0].Verdict)
	require.Equal(t, Disagrees, rep.Overall(), "the primary test decides")
}

// cancellation is log(wᵀGw / Σ w_k² G_kk): 0 for orthogonal gradients,
// log 2 for two equal ones, −∞ for two opposite ones.
func TestCancellation(t *testing.T) {
	rec := func(rows [][]float64) conflict.Record { return conflict.Record{Gram: gram.FromRows(rows)} }
	w := []float64{0.5, 0.5}
	require.InDelta(t, 0, cancellation(rec([][]float64{{1, 0}, {0, 1}}), w), exactTol)
	require.InDelta(t, math.Log(2), cancellation(rec([][]float64{{1, 0}, {1, 0}}), w), exactTol)
	require.True(t, math.IsInf(cancellation(rec([][]float64{{1, 0}, {-1, 0}}), w), -1))
	// (1, 0) and (0.6, 0.8) with weights 0.5: ‖(0.8, 0.4)‖² = 0.8 over 0.5.
	require.InDelta(t, math.Log(1.6), cancellation(rec([][]float64{{1, 0}, {0.6, 0.8}}), w), exactTol)
}
