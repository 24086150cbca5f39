package reproduce

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"gonum.org/v1/gonum/floats"
)

// Render writes conflict's files into dir (the conflict package's figures
// of the first seed's min-SNR-5 model, draw 0; pairs.csv, summary.csv,
// by_distance.csv, cancellation.csv, sensitivity.csv, distance.png and
// cross.png) and returns its report.
func (r *ConflictResult) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	sh := r.shown()
	files, err := conflict.WriteFigures(dir, sh.Run.Info, r.Schedule, sh.Run.Draws[0], conflict.FigureOptions{HeatmapSteps: r.HeatmapSteps})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		out.files = append(out.files, filepath.Base(f))
	}
	sumT, dt := r.statsTables()
	for _, t := range []struct {
		name string
		tab  Table
	}{{"pairs.csv", r.pairsTable()}, {"summary.csv", sumT}, {"by_distance.csv", dt}, {"cancellation.csv", r.cancellationTable()}, {"sensitivity.csv", r.sensitivityCSV()}, {"signal.csv", r.Noise.signalTable(r.bins().Range)}} {
		if err := t.tab.WriteCSV(out.path(t.name)); err != nil {
			return nil, err
		}
	}
	if err := r.distanceFigure(out.path("distance.png")); err != nil {
		return nil, err
	}
	if err := r.crossFigure(out.path("cross.png")); err != nil {
		return nil, err
	}
	return &Report{
		Title:    "gradient conflict between timestep bins over training (cosines by distance), on models trained with each weighting",
		Paper:    "§3.3 of Hang et al. (ICCV 2023): the gradients of different timesteps conflict, more so the further apart they are (the multi-task view behind Min-SNR-γ)",
		Primary:  r.primaryTest(),
		Sizes:    r.Sizes,
		Findings: []Finding{r.primaryFinding(), r.trainingFinding(), r.cancellationFinding()},
		Sections: r.sections(),
		Limits:   analysisLimits(r.Scale, r.Sizes) + " The bins' gradients are those of the models' raw weights on the probe batches; near the end of training each bin's mean gradient is small next to its per-example spread, so the cosines there are dominated by sampling noise unless the batches are large, and that noise pulls every cosine towards 0.",
		Files:    out.files,
	}, nil
}

// pairsTable is the cosine of every bin pair at every probe in every draw
// of every model (pairs.csv).
func (r *ConflictResult) pairsTable() Table {
	K := r.bins().K()
	t := Table{Header: []string{"trained", "seed", "step", "draw", "bin_i", "bin_j", "distance", "cosine"}}
	for _, row := range r.Models {
		for _, m := range row {
			for i, s := range m.Run.Steps() {
				for d, draw := range m.Run.Draws {
					for a := 0; a < K; a++ {
						for b := a + 1; b < K; b++ {
							t.Add(m.Trained, m.Seed, s, d, a, b, b-a, draw[i].Cosine.At(a, b))
						}
					}
				}
			}
		}
	}
	return t
}

// statsTables are the statistics of every probe of every model
// (summary.csv) and the mean cosine by bin distance of every training
// weighting over its units (by_distance.csv).
func (r *ConflictResult) statsTables() (summary, byDistance Table) {
	summary = Table{Header: []string{"trained", "seed", "step", "negative_fraction", "negative_fraction_se", "significantly_negative", "significantly_positive", "slope", "slope_se", "near_cosine", "far_cosine", "near_minus_far_se"}}
	byDistance = Table{Header: []string{"trained", "step", "distance", "mean_cosine", "se", "units"}}
	for a, row := range r.Models {
		for _, m := range row {
			for _, st := range m.Stats {
				summary.Add(m.Trained, m.Seed, st.Step, st.Negative, st.NegativeSE, st.SigNegative, st.SigPositive, st.Slope, st.SlopeSE, st.Near, st.Far, st.NearFarSE)
			}
		}
		for i, s := range r.steps() {
			for d, u := range r.byDistance(a, i)[1:] {
				byDistance.Add(r.Trained[a], s, d+1, u.Mean, u.SE, u.Unit)
			}
		}
	}
	return summary, byDistance
}

// cancellationTable is cancellation.csv: at the last probe, the mean log
// cancellation of every closed form on every training weighting's models.
func (r *ConflictResult) cancellationTable() Table {
	t := Table{Header: []string{"trained", "step", "weighting", "diagonal", "log_cancellation", "se", "units"}}
	for a, tr := range r.Trained {
		for j, b := range r.Strategies {
			u := r.cancellationCell(a, j, r.last())
			t.Add(tr, r.steps()[r.last()], b, !OffDiagonal(tr, b), u.Mean, u.SE, u.Unit)
		}
	}
	return t
}

