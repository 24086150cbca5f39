package reproduce

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot/vg"
)

// ConflictStats summarises the cosine matrices of one probe over its draws
// (independent probe batches): the noise of every statistic is its spread
// over the draws.
type ConflictStats struct {
	// Step is the training step probed.
	Step int
	// Negative and NegativeSE are the fraction of bin pairs with a negative
	// cosine (mean over draws) and its standard error.
	Negative, NegativeSE float64
	// SigNegative and SigPositive are the fractions of pairs whose cosine,
	// averaged over the draws, is below −2 (above +2) standard errors of
	// that mean: conflicting (agreeing) beyond the sampling noise.
	SigNegative, SigPositive float64
	// Slope and SlopeSE are the least-squares slope of the cosine against
	// bin distance over all pairs (CosineDistanceSlope; mean over draws)
	// and its standard error.
	Slope, SlopeSE float64
	// Near and Far are the mean cosines of pairs at most a quarter of the
	// bins apart and at least half of them apart (mean over draws), and
	// NearFarSE the standard error of their difference (paired by draw);
	// NaN when no pair is that near or far (K < 4).
	Near, Far, NearFarSE float64
	// ByDistance[d] and ByDistanceSE[d] are the mean cosine of pairs d bins
	// apart (d = 1..K−1; index 0 holds 1) and its standard error.
	ByDistance, ByDistanceSE []float64
}

// SummarizeConflict computes ConflictStats from the draws' records of one
// probe (recs[r] is draw r's, each with its cosine matrix). It needs at
// least 2 draws for standard errors (NaN otherwise).
func SummarizeConflict(recs []conflict.Record) ConflictStats {
	K := recs[0].Cosine.SymmetricDim()
	st := ConflictStats{Step: recs[0].Step, ByDistance: make([]float64, K), ByDistanceSE: make([]float64, K)}
	var neg, slope, nearFar, near, far []float64
	byD := make([][]float64, K)
	for _, r := range recs {
		neg = append(neg, r.Stats.NegativeFraction)
		slope = append(slope, CosineDistanceSlope(r.Cosine))
		mn, mf := nearFarCosines(r.Cosine)
		near, far, nearFar = append(near, mn), append(far, mf), append(nearFar, mn-mf)
		for d := 1; d < K; d++ {
			byD[d] = append(byD[d], r.Stats.CosineByDistance[d])
		}
	}
	st.Negative, st.NegativeSE = meanSE(neg)
	st.Slope, st.SlopeSE = meanSE(slope)
	st.Near, st.Far = meanOf(near), meanOf(far)
	_, st.NearFarSE = meanSE(nearFar)
	st.ByDistance[0] = 1
	for d := 1; d < K; d++ {
		st.ByDistance[d], st.ByDistanceSE[d] = meanSE(byD[d])
	}
	st.SigNegative, st.SigPositive = significantPairs(recs)
	return st
}

// nearFarCosines are the mean cosines of one draw's bin pairs at most a
// quarter of the bins apart and at least half of them apart (NaN cosines
// left out; NaN when there is no such pair).
func nearFarCosines(c *mat.SymDense) (near, far float64) {
	K := c.SymmetricDim()
	var n, f []float64
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			v := c.At(i, j)
			if math.IsNaN(v) {
				continue
			}
			switch d := j - i; {
			case 4*d <= K:
				n = append(n, v)
			case 2*d >= K:
				f = append(f, v)
			}
		}
	}
	return meanOf(n), meanOf(f)
}

// significantPairs are the fractions of bin pairs whose cosine, averaged
// over the draws, is below −2 (above +2) standard errors of that mean;
// pairs with fewer than 2 draws of a cosine are left out.
func significantPairs(recs []conflict.Record) (negative, positive float64) {
	K := recs[0].Cosine.SymmetricDim()
	pairs, sn, sp := 0, 0, 0
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			var v []float64
			for _, r := range recs {
				if x := r.Cosine.At(i, j); !math.IsNaN(x) {
					v = append(v, x)
				}
			}
			if len(v) < 2 {
				continue
			}
			pairs++
			m, se := meanSE(v)
			if m < -2*se {
				sn++
			}
			if m > 2*se {
				sp++
			}
		}
	}
	return ratio(sn, pairs), ratio(sp, pairs)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// heatmapSteps picks the probes whose cosine matrices are drawn: step 0,
