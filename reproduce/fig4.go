package reproduce

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot/vg"
)

// Fig4Sizes are fig4's settings beyond the probed run's (ProbeSizes).
type Fig4Sizes struct {
	// Rho sets λ = Rho × MedianDiag of a probe's Gram (the mean of the
	// draws' Grams at that step) for the main comparison; a second one
	// runs at λ = 0 (Eq. 10).
	Rho float64
	// RhoGrid are the ρ of the λ sweep at the last probe.
	RhoGrid []float64
	// Close is the factor within which an objective counts as close to the
	// optimum f*.
	Close float64
}

var fig4Sizes = map[Scale]Fig4Sizes{
	Smoke:  {Rho: 1, RhoGrid: []float64{0.1, 1, 10}, Close: 2},
	Quick:  {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
	Medium: {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
	Paper:  {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
}

// Fig4SizesFor returns fig4's sizes at a scale.
func Fig4SizesFor(s Scale) Fig4Sizes { return fig4Sizes[s] }

// Fig4Solvers are the solvers whose weights fig4 evaluates: the paper's
// UGD, Frank-Wolfe as in MGDA, and the exact active-set solver, whose
// objective is the floor f*.
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
	// draws' mean Gram at that probe.
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

// meanF is the mean objective of weighting j over the draws.
func (p Fig4Point) meanF(j int) float64 {
	f := make([]float64, len(p.F))
	for d := range p.F {
		f[d] = p.F[d][j]
	}
	return stat.Mean(f, nil)
}

// meanWeights is the mean over the draws of weighting j's weight on every
// bin (summed as Σ_d w/n, the bits weights.csv has always had).
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
func evalProbe(grams []*mat.SymDense, step int, rho float64, closed [][]float64, methods []string) (Fig4Point, error) {
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

// gramsAt returns the draws' Gram matrices of probe i.
func gramsAt(p *ProbeRun, i int) []*mat.SymDense {
	var gs []*mat.SymDense
	for _, recs := range p.Draws {
		gs = append(gs, recs[i].Gram)
	}
	return gs
}

// Fig4Result is what fig4 measures: the Eq. 11 objective of every
// weighting at every probe of one probed training run, at the main λ and
// at λ = 0, and at the last probe over a sweep of λ.
type Fig4Result struct {
	// Scale and Seed are the run's; Model, Probe and Sizes its sizes.
	Scale Scale
	Seed  uint64
	Model ModelSizes
	Probe ProbeSizes
	Sizes Fig4Sizes
	// Bins are the probed run's timestep bins.
	Bins weighting.Bins
	// Strategies are the closed forms (PaperStrategies) and Solvers the
	// solvers (Fig4Solvers): a point's weighting j is Strategies[j], and
	// Solvers[j − len(Strategies)] after them.
	Strategies, Solvers []string
	// Main holds every probe at λ = Sizes.Rho × MedianDiag, Zero every
	// probe at λ = 0, and Sweep the last probe at every ρ of Sizes.RhoGrid.
	Main, Zero, Sweep []Fig4Point
}

// planFig4 is fig4's run: the probed run of ProbeSizes (conflict's too).
func planFig4(env *Env) ([]CacheRun, error) {
	return []CacheRun{ProbedRun(probeSizes[env.Scale].Spec(ModelSizesFor(env.Scale), env.Seed))}, nil
}

// Fig4 computes fig4: it trains (or reuses) the probed run (TrainProbed of
// ProbeSizes), normalises the closed forms to its bins
// (conflict.BinWeights) and evaluates them and the solvers' weights on
// every probe's draws (WeightingObjectives) at λ = Rho × MedianDiag and at
// λ = 0, and at the last probe for every ρ of RhoGrid.
func Fig4(ctx context.Context, env *Env) (*Fig4Result, error) {
	ms, ps, fs := ModelSizesFor(env.Scale), probeSizes[env.Scale], fig4Sizes[env.Scale]
	runs, err := planFig4(env)
	if err != nil {
		return nil, err
	}
	env.Logf("fig4: probed training run")
	probed, err := TrainProbed(ctx, env, runs[0].Spec)
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(ms.Schedule, ms.T, false)
	if err != nil {
		return nil, err
	}
	res := &Fig4Result{Scale: env.Scale, Seed: env.Seed, Model: ms, Probe: ps, Sizes: fs, Bins: probed.Bins(),
		Strategies: slices.Clone(PaperStrategies), Solvers: slices.Clone(Fig4Solvers)}
	var closed [][]float64
	for _, s := range res.Strategies {
		closed = append(closed, conflict.BinWeights(weighting.MustParse(s), nil, sched, res.Bins))
	}
	if err := res.evalProbes(ctx, probed, closed); err != nil {
		return nil, err
	}
	return res, nil
}

// evalProbes fills Main, Zero and Sweep from the probed run.
func (r *Fig4Result) evalProbes(ctx context.Context, probed *ProbeRun, closed [][]float64) error {
	steps := probed.Steps()
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		gs := gramsAt(probed, i)
		a, err := evalProbe(gs, s, r.Sizes.Rho, closed, r.Solvers)
		if err != nil {
			return err
		}
		b, err := evalProbe(gs, s, 0, closed, r.Solvers)
		if err != nil {
			return err
		}
		r.Main, r.Zero = append(r.Main, a), append(r.Zero, b)
	}
	last := len(steps) - 1
	for _, rho := range r.Sizes.RhoGrid {
		pt, err := evalProbe(gramsAt(probed, last), steps[last], rho, closed, r.Solvers)
		if err != nil {
			return err
		}
		r.Sweep = append(r.Sweep, pt)
	}
	return nil
}

// weightings names every weighting of a point: the closed forms, then the
// solvers.
func (r *Fig4Result) weightings() []string {
	return append(slices.Clone(r.Strategies), r.Solvers...)
}

// minSNR is min-SNR-5's index among the weightings.
func (r *Fig4Result) minSNR() int { return indexOf(r.Strategies, fig5MinSNR) }

// Render writes objective.csv (every weighting's objective and its ratio to
// f* at every point of Main, Zero and Sweep, per draw), weights.csv (the
// mean weights at the last probe at the main λ and at λ = 0) and fig4.png
// into dir and returns the report.
func (r *Fig4Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	ot, wt := r.objectiveTable(), r.weightsTable()
	if err := ot.WriteCSV(out.path("objective.csv")); err != nil {
		return nil, err
	}
	if err := wt.WriteCSV(out.path("weights.csv")); err != nil {
		return nil, err
	}
	if err := r.figure(out.path("fig4.png")); err != nil {
		return nil, err
	}
	return r.report(out.files), nil
}

// objectiveTable is objective.csv.
func (r *Fig4Result) objectiveTable() Table {
	all := r.weightings()
	ot := Table{Header: []string{"step", "rho", "lambda", "draw", "weighting", "objective", "ratio_to_optimum"}}
	for _, set := range [][]Fig4Point{r.Main, r.Zero, r.Sweep} {
		for _, pt := range set {
			for d := range pt.F {
				for j, n := range all {
					ot.Add(pt.Step, pt.Rho, pt.Lambda, d, n, pt.F[d][j], pt.F[d][j]/pt.FStar[d])
				}
			}
		}
	}
	return ot
}

// weightsTable is weights.csv.
func (r *Fig4Result) weightsTable() Table {
	wt := Table{Header: []string{"bin", "t_lo", "t_hi", "rho", "weighting", "mean_weight"}}
	for _, pt := range []Fig4Point{r.Main[len(r.Main)-1], r.Zero[len(r.Zero)-1]} {
		for j, n := range r.weightings() {
			for k, m := range pt.meanWeights(j) {
				lo, hi := r.Bins.Range(k)
				wt.Add(k, lo, hi, pt.Rho, n, m)
			}
		}
	}
	return wt
}

// report builds fig4's report; its verdicts are over the probes after
// step 0.
func (r *Fig4Result) report(files []string) *Report {
	ms, ps, fs := r.Model, r.Probe, r.Sizes
	fA, tabMain := r.lowest(r.Main)
	fA.Claim = "Min-SNR-5's weights have a lower Eq. 11 objective wᵀ(G + λI)w than the other closed-form weightings (constant, SNR, max-SNR-1) throughout training (the paper's Fig. 4)."
	fA.Rule = r.lowRule(fmt.Sprintf("with λ = %g × the median diagonal entry of the probe's Gram", fs.Rho))
	fC, tabZero := r.lowest(r.Zero)
	fC.Claim = "The same at λ = 0 (Eq. 10, the unregularised min-norm problem of MGDA)."
	fC.Rule = r.lowRule("with λ = 0")
	sw, sweepNote := r.sweepTable()
	K := r.Bins.K()
	return &Report{
		Title:    "Eq. 11 objective of constant, SNR, max-SNR, min-SNR and UGD weights",
		Paper:    "Fig. 4 of Hang et al. (ICCV 2023): the value of the Eq. 11 objective for the weights of constant, SNR, max-SNR (truncated SNR) and min-SNR-γ weighting and for the UGD solution, over training",
		Sizes:    []any{ms, ps, fs},
		Findings: []Finding{fA, r.closeFinding(), fC, r.solverFinding()},
		Sections: []Section{
			{Heading: "Setting", Body: fmt.Sprintf("One training run of the %s-prediction, %s-weighted model (the strategy grid's configuration, seed %d: the same weights step for step as the cached model, since probes change neither parameters nor the training random stream) is probed at step 0 and every %d steps (TrainProbed, conflict.Probe as a training callback): %d independent batches (draws), each fixed over training, of %d examples in each of %d equal-width timestep bins give %d exact K×K Gram matrices of the bins' task-loss gradients (task loss: the bin's mean unweighted x0-MSE) per probe. Each weighting is a weight vector on the bins' task losses: a closed form w(t) on the x0 loss becomes W_k ∝ Σ_{t∈bin k} w(t), normalised to sum to 1 (conflict.BinWeights: with timesteps drawn uniformly, that is the weight training with w(t) puts on bin k's mean x0 loss); UGD, Frank-Wolfe and the exact solver solve Eq. 11 on each draw's Gram. The objective is f(w) = wᵀ(G + λI)w with λ = %g × the median of the diagonal of the draws' mean Gram at that probe (a typical bin's squared gradient norm; the paper gives no λ), and again with λ = 0; f* is the exact solver's minimum.",
				ps.Target, ps.Strategy, r.Seed, ps.Every, ps.Draws, ps.PerBin, K, ps.Draws, fs.Rho)},
			{Heading: fmt.Sprintf("Objective relative to the optimum, f(w)/f*, at λ = %g × median G_kk (geometric mean over draws)", fs.Rho), Body: tabMain.Markdown()},
			{Heading: "The same at λ = 0", Body: tabZero.Markdown()},
			{Heading: "How the comparison depends on λ (last probe)", Body: "f(w)/f* at the last probe for λ = ρ × median G_kk (geometric mean over draws; bold: the lowest closed form). A small λ favours weights that concentrate on the bins with the smallest gradients (SNR weighting puts almost all its weight on the first bin), a large λ favours uniform weights (constant); " + sweepNote + "\n\n" + sw.Markdown()},
		},
		Limits: analysisLimits(r.Scale) + fmt.Sprintf(" The tasks are %d bins of %d timesteps; the comparison depends on λ, which the paper does not state, so the λ sweep is part of the result.", K, ms.T/K),
		Files:  files,
	}
}

// lowRule is the rule of the findings on the lowest closed form, at the λ
// what describes.
func (r *Fig4Result) lowRule(what string) string {
	return fmt.Sprintf("at every probe after step 0, %s, take each draw's log(f(w)/f*) and compare min-SNR-5 with the other closed form whose mean over the draws is lowest, draw by draw (paired); the probe supports the claim if the mean difference is below −2 standard errors (over the %d draws), contradicts it if above +2, and is within noise otherwise; %s", what, r.Probe.Draws, verdictRule)
}

// lowest is the finding (without claim and rule) whether min-SNR-5 has the
// lowest objective of the closed forms at every probe of set after step 0,
// and the table of every closed form's f(w)/f* at every probe.
func (r *Fig4Result) lowest(set []Fig4Point) (Finding, Table) {
	var outs []Outcome
	var lines []string
	tab := Table{Header: append([]string{"step"}, r.Strategies...)}
	for _, pt := range set {
		row := []any{pt.Step}
		for j := range r.Strategies {
			row = append(row, fmt.Sprintf("%.3g", math.Exp(meanOf(pt.logRatio(j)))))
		}
		tab.Add(row...)
		if pt.Step == 0 {
			continue
		}
		o, line := r.againstBestOther(pt)
		outs, lines = append(outs, o), append(lines, line)
	}
	n := map[Outcome]int{}
	for _, o := range outs {
		n[o]++
	}
	return Finding{
		Measured: fmt.Sprintf("min-SNR-5 has the lowest objective of the four closed forms at %d of %d probes, a higher one beyond noise at %d, within noise at %d. Objective relative to the optimum f* (geometric mean over draws), min-SNR-5 against the best other closed form: %s.",
			n[Supports], len(outs), n[Contradicts], n[WithinNoise], strings.Join(thin(lines, 6), "; ")),
		Verdict: VerdictOf(outs...),
	}, tab
}

// againstBestOther compares min-SNR-5 at one probe with the other closed
// form of lowest mean log(f/f*), by the paired per-draw difference of
// their log ratios: Supports if min-SNR-5's is lower beyond 2 standard
// errors. It returns the outcome and a line of prose.
func (r *Fig4Result) againstBestOther(pt Fig4Point) (Outcome, string) {
	iMin := r.minSNR()
	bo, bv := -1, math.Inf(1)
	for j := range r.Strategies {
		if j != iMin {
			if v := meanOf(pt.logRatio(j)); v < bv {
				bo, bv = j, v
			}
		}
	}
	a, b := pt.logRatio(iMin), pt.logRatio(bo)
	diff := make([]float64, len(a))
	for d := range a {
		diff[d] = a[d] - b[d]
	}
	m, se := meanSE(diff)
	o := outcomeOf(m, se, true)
	return o, fmt.Sprintf("step %d: %.3g× vs %s %.3g× (%s)", pt.Step, math.Exp(meanOf(a)), r.Strategies[bo], math.Exp(bv),
		map[Outcome]string{Supports: "lower", Contradicts: "higher", WithinNoise: "within noise"}[o])
}

// closeFinding is whether min-SNR-5's objective is within Sizes.Close of
// f* at the main λ.
func (r *Fig4Result) closeFinding() Finding {
	fs := r.Sizes
	var outs []Outcome
	var ratios []string
	logClose := math.Log(fs.Close)
	for _, pt := range r.Main {
		if pt.Step == 0 {
			continue
		}
		m, se := meanSE(pt.logRatio(r.minSNR()))
		o := outcomeOf(m-logClose, se, true)
		outs = append(outs, o)
		ratios = append(ratios, fmt.Sprintf("step %d: %.3g×", pt.Step, math.Exp(m)))
	}
	n := map[Outcome]int{}
	for _, o := range outs {
		n[o]++
	}
	return Finding{
		Claim:    "Min-SNR-5's objective is close to the Pareto optimum (the paper: close to UGD's).",
		Measured: fmt.Sprintf("min-SNR-5's objective is within %g× of the optimum f* at %d of %d probes, beyond it at %d, within noise of %g× at %d (geometric mean over draws: %s).", fs.Close, n[Supports], len(outs), n[Contradicts], fs.Close, n[WithinNoise], strings.Join(thin(ratios, 6), "; ")),
		Rule:     fmt.Sprintf("λ as in 1; \"close\" is our threshold (the paper gives no number): within a factor %g of f*. A probe supports the claim if the mean over draws of log(f_min-SNR/f*) is below log %g by more than 2 standard errors, contradicts it if above by more than 2, and is within noise otherwise; %s", fs.Close, fs.Close, verdictRule),
		Verdict:  VerdictOf(outs...),
	}
}

// solverFinding is whether UGD reaches the exact solver's f* (with
// Frank-Wolfe's excess for comparison) over every point.
func (r *Fig4Result) solverFinding() Finding {
	all := r.weightings()
	worst := map[string]float64{}
	for _, set := range [][]Fig4Point{r.Main, r.Zero, r.Sweep} {
		for _, pt := range set {
			for d := range pt.F {
				for j := len(r.Strategies); j < len(all); j++ {
					if all[j] == "exact" {
						continue
					}
					e := pt.F[d][j]/pt.FStar[d] - 1
					worst[all[j]] = math.Max(worst[all[j]], e)
				}
			}
		}
	}
	return Finding{
		Claim:    "UGD (Eq. 12–13) finds the Pareto-optimal weights of Eq. 11, the reference every weighting is compared with.",
		Measured: fmt.Sprintf("largest relative excess over the exact solver's f*, over every probe, draw and λ: ugd %.2g, fw %.2g.", worst["ugd"], worst["fw"]),
		Rule:     fmt.Sprintf("agrees if ugd's excess is at most %g everywhere (the solvers' default relative duality-gap tolerance is 1e-10)", fig4SolverTol),
		Verdict:  map[bool]Verdict{true: Agrees, false: Disagrees}[worst["ugd"] <= fig4SolverTol],
	}
}

// sweepTable is the table of every closed form's f(w)/f* at every ρ of
// the sweep (the lowest in bold), and a sentence on where min-SNR-5 is the
// lowest.
func (r *Fig4Result) sweepTable() (Table, string) {
	sw := Table{Header: append([]string{"ρ", "λ"}, r.Strategies...)}
	var band []string
	for _, pt := range r.Sweep {
		row := []any{fmt.Sprintf("%g", pt.Rho), fmt.Sprintf("%.3g", pt.Lambda)}
		best, bv := -1, math.Inf(1)
		for j := range r.Strategies {
			v := math.Exp(meanOf(pt.logRatio(j)))
			if v < bv {
				best, bv = j, v
			}
			row = append(row, fmt.Sprintf("%.3g", v))
		}
		row[2+best] = "**" + row[2+best].(string) + "**"
		sw.Add(row...)
		if best == r.minSNR() {
			band = append(band, fmt.Sprintf("%g", pt.Rho))
		}
	}
	if len(band) == 0 {
		return sw, "min-SNR-5 is the lowest closed form at none of the ρ of the grid."
	}
	return sw, fmt.Sprintf("min-SNR-5 is the lowest closed form at ρ ∈ {%s} of the grid.", strings.Join(band, ", "))
}

// fig4SolverTol is the largest relative excess over f* at which UGD counts
// as having found the optimum: the solvers stop at a relative duality gap
// of 1e-10, so 1e-6 leaves room for the exact solver's own rounding.
const fig4SolverTol = 1e-6

// fig4WeightFloor is the smallest weight fig4's weight panel draws (on a
// log axis a zero weight has no place).
const fig4WeightFloor = 1e-4

// figure draws the objective over training at the main λ and at λ = 0,
// the ratio to the optimum against ρ at the last probe, and the weights at
// the last probe.
func (r *Fig4Result) figure(path string) error {
	a, err := r.objectivePanel(r.Main, fmt.Sprintf("Eq. 11 objective wᵀ(G + λI)w, λ = %g × median G_kk", r.Sizes.Rho))
	if err != nil {
		return err
	}
	b, err := r.objectivePanel(r.Zero, "Eq. 10 objective wᵀGw (λ = 0)")
	if err != nil {
		return err
	}
	c, err := r.sweepPanel()
	if err != nil {
		return err
	}
	d, err := r.weightsPanel()
	if err != nil {
		return err
	}
	grid := plots.Grid{Rows: 2, Cols: 2, Width: 14 * vg.Inch, Height: 10 * vg.Inch, Panels: []*plots.Panel{a, b, c, d}}
	return grid.Save(path)
}

// fig4Drawn says whether a weighting has its own line in the figure: fw
// and exact coincide with ugd (finding 4).
func fig4Drawn(name string) bool { return name != "fw" && name != "exact" }

// objectivePanel draws every weighting's mean objective over the probes of
// set.
func (r *Fig4Result) objectivePanel(set []Fig4Point, title string) (*plots.Panel, error) {
	var series []plots.Series
	for j, n := range r.weightings() {
		if !fig4Drawn(n) {
			continue
		}
		var x, y []float64
		for _, pt := range set {
			x, y = append(x, float64(pt.Step)), append(y, pt.meanF(j))
		}
		name := n
		if n == "ugd" {
			name = "ugd = the optimum f* (fw and exact agree)"
		}
		series = append(series, plots.Series{Name: name, X: x, Y: y})
	}
	return plots.Lines{Title: title, XLabel: "training step", YLabel: "objective (mean over draws, log scale)", LogY: true, Series: series}.Plot()
}

// sweepPanel draws the closed forms' f(w)/f* at the last probe against ρ.
func (r *Fig4Result) sweepPanel() (*plots.Panel, error) {
	var ss []plots.Series
	for j, n := range r.Strategies {
		var x, y []float64
		for _, pt := range r.Sweep {
			x, y = append(x, pt.Rho), append(y, math.Exp(meanOf(pt.logRatio(j))))
		}
		ss = append(ss, plots.Series{Name: n, X: x, Y: y})
	}
	lo, hi, c := r.Sweep[0].Rho, r.Sweep[len(r.Sweep)-1].Rho, r.Sizes.Close
	ss = append(ss, plots.Series{Name: fmt.Sprintf("factor %g (\"close\")", c), X: []float64{lo, hi}, Y: []float64{c, c}, Reference: true})
	return plots.Lines{Title: fmt.Sprintf("last probe (step %d): objective / optimum against λ", r.Sweep[0].Step), XLabel: "ρ = λ / median G_kk (log scale)", YLabel: "f(w) / f* (log scale)", LogX: true, LogY: true, Series: ss}.Plot()
}

// weightsPanel draws the mean weights at the last probe at the main λ.
func (r *Fig4Result) weightsPanel() (*plots.Panel, error) {
	last := r.Main[len(r.Main)-1]
	var ws []plots.Series
	for j, n := range r.weightings() {
		if !fig4Drawn(n) {
			continue
		}
		y := last.meanWeights(j)
		for k := range y {
			y[k] = math.Max(y[k], fig4WeightFloor)
		}
		name := n
		if j >= len(r.Strategies) {
			name = fmt.Sprintf("%s, λ = %g × median G_kk (mean of draws)", n, r.Sizes.Rho)
		}
		ws = append(ws, plots.Series{Name: name, X: r.Bins.Centers(), Y: y})
	}
	p, err := plots.Lines{Title: fmt.Sprintf("weights at the last probe (step %d; below %g drawn at %g)", last.Step, fig4WeightFloor, fig4WeightFloor), XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's x0 loss (log scale)", LogY: true, Series: ws}.Plot()
	if err != nil {
		return nil, err
	}
	p.Y.Min = fig4WeightFloor
	return p, nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func meanOf(v []float64) float64 {
	m, _ := meanSD(v)
	return m
}

// thin keeps about n of the lines, evenly spread, first and last included,
// for prose.
func thin(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	var out []string
	for _, i := range spreadIndices(len(lines), n) {
		out = append(out, lines[i])
	}
	return out
}