// binning returns the spec and number of bins of sensitivity binning i
// (−1: the main probes').
func (r *ConflictResult) binning(i int) (string, int) {
	if i < 0 {
		return r.Probes.Bins, r.bins().K()
	}
	return r.Probes.Binnings[i], r.Models[0][0].Run.Binnings[i].Bins().K()
}

// sensitivityCSV is sensitivity.csv: every training weighting's slope at
// the last step of every binning.
func (r *ConflictResult) sensitivityCSV() Table {
	t := Table{Header: []string{"bins", "k", "trained", "slope", "se", "units", "outcome"}}
	for i := -1; i < len(r.Probes.Binnings); i++ {
		spec, K := r.binning(i)
		outs, us := r.slopeCases(r.binningAt(i))
		for a, tr := range r.Trained {
			t.Add(spec, K, tr, us[a].Mean, us[a].SE, us[a].Unit, fallWords[outs[a]])
		}
	}
	return t
}

// primaryTest is conflict's primary test as declared before measuring.
func (r *ConflictResult) primaryTest() string {
	K := r.bins().K()
	return fmt.Sprintf("At the last probe (the end of training), on the models trained with each of the %d weightings (%s; %s each), fit a line through the cosines of all %d bin pairs against their distance in bins, draw by draw; a training weighting supports the claim if the mean slope is below −2 standard errors, contradicts it if above +2, and is within noise otherwise (%s); %s. The findings below it are secondary.",
		len(r.Trained), strings.Join(shortNames(r.Trained), ", "), seedsText(len(r.Seeds)), K*(K-1)/2, unitRule, verdictRule)
}

// primaryFinding is the primary test's finding.
func (r *ConflictResult) primaryFinding() Finding {
	outs, us := r.slopeCases(probeAt(r.last()))
	n := map[Outcome]int{}
	var lines []string
	for a, tr := range r.Trained {
		n[outs[a]]++
		lines = append(lines, fmt.Sprintf("%s %s (%s)", ShortName(tr), us[a], fallWords[outs[a]]))
	}
	return Finding{
		Role:  RolePrimary,
		Claim: "Distant timesteps conflict more than nearby ones: the agreement (cosine) between two timesteps' gradients falls as they lie further apart (the paper's motivation for treating timesteps as conflicting tasks, and what its Fig. 2 shows by fine-tuning), on models trained with each weighting.",
		Measured: fmt.Sprintf("at step %d the cosine falls with bin distance beyond noise on the models of %d of %d training weightings, rises beyond noise on %d, within noise on %d. Slope per bin of distance (mean ± SE over %s): %s.",
			r.steps()[r.last()], n[Supports], len(outs), n[Contradicts], n[WithinNoise], us[0].Unit, strings.Join(lines, "; ")) + " The fall need not be monotone: " + strings.Join(r.shapes(), "; ") + ".",
		Rule:    "as declared above",
		Verdict: VerdictOf(outs...),
	}
}

// trainingFinding is the primary rule at every probe after step 0.
func (r *ConflictResult) trainingFinding() Finding {
	var all []Outcome
	var lines []string
	for i := 1; i <= r.last(); i++ {
		outs, _ := r.slopeCases(probeAt(i))
		all = append(all, outs...)
		k := 0
		for _, o := range outs {
			if o == Supports {
				k++
			}
		}
		lines = append(lines, fmt.Sprintf("step %d: falls on %d of %d", r.steps()[i], k, len(outs)))
	}
	n := map[Outcome]int{}
	for _, o := range all {
		n[o]++
	}
	return Finding{
		Role:     RoleSecondary,
		Claim:    "The same throughout training.",
		Measured: fmt.Sprintf("over the %d (training weighting, probe) cases after step 0 the cosine falls with distance beyond noise in %d, rises beyond noise in %d, within noise in %d: %s.", len(all), n[Supports], n[Contradicts], n[WithinNoise], strings.Join(thin(lines, 8), "; ")),
		Rule:     "the primary test's rule at every probe after step 0, each (training weighting, probe) a case; " + verdictRule,
		Verdict:  VerdictOf(all...),
	}
}

