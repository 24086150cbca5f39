package reproduce

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Fig4Sizes are fig4's settings beyond the probes' (ProbeSizes).
type Fig4Sizes struct {
	// Rho sets the headline λ = Rho × MedianDiag of a probe's Gram (the
	// mean of the draws' Grams at that probe), fixed before measuring; a
	// second evaluation runs at λ = 0 (Eq. 10).
	Rho float64
	// RhoGrid are the ρ of the λ sweep at the last probe.
	RhoGrid []float64
	// Close is the factor within which an objective counts as close to the
	// optimum f*.
	Close float64
}

var fig4Sizes = map[Scale]Fig4Sizes{
	Smoke:  {Rho: 1, RhoGrid: []float64{0.01, 1, 100}, Close: 2},
	Quick:  {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
	Medium: {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
	Paper:  {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
}

// Fig4SizesFor returns fig4's sizes at a scale.
func Fig4SizesFor(s Scale) Fig4Sizes { return fig4Sizes[s] }

// LambdaBand is a range of ρ = λ / median G_kk with a verdict of its own
// in fig4.
type LambdaBand struct {
	Name   string
	Lo, Hi float64 // Lo ≤ ρ < Hi
	// Zero puts λ = 0 (Eq. 10) in the band.
	Zero bool
}

// Fig4Bands are fig4's λ bands, fixed in advance: λ small next to a
// typical bin's squared gradient norm (close to Eq. 10, λ = 0 included),
// comparable to it (the headline ρ = 1 lies here) and dominating it
// (where f → λ‖w‖² and uniform weights win).
var Fig4Bands = []LambdaBand{
	{Name: "small λ: ρ < 0.1 and λ = 0", Lo: 0, Hi: 0.1, Zero: true},
	{Name: "comparable λ: 0.1 ≤ ρ < 10", Lo: 0.1, Hi: 10},
	{Name: "large λ: ρ ≥ 10", Lo: 10, Hi: math.Inf(1)},
}

// Fig4Solvers are the solvers whose weights fig4 evaluates: the paper's
// UGD, Frank-Wolfe as in MGDA, and the exact active-set solver, whose
// objective is the floor f* and whose weights are the Pareto weights.
var Fig4Solvers = []string{"ugd", "fw", "exact"}

// WeightingObjectives evaluates the Eq. 11 objective f(w) = wᵀ(G + λI)w of
// weightings of K bins: each of closed (per-bin weights, such as
// conflict.BinWeights gives, normalised to the simplex by
// pareto.Problem.Evaluate) and the weights each of methods solves on G. It
// returns the objectives and weights in that order, and f*, the objective of
// the exact solver (the floor every weighting is at or above).
func WeightingObjectives(g mat.Symmetric, lambda float64, closed [][]float64, methods []string) (f []float64, w [][]float64, fstar float64, err error) {
	p, err := pareto.NewFromGram(g, pareto.Config{Lambda: lambda})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reproduce: %w", err)
	}
	for _, c := range closed {
		e, err := p.Evaluate(c)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reproduce: %w", err)
		}
		f, w = append(f, e.Objective), append(w, e.W)
	}
	for _, name := range methods {
		m, err := solvers.ParseMethod(name)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reproduce: %w", err)
		}
		r, err := solvers.Solve(p, m, nil)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reproduce: %w", err)
		}
		f, w = append(f, r.F), append(w, r.W)
	}
	ex, err := solvers.Solve(p, solvers.Exact, nil)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reproduce: %w", err)
	}
	return f, w, ex.F, nil
}

// Fig4Point is one probe's evaluation at one λ: on every draw's Gram, the
// Eq. 11 objective and the weights of every weighting, and the optimum f*.
type Fig4Point struct {
	// Step is the probe's training step; Lambda = Rho × MedianDiag of the
	// draws' mean Gram at that probe (Rho 0: λ = 0).
	Step        int
	Rho, Lambda float64
	// F[d][j] and W[d][j] are the objective and the weights (on the
	// simplex) of weighting j on draw d's Gram, and FStar[d] the exact
	// solver's minimum there.
	F     [][]float64
	W     [][][]float64
	FStar []float64
}

