package reproduce

import (
	"fmt"
	"slices"
	"strings"
)

// fig6NeedRanges is the number of the four ranges in which min-SNR-5 must
// be best or within noise of the best for the primary test to agree.
const fig6NeedRanges = 3

// nearBest says, per range of target i, whether min-SNR-5 is the best
// strategy or within noise of the best other one (its excess over it below
// twice the standard error of the paired difference), with a line of prose
// per range.
func (r *Fig6Result) nearBest(i int) (ok []bool, lines []string) {
	mi := slices.Index(r.Grid.Strategies, fig5MinSNR)
	for k, l := range r.Labels {
		o := r.best(i, k, mi)
		d, se := r.diff(i, mi, o, k)
		m, _ := r.stat(i, o, k)
		var what string
		switch {
		case d <= 0:
			what = "best"
		case d <= 2*se:
			what = "within noise"
		default:
			what = "worse beyond noise"
		}
		ok = append(ok, what != "worse beyond noise")
		lines = append(lines, fmt.Sprintf("%s: %+.1f%% vs %s (± %.1f%%, %s)", l, 100*d/m, r.Grid.Strategies[o], 100*se/m, what))
	}
	return ok, lines
}

// count is the number of true values.
func count(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// primaryFinding is fig6's primary test on PrimaryTarget, fixed here
// before anything is measured.
func (r *Fig6Result) primaryFinding() Finding {
	i := slices.Index(r.Grid.Targets, PrimaryTarget)
	ok, lines := r.nearBest(i)
	n := count(ok)
	return Finding{
		Claim: fmt.Sprintf("With %s-prediction, min-SNR-5 does well in every timestep range at once: its unweighted x0-MSE is the lowest or within noise of the lowest in the ranges of the paper's Fig. 6, where each classical weighting wins some ranges and loses others.", PrimaryTarget),
		Rule: fmt.Sprintf("per range, the per-seed final x0-MSE (mean of the last %d records) of min-SNR-5 against the other strategy with the lowest mean there, paired over the %d seeds: within noise if min-SNR-5's excess is at most twice the standard error of the paired difference (with one seed: of the records' spread). Agrees if min-SNR-5 is best or within noise in at least %d of the %d ranges, does not agree otherwise.",
			fig6Tail, len(r.Grid.SeedsOf(PrimaryTarget)), fig6NeedRanges, len(r.Labels)),
		Measured: fmt.Sprintf("best or within noise in %d of %d ranges; excess over the best other strategy by range: %s.", n, len(r.Labels), strings.Join(lines, "; ")),
		Verdict:  map[bool]Verdict{true: Agrees, false: Disagrees}[n >= fig6NeedRanges],
	}
}

// crossoverFinding is the secondary finding on the crossover of constant
// and SNR weighting on PrimaryTarget: constant x0 weighting ahead at high
// noise and behind at low noise.
func (r *Fig6Result) crossoverFinding() Finding {
	i := slices.Index(r.Grid.Targets, PrimaryTarget)
	c, s := slices.Index(r.Grid.Strategies, "constant"), slices.Index(r.Grid.Strategies, "snr")
	lo, hi := 0, len(r.Labels)-1
	dLo, seLo := r.diff(i, c, s, lo)
	dHi, seHi := r.diff(i, c, s, hi)
	oHi, oLo := outcomeOf(dHi, seHi, true), outcomeOf(dLo, seLo, false)
	mLo, _ := r.stat(i, s, lo)
	mHi, _ := r.stat(i, s, hi)
	return Finding{
		Role:  RoleSecondary,
		Claim: fmt.Sprintf("The two classical weightings cross (%s-prediction): constant weighting of the x0 loss has the lower x0-MSE at high noise and the higher at low noise, SNR weighting the reverse.", PrimaryTarget),
		Rule:  fmt.Sprintf("the paired difference constant − SNR of the final x0-MSE in the highest-noise range %s and in the lowest-noise range %s; each range supports the claim if its difference has the expected sign beyond twice its standard error (negative at high noise, positive at low noise), contradicts it if the opposite sign beyond that, within noise otherwise; %s", r.Labels[hi], r.Labels[lo], verdictRule),
		Measured: fmt.Sprintf("constant − SNR in %s: %+.1f%% ± %.1f%% of SNR's; in %s: %+.1f%% ± %.1f%%.",
			r.Labels[hi], 100*dHi/mHi, 100*seHi/mHi, r.Labels[lo], 100*dLo/mLo, 100*seLo/mLo),
		Verdict: VerdictOf(oHi, oLo),
	}
}

// otherTargetsFinding is the primary test's rule applied to the other
// targets, as a secondary finding.
func (r *Fig6Result) otherTargetsFinding() Finding {
	var outs []Outcome
	var lines []string
	for i, tg := range r.Grid.Targets {
		if tg == PrimaryTarget {
			continue
		}
		ok, per := r.nearBest(i)
		n := count(ok)
		outs = append(outs, map[bool]Outcome{true: Supports, false: Contradicts}[n >= fig6NeedRanges])
		lines = append(lines, fmt.Sprintf("%s (%d seeds): %d of %d ranges (%s)", tg, len(r.Grid.SeedsOf(tg)), n, len(r.Labels), strings.Join(per, "; ")))
	}
	return Finding{
		Role:     RoleSecondary,
		Claim:    "The same balance with the other prediction targets.",
		Rule:     fmt.Sprintf("the primary test's rule per target (best or within noise in at least %d of the %d ranges); %s", fig6NeedRanges, len(r.Labels), verdictRule),
		Measured: strings.Join(lines, "; ") + ".",
		Verdict:  VerdictOf(outs...),
	}
}
