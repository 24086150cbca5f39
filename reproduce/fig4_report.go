package reproduce

import (
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/weighting"
)

// Render writes objective.csv (every weighting's objective, its ratio to
// f* and its L1 distance to the Pareto weights on every draw of every
// model at every point), weights.csv (the mean weights at the last probe),
// cross.csv (the trained-with × weighting table), sensitivity.csv (the
// primary test per binning), fig4.png and cross.png into dir and returns
// the report.
func (r *Fig4Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	for _, t := range []struct {
		name string
		tab  Table
	}{{"objective.csv", r.objectiveTable()}, {"weights.csv", r.weightsTable()}, {"cross.csv", r.crossTable()}, {"sensitivity.csv", r.sensitivityCSV()}, {"signal.csv", r.Noise.signalTable(r.Bins.Range)}} {
		if err := t.tab.WriteCSV(out.path(t.name)); err != nil {
			return nil, err
		}
	}
	if err := r.figure(out.path("fig4.png")); err != nil {
		return nil, err
	}
	if err := r.crossFigure(out.path("cross.png")); err != nil {
		return nil, err
	}
	return r.report(out.files), nil
}

// objectiveTable is objective.csv.
func (r *Fig4Result) objectiveTable() Table {
	all := r.weightings()
	ot := Table{Header: []string{"trained", "seed", "bins", "step", "rho", "lambda", "draw", "weighting", "objective", "ratio_to_optimum", "l1_to_pareto"}}
	add := func(m Fig4Model, bins string, pt Fig4Point) {
		for d := range pt.F {
			for j, n := range all {
				ot.Add(m.Trained, m.Seed, bins, pt.Step, pt.Rho, pt.Lambda, d, n, pt.F[d][j], pt.F[d][j]/pt.FStar[d], pt.l1(j, r.exact())[d])
			}
		}
	}
	for _, row := range r.Models {
		for _, m := range row {
			for _, set := range [][]Fig4Point{m.Main, m.Zero, m.Sweep} {
				for _, pt := range set {
					add(m, r.Probe.Bins, pt)
				}
			}
			for i, pt := range m.Binnings {
				add(m, r.Probe.Binnings[i], pt)
			}
		}
	}
	return ot
}

// weightsTable is weights.csv: at the last probe, at the headline λ and at
// λ = 0, every weighting's weight on every bin, the mean over the seeds
// and draws of each training weighting's models.
func (r *Fig4Result) weightsTable() Table {
	wt := Table{Header: []string{"trained", "bin", "t_lo", "t_hi", "rho", "weighting", "mean_weight"}}
	last := r.lastIndex()
	for a, tr := range r.Trained {
		for _, sel := range []func(int) func(Fig4Model) Fig4Point{atMain, atZero} {
			for j, n := range r.weightings() {
				w := r.meanWeights(a, j, sel(last))
				for k, v := range w {
					lo, hi := r.Bins.Range(k)
					wt.Add(tr, k, lo, hi, sel(last)(r.Models[a][0]).Rho, n, v)
				}
			}
		}
	}
	return wt
}

// meanWeights is weighting j's mean weight per bin over the seeds and
// draws of the models trained with Trained[a], at one point.
func (r *Fig4Result) meanWeights(a, j int, point func(Fig4Model) Fig4Point) []float64 {
	var m []float64
	for _, md := range r.Models[a] {
		w := point(md).meanWeights(j)
		if m == nil {
			m = make([]float64, len(w))
		}
		for k := range w {
			m[k] += w[k] / float64(len(r.Models[a]))
		}
	}
	return m
}

// tablePoints are the probes the trained-with × weighting table shows: up
// to three after step 0, the first, the last and one between.
func (r *Fig4Result) tablePoints() []int {
	var out []int
	for _, i := range spreadIndices(r.lastIndex(), 3) {
		out = append(out, i+1)
	}
	return out
}