// the first probe after it, the middle one and the last.
func heatmapSteps(steps []int) []int {
	var out []int
	seen := map[int]bool{}
	for _, i := range []int{0, 1, len(steps) / 2, len(steps) - 1} {
		if i < len(steps) && !seen[steps[i]] {
			seen[steps[i]] = true
			out = append(out, steps[i])
		}
	}
	return out
}

// ConflictResult is what conflict measured: the probed training run (fig4
// shares it) and its cosine statistics at every probe.
type ConflictResult struct {
	// Scale, Sizes and Probes are the run's.
	Scale  Scale
	Sizes  ModelSizes
	Probes ProbeSizes
	// Run is the probed run: every draw's Gram and cosine matrices.
	Run *ProbeRun
	// Schedule is the run's noise schedule (for the conflict package's
	// figures).
	Schedule *diffusion.Schedule
	// HeatmapSteps are the probes whose cosine matrices are drawn.
	HeatmapSteps []int
	// Stats[i] summarises the draws of probe i (Run.Steps()[i]).
	Stats []ConflictStats
}

// planConflict is conflict's run: the probed run of ProbeSizes (fig4's
// too).
func planConflict(env *Env) ([]CacheRun, error) {
	return []CacheRun{ProbedRun(probeSizes[env.Scale].Spec(ModelSizesFor(env.Scale), env.Seed))}, nil
}

// Conflict trains (or takes from the cache) the probed training run and
// summarises every probe over its draws (SummarizeConflict). It writes
// nothing into the target's folder (Render does).
func Conflict(ctx context.Context, env *Env) (*ConflictResult, error) {
	ms, ps := ModelSizesFor(env.Scale), probeSizes[env.Scale]
	runs, err := planConflict(env)
	if err != nil {
		return nil, err
	}
	env.Logf("conflict: probed training run")
	run, err := TrainProbed(ctx, env, runs[0].Spec)
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(ms.Schedule, ms.T, false)
	if err != nil {
		return nil, err
	}
	steps := run.Steps()
	r := &ConflictResult{Scale: env.Scale, Sizes: ms, Probes: ps, Run: run, Schedule: sched, HeatmapSteps: heatmapSteps(steps)}
	for i := range steps {
		var recs []conflict.Record
		for _, draw := range run.Draws {
			recs = append(recs, draw[i])
		}
		r.Stats = append(r.Stats, SummarizeConflict(recs))
	}
	return r, nil
}

// Render writes conflict's files into dir (the conflict package's figures
// of draw 0, pairs.csv, summary.csv, by_distance.csv, distance.png) and
// returns its report.
func (r *ConflictResult) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	files, err := conflict.WriteFigures(dir, r.Run.Info, r.Schedule, r.Run.Draws[0], conflict.FigureOptions{HeatmapSteps: r.HeatmapSteps})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		out.files = append(out.files, filepath.Base(f))
	}
	pt := r.pairsTable()
	if err := pt.WriteCSV(out.path("pairs.csv")); err != nil {
		return nil, err
	}
	sumT, dt := r.statsTables()
	if err := sumT.WriteCSV(out.path("summary.csv")); err != nil {
		return nil, err
	}
	if err := dt.WriteCSV(out.path("by_distance.csv")); err != nil {
		return nil, err
	}
	if err := conflictFigure(r.Stats, r.HeatmapSteps, out.path("distance.png")); err != nil {
		return nil, err
	}
	return &Report{
		Title:    "gradient conflict between timestep bins over training (cosines by distance)",
		Paper:    "§3.3 of Hang et al. (ICCV 2023): the gradients of different timesteps conflict, more so the further apart they are (the multi-task view behind Min-SNR-γ)",
		Sizes:    []any{r.Sizes, r.Probes},
		Findings: []Finding{r.distanceFinding()},
		Sections: r.sections(),
		Limits:   analysisLimits(r.Scale) + " The bins' gradients are those of the model's raw weights on the probe batches; near the end of training each bin's mean gradient is small next to its per-example spread, so the cosines there are dominated by sampling noise unless the batches are large.",
		Files:    out.files,
	}, nil
}

