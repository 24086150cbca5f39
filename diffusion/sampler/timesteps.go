package sampler

import (
	"fmt"
	"math"
	"sort"

	"github.com/paretodiff/paretodiff/diffusion"
)

// Spacing says how DDPM and DDIM choose n of the T training timesteps
// (timestep respacing, Nichol & Dhariwal 2021 §4). Every spacing returns the
// timesteps in descending order and starts at the noisiest one, T−1.
type Spacing int

const (
	// Trailing takes τ_i = round(T − i·T/n) − 1 for i = 0..n−1 (diffusers'
	// "trailing", recommended by Lin et al. 2024 Table 2): T−1, T−1−T/n, …,
	// T/n − 1. It is the default.
	Trailing Spacing = iota
	// Linspace takes round(linspace(0, T−1, n)) reversed (diffusers'
	// "linspace"): T−1, …, 0, both ends included.
	Linspace
)

// diffusers' third choice, "leading" (arange(n)·(T/n)), is not offered: its
// first timestep is T − T/n, not T−1, so it never starts from the noisiest
// step (Lin et al. 2024, §3.3).

// String returns "trailing" or "linspace".
func (s Spacing) String() string {
	switch s {
	case Trailing:
		return "trailing"
	case Linspace:
		return "linspace"
	}
	return fmt.Sprintf("Spacing(%d)", int(s))
}

// ParseSpacing reads "trailing" or "linspace".
func ParseSpacing(s string) (Spacing, error) {
	switch s {
	case "trailing":
		return Trailing, nil
	case "linspace":
		return Linspace, nil
	}
	return 0, fmt.Errorf("sampler: unknown spacing %q (want trailing or linspace)", s)
}

// Timesteps returns n of the timesteps 0..T−1 chosen by spacing, in
// descending order, distinct, the first T−1. For n = 1 it is [T−1]. It
// returns an error unless 1 ≤ n ≤ T.
func Timesteps(T, n int, spacing Spacing) ([]int, error) {
	if n < 1 || n > T {
		return nil, fmt.Errorf("sampler: %d steps out of range 1..T=%d", n, T)
	}
	ts := make([]int, n)
	if n == 1 {
		ts[0] = T - 1
		return ts, nil
	}
	switch spacing {
	case Trailing:
		step := float64(T) / float64(n)
		for i := range ts {
			ts[i] = int(math.RoundToEven(float64(T)-float64(i)*step)) - 1
		}
	case Linspace:
		step := float64(T-1) / float64(n-1)
		for i := range ts {
			ts[n-1-i] = int(math.RoundToEven(float64(i) * step))
		}
		ts[0] = T - 1
	default:
		return nil, fmt.Errorf("sampler: invalid spacing %d", int(spacing))
	}
	return ts, nil
}

// Defaults of the Karras grid (Karras et al. 2022, Table 1, "ours").
const (
	// DefaultRho is ρ of the ramp.
	DefaultRho = 7
	// DefaultSigmaMax caps the top of the ramp (EDM's σ_max).
	DefaultSigmaMax = 80
)

// EDMSigma returns σ_t/α_t = 1/√SNR(t), the noise level in EDM's variable
// x̃ = x/α (Karras et al. 2022, Eq. 4 and Table 1): x̃_t = x0 + (σ_t/α_t) ε.
// On a VP schedule it is computed as √((1 − ᾱ_t)/ᾱ_t) (Table 1, "VP"), on
// the flow schedule as t/(1 − t). It is +Inf where α_t = 0.
func EDMSigma(s *diffusion.Schedule, t int) float64 {
	if !s.VariancePreserving() {
		a := s.Alpha(t)
		if a == 0 {
			return math.Inf(1)
		}
		return s.Sigma(t) / a
	}
	ab := s.AlphaBar(t)
	if ab == 0 {
		return math.Inf(1)
	}
	return math.Sqrt((1 - ab) / ab)
}

