package reproduce

import (
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/internal/prose"
)

// primaryFinding is fig5's primary test. Its claim and rule are fixed
// here, before anything is measured.
func (r *Fig5Result) primaryFinding(metric string) Finding {
	p := r.Primary
	n := len(r.Grid.SeedsOf(p.Target))
	f := Finding{
		Claim: fmt.Sprintf("With %s-prediction (the paper's main case), min-SNR-5 reaches a fixed sample quality in fewer training steps than the best of the other weightings (the paper: %g× fewer steps to the same FID, ViT-B on ImageNet 256×256).", p.Target, paperSpeedUp),
		Rule: fmt.Sprintf("take the baseline (constant, SNR, max-SNR-1) whose seed-mean %s curve, smoothed over %d evaluations, is lowest at %g%% of training (step %g); its quality there is the threshold; speed-up = the steps that baseline needs to reach the threshold / the steps min-SNR-5 needs (a bound when min-SNR-5 never gets there); a %g%% percentile bootstrap interval over the %d training seeds (%d resamples, paired: a resample takes the same seeds of both strategies). Agrees if the whole interval lies above 1, does not agree if it lies below 1, inconclusive if it contains 1.",
			metric, 2*fig5Smooth+1, 100*fig5At, p.At, 100*CILevel, n, BootstrapResamples),
	}
	reach := fmt.Sprintf("min-SNR-5 needs %g steps to reach it", p.SpeedUp.Steps)
	if math.IsNaN(p.SpeedUp.Steps) {
		reach = fmt.Sprintf("min-SNR-5 does not reach it within %d steps", r.Sizes.Steps)
	}
	f.Measured = fmt.Sprintf("best baseline at step %g: %s (%s %.4g); %s, %s needs %g: speed-up %s, %g%% interval [%.3g, %.3g] over %d seeds (paper: %g×).",
		p.At, p.Baseline, metric, p.SpeedUp.Threshold, reach, p.Baseline, p.SpeedUp.BaseSteps, p.SpeedUp, 100*CILevel, p.Ratio.Lo, p.Ratio.Hi, n, paperSpeedUp)
	if n < 2 {
		f.Measured += " With one seed the interval has no width: the training noise is not measured, so the verdict is inconclusive."
		f.Verdict = Inconclusive
		return f
	}
	f.Verdict = VerdictOf(p.Ratio.Outcome(1, true))
	return f
}

// fastFinding is the secondary finding over every target and baseline:
// min-SNR-5's steps to each baseline's final quality.
func (r *Fig5Result) fastFinding(metric string) Finding {
	f := Finding{
		Role:  RoleSecondary,
		Claim: "Min-SNR-5 reaches each other weighting's final quality sooner, for every prediction target.",
		Rule:  fmt.Sprintf("per target and baseline, min-SNR-5's speed-up to the baseline's final %s (seed-mean curves smoothed over %d evaluations) with its %g%% bootstrap interval over the target's seeds: a pair supports the claim if the interval lies above 1, contradicts it if below 1, and is within noise otherwise; %s", metric, 2*fig5Smooth+1, 100*CILevel, verdictRule),
	}
	var lines []string
	var outs []Outcome
	for i, tg := range r.Grid.Targets {
		var parts []string
		for j, b := range fig5Baselines {
			s, c := r.SpeedUps[i][j], r.SpeedCI[i][j]
			o := c.Outcome(1, true)
			outs = append(outs, o)
			parts = append(parts, fmt.Sprintf("%s over %s [%.3g, %.3g]", s, b, c.Lo, c.Hi))
		}
		lines = append(lines, fmt.Sprintf("%s (%d seeds): %s", tg, len(r.Grid.SeedsOf(tg)), strings.Join(parts, ", ")))
	}
	f.Measured = strings.Join(lines, "; ") + "."
	f.Verdict = VerdictOf(outs...)
	return f
}

// finalFinding is the secondary finding on final quality: min-SNR-5
// against the best other strategy, per target, paired by seed.
func (r *Fig5Result) finalFinding(metric string) Finding {
	f := Finding{
		Role:  RoleSecondary,
		Claim: "Min-SNR-5 also ends with the best sample quality (the paper's curves end lowest for min-SNR-5).",
		Rule:  fmt.Sprintf("per target, the per-seed difference of final %s (each seed's mean over its sample sets) between min-SNR-5 and the other strategy with the lowest mean, and its standard error over the seeds (paired): supports if the mean difference is below −2 standard errors, contradicts if above +2, within noise otherwise (always within noise with one seed); %s", metric, verdictRule),
	}
	var outs []Outcome
	var lines []string
	for i, tg := range r.Grid.Targets {
		c := r.FinalDiff[i]
		o := outcomeOf(c.Diff, c.SE, true)
		if math.IsNaN(c.SE) {
			o = WithinNoise
		}
		outs = append(outs, o)
		lines = append(lines, fmt.Sprintf("%s: min-SNR-5 %.4g, best other %s %.4g, difference %+.3g ± %.2g (%s)", tg, c.Mine, c.Best, c.Them, c.Diff, c.SE,
			map[Outcome]string{Supports: "min-SNR-5 is better", Contradicts: "worse beyond noise", WithinNoise: "within noise"}[o]))
	}
	f.Measured = strings.Join(lines, "; ") + "."
	f.Verdict = VerdictOf(outs...)
	return f
}

// noise is the report's noise section: the real-data floor, the sampling
// noise, the step resolution and the seed spread.
func (r *Fig5Result) noise(floor float64, metric string) string {
	var b strings.Builder
	var samp, seedSE []float64
	for _, row := range r.Final {
		for _, q := range row {
			samp = append(samp, q.Sampling)
			if !math.IsNaN(q.SE) {
				seedSE = append(seedSE, q.SE)
			}
		}
	}
	fmt.Fprintf(&b, "- Real-data floor of %s at these sample sizes: %.4f (two independent sets of real data; no model can be measured below it).\n", metric, floor)
	fmt.Fprintf(&b, "- Sampling noise: the final %s of one model varies by a standard deviation of %.4f on average between %d independent sample sets.\n", metric, meanOf(samp), r.Sizes.Repeats)
	fmt.Fprintf(&b, "- Steps are resolved to one evaluation interval (%d steps): a speed-up marked ≥ means min-SNR-5 was already there at its first evaluation; < means it never got there within %d steps.\n", r.Sizes.EvalEvery, r.Sizes.Steps)
	if len(seedSE) == 0 {
		fmt.Fprintf(&b, "- Training-seed noise is not measured at this scale (one seed per configuration): no interval has width, and differences of one evaluation interval should not be read as real.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "- Training-seed noise: the standard error over seeds of a configuration's final %s is %s on average (%d seeds for %s, %d for the other targets); every interval and margin above is over seeds, the independent units.\n",
		metric, prose.F3(meanOf(seedSE)), r.Sizes.SeedsFor(PrimaryTarget), PrimaryTarget, r.Sizes.SeedsFor("eps"))
	return b.String()
}
