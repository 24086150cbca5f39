package reproduce

import (
	"fmt"
	"math"
)

// minSeedUnits is the number of training seeds from which the seeds, not
// the draws, are the independent units of a standard error (UnitMean):
// with two seeds a standard deviation between them has one degree of
// freedom, and a margin of 2 such standard errors means nothing.
const minSeedUnits = 3

// Units is a mean over the independent units of a measurement and its
// standard error.
type Units struct {
	// Mean is the mean over seeds of each seed's mean over its draws.
	Mean float64
	// SE is its standard error, over N units of kind Unit ("seeds" or
	// "draws").
	SE   float64
	N    int
	Unit string
}

// String is "mean ± SE".
func (u Units) String() string { return fmt.Sprintf("%+.3g ± %.2g", u.Mean, u.SE) }

// UnitMean is the mean of x[s][d], a value measured on draw d (an
// independent probe batch) of the model of training seed s, and its
// standard error over the independent units: with at least minSeedUnits
// seeds the seeds, whose draw means vary by seed and by draw,
//
//	SE = sd(m_s)/√S,  m_s the mean of seed s's draws;
//
// with fewer the draws, pooled within seeds (the noise of the probe
// batches only, not the spread between training runs),
//
//	SE = √(Σ_s var_s/D_s)/S,  var_s the variance of seed s's draws.
//
// The mean is the mean of the m_s either way. SE is NaN when no seed has
// two draws (one seed, one draw).
func UnitMean(x [][]float64) Units {
	S := len(x)
	means := make([]float64, S)
	for s, v := range x {
		means[s] = meanOf(v)
	}
	if S >= minSeedUnits {
		m, se := meanSE(means)
		return Units{Mean: m, SE: se, N: S, Unit: "seeds"}
	}
	u := Units{Mean: meanOf(means), Unit: "draws"}
	v := 0.0
	for _, d := range x {
		if len(d) < 2 {
			return Units{Mean: u.Mean, SE: math.NaN(), N: len(d) * S, Unit: "draws"}
		}
		_, sd := meanSD(d)
		v += sd * sd / float64(len(d))
		u.N += len(d)
	}
	u.SE = math.Sqrt(v) / float64(S)
	return u
}

// unitRule says in words how UnitMean takes its standard errors, for the
// reports' rules.
const unitRule = "standard errors over the independent units: the training seeds (each seed's mean over its draws) when there are at least 3 seeds, else the draws (independent batches, pooled within seeds: their sampling noise, not the spread between training runs)"

// meanOf is the mean of v (NaN for none).
func meanOf(v []float64) float64 {
	m, _ := meanSD(v)
	return m
}
