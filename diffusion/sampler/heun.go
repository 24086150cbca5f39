package sampler

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/paretodiff/paretodiff/diffusion"
)

// Heun is EDM's deterministic second-order sampler (Karras et al. 2022,
// Algorithm 1 without churn) on the σ grid of the discrete VP model. It
// runs on the flow schedule too, in the same variables: there x̃ = x/(1 − t)
// and σ = t/(1 − t) (EDMSigma), and α = 0 at t = 1 is handled as on a
// zero-terminal schedule.
//
// In the variable x̃ = x/α the VP process reads x̃_t = x0 + σ_t ε with
// σ_t = √((1 − ᾱ_t)/ᾱ_t) = 1/√SNR(t) (EDMSigma), and the probability-flow
// ODE is dx̃/dσ = (x̃ − D(x̃; σ))/σ (EDM Eq. 3 with s = 1), where
// D(x̃; σ_t) = x̂0 is the denoiser's prediction at x_t = α_t x̃ converted
// from its target; the slope equals ε̂. The grid σ_1 > … > σ_n are the
// discrete σ_t chosen by KarrasTimesteps (T−1, then the ρ-ramp from
// min(SigmaMax, σ_{T−1}) to σ_0 rounded to the nearest discrete σ,
// deduplicated), followed by σ_{n+1} = 0. Sampling starts at x̃ = σ_1 n,
// n ~ N(0, I) (EDM's x_0 = σ_max n; in the VP variable x_{T−1} = σ_VP n).
// Each step is an Euler step
//
//	x̃' = x̃ + (σ_{i+1} − σ_i) d,  d = (x̃ − D(x̃; σ_i))/σ_i,
//
// corrected by the trapezoid rule x̃ ← x̃ + (σ_{i+1} − σ_i)(d + d')/2 with
// d' the slope at (x̃', σ_{i+1}) — except the last step, to σ = 0, which is
// the Euler step x̃ = D(x̃; σ_n) as in EDM, and a first step that starts
// above SigmaMax (from T−1 into the ramp), which is the Euler step written
// as x̃' = D + σ_2 ε̂ (DDIM's step): over a jump of orders of magnitude in σ
// the trapezoid's end slope is a poor estimate, while the Euler step is
// accurate to O(s²/σ_2²) for data of scale s. Evaluations: 2n − 1 per
// batch, 2n − 2 where the first step is an Euler step.
//
// Zero-terminal schedules: σ_{T−1} = ∞ and α = 0 there, so the sampler
// starts from x_{T−1} = n in the VP variable (x̃ would be infinite), and its
// first step is the σ → ∞ limit of the Euler step, x̃' = D + σ_2 ε̂, which
// divides by nothing. ε-prediction denoisers cannot be sampled there: see
// ErrEpsAtZeroSNR.
type Heun struct {
	// Rho is ρ of the Karras grid; zero means DefaultRho.
	Rho float64
	// SigmaMax caps the top of the ramp; zero means DefaultSigmaMax and
	// +Inf no cap (see KarrasTimesteps).
	SigmaMax float64
}

func (h Heun) sigmaMax() float64 {
	if h.SigmaMax <= 0 {
		return DefaultSigmaMax
	}
	return h.SigmaMax
}

// String returns "heun:ρ,σ_max".
func (h Heun) String() string {
	rho := h.Rho
	if rho <= 0 {
		rho = DefaultRho
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return "heun:" + f(rho) + "," + f(h.sigmaMax())
}

// Timesteps returns the grid (see KarrasTimesteps).
func (h Heun) Timesteps(sched *diffusion.Schedule, set *Settings) ([]int, error) {
	s := defaults(set, DefaultHeunSteps)
	if err := s.check(); err != nil {
		return nil, err
	}
	if h.Rho < 0 || h.SigmaMax < 0 {
		return nil, errorf("Heun ρ = %g and σ_max = %g must be ≥ 0", h.Rho, h.SigmaMax)
	}
	return KarrasTimesteps(sched, s.Steps, h.Rho, h.sigmaMax())
}

// Evaluations returns 2n − 1 for n grid points, 2n − 2 where the first step
// is an Euler step.
func (h Heun) Evaluations(sched *diffusion.Schedule, set *Settings) (int, error) {
	ts, err := h.Timesteps(sched, set)
	if err != nil {
		return 0, err
	}
	n := 2*len(ts) - 1
	if sig := EDMSigma(sched, ts[0]); len(ts) > 1 && (sig > h.sigmaMax() || math.IsInf(sig, 1)) {
		n--
	}
	return n, nil
}

// Sample draws samples; see Sampler.
func (h Heun) Sample(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand, set *Settings) error {
	ts, err := h.Timesteps(sched, set)
	if err != nil {
		return err
	}
	evals, _ := h.Evaluations(sched, set)
	s := defaults(set, DefaultHeunSteps)
	sigmaMax := h.sigmaMax()
	// xin, d and xe are (B, D): the VP input α x̃, the slope at the step's
	// start and the Euler point.
	var xin, d, xe []float32
	return run(dst, den, sched, rng, s, ts[0], evals, func(b *batch) error {
		n := len(b.x)
		xin, d, xe = grow(xin, n), grow(d, n), grow(xe, n)
		x := b.x // holds x̃, except x_{T−1} on a zero-terminal schedule
		b.noise(x)
		if sig := EDMSigma(sched, ts[0]); !math.IsInf(sig, 1) {
			scale(x, x, sig)
		}
		for i, t := range ts {
			sig := EDMSigma(sched, t)
			if math.IsInf(sig, 1) {
				b.eval(x, t) // x is the VP x_{T−1} itself
			} else {
				scale(xin, x, sched.Alpha(t))
				b.eval(xin, t)
			}
			if i == len(ts)-1 { // Euler to σ = 0
				copy(x, b.x0)
				break
			}
			t2 := ts[i+1]
			sig2 := EDMSigma(sched, t2)
			// Only the step from T−1 into the ramp is Euler; the ramp's first
			// point may round to a σ_t a little above σ_max and still gets
			// Heun's correction (as Evaluations counts).
			if i == 0 && (sig > sigmaMax || math.IsInf(sig, 1)) { // Euler into the ramp: x̃' = D + σ_2 ε̂
				for j := range x {
					x[j] = float32(float64(b.x0[j]) + sig2*float64(b.eps[j]))
				}
				continue
			}
			h := sig2 - sig
			copy(d, b.eps)
			for j := range xe {
				xe[j] = float32(float64(x[j]) + h*float64(d[j]))
			}
			scale(xin, xe, sched.Alpha(t2))
			b.eval(xin, t2)
			for j := range x {
				x[j] = float32(float64(x[j]) + h*0.5*(float64(d[j])+float64(b.eps[j])))
			}
		}
		return nil
	})
}

// scale writes c·src into dst.
func scale(dst, src []float32, c float64) {
	for i, v := range src {
		dst[i] = float32(c * float64(v))
	}
}