// cancellationFinding tests the premise behind the cross-trained design:
// on a model, the combination of the bins' gradients it was trained with
// cancels more than any other closed form's.
func (r *ConflictResult) cancellationFinding() Finding {
	var outs []Outcome
	var lines []string
	for a, tr := range r.Trained {
		if indexOf(r.Strategies, tr) < 0 {
			continue
		}
		c := compareWith(tr, tr, r.Strategies, r.cancellations(a, r.last()))
		outs = append(outs, c.Outcome)
		lines = append(lines, fmt.Sprintf("%s: its own %s vs %s %s (%s)", ShortName(tr), fmt.Sprintf("%.3g", math.Exp(c.MinSNR)), c.Other, fmt.Sprintf("%.3g", math.Exp(c.OtherMean)), lowerWords[c.Outcome]))
	}
	return Finding{
		Role:     RoleSecondary,
		Claim:    "(Not the paper's claim: the premise of the cross-trained design.) Training drives the combination of the bins' gradients that the model is trained with towards zero, so on each model its own weighting's bins cancel more than any other closed form's, and some conflicts near that point are forced by the arithmetic.",
		Measured: fmt.Sprintf("cancellation c = wᵀGw / Σ_k w_k² G_kk at the last probe (< 1: the weighted gradients cancel on net; geometric mean over the seeds and draws), each training weighting's own against the lowest other closed form: %s.", strings.Join(lines, "; ")),
		Rule:     "for each closed form A as training weighting, compare log c of A on A's models with the lowest of the other closed forms', paired by draw and seed; A supports the premise if its own is lower by more than 2 standard errors, contradicts it if higher by more than 2, and is within noise otherwise (" + unitRule + "); " + verdictRule,
		Verdict:  VerdictOf(outs...),
	}
}

// shapes describe the mean cosine by distance at the last probe of each
// training weighting: one bin apart, at its lowest and at the largest
// distance.
func (r *ConflictResult) shapes() []string {
	var out []string
	for a, tr := range r.Trained {
		bd := r.byDistance(a, r.last())
		v := make([]float64, len(bd))
		for d, u := range bd {
			v[d] = u.Mean
		}
		K := len(v)
		d := 1 + floats.MinIdx(v[1:])
		out = append(out, fmt.Sprintf("%s %+.2f one bin apart, lowest %d apart (%+.2f), %+.2f at %d", ShortName(tr), v[1], d, v[d], v[K-1], K-1))
	}
	return out
}

// sections are the report's setting, tables and figures.
func (r *ConflictResult) sections() []Section {
	K, ps := r.bins().K(), r.Probes
	slopes, canc, neg, sens := r.slopeMarkdown(), r.cancellationMarkdown(), r.negativeMarkdown(), r.sensitivityMarkdown()
	return []Section{
		{Heading: "Setting", Body: fmt.Sprintf("The probed models of fig4 (shared through the cache): the %s-prediction models of the strategy grid trained with each of %s, seeds %v, probed at step 0 and every %d steps on %d independent batches (draws) fixed over training, each with %d examples in each of %d equal-width timestep bins. A probe gives the exact K×K Gram matrix of the bins' task-loss gradients (the bin's mean unweighted x0-MSE, over all parameters, at the raw weights) and its cosine matrix C_ij = G_ij/√(G_ii G_jj). Near a point where training has driven a weighted sum of the bins' gradients towards zero, some of them must point against each other; measuring on models trained with every weighting separates the conflicts of the timesteps from those of one training point.",
			ps.Target, strings.Join(shortNames(r.Trained), ", "), r.Seeds, ps.Every, ps.Draws, ps.PerBin, K)},
		{Heading: "Slope of the cosine per bin of distance, by training weighting", Body: "Mean ± SE over the units; in brackets the case's outcome.\n\n" + slopes.Markdown()},
		{Heading: "How many bin pairs conflict (last probe)", Body: fmt.Sprintf("Fraction of the %d bin pairs with a negative cosine (mean ± SE over the units), the fraction whose cosine is negative beyond noise over a model's draws (the mean over seeds), and the mean cosine of near pairs (at most %d bins apart) and far pairs (at least %d apart). Sampling noise pulls every cosine towards 0 and makes about half the signs random where the true gradients are small (see fig3's signal fractions).\n\n%s", K*(K-1)/2, K/4, (K+1)/2, neg.Markdown())},
		{Heading: "Cancellation by training weighting (rows A) and weighting (columns B), last probe", Body: "c = wᵀGw / Σ_k w_k² G_kk for each closed form's weights w (geometric mean over the seeds and draws): 1 if the bins' weighted gradients were orthogonal, < 1 if they cancel on net. *italic*: the diagonal. The sampling noise of the probe batches adds to the Gram's diagonal only, so it pulls every c towards 1.\n\n" + canc.Markdown()},
		{Heading: "Sensitivity to the bins", Body: fmt.Sprintf("The primary test again on the probes of other binnings, taken at the last step on the same models (%d draws of %d examples each, split equally between the bins; the slope is per bin of distance in that binning); the first row is the main probes'. %s\n\n", ps.Draws, ps.BinningExamples, binningNote) + sens.Markdown()},
		r.Noise.section(ps.PerBin),
		{Heading: "Figures", Body: fmt.Sprintf("cosine.png and stats.png are the conflict package's figures (conflict.WriteFigures) of the first draw of the first seed's min-SNR-5 model: cosine heat maps at steps %v (blue −1, white 0, red +1; bins labelled by their first timestep) and, over training, the fraction of negative pairs, the mean and minimum cosine, the mean cosine by bin distance and the per-bin gradient norms. distance.png draws, for every training weighting, the mean cosine against bin distance at the last probe and, over training, the slope and the fraction of negative pairs (bands ± 2 SE over the units). cross.png draws the mean cosine by distance and the cancellation as heat maps, a row per training weighting.", r.HeatmapSteps)},
	}
}