// crossTable is cross.csv: at the table's probes, for every training
// weighting A and closed form B, the mean log(f/f*) with its standard
// error and the mean L1 distance to the Pareto weights with its.
func (r *Fig4Result) crossTable() Table {
	t := Table{Header: []string{"trained", "step", "weighting", "diagonal", "log_ratio", "log_ratio_se", "l1_to_pareto", "l1_se", "units"}}
	for _, i := range r.tablePoints() {
		for a, tr := range r.Trained {
			for j, b := range r.Strategies {
				lr, l1 := r.cell(a, j, atMain(i), logRatioMetric), r.cell(a, j, atMain(i), r.l1Metric)
				t.Add(tr, r.Models[a][0].Main[i].Step, b, !OffDiagonal(tr, b), lr.Mean, lr.SE, l1.Mean, l1.SE, lr.Unit)
			}
		}
	}
	return t
}

// primaryCases are the primary test's cases: every model trained with
// another weighting than min-SNR-5, at the last probe and the headline λ,
// by log(f/f*).
func (r *Fig4Result) primaryCases() []CrossCase {
	return r.offCases(atMain(r.lastIndex()), logRatioMetric)
}

// binningCases are the primary test's cases on binning i (−1: the main
// probes).
func (r *Fig4Result) binningCases(i int) []CrossCase {
	return r.offCases(r.atBinning(i), logRatioMetric)
}

// sensitivityCSV is sensitivity.csv: the primary test's cases on every
// binning.
func (r *Fig4Result) sensitivityCSV() Table {
	t := Table{Header: []string{"bins", "k", "trained", "other", "diff", "se", "units", "outcome"}}
	for i := -1; i < len(r.Binnings); i++ {
		spec, bins := r.binning(i)
		for _, c := range r.binningCases(i) {
			t.Add(spec, bins.K(), c.Trained, c.Other, c.Diff.Mean, c.Diff.SE, c.Diff.Unit, lowerWords[c.Outcome])
		}
	}
	return t
}

// primaryTest is fig4's primary test as declared before measuring.
func (r *Fig4Result) primaryTest() string {
	var off []string
	for _, a := range r.Trained {
		if OffDiagonal(a, fig5MinSNR) {
			off = append(off, ShortName(a))
		}
	}
	return fmt.Sprintf("At the headline λ = ρ × median G_kk with ρ = %g (fixed in advance; the paper gives no λ), at the last probe (the end of training), on the models trained with each weighting other than min-snr:5 (%s; %s each), min-SNR-5's Eq. 11 objective relative to the optimum f* is the lowest of the closed forms: %s; %s. The findings below it are secondary.",
		r.Sizes.Rho, strings.Join(off, ", "), seedsText(len(r.Seeds)), crossRule("log(f/f*)"), verdictRule)
}

// report builds fig4's report.
func (r *Fig4Result) report(files []string) *Report {
	ms, ps, fs := r.Model, r.Probe, r.Sizes
	K := r.Bins.K()
	findings := []Finding{r.primaryFinding(), r.diagonalFinding(), r.trainingFinding()}
	findings = append(findings, r.bandFindings()...)
	findings = append(findings, r.closeFinding(), r.l1Finding(), r.solverFinding())
	ratios, l1s, sweep, sens := r.ratioMarkdown(), r.l1Markdown(), r.sweepMarkdown(), r.sensitivityMarkdown()
	return &Report{
		Title:    "Eq. 11 objective of constant, SNR, max-SNR, min-SNR and UGD weights, on models trained with each weighting",
		Paper:    "Fig. 4 of Hang et al. (ICCV 2023): the value of the Eq. 11 objective for the weights of constant, SNR, max-SNR (truncated SNR) and min-SNR-γ weighting and for the UGD solution, over training",
		Primary:  r.primaryTest(),
		Sizes:    []any{ms, fs},
		Findings: findings,
		Sections: []Section{
			{Heading: "Setting", Body: r.setting()},
			{Heading: fmt.Sprintf("f(w)/f* by training weighting (rows A) and weighting evaluated (columns B), λ = %g × median G_kk", fs.Rho), Body: "Geometric mean over the seeds and draws; *italic*: the diagonal, where B is the weighting the model was trained with; **bold**: the lowest off-diagonal closed form of the row. cross.png draws the same as heat maps.\n\n" + ratios.Markdown()},
			{Heading: "L1 distance to the Pareto weights (last probe)", Body: "Σ_k |W_B,k − W*_k| (0–2) between each closed form's weights and the exact solver's Pareto weights W* at the headline λ, the mean over the seeds and draws (± SE).\n\n" + l1s.Markdown()},
			{Heading: "How the comparison depends on λ (last probe)", Body: "min-SNR-5's f/f* divided by that of the best other closed form off the diagonal, for each training weighting (below 1: min-SNR-5 lower; the case's outcome in brackets). A small λ favours weights that concentrate on the bins with the smallest gradients, a large λ favours uniform weights (constant).\n\n" + sweep.Markdown()},
			{Heading: "Sensitivity to the bins", Body: fmt.Sprintf("The primary test again on the probes of other binnings, taken at the last step on the same models (%d draws of %d examples each, split equally between the bins); the first row is the main probes'. %s\n\n", ps.Draws, ps.BinningExamples, binningNote) + sens.Markdown()},
			r.Noise.section(ps.PerBin),
		},
		Limits: analysisLimits(r.Scale, r.Model) + fmt.Sprintf(" The tasks are %d bins of %d timesteps; the comparison depends on λ, which the paper does not state, so the λ sweep and its bands are part of the result. The probes' Grams are split-half estimates from %d examples per bin: unbiased on the diagonal, where the plain estimate adds each bin's sampling noise (about tr Σ_k/n, a bin-dependent λ), but noisier, and projected to the nearest PSD matrix (below: how far, and how much of each G_kk is signal).", K, ms.T/K, ps.PerBin),
		Files:  files,
	}
}

