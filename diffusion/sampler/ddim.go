package sampler

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/paretodiff/paretodiff/diffusion"
)

// DDIM is the sampler of Song et al. 2021 (Eq. 12) on a respaced
// subsequence τ_1 = T−1 > … > τ_n of the timesteps. With t = τ_i,
// s = τ_{i+1}, x̂0 and ε̂ the denoiser's prediction converted from its
// target (diffusion.ToX0, diffusion.ToEps):
//
//	σ_η² = η² (1 − ᾱ_s)/(1 − ᾱ_t) (1 − ᾱ_t/ᾱ_s),
//	x_s  = √ᾱ_s x̂0 + √(1 − ᾱ_s − σ_η²) ε̂ + σ_η ξ,   ξ ~ N(0, I).
//
// η = 0 is deterministic (an Euler step of the probability-flow ODE in
// x/α against σ = √((1−ᾱ)/ᾱ)); η = 1 is DDPM with the β̃ variance. The last
// step returns x̂0. Sampling starts at x_{T−1} ~ N(0, I). n evaluations per
// batch; the default n is DefaultDDIMSteps.
type DDIM struct {
	// Eta is η in [0, 1].
	Eta float64
}

// String returns "ddim:η".
func (d DDIM) String() string { return "ddim:" + strconv.FormatFloat(d.Eta, 'g', -1, 64) }

// Timesteps returns the respaced timesteps (see Timesteps).
func (d DDIM) Timesteps(sched *diffusion.Schedule, set *Settings) ([]int, error) {
	s := defaults(set, DefaultDDIMSteps)
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := needVP("ddim", sched); err != nil {
		return nil, err
	}
	return Timesteps(sched.T(), s.Steps, s.Spacing)
}

// Evaluations returns the number of steps: one denoiser call each.
func (d DDIM) Evaluations(sched *diffusion.Schedule, set *Settings) (int, error) {
	ts, err := d.Timesteps(sched, set)
	return len(ts), err
}

// Sample draws samples; see Sampler.
func (d DDIM) Sample(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand, set *Settings) error {
	if !(d.Eta >= 0 && d.Eta <= 1) {
		return errorf("DDIM η = %g is not in [0, 1]", d.Eta)
	}
	ts, err := d.Timesteps(sched, set)
	if err != nil {
		return err
	}
	s := defaults(set, DefaultDDIMSteps)
	var z []float32 // (B, D) fresh noise of a step
	return run(dst, den, sched, rng, s, ts[0], len(ts), func(b *batch) error {
		z = grow(z, len(b.x))
		b.noise(b.x)
		for i, t := range ts {
			b.eval(b.x, t)
			if i == len(ts)-1 {
				copy(b.x, b.x0)
				break
			}
			abT, abS := sched.AlphaBar(t), sched.AlphaBar(ts[i+1])
			v := d.Eta * d.Eta * (1 - abS) / (1 - abT) * (1 - abT/abS)
			c0, ce, sd := math.Sqrt(abS), math.Sqrt(max(0, 1-abS-v)), math.Sqrt(v)
			if sd > 0 {
				b.noise(z)
			} else {
				clear(z)
			}
			for j := range b.x {
				b.x[j] = float32(c0*float64(b.x0[j]) + ce*float64(b.eps[j]) + sd*float64(z[j]))
			}
		}
		return nil
	})
}
