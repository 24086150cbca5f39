package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// gaussU is x ↦ û = ε̂ − x̂0, the optimal flow velocity as an affine map.
func gaussU(mu, s, alpha, sigma float64) aff {
	return gaussEps(mu, s, alpha, sigma).plus(gaussX0(mu, s, alpha, sigma).times(-1))
}

// refFlow returns the exact affine map x_1 ↦ sample of FlowEuler (heun
// false) or FlowHeun on Gaussian data N(μ, s²), in float64.
func refFlow(sc *diffusion.Schedule, ts []int, mu, s float64, heun bool) aff {
	x := ident
	for i, t := range ts {
		u := gaussU(mu, s, sc.Alpha(t), sc.Sigma(t))
		if i == len(ts)-1 {
			return gaussX0(mu, s, sc.Alpha(t), sc.Sigma(t)).of(x)
		}
		t2 := ts[i+1]
		h := sc.FlowTime(t2) - sc.FlowTime(t)
		euler := ident.plus(u.times(h)) // x + h·u(x)
		if !heun {
			x = euler.of(x)
			continue
		}
		u2 := gaussU(mu, s, sc.Alpha(t2), sc.Sigma(t2)).of(euler)
		x = ident.plus(u.plus(u2).times(h / 2)).of(x)
	}
	return x
}

func flowSchedules(t *testing.T) []*diffusion.Schedule {
	var out []*diffusion.Schedule
	for _, name := range []string{"flow", "flow:shift=3"} {
		s, err := diffusion.NewSchedule(name, 1000, false)
		require.NoError(t, err)
		out = append(out, s)
	}
	return out
}

// initialNoise returns the x_1 of every row as the samplers draw it (run:
// 2N seeds from rng, one PCG per row).
func initialNoise(rng *rand.Rand, N, D int) []float64 {
	seeds := make([]uint64, 2*N)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	z := make([]float64, N*D)
	for r := range N {
		g := rand.New(rand.NewPCG(seeds[2*r], seeds[2*r+1]))
		for d := range D {
			z[r*D+d] = g.NormFloat64()
		}
	}
	return z
}

// flowRoundoff: each sample is the exact affine map of its own initial
// noise up to float32 rounding of x, x̂0 and ε̂ at every step (≤ 50 steps
// of values of order 1, gains ≤ 1/s = 20 at the last ones).
const flowRoundoff = 2e-4

// Sample by sample, FlowEuler and FlowHeun on the optimal denoiser of
// Gaussian data are the exact discretised maps x_1 ↦ a·x_1 + b of the
// reference, for x0 and flow prediction, both spacings and a shifted
// schedule.
func TestFlowSamplersMatchExactMaps(t *testing.T) {
	const N = 300
	D := len(gaussMu)
	for _, sc := range flowSchedules(t) {
		for _, smp := range []Sampler{FlowEuler{}, FlowHeun{}} {
			for _, tg := range []weighting.Target{weighting.X0, weighting.Flow} {
				for _, set := range []*Settings{{Steps: 8}, {Steps: 5, Spacing: Linspace, BatchSize: 70}, {Steps: 50}} {
					name := fmt.Sprintf("%v %v %v steps=%d %v", sc, smp, tg, set.Steps, set.Spacing)
					x := make([]float32, N*D)
					require.NoError(t, smp.Sample(x, gaussDenoiser(t, sc, tg), sc, newRNG(5), set), name)
					ts, err := smp.Timesteps(sc, set)
					require.NoError(t, err)
					z := initialNoise(newRNG(5), N, D)
					for d := range D {
						f := refFlow(sc, ts, gaussMu[d], gaussStd[d], smp == FlowHeun{})
						for r := range N {
							require.InDelta(t, f.a*z[r*D+d]+f.b, float64(x[r*D+d]), flowRoundoff, "%s row %d dim %d", name, r, d)
						}
					}
				}
			}
		}
	}
}

