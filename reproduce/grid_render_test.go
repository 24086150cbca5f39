package reproduce

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// handModel is what a hand-made model records: its quality at steps 10,
// 20, … and its x0-MSE in each Fig. 6 range (the same at every record),
// and its final sample sets' qualities.
type handModel struct {
	curve []float64
	x0    []float64
	final []float64
}

// handGrid is a grid of hand-made models with the smoke sizes and the
// given seeds per target: model(target, strategy, n) describes the model
// of the target's n-th seed.
func handGrid(targets, strategies []string, seeds map[string]int, model func(target, strategy string, n int) handModel) *ModelGrid {
	sizes := ModelSizesFor(Smoke)
	g := &ModelGrid{Sizes: sizes, Targets: targets, Strategies: strategies, seeds: map[string][]uint64{}, models: map[[3]string]*TrainedModel{}}
	for _, tg := range targets {
		for n := range seeds[tg] {
			g.seeds[tg] = append(g.seeds[tg], uint64(n+1))
		}
		for _, st := range strategies {
			for n, sd := range g.seeds[tg] {
				h := model(tg, st, n)
				m := &TrainedModel{Final: h.final, Metric: "SWD", Floor: 0.01}
				for i, v := range h.curve {
					m.Quality = append(m.Quality, QualityPoint{Step: 10 * (i + 1), Value: v})
					m.Records = append(m.Records, run.Record{Metrics: diffusion.Metrics{Step: 10 * (i + 1), X0MSE: h.x0}})
				}
				g.models[[3]string{tg, st, fmt.Sprint(sd)}] = m
			}
		}
	}
	return g
}

// linear is the curve 1 − rate·s at steps s = 10, 20, …, 100, shifted by
// off.
func linear(rate, off float64) []float64 {
	var v []float64
	for s := 10; s <= 100; s += 10 {
		v = append(v, 1-rate*float64(s)+off)
	}
	return v
}

// seedNoise is a fixed, zero-mean offset per seed (five seeds).
var seedNoise = []float64{0.002, -0.001, 0.0005, -0.002, 0.0005}

// fig5Hand is a grid in which min-SNR-5 improves at minRate per step and
// the baselines at 0.004 (constant) and 0.002 (snr, max-snr:1), each seed
// offset by noise·seedNoise, ending at the last curve value (two sample
// sets around it).
func fig5Hand(minRate, noise float64) *ModelGrid {
	return handGrid([]string{"eps", "x0"}, PaperStrategies, map[string]int{"eps": 2, "x0": 5}, func(_, st string, n int) handModel {
		rate := map[string]float64{"constant": 0.004, "snr": 0.002, "max-snr:1": 0.002, "min-snr:5": minRate}[st]
		c := linear(rate, noise*seedNoise[n])
		last := c[len(c)-1]
		return handModel{curve: c, x0: []float64{1, 1, 1, 1}, final: []float64{last - 0.001, last + 0.001}}
	})
}