// logRatio returns log(f_j/f*) for every draw.
func (p Fig4Point) logRatio(j int) []float64 {
	out := make([]float64, len(p.F))
	for d := range p.F {
		out[d] = math.Log(p.F[d][j] / p.FStar[d])
	}
	return out
}

// l1 returns, for every draw, the L1 distance Σ_k |W_jk − W*_k| (0–2) of
// weighting j to the weights of weighting opt (the exact solver's: the
// Pareto weights).
func (p Fig4Point) l1(j, opt int) []float64 {
	out := make([]float64, len(p.W))
	for d := range p.W {
		for k := range p.W[d][j] {
			out[d] += math.Abs(p.W[d][j][k] - p.W[d][opt][k])
		}
	}
	return out
}

// meanF is the mean objective of weighting j over the draws.
func (p Fig4Point) meanF(j int) float64 {
	f := make([]float64, len(p.F))
	for d := range p.F {
		f[d] = p.F[d][j]
	}
	return stat.Mean(f, nil)
}

// meanWeights is the mean over the draws of weighting j's weight on every
// bin.
func (p Fig4Point) meanWeights(j int) []float64 {
	K := len(p.W[0][j])
	m := make([]float64, K)
	for k := range m {
		for d := range p.W {
			m[k] += p.W[d][j][k] / float64(len(p.W))
		}
	}
	return m
}

// evalProbe evaluates every weighting (the closed forms' per-bin weights,
// then the solvers of methods) on the draws' Grams of one probe, with
// λ = rho × MedianDiag of their mean.
func evalProbe(recs []conflict.Record, rho float64, closed [][]float64, methods []string) (Fig4Point, error) {
	var grams []*mat.SymDense
	for _, r := range recs {
		grams = append(grams, r.Gram)
	}
	step := recs[0].Step
	lambda := rho * MedianDiag(MeanGram(grams))
	pt := Fig4Point{Step: step, Rho: rho, Lambda: lambda}
	for _, g := range grams {
		f, w, fs, err := WeightingObjectives(g, lambda, closed, methods)
		if err != nil {
			return pt, fmt.Errorf("step %d: %w", step, err)
		}
		pt.F, pt.W, pt.FStar = append(pt.F, f), append(pt.W, w), append(pt.FStar, fs)
	}
	return pt, nil
}

// Fig4Model is fig4's evaluation of one probed model.
type Fig4Model struct {
	// Trained is the weighting the model was trained with, Seed its
	// training seed.
	Trained string
	Seed    uint64
	// Main holds every probe at the headline λ, Zero every probe at
	// λ = 0, and Sweep the last probe at every ρ of Fig4Sizes.RhoGrid.
	Main, Zero, Sweep []Fig4Point
	// Binnings[i] is the last probe of ProbeSizes.Binnings[i] at the
	// headline λ.
	Binnings []Fig4Point
}

// Fig4Result is what fig4 measures: the Eq. 11 objective and the weights
// of every weighting at every probe of every probed model (each training
// weighting of ProbedStrategies × every seed), at the headline λ and at
// λ = 0, at the last probe over a sweep of λ, and on the sensitivity
// binnings.
type Fig4Result struct {
	// Scale and Seed are the run's; Model, Probe and Sizes its sizes.
	Scale Scale
	Seed  uint64
	Model ModelSizes
	Probe ProbeSizes
	Sizes Fig4Sizes
	// Bins are the main probes' timestep bins and Binnings the bins of
	// ProbeSizes.Binnings.
	Bins     weighting.Bins
	Binnings []weighting.Bins
	// Trained are the training weightings (rows A) and Seeds the training
	// seeds of the models.
	Trained []string
	Seeds   []uint64
	// Strategies are the closed forms (PaperStrategies, columns B) and
	// Solvers the solvers (Fig4Solvers): a point's weighting j is
	// Strategies[j], and Solvers[j − len(Strategies)] after them.
	Strategies, Solvers []string
	// Closed[j] are Strategies[j]'s weights on Bins (summing to 1).
	Closed [][]float64
	// Models[a][s] is the model trained with Trained[a] and seed Seeds[s].
	Models [][]Fig4Model
	// Noise is the Gram noise of every model at its last probe.
	Noise noiseByModel
}