// pairsTable is the cosine of every bin pair at every probe in every draw
// (pairs.csv).
func (r *ConflictResult) pairsTable() Table {
	K := r.Run.Bins().K()
	t := Table{Header: []string{"step", "draw", "bin_i", "bin_j", "distance", "cosine"}}
	for i, s := range r.Run.Steps() {
		for d, draw := range r.Run.Draws {
			for a := 0; a < K; a++ {
				for b := a + 1; b < K; b++ {
					t.Add(s, d, a, b, b-a, draw[i].Cosine.At(a, b))
				}
			}
		}
	}
	return t
}

// statsTables are the statistics of every probe (summary.csv) and the
// mean cosine by bin distance (by_distance.csv).
func (r *ConflictResult) statsTables() (summary, byDistance Table) {
	summary = Table{Header: []string{"step", "negative_fraction", "negative_fraction_se", "significantly_negative", "significantly_positive", "slope", "slope_se", "near_cosine", "far_cosine", "near_minus_far_se"}}
	byDistance = Table{Header: []string{"step", "distance", "mean_cosine", "se"}}
	for _, st := range r.Stats {
		summary.Add(st.Step, st.Negative, st.NegativeSE, st.SigNegative, st.SigPositive, st.Slope, st.SlopeSE, st.Near, st.Far, st.NearFarSE)
		for d := 1; d < len(st.ByDistance); d++ {
			byDistance.Add(st.Step, d, st.ByDistance[d], st.ByDistanceSE[d])
		}
	}
	return summary, byDistance
}

// distanceFinding compares the slopes of the cosine against bin distance
// with the claim that distant timesteps conflict more: every probe after
// step 0 is a case.
func (r *ConflictResult) distanceFinding() Finding {
	K := r.Run.Bins().K()
	var outs []Outcome
	var lines []string
	n := map[Outcome]int{}
	for _, st := range r.Stats {
		if st.Step == 0 {
			continue
		}
		o := outcomeOf(st.Slope, st.SlopeSE, true)
		outs = append(outs, o)
		n[o]++
		lines = append(lines, fmt.Sprintf("step %d: %+.4f ± %.4f (%s)", st.Step, st.Slope, st.SlopeSE,
			map[Outcome]string{Supports: "falls", Contradicts: "rises", WithinNoise: "within noise"}[o]))
	}
	last := r.Stats[len(r.Stats)-1]
	return Finding{
		Claim: "Distant timesteps conflict more than nearby ones: the agreement (cosine) between two timesteps' gradients falls as they lie further apart (the paper's motivation for treating timesteps as conflicting tasks, and what its Fig. 2 shows by fine-tuning).",
		Measured: fmt.Sprintf("the cosine falls with bin distance beyond noise at %d of %d probes, rises beyond noise at %d, within noise at %d. Slope per bin of distance (mean ± SE over %d draws): %s. At the last probe, pairs at most %d bins apart have a mean cosine of %+.2f, pairs at least %d apart %+.2f.",
			n[Supports], len(outs), n[Contradicts], n[WithinNoise], r.Probes.Draws, strings.Join(thin(lines, 7), "; "), K/4, last.Near, (K+1)/2, last.Far) +
			" The fall need not be monotone: " + strings.Join(r.shapes(), "; ") + ".",
		Rule:    fmt.Sprintf("at every probe after step 0, fit a line through the cosines of all %d bin pairs against their distance in bins, in each of the %d draws; the probe supports the claim if the mean slope is below −2 standard errors (over the draws), contradicts it if above +2, and is within noise otherwise; %s", K*(K-1)/2, r.Probes.Draws, verdictRule),
		Verdict: VerdictOf(outs...),
	}
}

