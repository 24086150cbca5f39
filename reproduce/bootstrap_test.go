package reproduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// The percentile bootstrap of a mean against the normal-theory interval
// x̄ ± z·s/√n (with the plug-in s of the bootstrap world, √((n−1)/n) of the
// sample's): for n = 40 normal draws the two agree to a few percent of
// the interval's width.
func TestBootstrapMeanMatchesNormalTheory(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	const n = 40
	x := make([]float64, n)
	for i := range x {
		x[i] = 3 + 2*rng.NormFloat64()
	}
	mean := func(idx []int) float64 {
		s := 0.0
		for _, i := range idx {
			s += x[i]
		}
		return s / float64(len(idx))
	}
	ci := Bootstrap(n, 11, mean)
	m, sd := meanSD(x)
	z := distuv.UnitNormal.Quantile(0.5 + CILevel/2)
	half := z * sd * math.Sqrt(float64(n-1)/float64(n)) / math.Sqrt(n)
	const tol = 0.08 // of the width; the bootstrap's Monte Carlo error at 2000 resamples is about 3%
	require.Equal(t, m, ci.Value)
	require.InDelta(t, m-half, ci.Lo, tol*2*half)
	require.InDelta(t, m+half, ci.Hi, tol*2*half)
	require.Equal(t, ci, Bootstrap(n, 11, mean), "a function of the data and the seed")
}

// Coverage: over many data sets of 10 normal draws, the 95% interval of
// the mean contains the true mean about 95% of the time (the percentile
// interval undercovers a little at this n: about 91% in theory).
func TestBootstrapCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const sets, n = 300, 10
	hit := 0
	for s := range sets {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		ci := Bootstrap(n, uint64(s), func(idx []int) float64 {
			v := 0.0
			for _, i := range idx {
				v += x[i]
			}
			return v / n
		})
		if ci.Lo < 0 && ci.Hi > 0 {
			hit++
		}
	}
	frac := float64(hit) / sets
	// Binomial standard error at 0.92 over 300 sets is 0.016.
	require.InDelta(t, 0.92, frac, 0.06)
}

// Edge cases: one unit has no spread; a statistic that is NaN on most
// resamples gives no interval.
func TestBootstrapEdges(t *testing.T) {
	ci := Bootstrap(1, 1, func(idx []int) float64 { return 2.5 })
	require.Equal(t, Interval{2.5, 2.5, 2.5}, ci)
	ci = Bootstrap(5, 1, func(idx []int) float64 {
		for _, i := range idx {
			if i == 0 {
				return math.NaN()
			}
		}
		return 1
	})
	require.True(t, math.IsNaN(ci.Lo) && math.IsNaN(ci.Hi), "unit 0 is in 67%% of resamples of 5")
	require.Equal(t, Supports, Interval{2, 1.2, 3}.Outcome(1, true))
	require.Equal(t, Contradicts, Interval{2, 1.2, 3}.Outcome(1, false))
	require.Equal(t, WithinNoise, Interval{1, 0.8, 1.2}.Outcome(1, true))
}