// The primary test of fig5 against a reference worked out by hand: on
// straight quality curves (which the 3-point smoothing leaves unchanged
// inside the curve), the best baseline at 75% of training is constant
// (1 − 0.004·s is 0.68 at step 80, the first evaluation after step 75);
// min-SNR-5 at 1 − 0.008·s reaches 0.68 at step 40: speed-up 80/40 = 2.
func TestFig5PrimaryTest(t *testing.T) {
	g := fig5Hand(0.008, 1)
	g.Sizes.Steps = 100
	r := fig5Of(g, nil, Smoke, 1)
	p := r.Primary
	require.Equal(t, "x0", p.Target)
	require.Equal(t, "constant", p.Baseline)
	require.Equal(t, 75.0, p.At)
	const tol = 1e-12
	require.InDelta(t, 0.68, p.SpeedUp.Threshold, tol)
	require.Equal(t, 80.0, p.SpeedUp.BaseSteps)
	require.Equal(t, 40.0, p.SpeedUp.Steps)
	require.Equal(t, 2.0, p.Ratio.Value)
	require.True(t, p.Ratio.Lo > 1, "seed noise of a few thousandths cannot move a 2× speed-up below 1: %v", p.Ratio)
	f := r.primaryFinding("SWD")
	require.Equal(t, Agrees, f.Verdict)

	// Slower than the best baseline: the interval lies below 1.
	g = fig5Hand(0.002, 1)
	g.Sizes.Steps = 100
	require.Equal(t, Disagrees, fig5Of(g, nil, Smoke, 1).primaryFinding("SWD").Verdict)

	// As fast as it, with seed offsets large against the curves' slope:
	// the interval straddles 1.
	g = handGrid([]string{"x0"}, PaperStrategies, map[string]int{"x0": 5}, func(_, st string, n int) handModel {
		off := []float64{0.15, -0.15, 0.09, -0.12, 0.03}[n]
		if st != "min-snr:5" {
			off = 0
		}
		c := linear(0.004, off)
		return handModel{curve: c, x0: []float64{1, 1, 1, 1}, final: []float64{c[9], c[9]}}
	})
	g.Sizes.Steps = 100
	r = fig5Of(g, nil, Smoke, 1)
	require.True(t, r.Primary.Ratio.Lo < 1 && r.Primary.Ratio.Hi > 1, "%v", r.Primary.Ratio)
	require.Equal(t, Inconclusive, r.primaryFinding("SWD").Verdict)
}

// fig5's files and secondary findings from a hand-made grid: the primary
// row of speedups.csv, the final-quality comparison paired by seed.
func TestFig5RenderFollowsTheNumbers(t *testing.T) {
	g := fig5Hand(0.008, 1)
	g.Sizes.Steps = 100
	samples := &GridSamples{Rows: g.Targets, Cols: PaperStrategies, Reference: make([]float32, 16), Range: 1}
	for range len(g.Targets) * len(PaperStrategies) {
		samples.X = append(samples.X, make([]float32, 8))
		samples.Titles = append(samples.Titles, "model")
	}
	r := fig5Of(g, samples, Smoke, 1)
	dir := t.TempDir()
	rep, err := r.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"quality.csv", "final.csv", "quality.png", "samples.png", "speedups.csv"}, rep.Files)
	for _, f := range rep.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	rows := readCSV(t, filepath.Join(dir, "speedups.csv"))
	require.Equal(t, []string{"primary", "x0", "constant", "75"}, rows[1][:4])
	require.Equal(t, "2", rows[1][7])
	require.Equal(t, Agrees, rep.Overall(), "the overall verdict is the primary test's")
	md := rep.Markdown()
	require.Contains(t, md, "## Primary test (declared in the code before measuring)")
	require.Less(t, strings.Index(md, "bootstrap interval over the 5 training seeds"), strings.Index(md, "## Sizes at this scale"), "the test is declared before the sizes and the numbers")
	require.Contains(t, md, "**Primary test.** **Claim:**")
	require.Contains(t, md, "*Secondary.* **Claim:**")
	// min-SNR-5 ends at 1 − 0.8 = 0.2 on x0, constant at 0.6: better by
	// 0.4 with the same seed offsets, so the paired standard error is 0.
	c := r.FinalDiff[1]
	require.Equal(t, "constant", c.Best)
	require.InDelta(t, -0.4, c.Diff, 1e-12)
	require.InDelta(t, 0, c.SE, 1e-12)
	require.Equal(t, Agrees, r.finalFinding("SWD").Verdict)
}

// fig6Offset is the offset of strategy s's seed n in fig6Hand: the seed
// noise rotated by the strategy, so that strategies are not offset alike
// (and each strategy's offsets over five seeds still sum to zero).
func fig6Offset(noise float64, s, n int) float64 { return noise * seedNoise[(n+s)%len(seedNoise)] }