// shapes describe the mean cosine by distance at the heat maps' steps
// after step 0: one bin apart, at its lowest and at the largest distance.
func (r *ConflictResult) shapes() []string {
	var out []string
	for _, st := range r.Stats {
		if st.Step == 0 || !slices.Contains(r.HeatmapSteps, st.Step) {
			continue
		}
		K := len(st.ByDistance)
		d := 1 + floats.MinIdx(st.ByDistance[1:])
		out = append(out, fmt.Sprintf("at step %d the mean cosine is %+.2f one bin apart, lowest %d bins apart (%+.2f) and %+.2f at the largest distance, %d bins", st.Step, st.ByDistance[1], d, st.ByDistance[d], st.ByDistance[K-1], K-1))
	}
	return out
}

// sections are the report's setting, table of conflicting pairs and
// figures.
func (r *ConflictResult) sections() []Section {
	K, ps := r.Run.Bins().K(), r.Probes
	md := Table{Header: []string{"step", "pairs with cosine < 0", "conflicting beyond noise", "agreeing beyond noise", "slope per bin of distance", "near pairs", "far pairs"}}
	var negs []string
	for _, st := range r.Stats {
		md.Add(st.Step, fmt.Sprintf("%.0f%% ± %.0f", 100*st.Negative, 100*st.NegativeSE), fmt.Sprintf("%.0f%%", 100*st.SigNegative), fmt.Sprintf("%.0f%%", 100*st.SigPositive),
			fmt.Sprintf("%+.4f ± %.4f", st.Slope, st.SlopeSE), fmt.Sprintf("%+.2f", st.Near), fmt.Sprintf("%+.2f", st.Far))
		negs = append(negs, fmt.Sprintf("%.0f%%", 100*st.Negative))
	}
	return []Section{
		{Heading: "Setting", Body: fmt.Sprintf("The probed training run of fig4 (shared through the cache): the %s-prediction, %s-weighted model, probed at step 0 and every %d steps by conflict.Probe as a training callback, on %d independent batches (draws) fixed over training, each with %d examples in each of %d equal-width timestep bins. A probe gives the exact K×K Gram matrix of the bins' task-loss gradients (the bin's mean unweighted x0-MSE, over all parameters, at the raw weights) and its cosine matrix C_ij = G_ij/√(G_ii G_jj). The statistics below are averaged over the draws, and their standard errors come from the draws' spread; a pair conflicts beyond noise when its cosine, averaged over the draws, is below −2 standard errors. At the raw weights the bins' gradients share a common component that changes from step to step (the direction the last updates overshot, which every bin's loss would undo), so the overall level of the cosines fluctuates between probes; the trend with distance is steadier.", ps.Target, ps.Strategy, ps.Every, ps.Draws, ps.PerBin, K)},
		{Heading: "How many bin pairs conflict", Body: fmt.Sprintf("Fraction of the %d bin pairs with a negative cosine (mean ± SE over draws), the fractions whose cosine is negative or positive beyond noise, the slope of the cosine per bin of distance, and the mean cosine of near pairs (at most %d bins apart) and far pairs (at least %d apart). Over training the fraction with a negative cosine goes %s. Gradients estimated from a finite batch carry sampling noise, which pulls every cosine toward 0 and makes about half the signs random where the true gradients are small (see fig3's signal fractions): only the columns \"beyond noise\" count conflicts the draws agree on.\n\n%s", K*(K-1)/2, K/4, (K+1)/2, strings.Join(thin(negs, 8), " → "), md.Markdown())},
		{Heading: "Figures", Body: fmt.Sprintf("cosine.png and stats.png are the conflict package's figures (conflict.WriteFigures) of the first draw: cosine heat maps at steps %v (blue −1, white 0, red +1; bins labelled by their first timestep) and, over training, the fraction of negative pairs, the mean and minimum cosine, the mean cosine by bin distance and the per-bin gradient norms. distance.png draws the statistics over all draws with ± 2 SE bands: the mean cosine against bin distance at the same steps, the slope over training, and the fractions of pairs that conflict.", r.HeatmapSteps)},
	}
}

