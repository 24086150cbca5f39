package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
)

// Variance is the variance of DDPM's reverse step.
type Variance int

const (
	// BetaTilde is the variance of the posterior q(x_s | x_t, x0),
	// β̃ = (1 − ᾱ_s)/(1 − ᾱ_t)·β' (Ho et al. 2020, Eq. 7), the lower bound
	// of the two choices in Ho et al. §3.2 and the default.
	BetaTilde Variance = iota
	// Beta is β' = 1 − ᾱ_t/ᾱ_s, the upper bound of Ho et al. §3.2.
	Beta
)

// DDPM is ancestral sampling (Ho et al. 2020, Algorithm 2) on a respaced
// subsequence τ_1 = T−1 > τ_2 > … > τ_n of the timesteps (Nichol & Dhariwal
// 2021, §4). With t = τ_i, s = τ_{i+1}, the respaced β' = 1 − ᾱ_t/ᾱ_s and
// x̂0 the denoiser's prediction converted from its target, each step draws
// x_s from the posterior q(x_s | x_t, x0 = x̂0) (Ho et al. Eq. 6–7):
//
//	x_s = √ᾱ_s β'/(1 − ᾱ_t) · x̂0 + √(ᾱ_t/ᾱ_s)(1 − ᾱ_s)/(1 − ᾱ_t) · x_t + √Var · ξ,
//
// ξ ~ N(0, I), Var per Variance. The last step (from τ_n to the data,
// ᾱ = 1) returns x̂0 itself, without noise. Sampling starts at x_{T−1} ~
// N(0, I). n evaluations per batch; the default n is T.
type DDPM struct {
	// Variance of each step: BetaTilde (the zero value) or Beta.
	Variance Variance
}

// String returns "ddpm" or "ddpm:beta".
func (d DDPM) String() string {
	if d.Variance == Beta {
		return "ddpm:beta"
	}
	return "ddpm"
}

// Timesteps returns the respaced timesteps (see Timesteps).
func (d DDPM) Timesteps(sched *diffusion.Schedule, set *Settings) ([]int, error) {
	s := defaults(set, sched.T())
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := needVP("ddpm", sched); err != nil {
		return nil, err
	}
	return Timesteps(sched.T(), s.Steps, s.Spacing)
}

// Evaluations returns the number of steps: one denoiser call each.
func (d DDPM) Evaluations(sched *diffusion.Schedule, set *Settings) (int, error) {
	ts, err := d.Timesteps(sched, set)
	return len(ts), err
}

// Sample draws samples; see Sampler.
func (d DDPM) Sample(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand, set *Settings) error {
	if d.Variance != BetaTilde && d.Variance != Beta {
		return fmt.Errorf("sampler: invalid DDPM variance %d", int(d.Variance))
	}
	ts, err := d.Timesteps(sched, set)
	if err != nil {
		return err
	}
	s := defaults(set, sched.T())
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
			beta := 1 - abT/abS
			c0 := math.Sqrt(abS) * beta / (1 - abT)
			ct := math.Sqrt(abT/abS) * (1 - abS) / (1 - abT)
			v := beta
			if d.Variance == BetaTilde {
				v = (1 - abS) / (1 - abT) * beta
			}
			sd := math.Sqrt(v)
			b.noise(z)
			for j, xt := range b.x {
				b.x[j] = float32(c0*float64(b.x0[j]) + ct*float64(xt) + sd*float64(z[j]))
			}
		}
		return nil
	})
}

// grow returns buf resliced to n, reallocated if it is too short.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