// slopeMarkdown is the table of slopes by training weighting at the
// tablePoints probes.
func (r *ConflictResult) slopeMarkdown() Table {
	pts := r.tablePoints()
	h := []string{"trained with"}
	for _, i := range pts {
		h = append(h, fmt.Sprintf("step %d", r.steps()[i]))
	}
	t := Table{Header: h}
	for a, tr := range r.Trained {
		row := []any{ShortName(tr)}
		for _, i := range pts {
			u := r.slope(a, probeAt(i))
			row = append(row, fmt.Sprintf("%+.4f ± %.4f (%s)", u.Mean, u.SE, fallWords[outcomeOf(u.Mean, u.SE, true)]))
		}
		t.Add(row...)
	}
	return t
}

// tablePoints are the probes the slope table shows: step 0 and up to
// three after it.
func (r *ConflictResult) tablePoints() []int {
	out := []int{0}
	for _, i := range spreadIndices(r.last(), 3) {
		out = append(out, i+1)
	}
	return out
}

// negativeMarkdown is the table of conflicting pairs at the last probe by
// training weighting.
func (r *ConflictResult) negativeMarkdown() Table {
	t := Table{Header: []string{"trained with", "pairs with cosine < 0", "conflicting beyond noise", "agreeing beyond noise", "near pairs", "far pairs"}}
	i := r.last()
	for a, tr := range r.Trained {
		neg := UnitMean(r.perDraw(a, probeAt(i), func(rec conflict.Record) float64 { return rec.Stats.NegativeFraction }))
		var sn, sp, near, far []float64
		for _, m := range r.Models[a] {
			st := m.Stats[i]
			sn, sp, near, far = append(sn, st.SigNegative), append(sp, st.SigPositive), append(near, st.Near), append(far, st.Far)
		}
		t.Add(ShortName(tr), fmt.Sprintf("%.0f%% ± %.0f", 100*neg.Mean, 100*neg.SE), fmt.Sprintf("%.0f%%", 100*meanOf(sn)), fmt.Sprintf("%.0f%%", 100*meanOf(sp)),
			fmt.Sprintf("%+.2f", meanOf(near)), fmt.Sprintf("%+.2f", meanOf(far)))
	}
	return t
}

// cancellationMarkdown is the table of cancellations at the last probe.
func (r *ConflictResult) cancellationMarkdown() Table {
	t := Table{Header: append([]string{"trained with (A)"}, r.Strategies...)}
	for a, tr := range r.Trained {
		row := []any{ShortName(tr)}
		for j, b := range r.Strategies {
			c := fmt.Sprintf("%.3g", math.Exp(r.cancellationCell(a, j, r.last()).Mean))
			if !OffDiagonal(tr, b) {
				c = "*" + c + "*"
			}
			row = append(row, c)
		}
		t.Add(row...)
	}
	return t
}

// sensitivityMarkdown is the table of the primary test's verdict per
// binning.
func (r *ConflictResult) sensitivityMarkdown() Table {
	t := Table{Header: []string{"bins", "K", "examples per bin", "falls / rises / within noise", "verdict of the primary test"}}
	for i := -1; i < len(r.Probes.Binnings); i++ {
		spec, K := r.binning(i)
		per := r.Probes.PerBin
		if i >= 0 {
			per = max(1, r.Probes.BinningExamples/K)
		}
		outs, _ := r.slopeCases(r.binningAt(i))
		n := map[Outcome]int{}
		for _, o := range outs {
			n[o]++
		}
		t.Add(spec, K, per, fmt.Sprintf("%d / %d / %d", n[Supports], n[Contradicts], n[WithinNoise]), string(VerdictOf(outs...)))
	}
	return t
}
