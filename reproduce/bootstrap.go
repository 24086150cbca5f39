package reproduce

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// BootstrapResamples is the number of resamples of every bootstrap
// interval of the reports: enough that the 2.5% and 97.5% quantiles move
// by well under their own sampling error between seeds of the resampling.
const BootstrapResamples = 2000

// CILevel is the coverage of the reports' confidence intervals.
const CILevel = 0.95

// Interval is a confidence interval of a statistic: its value on the data
// and the percentile bootstrap bounds.
type Interval struct {
	Value, Lo, Hi float64
}

// String writes the value and its bounds with 3 significant digits:
// "1.4 [1.1, 1.9]".
func (c Interval) String() string {
	return fmt.Sprintf("%.3g [%.3g, %.3g]", c.Value, c.Lo, c.Hi)
}

// Above says whether the whole interval lies above x, Below whether it
// lies below.
func (c Interval) Above(x float64) bool { return c.Lo > x }

// Below says whether the whole interval lies below x.
func (c Interval) Below(x float64) bool { return c.Hi < x }

// Outcome classifies the interval against a reference value: Supports if
// it lies entirely on the side the claim expects (above ref when
// higherSupports), Contradicts if entirely on the other side, WithinNoise
// if it contains ref.
func (c Interval) Outcome(ref float64, higherSupports bool) Outcome {
	above, below := c.Above(ref), c.Below(ref)
	if !higherSupports {
		above, below = below, above
	}
	switch {
	case above:
		return Supports
	case below:
		return Contradicts
	}
	return WithinNoise
}

// Bootstrap returns the percentile bootstrap interval (Efron & Tibshirani,
// An Introduction to the Bootstrap, 1993, §13.3) of a statistic of n
// independent units (training seeds): the statistic on all units, and the
// (1 − CILevel)/2 and (1 + CILevel)/2 empirical quantiles of its values
// on BootstrapResamples resamples of n units drawn with replacement. stat
// gets the indices of a resample (with repeats) and must treat them as
// the units to combine; resamples on which it is NaN are left out (a
// resample can lack what the statistic needs), and the interval is NaN
// when more than half are. The draws come from rand.NewPCG(seed, 0), so
// the interval is a function of the data and seed. With one unit the
// interval is the value itself (no spread can be measured).
func Bootstrap(n int, seed uint64, statistic func(idx []int) float64) Interval {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	v := statistic(all)
	if n < 2 {
		return Interval{v, v, v}
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	idx := make([]int, n)
	var vals []float64
	for range BootstrapResamples {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		if s := statistic(idx); !math.IsNaN(s) {
			vals = append(vals, s)
		}
	}
	if 2*len(vals) < BootstrapResamples {
		return Interval{v, math.NaN(), math.NaN()}
	}
	slices.Sort(vals)
	a := (1 - CILevel) / 2
	return Interval{v, stat.Quantile(a, stat.Empirical, vals, nil), stat.Quantile(1-a, stat.Empirical, vals, nil)}
}

// pairedSE is the mean of the per-seed differences a[i] − b[i] of two
// configurations trained with the same seeds and its standard error over
// the seeds: pairing removes what the seed shares between them (the
// evaluation noise, the data order).
func pairedSE(a, b []float64) (mean, se float64) {
	if len(a) != len(b) {
		panic("reproduce: pairedSE: unpaired seeds")
	}
	d := make([]float64, len(a))
	for i := range d {
		d[i] = a[i] - b[i]
	}
	return meanSE(d)
}