// The closed form of the flow ODE on Gaussian data: p_t = N((1 − t)μ,
// m_t²) with m_t² = (1 − t)²s² + t², and the ODE keeps each point's
// standard score, x_t = (1 − t)μ + m_t·x_1. A solver that is exact down to
// the last flow time t_0 = 1/T and then returns x̂0 = E[x0 | x_{t_0}] maps
// x_1 to μ + (α_0 s²/m_0)·x_1. The references converge to that map at the
// orders of the methods (Linspace spacing, which ends at t_0 for every n).
func TestFlowStepsConverge(t *testing.T) {
	sc := flowSchedules(t)[0]
	a0, s0 := sc.Alpha(0), sc.Sigma(0)
	for _, c := range []struct {
		heun             bool
		orderLo, orderHi float64
		errAt200         float64
	}{
		// Measured (s = 0.3, 0.6): Euler order 0.99, 1.00, errors at 200
		// 0.0096, 0.0070; Heun 1.98, 1.98, errors 3.5e-5, 7.6e-6.
		{false, 0.85, 1.15, 0.015},
		{true, 1.8, 2.2, 6e-5},
	} {
		// s = 1 is left out: there m_t = m_{1−t}, the h² terms of Heun's
		// error cancel over [0, 1] and the measured order is 3. The sharp
		// dimension (s = 0.05) needs many more steps to be asymptotic.
		for _, s := range []float64{0.3, 0.6} {
			mu := 0.5
			m0 := math.Sqrt(a0*a0*s*s + s0*s0)
			exact := aff{a0 * s * s / m0, mu}
			e := func(n int) float64 {
				ts, err := Timesteps(sc.T(), n, Linspace)
				require.NoError(t, err)
				f := refFlow(sc, ts, mu, s, c.heun)
				return math.Max(math.Abs(f.a-exact.a)/exact.a, math.Abs(f.b-exact.b))
			}
			e1, e2 := e(100), e(200)
			order := math.Log(e1/e2) / math.Log(float64(199)/float64(99))
			t.Logf("heun=%v s=%g: order %.2f (errors %.3g at 100, %.3g at 200)", c.heun, s, order, e1, e2)
			require.True(t, order >= c.orderLo && order <= c.orderHi, "heun=%v s=%g: order %.2f", c.heun, s, order)
			require.Less(t, e2, c.errAt200, "heun=%v s=%g", c.heun, s)
		}
	}
}

// The optimal denoiser's flow velocity against the closed form of the
// Gaussian transport, u = d x_t/dt at fixed standard score:
// u(x, t) = −μ + (m_t'/m_t)(x − (1 − t)μ), m_t m_t' = t − (1 − t)s².
func TestOptimalFlowVelocityClosedForm(t *testing.T) {
	const velTol = 1e-5 // float32 output of values of order 1–20
	for _, sc := range flowSchedules(t) {
		den := gaussDenoiser(t, sc, weighting.Flow)
		D := den.Dim()
		for _, i := range []int{0, 10, 500, 900, 999} {
			tt := sc.FlowTime(i)
			xt := []float32{0.3, -1.4, 2.2}
			out := make([]float32, D)
			den.Predict(out, xt, []int{i})
			for d := range D {
				mu, s := gaussMu[d], gaussStd[d]
				m2 := (1-tt)*(1-tt)*s*s + tt*tt
				want := -mu + (tt-(1-tt)*s*s)/m2*(float64(xt[d])-(1-tt)*mu)
				require.InDelta(t, want, float64(out[d]), velTol*math.Max(1, math.Abs(want)), "%v i=%d dim %d", sc, i, d)
			}
		}
	}
}

// EDM's Heun runs on the flow schedule in x̃ = x/(1 − t), σ = t/(1 − t):
// its samples match the exact moments of that discretisation.
func TestEDMHeunOnFlowMatchesExactMoments(t *testing.T) {
	const N = 4000
	zero := make([]float64, len(gaussMu))
	for _, sc := range flowSchedules(t) {
		for _, smp := range []Sampler{Heun{}, Heun{SigmaMax: math.Inf(1)}} {
			for _, tg := range []weighting.Target{weighting.X0, weighting.Flow} {
				set := &Settings{Steps: 8}
				den := gaussDenoiser(t, sc, tg)
				x := make([]float32, N*den.Dim())
				require.NoError(t, smp.Sample(x, den, sc, newRNG(1), set))
				want := make([]moments, len(gaussMu))
				for d := range want {
					want[d] = refFor(t, smp, sc, set, gaussMu[d], gaussStd[d])
				}
				checkMoments(t, x, want, zero, zero, fmt.Sprintf("%v %v %v", sc, smp, tg))
			}
		}
	}
}

