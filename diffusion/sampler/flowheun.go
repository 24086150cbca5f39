package sampler

import (
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
)

// FlowHeun is Heun's method (the explicit trapezoid rule, second order) on
// the flow ODE dx/dt = u(x, t) of FlowEuler, on the same flow times
// t_1 = 1 > … > t_n followed by t_{n+1} = 0. Each step with h = t_{i+1} − t_i
// takes an Euler predictor and corrects it with the mean of the two slopes:
//
//	x' = x + h·û(x, t_i),
//	x ← x + (h/2)·(û(x, t_i) + û(x', t_{i+1})),
//
// with local error O(h³) and global O(h²) — except the last step, to t = 0,
// where the velocity of a clean sample is undefined (σ = 0 is no timestep
// of the schedule); it is the Euler step x ← x − t_n û = x̂0, as EDM's last
// step (Karras et al. 2022, Algorithm 1, line 9). Evaluations: 2n − 1 per
// batch; the default n is DefaultFlowHeunSteps. It needs the flow schedule;
// ε-prediction denoisers are refused (ErrEpsAtZeroSNR).
type FlowHeun struct{}

// String returns "flow-heun".
func (FlowHeun) String() string { return "flow-heun" }

// Timesteps returns the respaced timesteps (see Timesteps).
func (FlowHeun) Timesteps(sched *diffusion.Schedule, set *Settings) ([]int, error) {
	return flowTimesteps("flow-heun", sched, set, DefaultFlowHeunSteps)
}

// Evaluations returns 2n − 1 for n flow times.
func (h FlowHeun) Evaluations(sched *diffusion.Schedule, set *Settings) (int, error) {
	ts, err := h.Timesteps(sched, set)
	return 2*len(ts) - 1, err
}

// Sample draws samples; see Sampler.
func (h FlowHeun) Sample(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand, set *Settings) error {
	ts, err := h.Timesteps(sched, set)
	if err != nil {
		return err
	}
	evals, _ := h.Evaluations(sched, set)
	s := defaults(set, DefaultFlowHeunSteps)
	var u, xe []float32 // (B, D): the slope at the step's start, the Euler point
	return run(dst, den, sched, rng, s, ts[0], evals, func(b *batch) error {
		x := b.x
		u, xe = grow(u, len(x)), grow(xe, len(x))
		b.noise(x) // x_1 = ε
		for i, t := range ts {
			b.eval(x, t)
			if i == len(ts)-1 { // Euler to t = 0: x − t·û = x̂0
				copy(x, b.x0)
				break
			}
			t2 := ts[i+1]
			step := sched.Sigma(t2) - sched.Sigma(t)
			for j := range x {
				u[j] = b.eps[j] - b.x0[j]
				xe[j] = float32(float64(x[j]) + step*float64(u[j]))
			}
			b.eval(xe, t2)
			for j := range x {
				u2 := float64(b.eps[j]) - float64(b.x0[j])
				x[j] = float32(float64(x[j]) + step*0.5*(float64(u[j])+u2))
			}
		}
		return nil
	})
}