// setting is the report's description of what was measured.
func (r *Fig4Result) setting() string {
	ps, fs := r.Probe, r.Sizes
	return fmt.Sprintf("The %s-prediction models of the strategy grid (fig5's, the same weights step for step: probes change neither parameters nor the training random stream) trained with each of %s, seeds %v, are probed at step 0 and every %d steps: %d independent batches (draws), each fixed over training, of %d examples in each of %d equal-width timestep bins give exact K×K Gram matrices of the bins' task-loss gradients (task loss: the bin's mean unweighted x0-MSE). Each weighting B is a weight vector on the bins' task losses: a closed form w(t) on the x0 loss becomes W_k ∝ Σ_{t∈bin k} w(t), normalised to sum to 1 (conflict.BinWeights); UGD, Frank-Wolfe and the exact solver solve Eq. 11 on each draw's Gram. The objective is f(w) = wᵀ(G + λI)w with λ = %g × the median of the diagonal of the draws' mean Gram at that probe (a typical bin's squared gradient norm), and again with λ = 0; f* is the exact solver's minimum and its weights W* the Pareto weights. On the model trained with A, A's own combination of the bins' gradients is what the optimiser drives towards zero, so the diagonal (A, A) is small by construction: the claim is tested on the other cells.",
		ps.Target, strings.Join(shortNames(r.Trained), ", "), r.Seeds, ps.Every, ps.Draws, ps.PerBin, r.Bins.K(), fs.Rho)
}

// primaryFinding is the primary test's finding.
func (r *Fig4Result) primaryFinding() Finding {
	cs := r.primaryCases()
	v, n := casesVerdict(cs)
	var lines []string
	for _, c := range cs {
		lines = append(lines, c.Line(ratioOf))
	}
	return Finding{
		Role:     RolePrimary,
		Claim:    "Min-SNR-5's weights have a lower Eq. 11 objective wᵀ(G + λI)w than the other closed-form weightings (constant, SNR, max-SNR-1): they approximate the Pareto-optimal weighting (the paper's Fig. 4), here on models trained with the other weightings.",
		Measured: fmt.Sprintf("at step %d, min-SNR-5's f/f* is the lowest of the eligible closed forms beyond noise on %d of %d training weightings, higher beyond noise on %d, within noise on %d (geometric means over the seeds and draws): %s. %s", r.probeSteps()[r.lastIndex()], n[Supports], len(cs), n[Contradicts], n[WithinNoise], strings.Join(lines, "; "), stillClosest(cs)),
		Rule:     "as declared above",
		Verdict:  v,
	}
}

