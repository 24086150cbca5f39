package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SWDSettings configures SlicedWasserstein. The zero value (or nil) means
// the defaults.
type SWDSettings struct {
	// Projections is L, the number of random directions; zero means
	// DefaultProjections.
	Projections int
	// P is the order p ≥ 1 of the distance; zero means DefaultP.
	P float64
}

// Defaults of SWDSettings.
const (
	// DefaultProjections is the default number of directions L.
	DefaultProjections = 256
	// DefaultP is the default order: p = 1, as the SWD of ProGAN (Karras et
	// al. 2018, the mean absolute difference of sorted projections). Its
	// sampling noise is lower than p = 2's on multi-modal data: a share Δ of
	// mass sitting in the wrong one of two modes at distance r costs Δ·r in
	// W_1 but √Δ·r in W_2, so W_2 between two finite samples of the same
	// mixture stays large (TestSWDOrderOneLessNoisyOnModes checks it on two
	// modes 4 apart; bench/RESULTS.md records the values).
	DefaultP = 1
)

// SlicedWasserstein returns the sliced Wasserstein distance of order p
// between the empirical distributions of x (N, d) and y (M, d) (Rabin et
// al. 2011; Bonneel et al. 2015):
//
//	SW_p(X, Y) = ( (1/L) Σ_l W_p^p(θ_l·X, θ_l·Y) )^{1/p},
//
// a Monte Carlo estimate of (E_θ W_p^p)^{1/p} with θ_l uniform on the unit
// sphere (normalised Gaussian vectors drawn from rng, L·d draws, in order).
// Each W_p^p between the two projected 1-D samples is exact: the integral
// ∫_0^1 |F⁻¹(u) − G⁻¹(u)|^p du of the difference of their sorted quantile
// functions, N ≠ M allowed (the breakpoints i/N and j/M are merged in exact
// integer arithmetic). For d = 1 the directions are ±1 and the result is the
// exact W_p. It is symmetric in x and y for the same rng state.
func SlicedWasserstein[T Float](x, y []T, d int, rng *rand.Rand, set *SWDSettings) (float64, error) {
	n, m := rows("SlicedWasserstein", x, d), rows("SlicedWasserstein", y, d)
	var s SWDSettings
	if set != nil {
		s = *set
	}
	if s.Projections == 0 {
		s.Projections = DefaultProjections
	}
	if s.P == 0 {
		s.P = DefaultP
	}
	if s.Projections < 0 || !(s.P >= 1) || math.IsInf(s.P, 0) {
		return 0, fmt.Errorf("metrics: SlicedWasserstein: need projections > 0 and finite p ≥ 1, got %d and %g", s.Projections, s.P)
	}
	if n == 0 || m == 0 {
		return 0, fmt.Errorf("metrics: SlicedWasserstein: empty set (%d and %d rows)", n, m)
	}
	if err := finite("SlicedWasserstein", "x", x, d); err != nil {
		return 0, err
	}
	if err := finite("SlicedWasserstein", "y", y, d); err != nil {
		return 0, err
	}
	L := s.Projections
	dirs := make([]float64, L*d) // (L, d) unit directions
	for l := range L {
		th := dirs[l*d : (l+1)*d]
		for {
			norm := 0.0
			for i := range th {
				th[i] = rng.NormFloat64()
				norm += th[i] * th[i]
			}
			if norm > 0 {
				norm = math.Sqrt(norm)
				for i := range th {
					th[i] /= norm
				}
				break
			}
		}
	}
	wp := make([]float64, L) // W_p^p per direction
	parallel(L, func(l int) {
		th := dirs[l*d : (l+1)*d]
		px, py := project(x, d, th), project(y, d, th)
		slices.Sort(px)
		slices.Sort(py)
		wp[l] = Wasserstein1DSorted(px, py, s.P)
	})
	sum := 0.0
	for _, v := range wp {
		sum += v
	}
	return math.Pow(sum/float64(L), 1/s.P), nil
}

// project returns x·θ for every row of x (N, d).
func project[T Float](x []T, d int, th []float64) []float64 {
	out := make([]float64, len(x)/d)
	for i := range out {
		row := x[i*d : (i+1)*d]
		acc := 0.0
		for j, v := range row {
			acc += float64(v) * th[j]
		}
		out[i] = acc
	}
	return out
}

// Wasserstein1DSorted returns W_p^p = ∫_0^1 |F⁻¹(u) − G⁻¹(u)|^p du between
// the empirical distributions of the sorted samples a (N) and b (M), each
// point of a weighing 1/N and of b 1/M. It panics if either is empty.
func Wasserstein1DSorted(a, b []float64, p float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		panic("metrics: Wasserstein1DSorted: empty sample")
	}
	if n == m {
		acc := 0.0
		for i := range a {
			acc += math.Pow(math.Abs(a[i]-b[i]), p)
		}
		return acc / float64(n)
	}
	// Positions on [0, 1] in units of 1/(n·m): a's i-th quantile piece ends
	// at (i+1)·m, b's j-th at (j+1)·n.
	acc := 0.0
	i, j, u := 0, 0, 0
	for i < n && j < m {
		ea, eb := (i+1)*m, (j+1)*n
		e := min(ea, eb)
		acc += float64(e-u) * math.Pow(math.Abs(a[i]-b[j]), p)
		u = e
		if ea == e {
			i++
		}
		if eb == e {
			j++
		}
	}
	return acc / (float64(n) * float64(m))
}