// fig6Hand is a grid of x0-MSEs by range: vals[strategy] on every target,
// seed n of strategy s offset by fig6Offset in every range.
func fig6Hand(vals map[string][]float64, noise float64) *ModelGrid {
	return handGrid([]string{"eps", "x0"}, PaperStrategies, map[string]int{"eps": 2, "x0": 5}, func(_, st string, n int) handModel {
		x0 := slices.Clone(vals[st])
		for k := range x0 {
			x0[k] += fig6Offset(noise, slices.Index(PaperStrategies, st), n)
		}
		return handModel{curve: linear(0.001, 0), x0: x0, final: []float64{0.5}}
	})
}

// fig6's primary test and crossover from hand-made x0-MSEs.
func TestFig6Findings(t *testing.T) {
	vals := map[string][]float64{ // ranges [0,100) … [800,900)
		"constant":  {2.0, 1.5, 1.0, 1.00},
		"snr":       {1.0, 1.0, 1.2, 1.50},
		"max-snr:1": {1.1, 1.1, 1.1, 1.20},
		"min-snr:5": {1.2, 1.0, 1.0, 1.05},
	}
	r := fig6Of(fig6Hand(vals, 1), Smoke)
	f := r.primaryFinding()
	require.Equal(t, Disagrees, f.Verdict, "best only in [200,300) and [600,700): 2 of 4")
	require.Contains(t, f.Measured, "best or within noise in 2 of 4 ranges")
	require.Equal(t, Agrees, r.crossoverFinding().Verdict, "constant lower at [800,900), higher at [0,100)")

	vals["min-snr:5"] = []float64{1.0, 1.0, 1.0, 1.05}
	r = fig6Of(fig6Hand(vals, 1), Smoke)
	require.Equal(t, Agrees, r.primaryFinding().Verdict, "best in 3 of 4")

	// Seed noise large against 5%: within noise in 3 of the ranges, 20%
	// at [0,100) still beyond it.
	vals["min-snr:5"] = []float64{1.2, 1.05, 1.05, 1.05}
	require.Equal(t, Disagrees, fig6Of(fig6Hand(vals, 1), Smoke).primaryFinding().Verdict)
	require.Equal(t, Agrees, fig6Of(fig6Hand(vals, 60), Smoke).primaryFinding().Verdict)

	// The paired difference and its standard error, recomputed by hand
	// from the offsets: seed n of min-snr:5 minus seed n of constant.
	r = fig6Of(fig6Hand(vals, 60), Smoke)
	mi, ci := slices.Index(PaperStrategies, "min-snr:5"), slices.Index(PaperStrategies, "constant")
	var ds []float64
	for n := range 5 {
		ds = append(ds, (1.05+fig6Offset(60, mi, n))-(1.0+fig6Offset(60, ci, n)))
	}
	mean, ss := 0.0, 0.0
	for _, x := range ds {
		mean += x / 5
	}
	for _, x := range ds {
		ss += (x - mean) * (x - mean)
	}
	d, se := r.diff(1, mi, ci, 3)
	require.InDelta(t, mean, d, 1e-12)
	require.InDelta(t, math.Sqrt(ss/4)/math.Sqrt(5), se, 1e-12)

	rep, err := r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []string{"x0mse.csv", "x0mse.png", "final_x0mse.csv"}, rep.Files)
}

