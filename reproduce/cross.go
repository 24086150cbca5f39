package reproduce

import (
	"fmt"
	"math"
	"strings"
)

// The cross-trained design of fig3, fig4 and conflict: every weighting B
// is evaluated on the probe target's models trained with every weighting A
// of ProbedStrategies. On its own model a weighting's combined gradient is
// what the optimiser drives towards zero, so its Eq. 11 objective is small
// there by construction; "min-SNR-5 is closest to the Pareto weights" is
// evidence only off the diagonal, on models trained with the others.

// OffDiagonal reports whether weighting b is another weighting than the
// one a model was trained with (as weighting.Parse writes them).
func OffDiagonal(trained, b string) bool { return canonicalWeighting(trained) != canonicalWeighting(b) }

// CrossCase is one case of a cross-trained test: on the models trained
// with Trained, min-SNR-5 against the best other closed form it can be
// compared with off the diagonal (neither min-SNR-5 nor Trained itself),
// by a metric measured on every draw of every seed's model, lower better,
// paired by draw and seed.
type CrossCase struct {
	// Trained is the weighting the models were trained with, and Other
	// the closed form of lowest mean metric among the eligible ones.
	Trained, Other string
	// MinSNR and OtherMean are the mean metrics (UnitMean).
	MinSNR, OtherMean float64
	// Diff is min-SNR-5's metric minus Other's, paired, over the units.
	Diff Units
	// Outcome supports the claim if Diff is below −2 standard errors,
	// contradicts it if above +2, and is within noise otherwise.
	Outcome Outcome
}

// CompareMinSNR is the CrossCase of the models trained with trained, from
// vals[s][d][j], the metric of closed form closed[j] on draw d of seed s's
// model (lower is better). Without an eligible other closed form the case
// is within noise and Other is "".
func CompareMinSNR(trained string, closed []string, vals [][][]float64) CrossCase {
	return compareWith(fig5MinSNR, trained, closed, vals)
}

// compareWith is CompareMinSNR for another closed form than min-SNR-5
// (subject): the others eligible are neither subject nor trained. The
// case's MinSNR field holds the subject's mean.
func compareWith(subject, trained string, closed []string, vals [][][]float64) CrossCase {
	c := CrossCase{Trained: trained, Outcome: WithinNoise}
	iMin := indexOf(closed, subject)
	pick := func(j int) [][]float64 {
		out := make([][]float64, len(vals))
		for s := range vals {
			for d := range vals[s] {
				out[s] = append(out[s], vals[s][d][j])
			}
		}
		return out
	}
	c.MinSNR = UnitMean(pick(iMin)).Mean
	best, bv := -1, math.Inf(1)
	for j, b := range closed {
		if j == iMin || !OffDiagonal(trained, b) {
			continue
		}
		if v := UnitMean(pick(j)).Mean; v < bv {
			best, bv = j, v
		}
	}
	if best < 0 {
		return c
	}
	c.Other, c.OtherMean = closed[best], bv
	diff := make([][]float64, len(vals))
	for s := range vals {
		for d := range vals[s] {
			diff[s] = append(diff[s], vals[s][d][iMin]-vals[s][d][best])
		}
	}
	c.Diff = UnitMean(diff)
	c.Outcome = outcomeOf(c.Diff.Mean, c.Diff.SE, true)
	return c
}

// Line is the case in prose: "constant: min-snr:5 1.3× vs max-snr:1 2.1×
// (lower)", the metrics shown by show.
func (c CrossCase) Line(show func(float64) string) string {
	if c.Other == "" {
		return fmt.Sprintf("%s: min-snr:5 %s, no other closed form to compare", ShortName(c.Trained), show(c.MinSNR))
	}
	return fmt.Sprintf("%s: min-snr:5 %s vs %s %s (%s)", ShortName(c.Trained), show(c.MinSNR), c.Other, show(c.OtherMean), lowerWords[c.Outcome])
}

// lowerWords say what a CrossCase's outcome means.
var lowerWords = map[Outcome]string{Supports: "lower", Contradicts: "higher", WithinNoise: "within noise"}

// casesVerdict counts the cases' outcomes and combines them (VerdictOf).
func casesVerdict(cs []CrossCase) (Verdict, map[Outcome]int) {
	n := map[Outcome]int{}
	var outs []Outcome
	for _, c := range cs {
		outs = append(outs, c.Outcome)
		n[c.Outcome]++
	}
	return VerdictOf(outs...), n
}

// ShortName is a weighting's name in tables and figures: an online
// Pareto weighting's spec without its options ("pareto:fw"), any other
// spec as it is.
func ShortName(spec string) string {
	if strings.HasPrefix(spec, "pareto:") {
		s, _, _ := strings.Cut(spec, ",")
		return s
	}
	return spec
}

// shortNames maps ShortName over specs.
func shortNames(specs []string) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = ShortName(s)
	}
	return out
}

// ratioOf shows a mean log ratio as a ratio ("1.32×").
func ratioOf(logMean float64) string { return fmt.Sprintf("%.3g×", math.Exp(logMean)) }

// crossRule is the part of every cross-trained rule that says how a case
// is decided.
func crossRule(metric string) string {
	return fmt.Sprintf("for each training weighting A, take min-SNR-5's %s and that of the other closed form B with the lowest mean among those that are neither min-SNR-5 nor A (the diagonal cell (A, A) is left out: there the optimiser has driven A's own combination towards a stationary point), paired draw by draw on every seed's model; A supports the claim if the mean paired difference is below −2 standard errors, contradicts it if above +2, and is within noise otherwise (%s)", metric, unitRule)
}