// A three-mode mixture on the flow schedule: each mode gets its weight's
// share of the samples (as TestMixtureModeWeights for the VP samplers).
func TestFlowMixtureModeWeights(t *testing.T) {
	const (
		N         = 6000
		modeSlack = 0.01 // discretisation; measured shifts are below 0.005
	)
	mix := GaussianMixture{
		Weights: []float64{0.5, 0.3, 0.2},
		Means:   [][]float64{{-2, 0}, {2, 0}, {0, 2.5}},
		Stds:    [][]float64{{0.2, 0.2}, {0.3, 0.1}, {0.15, 0.25}},
	}
	sc := flowSchedules(t)[1]
	for _, smp := range []Sampler{FlowEuler{}, FlowHeun{}} {
		den, err := NewOptimalDenoiser(mix, sc, weighting.Flow)
		require.NoError(t, err)
		x := make([]float32, N*2)
		require.NoError(t, smp.Sample(x, den, sc, newRNG(3), nil))
		counts := make([]int, 3)
		for i := range N {
			best, bd := 0, math.Inf(1)
			for k, m := range mix.Means {
				dx, dy := float64(x[2*i])-m[0], float64(x[2*i+1])-m[1]
				if d := dx*dx + dy*dy; d < bd {
					best, bd = k, d
				}
			}
			counts[best]++
		}
		for k, p := range mix.Weights {
			got := float64(counts[k]) / N
			t.Logf("%v mode %d: %.4f (weight %.1f)", smp, k, got, p)
			require.InDelta(t, p, got, zSample*math.Sqrt(p*(1-p)/N)+modeSlack, "%v mode %d", smp, k)
		}
	}
}

// Samplers refuse the schedules they were not derived for, ε-prediction at
// t = 1 and v-prediction on the flow schedule; the flow samplers count
// their calls and clip.
func TestFlowSamplerErrorsAndCalls(t *testing.T) {
	flow := flowSchedules(t)[0]
	vp := diffusion.Cosine(1000)
	x := make([]float32, 10*3)
	for _, smp := range []Sampler{DDPM{}, DDIM{}, DDIM{Eta: 1}} {
		err := smp.Sample(x, gaussDenoiser(t, flow, weighting.Flow), flow, newRNG(1), nil)
		require.ErrorContains(t, err, "needs a variance-preserving schedule", "%v", smp)
		_, err = smp.Evaluations(flow, nil)
		require.Error(t, err)
	}
	for _, smp := range []Sampler{FlowEuler{}, FlowHeun{}} {
		err := smp.Sample(x, gaussDenoiser(t, vp, weighting.X0), vp, newRNG(1), nil)
		require.ErrorContains(t, err, "integrates the flow ODE", "%v", smp)
		require.ErrorIs(t, smp.Sample(x, gaussDenoiser(t, flow, weighting.Eps), flow, newRNG(1), nil), ErrEpsAtZeroSNR)
		require.ErrorContains(t, smp.Sample(x, vDenoiser{}, flow, newRNG(1), nil), "v-prediction needs a variance-preserving schedule")
		for _, set := range []*Settings{{Steps: 1001}, {Steps: -1}, {BatchSize: -1}, {ClipX0: -1}} {
			require.Error(t, smp.Sample(x, gaussDenoiser(t, flow, weighting.Flow), flow, newRNG(1), set), "%v %+v", smp, set)
		}
		for _, steps := range []int{0, 1, 7} {
			calls := 0
			set := &Settings{Steps: steps, BatchSize: 4}
			evals, err := smp.Evaluations(flow, set)
			require.NoError(t, err)
			require.NoError(t, smp.Sample(x, countingDenoiser{gaussDenoiser(t, flow, weighting.Flow), &calls}, flow, newRNG(1), set))
			require.Equal(t, 3*evals, calls, "%v steps %d", smp, steps) // 10 rows: batches of 4, 4, 2
		}
		const c = 0.4
		require.NoError(t, smp.Sample(x, gaussDenoiser(t, flow, weighting.Flow), flow, newRNG(2), &Settings{Steps: 10, ClipX0: c}))
		for _, v := range x {
			require.True(t, v >= -c && v <= c, "%v: %v outside [−%g, %g]", smp, v, c, c)
		}
	}
	n, _ := FlowEuler{}.Evaluations(flow, nil)
	require.Equal(t, DefaultFlowEulerSteps, n)
	n, _ = FlowHeun{}.Evaluations(flow, nil)
	require.Equal(t, 2*DefaultFlowHeunSteps-1, n)
	_, err := NewOptimalDenoiser(Gaussian(gaussMu, gaussStd), flow, weighting.V)
	require.ErrorContains(t, err, "v-prediction")
	for spec, want := range map[string]Sampler{"flow-euler": FlowEuler{}, " flow-heun": FlowHeun{}} {
		got, err := Parse(spec)
		require.NoError(t, err)
		require.Equal(t, want, got)
		back, err := Parse(got.String())
		require.NoError(t, err)
		require.Equal(t, got, back)
	}
	_, err = Parse("flow-euler:3")
	require.ErrorContains(t, err, "takes no parameters")
}

// vDenoiser claims v-prediction.
type vDenoiser struct{}

func (vDenoiser) Dim() int                          { return 3 }
func (vDenoiser) Target() weighting.Target          { return weighting.V }
func (vDenoiser) Predict(out, _ []float32, _ []int) { clear(out) }