// Fig4 computes fig4: it trains (or reuses) the probed models
// (TrainProbedGrid of ProbedStrategies: fig5's models of the probe
// target), normalises the closed forms to the probes' bins
// (conflict.BinWeights) and evaluates them and the solvers' weights on
// every probe's draws (WeightingObjectives) at λ = Rho × MedianDiag and at
// λ = 0, at the last probe for every ρ of RhoGrid, and at the last step of
// every sensitivity binning.
func Fig4(ctx context.Context, env *Env) (*Fig4Result, error) {
	ms, fs := env.ModelSizes(), fig4Sizes[env.Scale]
	g, err := TrainProbedGrid(ctx, env, "fig4", ProbedStrategies)
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(ms.Schedule, ms.T, false)
	if err != nil {
		return nil, err
	}
	first := g.Probed(ProbedStrategies[0], g.SeedsOf(ms.Probes.Target)[0])
	res := &Fig4Result{Scale: env.Scale, Seed: env.Seed, Model: ms, Probe: ms.Probes, Sizes: fs, Bins: first.Bins(),
		Trained: slices.Clone(ProbedStrategies), Seeds: g.SeedsOf(ms.Probes.Target), Strategies: slices.Clone(PaperStrategies), Solvers: slices.Clone(Fig4Solvers)}
	res.Closed = closedWeights(res.Strategies, sched, res.Bins)
	var binClosed [][][]float64
	for _, b := range first.Binnings {
		res.Binnings = append(res.Binnings, b.Bins())
		binClosed = append(binClosed, closedWeights(res.Strategies, sched, b.Bins()))
	}
	res.Noise = noiseOfGrid(g, res.Trained, res.Seeds)
	env.Logf("fig4: Eq. 11 on %d probed models", len(res.Trained)*len(res.Seeds))
	for _, a := range res.Trained {
		var row []Fig4Model
		for _, sd := range res.Seeds {
			m, err := res.evalModel(ctx, g.Probed(a, sd), binClosed)
			if err != nil {
				return nil, fmt.Errorf("model of %s, seed %d: %w", a, sd, err)
			}
			m.Trained, m.Seed = a, sd
			row = append(row, m)
		}
		res.Models = append(res.Models, row)
	}
	return res, nil
}

// closedWeights are the closed forms' per-bin weights on bins
// (conflict.BinWeights on the x0 loss, summing to 1).
func closedWeights(strategies []string, sched *diffusion.Schedule, bins weighting.Bins) [][]float64 {
	var out [][]float64
	for _, s := range strategies {
		out = append(out, conflict.BinWeights(weighting.MustParse(s), nil, sched, bins))
	}
	return out
}

// evalModel evaluates one probed model: Main and Zero at every probe,
// Sweep at the last, and the last probe of every binning.
func (r *Fig4Result) evalModel(ctx context.Context, p *ProbeRun, binClosed [][][]float64) (Fig4Model, error) {
	var m Fig4Model
	steps := p.Steps()
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		a, err := evalProbe(p.At(i), r.Sizes.Rho, r.Closed, r.Solvers)
		if err != nil {
			return m, err
		}
		b, err := evalProbe(p.At(i), 0, r.Closed, r.Solvers)
		if err != nil {
			return m, err
		}
		m.Main, m.Zero = append(m.Main, a), append(m.Zero, b)
	}
	last := p.At(len(steps) - 1)
	for _, rho := range r.Sizes.RhoGrid {
		pt, err := evalProbe(last, rho, r.Closed, r.Solvers)
		if err != nil {
			return m, err
		}
		m.Sweep = append(m.Sweep, pt)
	}
	if len(p.Binnings) != len(binClosed) {
		return m, fmt.Errorf("%d sensitivity binnings, want %d", len(p.Binnings), len(binClosed))
	}
	for i, b := range p.Binnings {
		pt, err := evalProbe(b.Last(), r.Sizes.Rho, binClosed[i], r.Solvers)
		if err != nil {
			return m, err
		}
		m.Binnings = append(m.Binnings, pt)
	}
	return m, nil
}