// table2's primary test: γ = 5 within noise of the best γ and a spread over
// γ small against the spread between strategies.
func TestTable2PrimaryTest(t *testing.T) {
	gammaFinal := map[string]float64{"min-snr:1": 0.30, "min-snr:5": 0.21, "min-snr:10": 0.20, "min-snr:20": 0.22}
	stratFinal := map[string]float64{"constant": 0.6, "snr": 0.4, "max-snr:1": 0.35, "min-snr:5": 0.21}
	grid := func(finals map[string]float64, strategies []string, noise float64) *ModelGrid {
		return handGrid([]string{"x0"}, strategies, map[string]int{"x0": 5}, func(_, st string, n int) handModel {
			q := finals[st] + fig6Offset(noise, slices.Index(strategies, st), n)
			return handModel{curve: []float64{1, q}, x0: []float64{1, 1, 1, 1}, final: []float64{q, q}}
		})
	}
	g := grid(gammaFinal, table2Specs(), 1)
	g.Targets = []string{"x0"}
	st := grid(stratFinal, PaperStrategies, 1)
	r := table2Of(g, st, Smoke, 1)
	p := r.Robust
	require.Equal(t, 10.0, p.BestGamma)
	const tol = 1e-12
	require.InDelta(t, 0.10, p.GammaSpread, tol)
	require.InDelta(t, 0.39, p.StrategySpread, tol)
	require.InDelta(t, 0.10/0.39, p.SpreadRatio.Value, tol)
	require.InDelta(t, 0.01, p.VsBest.Diff, tol)
	require.Less(t, p.VsBest.SE, 0.002, "offsets of a few thousandths")
	f := r.robustFinding("SWD")
	require.Equal(t, Partly, f.Verdict, "γ = 5 is 0.01 worse, beyond noise, while the spread ratio is small: %s", f.Measured)

	g = grid(gammaFinal, table2Specs(), 40)
	st = grid(stratFinal, PaperStrategies, 1)
	g.Targets = []string{"x0"}
	r = table2Of(g, st, Smoke, 1)
	require.Equal(t, Agrees, r.robustFinding("SWD").Verdict, "seed offsets of up to ±0.08 put γ = 5's 0.01 within noise: %s", r.robustFinding("SWD").Measured)

	rep, err := r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []string{"table2.csv", "table2.png"}, rep.Files)
}

// QualityAt interpolates between evaluations, and the online target's
// equal-time comparison reads the online model at Steps/cost: on straight
// curves 1 − rate·s the reference is worked out by hand.
func TestOnlineComparisons(t *testing.T) {
	strategies := append(slices.Clone(OnlineStrategies), onlineComparators...)
	g := handGrid([]string{"x0"}, strategies, map[string]int{"x0": 5}, func(_, st string, n int) handModel {
		rate := 0.006 // min-snr:5 and constant
		if slices.Contains(OnlineStrategies, st) {
			rate = 0.008
		}
		c := linear(rate, fig6Offset(0.5, slices.Index(strategies, st), n))
		return handModel{curve: c, x0: []float64{1, 1, 1, 1}, final: []float64{c[9]}}
	})
	g.Sizes.Steps = 100
	m := g.Model("x0", OnlineStrategies[0], 1)
	const tol = 1e-12
	require.InDelta(t, 1-0.008*55+fig6Offset(0.5, 0, 0), QualityAt(m, 55), tol)
	require.InDelta(t, m.Quality[9].Value, QualityAt(m, 100), tol)
	require.True(t, math.IsNaN(QualityAt(m, 5)) && math.IsNaN(QualityAt(m, 101)))

	// Cost 1.6: at equal time the online model is read at step 62.5:
	// 1 − 0.5 = 0.5 against 1 − 0.6 = 0.4 for the closed forms; at equal
	// steps 0.2 against 0.4. The offsets average out over the five seeds.
	r := onlineOf(g, []float64{1.6, 1.6}, Smoke)
	require.InDelta(t, -0.2, r.EqualSteps[0][0].Diff, tol)
	require.InDelta(t, 0.1, r.EqualTime[0][0].Diff, tol)
	require.Equal(t, "min-snr:5", r.EqualTime[0][0].Best)
	f := r.primaryFinding("SWD")
	require.Equal(t, Disagrees, f.Verdict, "worse at equal time: %s", f.Measured)
	require.Equal(t, Agrees, r.comparisonsFinding("SWD", "equal steps", r.EqualSteps).Verdict)
	rep, err := r.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []string{"quality.csv", "equal_steps.csv", "quality.png"}, rep.Files)
}