// stillClosest says, whatever the numbers, whether min-SNR-5 is still the
// closest closed form off the diagonal: on which training weightings it is
// not lower beyond noise, and on which it is higher.
func stillClosest(cs []CrossCase) string {
	var higher, noise []string
	for _, c := range cs {
		switch c.Outcome {
		case Contradicts:
			higher = append(higher, ShortName(c.Trained))
		case WithinNoise:
			noise = append(noise, ShortName(c.Trained))
		}
	}
	if len(higher)+len(noise) == 0 {
		return "Min-SNR-5 is still the closest closed form off the diagonal, on the models of every other training weighting."
	}
	var parts []string
	if len(higher) > 0 {
		parts = append(parts, "another closed form is closer beyond noise on the models trained with "+strings.Join(higher, ", "))
	}
	if len(noise) > 0 {
		parts = append(parts, "it is not closer beyond noise on those trained with "+strings.Join(noise, ", "))
	}
	return "Min-SNR-5 is not the closest closed form everywhere off the diagonal: " + strings.Join(parts, "; ") + "."
}

// seedsText is "1 seed" or "N seeds".
func seedsText(n int) string {
	if n == 1 {
		return "1 seed"
	}
	return fmt.Sprintf("%d seeds", n)
}

// diagonalFinding is the test on min-SNR-5's own models: the paper's
// setting, where the training combination is min-SNR-5's.
func (r *Fig4Result) diagonalFinding() Finding {
	a := indexOf(r.Trained, fig5MinSNR)
	c := CompareMinSNR(fig5MinSNR, r.Strategies, r.values(a, atMain(r.lastIndex()), logRatioMetric))
	return Finding{
		Role:     RoleSecondary,
		Claim:    "The same on the models trained with min-SNR-5 itself (the paper's setting, the diagonal: min-SNR-5's combined gradient is what training drives towards zero, so its objective is small there by construction).",
		Measured: c.Line(ratioOf) + fmt.Sprintf("; paired difference of log(f/f*) %s over %d %s.", c.Diff, c.Diff.N, c.Diff.Unit),
		Rule:     "as the primary test, on the min-snr:5 models, against the best of the three other closed forms",
		Verdict:  VerdictOf(c.Outcome),
	}
}

// trainingFinding is the primary rule at every probe after step 0.
func (r *Fig4Result) trainingFinding() Finding {
	var cs []CrossCase
	var lines []string
	for i := 1; i <= r.lastIndex(); i++ {
		ci := r.offCases(atMain(i), logRatioMetric)
		_, n := casesVerdict(ci)
		cs = append(cs, ci...)
		lines = append(lines, fmt.Sprintf("step %d: lower on %d of %d", r.probeSteps()[i], n[Supports], len(ci)))
	}
	v, n := casesVerdict(cs)
	return Finding{
		Role:     RoleSecondary,
		Claim:    "The same throughout training (the paper's Fig. 4 draws the objective over training).",
		Measured: fmt.Sprintf("over the %d (training weighting, probe) cases after step 0, min-SNR-5 is the lowest eligible closed form beyond noise in %d, higher beyond noise in %d, within noise in %d: %s.", len(cs), n[Supports], n[Contradicts], n[WithinNoise], strings.Join(thin(lines, 8), "; ")),
		Rule:     "the primary test's rule at every probe after step 0, each (training weighting, probe) a case; " + verdictRule,
		Verdict:  v,
	}
}

// bandFindings are the primary rule at the last probe over every ρ of
// each λ band (and λ = 0 in the band that holds it), one finding per band.
func (r *Fig4Result) bandFindings() []Finding {
	var out []Finding
	for _, b := range Fig4Bands {
		var cs []CrossCase
		var rhos []string
		if b.Zero {
			cs = append(cs, r.offCases(atZero(r.lastIndex()), logRatioMetric)...)
			rhos = append(rhos, "λ = 0")
		}
		for i, rho := range r.Sizes.RhoGrid {
			if rho >= b.Lo && rho < b.Hi {
				cs = append(cs, r.offCases(atSweep(i), logRatioMetric)...)
				rhos = append(rhos, fmt.Sprintf("%g", rho))
			}
		}
		f := Finding{Role: RoleSecondary, Claim: fmt.Sprintf("The primary comparison for λ in the band %s.", b.Name),
			Rule: "the primary test's rule at the last probe at every ρ of the band in the sweep, each (training weighting, ρ) a case; " + verdictRule}
		if len(cs) == 0 {
			f.Measured, f.Verdict = "no ρ of the sweep lies in this band at this scale.", Inconclusive
			out = append(out, f)
			continue
		}
		v, n := casesVerdict(cs)
		f.Measured = fmt.Sprintf("at ρ ∈ {%s}: min-SNR-5 is the lowest eligible closed form beyond noise in %d of %d cases, higher beyond noise in %d, within noise in %d.", strings.Join(rhos, ", "), n[Supports], len(cs), n[Contradicts], n[WithinNoise])
		f.Verdict = v
		out = append(out, f)
	}
	return out
}

