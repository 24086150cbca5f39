package sampler

import (
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
)

// FlowEuler is the Euler method on the flow ODE of rectified flow (Liu et
// al. 2023, Eq. 1; Lipman et al. 2023, Eq. 1; the sampler of Esser et al.
// 2024, "SD3"):
//
//	dx/dt = u(x, t),   u(x, t) = E[ε − x0 | x_t = x],
//
// integrated from t = 1, where x_1 = ε ~ N(0, I), down to t = 0. Why this
// ODE samples the data: x_t = (1 − t)x0 + t·ε has dx_t/dt = ε − x0 along
// every pair (x0, ε), and the conditional mean u of that velocity given x_t
// moves the marginal p_t as the pairs do (the continuity equation of the
// mixture; Lipman et al. Theorem 1), so its flow carries p_1 = N(0, I) to
// p_0, the data. The denoiser's û is its prediction converted from its
// target: û = ε̂ − x̂0 (diffusion.ToX0, diffusion.ToEps), the prediction
// itself for a flow model.
//
// The flow times are those of the respaced timesteps τ_1 = T−1 > … > τ_n
// (Timesteps with Settings.Spacing; trailing spacing on the unshifted flow
// schedule gives t = 1, 1 − 1/n, …, 1/n, uniform in t, and a shifted
// schedule shifts them as SD3 does), t_i = σ_{τ_i}, followed by
// t_{n+1} = 0. Each step is
//
//	x ← x + (t_{i+1} − t_i)·û(x, t_i),
//
// which on this schedule equals DDIM's deterministic step
// x ← (1 − t_{i+1}) x̂0 + t_{i+1} ε̂ (substitute x = (1 − t_i)x̂0 + t_i ε̂),
// and whose last step, to t = 0, is x ← x − t_n û = x̂0. Local error
// O(h²), global O(h) in the step h. n evaluations per batch; the default n
// is DefaultFlowEulerSteps. It needs the flow schedule (an error
// otherwise); ε-prediction denoisers are refused (ErrEpsAtZeroSNR: t = 1 has
// α = 0).
type FlowEuler struct{}

// String returns "flow-euler".
func (FlowEuler) String() string { return "flow-euler" }

// Timesteps returns the respaced timesteps (see Timesteps).
func (FlowEuler) Timesteps(sched *diffusion.Schedule, set *Settings) ([]int, error) {
	return flowTimesteps("flow-euler", sched, set, DefaultFlowEulerSteps)
}

// Evaluations returns the number of steps: one denoiser call each.
func (e FlowEuler) Evaluations(sched *diffusion.Schedule, set *Settings) (int, error) {
	ts, err := e.Timesteps(sched, set)
	return len(ts), err
}

// Sample draws samples; see Sampler.
func (e FlowEuler) Sample(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand, set *Settings) error {
	ts, err := e.Timesteps(sched, set)
	if err != nil {
		return err
	}
	s := defaults(set, DefaultFlowEulerSteps)
	return run(dst, den, sched, rng, s, ts[0], len(ts), func(b *batch) error {
		x := b.x
		b.noise(x) // x_1 = ε
		for i, t := range ts {
			b.eval(x, t)
			if i == len(ts)-1 { // x − t_n·û = x̂0, exactly rather than rounded
				copy(x, b.x0)
				break
			}
			h := sched.Sigma(ts[i+1]) - sched.Sigma(t)
			for j := range x {
				x[j] = float32(float64(x[j]) + h*(float64(b.eps[j])-float64(b.x0[j])))
			}
		}
		return nil
	})
}

// flowTimesteps returns the respaced timesteps of a flow sampler: the
// schedule must be the flow schedule.
func flowTimesteps(name string, sched *diffusion.Schedule, set *Settings, defaultSteps int) ([]int, error) {
	s := defaults(set, defaultSteps)
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := needFlow(name, sched); err != nil {
		return nil, err
	}
	return Timesteps(sched.T(), s.Steps, s.Spacing)
}
