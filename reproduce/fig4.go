package reproduce

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
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
	Smoke: {Rho: 1, RhoGrid: []float64{0.1, 1, 10}, Close: 2},
	Quick: {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
	Paper: {Rho: 1, RhoGrid: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}, Close: 2},
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
	p, err := pareto.NewFromGram(g, pareto.Options{Lambda: lambda})
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

// fig4Point is one probe's evaluation at one λ rule: per draw, the
// objective and weights of every weighting and f*.
type fig4Point struct {
	step   int
	rho    float64
	lambda float64
	f      [][]float64   // f[d][j]: draw d, weighting j
	w      [][][]float64 // w[d][j]
	fstar  []float64     // fstar[d]
}

// logRatio returns log(f_j/f*) for every draw.
func (p fig4Point) logRatio(j int) []float64 {
	out := make([]float64, len(p.f))
	for d := range p.f {
		out[d] = math.Log(p.f[d][j] / p.fstar[d])
	}
	return out
}

// meanF is the mean objective of weighting j over the draws.
func (p fig4Point) meanF(j int) float64 {
	s := 0.0
	for d := range p.f {
		s += p.f[d][j] / float64(len(p.f))
	}
	return s
}

// evalProbe evaluates every weighting on the draws' Grams of one probe,
// with λ = rho × MedianDiag of their mean.
func evalProbe(grams []*mat.SymDense, step int, rho float64, closed [][]float64) (fig4Point, error) {
	lambda := rho * MedianDiag(MeanGram(grams))
	pt := fig4Point{step: step, rho: rho, lambda: lambda}
	for _, g := range grams {
		f, w, fs, err := WeightingObjectives(g, lambda, closed, Fig4Solvers)
		if err != nil {
			return pt, fmt.Errorf("step %d: %w", step, err)
		}
		pt.f, pt.w, pt.fstar = append(pt.f, f), append(pt.w, w), append(pt.fstar, fs)
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

func runFig4(ctx context.Context, env *Env) (*Report, error) {
	dir, err := env.Dir("fig4")
	if err != nil {
		return nil, err
	}
	out := &output{dir: dir}
	ms, ps, fs := ModelSizesFor(env.Scale), probeSizes[env.Scale], fig4Sizes[env.Scale]
	env.Logf("fig4: probed training run")
	run, err := TrainProbed(ctx, env, ps.Spec(ms, env.Seed))
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(ms.Schedule, ms.T, false)
	if err != nil {
		return nil, err
	}
	bins := run.Bins()
	names := append([]string(nil), PaperStrategies...)
	var closed [][]float64
	for _, s := range PaperStrategies {
		closed = append(closed, conflict.BinWeights(weighting.MustParse(s), nil, sched, bins))
	}
	all := append(append([]string(nil), names...), Fig4Solvers...)
	iMin := indexOf(all, fig5MinSNR)
	nClosed := len(names)

	// Every probe at the main λ and at λ = 0.
	steps := run.Steps()
	var main, zero []fig4Point
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gs := gramsAt(run, i)
		a, err := evalProbe(gs, s, fs.Rho, closed)
		if err != nil {
			return nil, err
		}
		b, err := evalProbe(gs, s, 0, closed)
		if err != nil {
			return nil, err
		}
		main, zero = append(main, a), append(zero, b)
	}
	// The λ sweep at the last probe.
	var sweep []fig4Point
	for _, rho := range fs.RhoGrid {
		pt, err := evalProbe(gramsAt(run, len(steps)-1), steps[len(steps)-1], rho, closed)
		if err != nil {
			return nil, err
		}
		sweep = append(sweep, pt)
	}

	ot := Table{Header: []string{"step", "rho", "lambda", "draw", "weighting", "objective", "ratio_to_optimum"}}
	for _, set := range [][]fig4Point{main, zero, sweep} {
		for _, pt := range set {
			for d := range pt.f {
				for j, n := range all {
					ot.Add(pt.step, pt.rho, pt.lambda, d, n, pt.f[d][j], pt.f[d][j]/pt.fstar[d])
				}
			}
		}
	}
	if err := ot.WriteCSV(out.path("objective.csv")); err != nil {
		return nil, err
	}
	lastMain := main[len(main)-1]
	wt := Table{Header: []string{"bin", "t_lo", "t_hi", "rho", "weighting", "mean_weight"}}
	for _, pt := range []fig4Point{lastMain, zero[len(zero)-1]} {
		for j, n := range all {
			for k := 0; k < bins.K(); k++ {
				lo, hi := bins.Range(k)
				m := 0.0
				for d := range pt.w {
					m += pt.w[d][j][k] / float64(len(pt.w))
				}
				wt.Add(k, lo, hi, pt.rho, n, m)
			}
		}
	}
	if err := wt.WriteCSV(out.path("weights.csv")); err != nil {
		return nil, err
	}
	if err := fig4Figure(main, zero, sweep, all, nClosed, bins, fs, out.path("fig4.png")); err != nil {
		return nil, err
	}

	// Verdicts over the probes after step 0.
	lowest := func(set []fig4Point) (Finding, Table) {
		var outs []Outcome
		var lines []string
		tab := Table{Header: append([]string{"step"}, names...)}
		for _, pt := range set {
			row := []any{pt.step}
			for j := range names {
				row = append(row, fmt.Sprintf("%.3g", math.Exp(meanOf(pt.logRatio(j)))))
			}
			tab.Add(row...)
			if pt.step == 0 {
				continue
			}
			// The best other closed form by mean log ratio, then the
			// paired per-draw difference.
			bo, bv := -1, math.Inf(1)
			for j := 0; j < nClosed; j++ {
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
			outs = append(outs, o)
			lines = append(lines, fmt.Sprintf("step %d: %.3g× vs %s %.3g× (%s)", pt.step, math.Exp(meanOf(a)), names[bo], math.Exp(bv),
				map[Outcome]string{Supports: "lower", Contradicts: "higher", WithinNoise: "within noise"}[o]))
		}
		v := VerdictOf(outs...)
		n := map[Outcome]int{}
		for _, o := range outs {
			n[o]++
		}
		return Finding{
			Measured: fmt.Sprintf("min-SNR-5 has the lowest objective of the four closed forms at %d of %d probes, a higher one beyond noise at %d, within noise at %d. Objective relative to the optimum f* (geometric mean over draws), min-SNR-5 against the best other closed form: %s.",
				n[Supports], len(outs), n[Contradicts], n[WithinNoise], strings.Join(thin(lines, 6), "; ")),
			Verdict: v,
		}, tab
	}
	lowRule := func(what string) string {
		return fmt.Sprintf("at every probe after step 0, %s, take each draw's log(f(w)/f*) and compare min-SNR-5 with the other closed form whose mean over the draws is lowest, draw by draw (paired); the probe supports the claim if the mean difference is below −2 standard errors (over the %d draws), contradicts it if above +2, and is within noise otherwise; %s", what, ps.Draws, verdictRule)
	}
	fA, tabMain := lowest(main)
	fA.Claim = "Min-SNR-5's weights have a lower Eq. 11 objective wᵀ(G + λI)w than the other closed-form weightings (constant, SNR, max-SNR-1) throughout training (the paper's Fig. 4)."
	fA.Rule = lowRule(fmt.Sprintf("with λ = %g × the median diagonal entry of the probe's Gram", fs.Rho))
	fC, tabZero := lowest(zero)
	fC.Claim = "The same at λ = 0 (Eq. 10, the unregularised min-norm problem of MGDA)."
	fC.Rule = lowRule("with λ = 0")

	// Close to the optimum at the main λ.
	var outsB []Outcome
	var ratios []string
	logClose := math.Log(fs.Close)
	for _, pt := range main {
		if pt.step == 0 {
			continue
		}
		m, se := meanSE(pt.logRatio(iMin))
		o := outcomeOf(m-logClose, se, true)
		outsB = append(outsB, o)
		ratios = append(ratios, fmt.Sprintf("step %d: %.3g×", pt.step, math.Exp(m)))
	}
	nB := map[Outcome]int{}
	for _, o := range outsB {
		nB[o]++
	}
	fB := Finding{
		Claim:    "Min-SNR-5's objective is close to the Pareto optimum (the paper: close to UGD's).",
		Measured: fmt.Sprintf("min-SNR-5's objective is within %g× of the optimum f* at %d of %d probes, beyond it at %d, within noise of %g× at %d (geometric mean over draws: %s).", fs.Close, nB[Supports], len(outsB), nB[Contradicts], fs.Close, nB[WithinNoise], strings.Join(thin(ratios, 6), "; ")),
		Rule:     fmt.Sprintf("λ as in 1; \"close\" is our threshold (the paper gives no number): within a factor %g of f*. A probe supports the claim if the mean over draws of log(f_min-SNR/f*) is below log %g by more than 2 standard errors, contradicts it if above by more than 2, and is within noise otherwise; %s", fs.Close, fs.Close, verdictRule),
		Verdict:  VerdictOf(outsB...),
	}

	// UGD and fw reach the floor.
	worst := map[string]float64{}
	for _, set := range [][]fig4Point{main, zero, sweep} {
		for _, pt := range set {
			for d := range pt.f {
				for j := nClosed; j < len(all); j++ {
					if all[j] == "exact" {
						continue
					}
					e := pt.f[d][j]/pt.fstar[d] - 1
					worst[all[j]] = math.Max(worst[all[j]], e)
				}
			}
		}
	}
	fD := Finding{
		Claim:    "UGD (Eq. 12–13) finds the Pareto-optimal weights of Eq. 11, the reference every weighting is compared with.",
		Measured: fmt.Sprintf("largest relative excess over the exact solver's f*, over every probe, draw and λ: ugd %.2g, fw %.2g.", worst["ugd"], worst["fw"]),
		Rule:     fmt.Sprintf("agrees if ugd's excess is at most %g everywhere (the solvers' default relative duality-gap tolerance is 1e-10)", fig4SolverTol),
		Verdict:  map[bool]Verdict{true: Agrees, false: Disagrees}[worst["ugd"] <= fig4SolverTol],
	}

	// The λ sweep.
	sw := Table{Header: append([]string{"ρ", "λ"}, names...)}
	var band []string
	for _, pt := range sweep {
		row := []any{fmt.Sprintf("%g", pt.rho), fmt.Sprintf("%.3g", pt.lambda)}
		best, bv := -1, math.Inf(1)
		for j := range names {
			v := math.Exp(meanOf(pt.logRatio(j)))
			c := fmt.Sprintf("%.3g", v)
			if v < bv {
				best, bv = j, v
			}
			row = append(row, c)
		}
		row[2+best] = "**" + row[2+best].(string) + "**"
		sw.Add(row...)
		if best == iMin {
			band = append(band, fmt.Sprintf("%g", pt.rho))
		}
	}
	sweepNote := "min-SNR-5 is the lowest closed form at none of the ρ of the grid."
	if len(band) > 0 {
		sweepNote = fmt.Sprintf("min-SNR-5 is the lowest closed form at ρ ∈ {%s} of the grid.", strings.Join(band, ", "))
	}

	r := &Report{
		Title:    "Eq. 11 objective of constant, SNR, max-SNR, min-SNR and UGD weights",
		Paper:    "Fig. 4 of Hang et al. (ICCV 2023): the value of the Eq. 11 objective for the weights of constant, SNR, max-SNR (truncated SNR) and min-SNR-γ weighting and for the UGD solution, over training",
		Sizes:    []any{ms, ps, fs},
		Findings: []Finding{fA, fB, fC, fD},
		Sections: []Section{
			{Heading: "Setting", Body: fmt.Sprintf("One training run of the %s-prediction, %s-weighted model (the strategy grid's configuration, seed %d: the same weights step for step as the cached model, since probes change neither parameters nor the training random stream) is probed at step 0 and every %d steps (TrainProbed, conflict.Probe as a training callback): %d independent batches (draws), each fixed over training, of %d examples in each of %d equal-width timestep bins give %d exact K×K Gram matrices of the bins' task-loss gradients (task loss: the bin's mean unweighted x0-MSE) per probe. Each weighting is a weight vector on the bins' task losses: a closed form w(t) on the x0 loss becomes W_k ∝ Σ_{t∈bin k} w(t), normalised to sum to 1 (conflict.BinWeights: with timesteps drawn uniformly, that is the weight training with w(t) puts on bin k's mean x0 loss); UGD, Frank-Wolfe and the exact solver solve Eq. 11 on each draw's Gram. The objective is f(w) = wᵀ(G + λI)w with λ = %g × the median of the diagonal of the draws' mean Gram at that probe (a typical bin's squared gradient norm; the paper gives no λ), and again with λ = 0; f* is the exact solver's minimum.",
				ps.Target, ps.Strategy, env.Seed, ps.Every, ps.Draws, ps.PerBin, bins.K(), ps.Draws, fs.Rho)},
			{Heading: fmt.Sprintf("Objective relative to the optimum, f(w)/f*, at λ = %g × median G_kk (geometric mean over draws)", fs.Rho), Body: tabMain.Markdown()},
			{Heading: "The same at λ = 0", Body: tabZero.Markdown()},
			{Heading: "How the comparison depends on λ (last probe)", Body: "f(w)/f* at the last probe for λ = ρ × median G_kk (geometric mean over draws; bold: the lowest closed form). A small λ favours weights that concentrate on the bins with the smallest gradients (SNR weighting puts almost all its weight on the first bin), a large λ favours uniform weights (constant); " + sweepNote + "\n\n" + sw.Markdown()},
		},
		Limits: analysisLimits(env.Scale) + fmt.Sprintf(" The tasks are %d bins of %d timesteps; the comparison depends on λ, which the paper does not state, so the λ sweep is part of the result.", bins.K(), ms.T/bins.K()),
		Files:  out.files,
	}
	return r, nil
}

// fig4SolverTol is the largest relative excess over f* at which UGD counts
// as having found the optimum: the solvers stop at a relative duality gap
// of 1e-10, so 1e-6 leaves room for the exact solver's own rounding.
const fig4SolverTol = 1e-6

// fig4WeightFloor is the smallest weight fig4's weight panel draws (on a
// log axis a zero weight has no place).
const fig4WeightFloor = 1e-4

// fig4Figure draws the objective over training at the main λ and at λ = 0,
// the ratio to the optimum against ρ at the last probe, and the weights at
// the last probe.
func fig4Figure(main, zero, sweep []fig4Point, all []string, nClosed int, bins weighting.Bins, fs Fig4Sizes, path string) error {
	grid := plots.Grid{Rows: 2, Cols: 2, Width: 14 * vg.Inch, Height: 10 * vg.Inch}
	over := func(set []fig4Point, title string) (*plot.Plot, error) {
		var series []plots.Series
		for j, n := range all {
			if n == "fw" || n == "exact" { // they coincide with ugd (finding 4)
				continue
			}
			var x, y []float64
			for _, pt := range set {
				x, y = append(x, float64(pt.step)), append(y, pt.meanF(j))
			}
			name := n
			if n == "ugd" {
				name = "ugd = the optimum f* (fw and exact agree)"
			}
			series = append(series, plots.Series{Name: name, X: x, Y: y})
		}
		p, err := plots.Lines{Title: title, XLabel: "training step", YLabel: "objective (mean over draws, log scale)", LogY: true, Series: series}.Plot()
		if err != nil {
			return nil, err
		}
		plots.UseLogTicks125(p)
		return p, nil
	}
	a, err := over(main, fmt.Sprintf("Eq. 11 objective wᵀ(G + λI)w, λ = %g × median G_kk", fs.Rho))
	if err != nil {
		return err
	}
	b, err := over(zero, "Eq. 10 objective wᵀGw (λ = 0)")
	if err != nil {
		return err
	}
	var ss []plots.Series
	for j := 0; j < nClosed; j++ {
		var x, y []float64
		for _, pt := range sweep {
			x, y = append(x, pt.rho), append(y, math.Exp(meanOf(pt.logRatio(j))))
		}
		ss = append(ss, plots.Series{Name: all[j], X: x, Y: y})
	}
	lo, hi := sweep[0].rho, sweep[len(sweep)-1].rho
	ss = append(ss, plots.Series{Name: fmt.Sprintf("factor %g (\"close\")", fs.Close), X: []float64{lo, hi}, Y: []float64{fs.Close, fs.Close}})
	c, err := plots.Lines{Title: fmt.Sprintf("last probe (step %d): objective / optimum against λ", sweep[0].step), XLabel: "ρ = λ / median G_kk (log scale)", YLabel: "f(w) / f* (log scale)", LogX: true, LogY: true, Series: ss}.Plot()
	if err != nil {
		return err
	}
	plots.UseLogTicks125(c)
	centers := bins.Centers()
	last := main[len(main)-1]
	var ws []plots.Series
	for j, n := range all {
		if n == "fw" || n == "exact" {
			continue
		}
		y := make([]float64, bins.K())
		for k := range y {
			for d := range last.w {
				y[k] += last.w[d][j][k] / float64(len(last.w))
			}
			y[k] = math.Max(y[k], fig4WeightFloor)
		}
		name := n
		if j >= nClosed {
			name = fmt.Sprintf("%s, λ = %g × median G_kk (mean of draws)", n, fs.Rho)
		}
		ws = append(ws, plots.Series{Name: name, X: centers, Y: y})
	}
	d, err := plots.Lines{Title: fmt.Sprintf("weights at the last probe (step %d; below %g drawn at %g)", last.step, fig4WeightFloor, fig4WeightFloor), XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's x0 loss (log scale)", LogY: true, Legend: "bottom-left", Series: ws}.Plot()
	if err != nil {
		return err
	}
	d.Y.Min = fig4WeightFloor
	plots.UseLogTicks125(d)
	grid.Panels = []*plot.Plot{a, b, c, d}
	return grid.Save(path)
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