// conflictFigure draws the mean cosine by bin distance at the heat maps'
// steps, the slope over training and the fractions of conflicting pairs,
// each with ± 2 SE bands over the draws.
func conflictFigure(sts []ConflictStats, show []int, path string) error {
	a, err := distancePanel(sts, show)
	if err != nil {
		return err
	}
	b, c, err := trainingPanels(sts)
	if err != nil {
		return err
	}
	grid := plots.Grid{Rows: 1, Cols: 3, Width: 18 * vg.Inch, Height: 5 * vg.Inch, Panels: []*plots.Panel{a, b, c}}
	return grid.Save(path)
}

// distancePanel draws the mean cosine against bin distance at the steps
// shown, with ± 2 SE bands.
func distancePanel(sts []ConflictStats, show []int) (*plots.Panel, error) {
	var series []plots.Series
	for _, st := range sts {
		if !slices.Contains(show, st.Step) {
			continue
		}
		var x, y, lo, hi []float64
		for d := 1; d < len(st.ByDistance); d++ {
			x, y = append(x, float64(d)), append(y, st.ByDistance[d])
			lo, hi = append(lo, st.ByDistance[d]-2*st.ByDistanceSE[d]), append(hi, st.ByDistance[d]+2*st.ByDistanceSE[d])
		}
		series = append(series, plots.Series{Name: fmt.Sprintf("step %d", st.Step), X: x, Y: y, Lo: lo, Hi: hi})
	}
	k := len(sts[0].ByDistance)
	series = append(series, plots.Series{Name: "0", X: []float64{1, float64(k - 1)}, Y: []float64{0, 0}, Reference: true})
	return plots.Lines{Title: "mean cosine by bin distance (bands: ± 2 SE over draws)", XLabel: "bins apart", YLabel: "cosine", Series: series, Ordered: true}.Plot()
}

// trainingPanels draw, over training, the slope of the cosine against
// distance and the fractions of conflicting pairs, with ± 2 SE bands.
func trainingPanels(sts []ConflictStats) (slope, pairs *plots.Panel, err error) {
	var x, sl, slo, shi, neg, nlo, nhi, sn, sp []float64
	for _, st := range sts {
		x = append(x, float64(st.Step))
		sl, slo, shi = append(sl, st.Slope), append(slo, st.Slope-2*st.SlopeSE), append(shi, st.Slope+2*st.SlopeSE)
		neg, nlo, nhi = append(neg, st.Negative), append(nlo, st.Negative-2*st.NegativeSE), append(nhi, st.Negative+2*st.NegativeSE)
		sn, sp = append(sn, st.SigNegative), append(sp, st.SigPositive)
	}
	slope, err = plots.Lines{Title: "cosine slope per bin of distance (band: ± 2 SE)", XLabel: "training step", YLabel: "slope",
		Series: []plots.Series{{Name: "slope (< 0: distant bins agree less)", X: x, Y: sl, Lo: slo, Hi: shi}, {Name: "0", X: []float64{x[0], x[len(x)-1]}, Y: []float64{0, 0}, Reference: true}}}.Plot()
	if err != nil {
		return nil, nil, err
	}
	pairs, err = plots.Lines{Title: "conflicting bin pairs", XLabel: "training step", YLabel: "fraction of pairs",
		Series: []plots.Series{{Name: "cosine < 0 (band: ± 2 SE)", X: x, Y: neg, Lo: nlo, Hi: nhi}, {Name: "conflicting beyond noise", X: x, Y: sn}, {Name: "agreeing beyond noise", X: x, Y: sp}}}.Plot()
	if err != nil {
		return nil, nil, err
	}
	pairs.Y.Min, pairs.Y.Max = 0, 1
	return slope, pairs, nil
}