// closeFinding is whether min-SNR-5's objective is within Sizes.Close of
// f* on the models trained with the other weightings, at the last probe.
func (r *Fig4Result) closeFinding() Finding {
	logClose := math.Log(r.Sizes.Close)
	var outs []Outcome
	var lines []string
	for a, tr := range r.Trained {
		if !OffDiagonal(tr, fig5MinSNR) {
			continue
		}
		u := r.cell(a, r.minSNR(), atMain(r.lastIndex()), logRatioMetric)
		o := outcomeOf(u.Mean-logClose, u.SE, true)
		outs = append(outs, o)
		lines = append(lines, fmt.Sprintf("%s %s", ShortName(tr), ratioOf(u.Mean)))
	}
	v := VerdictOf(outs...)
	return Finding{
		Role:     RoleSecondary,
		Claim:    "Min-SNR-5's objective is close to the Pareto optimum (the paper: close to UGD's), on models trained with the other weightings.",
		Measured: fmt.Sprintf("min-SNR-5's f/f* at the last probe (geometric mean over the seeds and draws), by training weighting: %s.", strings.Join(lines, "; ")),
		Rule:     fmt.Sprintf("\"close\" is our threshold (the paper gives no number): within a factor %g of f*; a training weighting supports the claim if the mean of log(f_min-SNR/f*) is below log %g by more than 2 standard errors, contradicts it if above by more than 2, and is within noise otherwise (%s); %s", r.Sizes.Close, r.Sizes.Close, unitRule, verdictRule),
		Verdict:  v,
	}
}

// l1Finding is whether min-SNR-5's weights are the closest closed form to
// the Pareto weights in L1, off the diagonal, at the last probe.
func (r *Fig4Result) l1Finding() Finding {
	cs := r.offCases(atMain(r.lastIndex()), r.l1Metric)
	v, n := casesVerdict(cs)
	var lines []string
	for _, c := range cs {
		lines = append(lines, c.Line(func(x float64) string { return fmt.Sprintf("%.3f", x) }))
	}
	return Finding{
		Role:     RoleSecondary,
		Claim:    "Min-SNR-5's weights are the closed form closest to the Pareto weights (the exact solver's at the headline λ), on models trained with the other weightings.",
		Measured: fmt.Sprintf("L1 distance to the Pareto weights at the last probe (mean over the seeds and draws): min-SNR-5 the closest eligible closed form beyond noise on %d of %d training weightings, farther beyond noise on %d, within noise on %d: %s.", n[Supports], len(cs), n[Contradicts], n[WithinNoise], strings.Join(lines, "; ")),
		Rule:     crossRule("L1 distance to the Pareto weights") + "; " + verdictRule,
		Verdict:  v,
	}
}

// solverFinding is whether UGD reaches the exact solver's f* (with
// Frank-Wolfe's excess for comparison) over every point of every model.
func (r *Fig4Result) solverFinding() Finding {
	all := r.weightings()
	worst := map[string]float64{}
	for _, row := range r.Models {
		for _, m := range row {
			for _, set := range [][]Fig4Point{m.Main, m.Zero, m.Sweep, m.Binnings} {
				for _, pt := range set {
					for d := range pt.F {
						for j := len(r.Strategies); j < len(all); j++ {
							if all[j] != "exact" {
								worst[all[j]] = math.Max(worst[all[j]], pt.F[d][j]/pt.FStar[d]-1)
							}
						}
					}
				}
			}
		}
	}
	return Finding{
		Role:     RoleSecondary,
		Claim:    "UGD (Eq. 12–13) finds the Pareto-optimal weights of Eq. 11, the reference every weighting is compared with.",
		Measured: fmt.Sprintf("largest relative excess over the exact solver's f*, over every model, probe, draw and λ: ugd %.2g, fw %.2g.", worst["ugd"], worst["fw"]),
		Rule:     fmt.Sprintf("agrees if ugd's excess is at most %g everywhere (the solvers' default relative duality-gap tolerance is 1e-10)", fig4SolverTol),
		Verdict:  map[bool]Verdict{true: Agrees, false: Disagrees}[worst["ugd"] <= fig4SolverTol],
	}
}

