package reproduce

import (
	"fmt"
	"math"
	"strings"
)

// Render writes the online target's files into dir (quality.csv: every
// model's quality curve; equal_steps.csv: the comparisons at the last
// step; quality.png) and returns its report. The equal-time comparison
// depends on the measured step costs, so it is in the report only, which
// also holds the wall times: every CSV is a function of the seed.
func (r *OnlineResult) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	g := r.Grid
	_, metric := g.Floor()
	qt, _ := fig5CurveTables(g, metric)
	if err := qt.WriteCSV(out.path("quality.csv")); err != nil {
		return nil, err
	}
	et := Table{Header: []string{"online", "comparator", "online_mean", "comparator_mean", "diff", "se", "seeds"}}
	for j, on := range OnlineStrategies {
		for _, c := range r.EqualSteps[j] {
			et.Add(on, c.Best, c.Mine, c.Them, c.Diff, c.SE, len(g.SeedsOf(PrimaryTarget)))
		}
	}
	if err := et.WriteCSV(out.path("equal_steps.csv")); err != nil {
		return nil, err
	}
	fig, err := QualityFigure(g)
	if err != nil {
		return nil, err
	}
	if err := fig.Save(out.path("quality.png")); err != nil {
		return nil, err
	}
	tab := r.table(metric)
	pf, decl := declare(r.primaryFinding(metric))
	return &Report{
		Primary:  decl,
		Title:    "online Pareto weighting against its closed-form approximation, at equal steps and equal time",
		Paper:    "beyond the paper: §3.3 of Hang et al. (ICCV 2023) solves the Pareto problem only to motivate Min-SNR-γ, which approximates it for free; here the Pareto weights are solved on every training step's own batch and the model is trained with them",
		Sizes:    r.Sizes,
		Findings: []Finding{pf, r.comparisonsFinding(metric, "equal steps", r.EqualSteps), r.comparisonsFinding(metric, "equal time", r.EqualTime)},
		Sections: []Section{
			{Heading: "Cost of an online step", Body: r.costText()},
			{Heading: "Comparisons (" + metric + ", lower is better; mean over seeds, online − comparator ± standard error)", Body: tab.Markdown()},
		},
		Limits: limitsText(r.Scale, r.Sizes, metric) + " The online weightings solve Eq. 11 with λ = 0.1 on unit-normalised bin gradients (norm=l2, scale-free); another λ or normalisation is another method. Equal time uses the step costs measured in this run on this machine; a GPU, a larger network or another batch size changes them.",
		Files:  out.files,
	}, nil
}

// costText says what an online step costs.
func (r *OnlineResult) costText() string {
	var parts []string
	for j, on := range OnlineStrategies {
		parts = append(parts, fmt.Sprintf("`%s` %.2f×", on, r.Cost[j]))
	}
	return fmt.Sprintf("Wall time of a training step relative to min-SNR-5's, from %d alternating timed runs of %d steps each on the same network, data and batch: %s. At equal time an online model is read at step %d / cost on its quality curve (interpolated between evaluations), the closed forms at step %d.",
		onlineCostRounds, onlineCostSteps[r.Scale], strings.Join(parts, ", "), r.Sizes.Steps, r.Sizes.Steps)
}

// table is the report's table of every comparison.
func (r *OnlineResult) table(metric string) Table {
	t := Table{Header: []string{"online", "vs", "equal steps", "equal time"}}
	for j, on := range OnlineStrategies {
		for c := range onlineComparators {
			s, e := r.EqualSteps[j][c], r.EqualTime[j][c]
			t.Add(on, s.Best, fmt.Sprintf("%.4g vs %.4g: %+.3g ± %.2g", s.Mine, s.Them, s.Diff, s.SE), fmt.Sprintf("%.4g vs %.4g: %+.3g ± %.2g", e.Mine, e.Them, e.Diff, e.SE))
		}
	}
	return t
}

// onlineOutcome reads one comparison: the online weighting better
// (Supports) or worse (Contradicts) beyond twice the standard error, else
// within noise (always with one seed).
func onlineOutcome(c Comparison) Outcome {
	if math.IsNaN(c.SE) { // one seed
		return WithinNoise
	}
	return outcomeOf(c.Diff, c.SE, true)
}

// primaryFinding is the online target's primary test, fixed here before
// anything is measured: MGDA's Frank-Wolfe solved online against
// min-SNR-5 at equal wall-clock time.
func (r *OnlineResult) primaryFinding(metric string) Finding {
	c := r.EqualTime[0][0]
	o := onlineOutcome(c)
	way := map[Outcome]string{Supports: "the online Pareto weighting came out better", Contradicts: "min-SNR-5 came out better", WithinNoise: "neither came out better beyond the noise"}[o]
	return Finding{
		Claim: fmt.Sprintf("Solving the Pareto problem on every step (`%s`) trains a better model than its closed-form approximation min-SNR-5 for the same wall-clock time (%s-prediction).", OnlineStrategies[0], PrimaryTarget),
		Rule:  fmt.Sprintf("the per-seed difference of %s between the online model at step %d / (its measured step cost) and the min-SNR-5 model at step %d, paired over the %d seeds: agrees if below −2 standard errors, does not agree if above +2, inconclusive otherwise", metric, r.Sizes.Steps, r.Sizes.Steps, len(r.Grid.SeedsOf(PrimaryTarget))),
		Measured: fmt.Sprintf("at equal time (online cost %.2f×, read at step %.0f) %s %.4g against min-SNR-5 %.4g: difference %+.3g ± %.2g — %s.",
			r.Cost[0], float64(r.Sizes.Steps)/r.Cost[0], metric, c.Mine, c.Them, c.Diff, c.SE, way),
		Verdict: VerdictOf(o),
	}
}

// comparisonsFinding is a secondary finding over every online weighting
// and comparator at equal steps or equal time.
func (r *OnlineResult) comparisonsFinding(metric, what string, cs [][]Comparison) Finding {
	var outs []Outcome
	var lines []string
	for j, on := range OnlineStrategies {
		for _, c := range cs[j] {
			o := onlineOutcome(c)
			outs = append(outs, o)
			lines = append(lines, fmt.Sprintf("%s vs %s %+.3g ± %.2g (%s)", on, c.Best, c.Diff, c.SE,
				map[Outcome]string{Supports: "online better", Contradicts: "online worse", WithinNoise: "within noise"}[o]))
		}
	}
	return Finding{
		Role:     RoleSecondary,
		Claim:    fmt.Sprintf("Each online Pareto weighting against min-SNR-5 and constant at %s.", what),
		Rule:     fmt.Sprintf("per pair, the paired per-seed difference of %s, online − comparator: supports if below −2 standard errors, contradicts if above +2, within noise otherwise; %s", metric, verdictRule),
		Measured: strings.Join(lines, "; ") + ".",
		Verdict:  VerdictOf(outs...),
	}
}
