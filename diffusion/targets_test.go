package diffusion

import (
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// targetTol: the conversions run in float64 and round to float32 once, so
// round trips agree to a few float32 ulps of values of order 1.
const targetTol = 2e-6

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// With the exact target as the prediction, every conversion recovers x0 and
// ε, and the loss identities ‖ε−ε̂‖² = SNR‖x0−x̂0‖², ‖v−v̂‖² = (SNR+1)‖x0−x̂0‖² hold.
func TestTargetsRoundTripAndLossIdentities(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := Cosine(1000)
	const n = 64
	for _, tt := range []int{0, 10, 300, 700, 990} {
		a, sg := s.Alpha(tt), s.Sigma(tt)
		x0, eps := randVec(rng, n), randVec(rng, n)
		xt := make([]float32, n)
		Noise(xt, x0, eps, a, sg)
		for _, target := range weighting.Targets {
			y := make([]float32, n)
			TargetOf(y, target, x0, eps, a, sg)
			gx0, geps := make([]float32, n), make([]float32, n)
			ToX0(gx0, target, y, xt, a, sg)
			ToEps(geps, target, y, xt, a, sg)
			for i := range x0 {
				// ε-prediction amplifies float32 rounding of x_t by σ/α at large t.
				tol := targetTol * (1 + sg/a)
				require.InDelta(t, x0[i], gx0[i], tol, "t=%d %v x0", tt, target)
				tol = targetTol * (1 + a/sg)
				require.InDelta(t, eps[i], geps[i], tol, "t=%d %v eps", tt, target)
			}
			// Perturb the prediction and compare the losses in float64.
			pred := make([]float32, n)
			for i := range pred {
				pred[i] = y[i] + 0.01*float32(rng.NormFloat64())
			}
			px0 := make([]float32, n)
			ToX0(px0, target, pred, xt, a, sg)
			var lossT, lossX0 float64
			for i := range pred {
				d := float64(pred[i]) - float64(y[i])
				lossT += d * d
				d = float64(px0[i]) - float64(x0[i])
				lossX0 += d * d
			}
			snr := s.SNR(tt)
			want := lossX0 * target.LossScale(snr)
			require.InDelta(t, 0, (lossT-want)/want, 1e-3, "t=%d %v loss identity", tt, target)
		}
	}
}

func TestTargetsPanicOnShape(t *testing.T) {
	require.Panics(t, func() { Noise(make([]float32, 2), make([]float32, 3), make([]float32, 2), 1, 0) })
	require.Panics(t, func() { ToX0(make([]float32, 2), weighting.Target(9), make([]float32, 2), make([]float32, 2), 1, 0) })
}
