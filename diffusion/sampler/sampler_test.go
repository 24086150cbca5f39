package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// zSample is how many standard errors a sample statistic may be from its
// exact value: the seeds are fixed and a 5σ miss has probability ≈ 6e-7 per
// comparison, so a failure means a bug, not bad luck.
const zSample = 5.0

// The Gaussian test data: x0 ~ N(μ, diag(s²)), one broad, one medium and one
// sharp dimension (s = 0.05 stresses the steps near t = 0).
var (
	gaussMu  = []float64{0.5, -1, 2}
	gaussStd = []float64{1, 0.3, 0.05}
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// sampleStats returns the mean and the unbiased variance of column d of x (N, D).
func sampleStats(x []float32, D, d int) (mean, variance float64) {
	col := make([]float64, len(x)/D)
	for i := range col {
		col[i] = float64(x[i*D+d])
	}
	return stat.MeanVariance(col, nil)
}

// refFor returns the exact output moments of sampler smp for dimension d of
// the Gaussian test data (ref_test.go).
func refFor(t *testing.T, smp Sampler, sc *diffusion.Schedule, set *Settings, mu, s float64) moments {
	ts, err := smp.Timesteps(sc, set)
	require.NoError(t, err)
	switch v := smp.(type) {
	case DDPM:
		return refDDPM(sc, ts, mu, s, v.Variance)
	case DDIM:
		return refDDIM(sc, ts, mu, s, v.Eta)
	case Heun:
		return refHeun(sc, ts, mu, s, v.sigmaMax())
	}
	t.Fatalf("no reference for %v", smp)
	return moments{}
}

func gaussDenoiser(t *testing.T, sc *diffusion.Schedule, tg weighting.Target) *OptimalDenoiser {
	den, err := NewOptimalDenoiser(Gaussian(gaussMu, gaussStd), sc, tg)
	require.NoError(t, err)
	return den
}

// checkMoments asserts that each column of x (N, D) has the wanted mean and
// variance within zSample standard errors (SE(mean) = √(v/N),
// SE(variance) = v√(2/(N−1)) for Gaussian output), plus an allowance
// slack[d] on each (0 for exact references).
func checkMoments(t *testing.T, x []float32, want []moments, slackM, slackV []float64, msg string) {
	D := len(want)
	N := len(x) / D
	for d, w := range want {
		m, v := sampleStats(x, D, d)
		tolM := zSample*math.Sqrt(w.v/float64(N)) + slackM[d]
		tolV := zSample*w.v*math.Sqrt(2/float64(N-1)) + slackV[d]
		require.InDelta(t, w.m, m, tolM, "%s: mean of dim %d", msg, d)
		require.InDelta(t, w.v, v, tolV, "%s: variance of dim %d", msg, d)
	}
}

func schedules(t *testing.T) []*diffusion.Schedule {
	var out []*diffusion.Schedule
	for _, c := range []struct {
		name string
		zt   bool
	}{{"cosine", false}, {"linear", false}, {"cosine", true}} {
		s, err := diffusion.NewSchedule(c.name, 1000, c.zt)
		require.NoError(t, err)
		out = append(out, s)
	}
	return out
}

var allSamplers = []Sampler{DDPM{}, DDPM{Variance: Beta}, DDIM{}, DDIM{Eta: 0.5}, DDIM{Eta: 1}, Heun{}, Heun{SigmaMax: math.Inf(1)}}

// Few steps, so the discretisation error is large; the exact reference
// predicts it, and the samples must agree with the reference within their
// sampling error alone.
func TestSamplersMatchExactMoments(t *testing.T) {
	const N = 4000
	zero := make([]float64, len(gaussMu))
	for _, sc := range schedules(t) {
		for _, smp := range allSamplers {
			for _, tg := range weighting.Targets {
				for _, set := range []*Settings{{Steps: 8}, {Steps: 5, Spacing: Linspace, BatchSize: 300}} {
					name := fmt.Sprintf("%v %v %v steps=%d %v", sc, smp, tg, set.Steps, set.Spacing)
					den := gaussDenoiser(t, sc, tg)
					x := make([]float32, N*den.Dim())
					err := smp.Sample(x, den, sc, newRNG(1), set)
					if tg == weighting.Eps && sc.IsZeroTerminal() {
						require.ErrorIs(t, err, ErrEpsAtZeroSNR, name)
						continue
					}
					require.NoError(t, err, name)
					want := make([]moments, len(gaussMu))
					for d := range want {
						want[d] = refFor(t, smp, sc, set, gaussMu[d], gaussStd[d])
					}
					checkMoments(t, x, want, zero, zero, name)
				}
			}
		}
	}
}

// DDIM with η = 1 is DDPM with the β̃ variance (Song et al. 2021, §4.1): the
// same seed must give the same samples up to float32 rounding, though the
// two updates are written differently (x̂0 and ε̂ against x̂0 and x_t).
func TestDDIMEta1IsDDPM(t *testing.T) {
	const roundoff = 2e-5 // float32 rounding of differently ordered sums over ≤ 50 steps
	for _, sc := range schedules(t) {
		for _, tg := range []weighting.Target{weighting.X0, weighting.V} {
			den := gaussDenoiser(t, sc, tg)
			set := &Settings{Steps: 50}
			a := make([]float32, 300*den.Dim())
			b := make([]float32, len(a))
			require.NoError(t, DDPM{}.Sample(a, den, sc, newRNG(7), set))
			require.NoError(t, DDIM{Eta: 1}.Sample(b, den, sc, newRNG(7), set))
			require.InDeltaSlice(t, a, b, roundoff, "%v %v", sc, tg)
		}
	}
}

// vLimit is the variance of x̂0 = E[x0 | x̃ at σ_0] for x̃ distributed as
// the process at σ_0 = σ at t = 0: s⁴/(s² + σ_0²), the limit of an exact
// solver of the probability-flow ODE that stops at t = 0 and returns x̂0
// (up to O(s²/σ_max²) from starting at σ_max with zero mean).
func vLimit(sc *diffusion.Schedule, s float64) float64 {
	s0 := EDMSigma(sc, 0)
	return s * s * s * s / (s*s + s0*s0)
}

// The exact moments converge to the data's as the steps grow, at the order
// of each method: first for DDPM and DDIM, second for Heun. Errors are
// relative variance errors against vLimit; the mean is right to 1e-4 at
// every step count (its bias is μ·O(σ_min·s/σ_max)).
func TestStepsConverge(t *testing.T) {
	const meanBias = 1e-4 // |E x̂ − μ| bound seen at any step count (2.5e-5 measured)
	sc := diffusion.Cosine(1000)
	cases := []struct {
		smp              Sampler
		n1, n2           int
		orderLo, orderHi float64
		errAtN2          float64 // bound on |v/vLimit − 1| at n2 steps
	}{
		// Measured orders (s = 1, s = 0.3): DDPM 0.92, 0.80; DDIM 0.98, 0.96;
		// Heun 2.34, 2.27. Errors at n2: DDPM 0.045, 0.10; DDIM 0.024, 0.046;
		// Heun 0.0021, 0.0031 (95 grid points after deduplication).
		{DDPM{}, 50, 100, 0.7, 1.2, 0.11},
		{DDIM{}, 50, 100, 0.8, 1.2, 0.05},
		{Heun{}, 50, 100, 1.7, 2.6, 0.004},
	}
	for _, c := range cases {
		for d, s := range gaussStd[:2] { // the sharp dimension needs many more steps to be asymptotic
			mu := gaussMu[d]
			e := func(n int) (float64, int) {
				set := &Settings{Steps: n}
				mo := refFor(t, c.smp, sc, set, mu, s)
				require.InDelta(t, mu, mo.m, meanBias, "%v n=%d mean", c.smp, n)
				ts, err := c.smp.Timesteps(sc, set)
				require.NoError(t, err)
				return math.Abs(mo.v/vLimit(sc, s) - 1), len(ts)
			}
			e1, l1 := e(c.n1)
			e2, l2 := e(c.n2)
			order := math.Log(e1/e2) / math.Log(float64(l2)/float64(l1))
			t.Logf("%v s=%g: order %.2f (errors %.3g at %d, %.3g at %d)", c.smp, s, order, e1, l1, e2, l2)
			require.True(t, order >= c.orderLo && order <= c.orderHi, "%v s=%g: order %.2f (errors %.3g at %d, %.3g at %d)", c.smp, s, order, e1, l1, e2, l2)
			require.Less(t, e2, c.errAtN2, "%v s=%g", c.smp, s)
		}
	}
}

// With enough steps the samples match the data N(μ, s²) itself. Tolerance:
// zSample standard errors for the sample size, plus the sampler's
// discretisation error at this step count, computed exactly by the
// reference (it is the distance from the reference moments to the data's).
func TestSamplesMatchData(t *testing.T) {
	const N = 8000
	sc := diffusion.Cosine(1000)
	cases := []struct {
		smp   Sampler
		steps int
	}{{DDPM{}, 250}, {DDIM{}, 100}, {Heun{}, 35}}
	for _, c := range cases {
		for _, tg := range weighting.Targets {
			den := gaussDenoiser(t, sc, tg)
			set := &Settings{Steps: c.steps}
			x := make([]float32, N*den.Dim())
			require.NoError(t, c.smp.Sample(x, den, sc, newRNG(11), set))
			want := make([]moments, len(gaussMu))
			slackM := make([]float64, len(gaussMu))
			slackV := make([]float64, len(gaussMu))
			for d := range want {
				mu, s := gaussMu[d], gaussStd[d]
				want[d] = moments{mu, s * s}
				ref := refFor(t, c.smp, sc, set, mu, s)
				slackM[d], slackV[d] = math.Abs(ref.m-mu), math.Abs(ref.v-s*s)
			}
			checkMoments(t, x, want, slackM, slackV, fmt.Sprintf("%v %v steps=%d", c.smp, tg, c.steps))
		}
	}
}

// A 2-D mixture of three well separated modes with unequal weights: every
// sampler must put each mode's share of the samples within zSample binomial
// standard errors √(p(1−p)/N) of its weight, plus modeSlack.
func TestMixtureModeWeights(t *testing.T) {
	const (
		N = 6000
		// modeSlack allows for discretisation: a sampler that is exact at
		// high noise assigns modes exactly; measured shifts are below 0.005.
		modeSlack = 0.01
	)
	mix := GaussianMixture{
		Weights: []float64{0.5, 0.3, 0.2},
		Means:   [][]float64{{-2, 0}, {2, 0}, {0, 2.5}},
		Stds:    [][]float64{{0.2, 0.2}, {0.3, 0.1}, {0.15, 0.25}},
	}
	sc := diffusion.Cosine(1000)
	for _, c := range []struct {
		smp     Sampler
		steps   int
		targets []weighting.Target
	}{
		{DDPM{}, 250, []weighting.Target{weighting.V}},
		{DDIM{}, 50, weighting.Targets},
		{DDIM{Eta: 1}, 100, []weighting.Target{weighting.X0}},
		{Heun{}, 18, []weighting.Target{weighting.Eps, weighting.V}},
	} {
		for _, tg := range c.targets {
			den, err := NewOptimalDenoiser(mix, sc, tg)
			require.NoError(t, err)
			x := make([]float32, N*2)
			require.NoError(t, c.smp.Sample(x, den, sc, newRNG(3), &Settings{Steps: c.steps}))
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
				t.Logf("%v %v mode %d: %.4f (weight %.1f)", c.smp, tg, k, got, p)
				require.InDelta(t, p, got, zSample*math.Sqrt(p*(1-p)/N)+modeSlack, "%v %v mode %d", c.smp, tg, k)
			}
		}
	}
}