// fig4SolverTol is the largest relative excess over f* at which UGD counts
// as having found the optimum: the solvers stop at a relative duality gap
// of 1e-10, so 1e-6 leaves room for the exact solver's own rounding.
const fig4SolverTol = 1e-6

// ratioMarkdown is the report's table of f/f* by training weighting and
// closed form at the table's probes.
func (r *Fig4Result) ratioMarkdown() Table {
	t := Table{Header: append([]string{"trained with (A)", "step"}, r.Strategies...)}
	for _, i := range r.tablePoints() {
		for a, tr := range r.Trained {
			row := []any{ShortName(tr), r.probeSteps()[i]}
			cells := make([]string, len(r.Strategies))
			best, bv := -1, math.Inf(1)
			for j, b := range r.Strategies {
				u := r.cell(a, j, atMain(i), logRatioMetric)
				cells[j] = fmt.Sprintf("%.3g", math.Exp(u.Mean))
				if !OffDiagonal(tr, b) {
					cells[j] = "*" + cells[j] + "*"
				} else if u.Mean < bv {
					best, bv = j, u.Mean
				}
			}
			if best >= 0 {
				cells[best] = "**" + cells[best] + "**"
			}
			for _, c := range cells {
				row = append(row, c)
			}
			t.Add(row...)
		}
	}
	return t
}

// l1Markdown is the report's table of L1 distances to the Pareto weights
// at the last probe.
func (r *Fig4Result) l1Markdown() Table {
	t := Table{Header: append([]string{"trained with (A)"}, r.Strategies...)}
	for a, tr := range r.Trained {
		row := []any{ShortName(tr)}
		for j, b := range r.Strategies {
			u := r.cell(a, j, atMain(r.lastIndex()), r.l1Metric)
			c := fmt.Sprintf("%.2f ± %.2f", u.Mean, u.SE)
			if !OffDiagonal(tr, b) {
				c = "*" + c + "*"
			}
			row = append(row, c)
		}
		t.Add(row...)
	}
	return t
}

// sweepMarkdown is the report's table of the primary comparison at every
// ρ of the sweep (and λ = 0).
func (r *Fig4Result) sweepMarkdown() Table {
	var off []string
	for _, a := range r.Trained {
		if OffDiagonal(a, fig5MinSNR) {
			off = append(off, ShortName(a))
		}
	}
	t := Table{Header: append([]string{"ρ"}, off...)}
	row := func(label string, cs []CrossCase) {
		cells := []any{label}
		for _, c := range cs {
			cells = append(cells, fmt.Sprintf("%.3g (%s)", math.Exp(c.Diff.Mean), lowerWords[c.Outcome]))
		}
		t.Add(cells...)
	}
	row("0 (λ = 0)", r.offCases(atZero(r.lastIndex()), logRatioMetric))
	for i, rho := range r.Sizes.RhoGrid {
		row(fmt.Sprintf("%g", rho), r.offCases(atSweep(i), logRatioMetric))
	}
	return t
}

// binning returns the spec and bins of sensitivity binning i (−1: the
// main probes').
func (r *Fig4Result) binning(i int) (string, weighting.Bins) {
	if i < 0 {
		return r.Probe.Bins, r.Bins
	}
	return r.Probe.Binnings[i], r.Binnings[i]
}

// sensitivityMarkdown is the report's table of the primary test's verdict
// per binning.
func (r *Fig4Result) sensitivityMarkdown() Table {
	t := Table{Header: []string{"bins", "K", "examples per bin", "lower / higher / within noise", "verdict of the primary test"}}
	for i := -1; i < len(r.Binnings); i++ {
		spec, bins := r.binning(i)
		per := r.Probe.PerBin
		if i >= 0 {
			per = max(1, r.Probe.BinningExamples/bins.K())
		}
		v, n := casesVerdict(r.binningCases(i))
		t.Add(spec, bins.K(), per, fmt.Sprintf("%d / %d / %d", n[Supports], n[Contradicts], n[WithinNoise]), string(v))
	}
	return t
}
