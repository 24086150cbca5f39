package reproduce

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
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

// conflict's verdict: every probe after step 0 is a case, decided by its
// slope against ±2 standard errors.
func TestConflictVerdictFollowsTheSlopes(t *testing.T) {
	stats := func(slopes ...float64) []ConflictStats {
		var sts []ConflictStats
		for i, s := range slopes {
			sts = append(sts, ConflictStats{Step: 10 * i, Slope: s, SlopeSE: 0.01, ByDistance: []float64{1, 0.5, 0.2, 0.3}, ByDistanceSE: make([]float64, 4)})
		}
		return sts
	}
	r := &ConflictResult{Scale: Smoke, Probes: ProbeSizesFor(Smoke), Run: &ProbeRun{Info: conflict.Info{Edges: []int{0, 10, 20, 30, 40}}},
		HeatmapSteps: []int{0, 10, 20}, Stats: stats(0.5, -0.1, -0.03)}
	f := r.distanceFinding()
	require.Equal(t, Agrees, f.Verdict, "step 0's rising slope does not count")
	require.Contains(t, f.Measured, "beyond noise at 2 of 2 probes")
	require.Contains(t, f.Measured, "lowest 2 bins apart (+0.20)")
	r.Stats = stats(0, -0.1, 0.01)
	require.Equal(t, Partly, r.distanceFinding().Verdict)
	r.Stats = stats(0, 0.1, 0.01)
	require.Equal(t, Disagrees, r.distanceFinding().Verdict)
	r.Stats = stats(0, 0.01, -0.01)
	require.Equal(t, Inconclusive, r.distanceFinding().Verdict)
}