// KarrasTimesteps returns the timesteps of EDM's σ grid with n points on the
// discrete schedule. The grid starts at T−1, the noisiest timestep. Its
// other points follow EDM's ramp (Karras et al. 2022, Eq. 5)
//
//	σ_i = (σ_hi^{1/ρ} + i/(m−1)·(σ_lo^{1/ρ} − σ_hi^{1/ρ}))^ρ, i = 0..m−1,
//
// from σ_hi = min(sigmaMax, σ_{T−1}) down to σ_lo = σ_0 (EDMSigma), each σ_i
// rounded to the discrete timestep whose σ_t is nearest in log σ, duplicates
// removed (so fewer than n points may come back where the discrete σ_t are
// sparse). Where σ_{T−1} ≤ sigmaMax the ramp itself starts at T−1 and has
// m = n points; otherwise (always on a zero-terminal schedule, where
// σ_{T−1} = ∞) T−1 comes first and the ramp has m = n − 1 points (a ramp of
// one point is σ_0 alone). The result is descending and, for n ≥ 2, ends at 0.
//
// sigmaMax ≤ 0 means DefaultSigmaMax (EDM's 80); +Inf makes the ramp start
// at σ_{T−1} (at σ_{T−2} on a zero-terminal schedule). The cap matters: on the cosine schedule σ_999 ≈ 2·10⁴ (its
// last β is clipped to 0.999), a ramp from there puts most of its points
// above σ = 600 where they collapse onto t = 998 and 999, and the few left
// below are too far apart for Heun's corrector. rho ≤ 0 means DefaultRho. It
// returns an error unless 1 ≤ n ≤ T.
func KarrasTimesteps(s *diffusion.Schedule, n int, rho, sigmaMax float64) ([]int, error) {
	T := s.T()
	if n < 1 || n > T {
		return nil, fmt.Errorf("sampler: %d steps out of range 1..T=%d", n, T)
	}
	if math.IsNaN(rho) || math.IsNaN(sigmaMax) || math.IsInf(rho, 0) {
		return nil, fmt.Errorf("sampler: Karras grid ρ = %g, σ_max = %g invalid", rho, sigmaMax)
	}
	if rho <= 0 {
		rho = DefaultRho
	}
	if sigmaMax <= 0 {
		sigmaMax = DefaultSigmaMax
	}
	top := T - 1 // the ramp rounds among t = 0..top
	logSigma := make([]float64, T)
	for t := range logSigma {
		logSigma[t] = math.Log(EDMSigma(s, t))
	}
	if math.IsInf(logSigma[top], 1) {
		top--
	}
	ts := []int{T - 1}
	m, capped := n, false
	logHi := logSigma[T-1]
	if sm := math.Log(sigmaMax); logHi > sm {
		logHi, m, capped = sm, n-1, true
	}
	if math.IsInf(logHi, 1) { // zero-terminal and uncapped: ramp from σ_{T−2}
		logHi, m, capped = logSigma[top], n-1, true
	}
	if m < 1 {
		return ts, nil
	}
	hi := math.Exp(logHi / rho)
	lo := math.Exp(logSigma[0] / rho)
	for i := range m {
		ls := logHi
		if i > 0 {
			ls = rho * math.Log(hi+float64(i)/float64(m-1)*(lo-hi))
		}
		if i == m-1 && (m > 1 || capped) {
			ls = logSigma[0] // exact, not rounded through the ramp
		}
		if t := nearest(logSigma[:top+1], ls); t != ts[len(ts)-1] {
			ts = append(ts, t)
		}
	}
	return ts, nil
}

// nearest returns the index of the value of the increasing slice xs nearest
// to v.
func nearest(xs []float64, v float64) int {
	j := sort.SearchFloat64s(xs, v) // xs[j-1] < v ≤ xs[j]
	switch {
	case j == 0:
		return 0
	case j == len(xs):
		return len(xs) - 1
	case v-xs[j-1] <= xs[j]-v:
		return j - 1
	}
	return j
}