// weightings names every weighting of a point: the closed forms, then the
// solvers.
func (r *Fig4Result) weightings() []string {
	return append(slices.Clone(r.Strategies), r.Solvers...)
}

// exact is the exact solver's index among the weightings.
func (r *Fig4Result) exact() int { return len(r.Strategies) + indexOf(r.Solvers, "exact") }

// minSNR is min-SNR-5's index among the weightings.
func (r *Fig4Result) minSNR() int { return indexOf(r.Strategies, fig5MinSNR) }

// lastIndex is the index of the last probe.
func (r *Fig4Result) lastIndex() int { return len(r.Models[0][0].Main) - 1 }

// probeSteps are the probed steps.
func (r *Fig4Result) probeSteps() []int {
	var s []int
	for _, pt := range r.Models[0][0].Main {
		s = append(s, pt.Step)
	}
	return s
}

// values gathers, for the models trained with Trained[a], a metric of
// every closed form at one point of each model: out[s][d][j].
func (r *Fig4Result) values(a int, point func(Fig4Model) Fig4Point, metric func(Fig4Point, int) []float64) [][][]float64 {
	out := make([][][]float64, len(r.Models[a]))
	for s, m := range r.Models[a] {
		pt := point(m)
		per := make([][]float64, len(r.Strategies))
		for j := range r.Strategies {
			per[j] = metric(pt, j)
		}
		for d := range per[0] {
			row := make([]float64, len(r.Strategies))
			for j := range row {
				row[j] = per[j][d]
			}
			out[s] = append(out[s], row)
		}
	}
	return out
}

// logRatioMetric is log(f/f*) per draw.
func logRatioMetric(pt Fig4Point, j int) []float64 { return pt.logRatio(j) }

// l1Metric is the L1 distance to the Pareto weights per draw.
func (r *Fig4Result) l1Metric(pt Fig4Point, j int) []float64 { return pt.l1(j, r.exact()) }

// offCases are the cross-trained cases at one point of every model
// trained with another weighting than min-SNR-5, by a metric.
func (r *Fig4Result) offCases(point func(Fig4Model) Fig4Point, metric func(Fig4Point, int) []float64) []CrossCase {
	var cs []CrossCase
	for a, tr := range r.Trained {
		if OffDiagonal(tr, fig5MinSNR) {
			cs = append(cs, CompareMinSNR(tr, r.Strategies, r.values(a, point, metric)))
		}
	}
	return cs
}

// cell is the mean (UnitMean) of a metric of weighting j at one point of
// the models trained with Trained[a].
func (r *Fig4Result) cell(a, j int, point func(Fig4Model) Fig4Point, metric func(Fig4Point, int) []float64) Units {
	x := make([][]float64, len(r.Models[a]))
	for s, m := range r.Models[a] {
		x[s] = metric(point(m), j)
	}
	return UnitMean(x)
}

// atMain selects probe i at the headline λ.
func atMain(i int) func(Fig4Model) Fig4Point { return func(m Fig4Model) Fig4Point { return m.Main[i] } }

// atZero selects probe i at λ = 0.
func atZero(i int) func(Fig4Model) Fig4Point { return func(m Fig4Model) Fig4Point { return m.Zero[i] } }

// atSweep selects the i-th ρ of the sweep.
func atSweep(i int) func(Fig4Model) Fig4Point {
	return func(m Fig4Model) Fig4Point { return m.Sweep[i] }
}

// atBinning selects the last probe of sensitivity binning i (−1: the main
// probes').
func (r *Fig4Result) atBinning(i int) func(Fig4Model) Fig4Point {
	if i < 0 {
		return atMain(r.lastIndex())
	}
	return func(m Fig4Model) Fig4Point { return m.Binnings[i] }
}
