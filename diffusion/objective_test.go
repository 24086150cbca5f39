package diffusion_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// Tolerances of the objective tests.
const (
	// lossRelTol: the float32 pipeline (noising, forward pass, MSE) against
	// the same quantities recomputed on the host from the float32 prediction
	// in float64: float32 rounding of inputs and targets only.
	lossRelTol = 1e-5
)

// The Objective's losses equal the host's: x_t by diffusion.Noise, the
// target by diffusion.TargetOf, the prediction from NetDenoiser, and the
// x0-MSE by converting the prediction with diffusion.ToX0 — the explicit
// conversion the identity-based X0Scale must agree with.
func TestObjectiveMatchesHostComputation(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("moons")
	for _, target := range weighting.Targets {
		net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 1}, 4)
		require.NoError(t, err)
		obj := diffusion.NewObjective(net, sched, target)
		B := 40
		b := diffusion.NewBatch(B, 2)
		b.Draw(rand.New(rand.NewPCG(1, 1)), toy, weighting.Uniform{Steps: 1000})
		b.T[0], b.T[1] = 0, 999 // the extremes
		c, mse := make([]float64, B), make([]float64, B)
		for i := range c {
			c[i] = 1
		}
		obj.Loss(b, c, mse, false)

		den := diffusion.NewNetDenoiser(net, target, sched)
		for r := 0; r < B; r++ {
			tt := b.T[r]
			a, s := sched.Alpha(tt), sched.Sigma(tt)
			x0, eps := b.X0[2*r:2*r+2], b.Eps[2*r:2*r+2]
			xt, tg, pred, x0hat := make([]float32, 2), make([]float32, 2), make([]float32, 2), make([]float32, 2)
			diffusion.Noise(xt, x0, eps, a, s)
			diffusion.TargetOf(tg, target, x0, eps, a, s)
			den.Predict(pred, xt, []int{tt})
			var want, wantX0 float64
			diffusion.ToX0(x0hat, target, pred, xt, a, s)
			for j := range tg {
				want += math.Pow(float64(tg[j])-float64(pred[j]), 2) / 2
				wantX0 += math.Pow(float64(x0[j])-float64(x0hat[j]), 2) / 2
			}
			require.InDelta(t, want, mse[r], lossRelTol*(want+1e-3), "%v row %d t=%d", target, r, tt)
			if target == weighting.Eps && tt == 999 {
				continue // x̂0 = (x_t − σ ε̂)/α amplifies float32 rounding by 1/α ≈ 2e4 here
			}
			require.InDelta(t, wantX0, obj.X0Scale(tt)*mse[r], 1e-4*(wantX0+1e-3), "%v row %d t=%d x0-MSE", target, r, tt)
		}
	}
}

func TestDrawBinsLayoutAndDeterminism(t *testing.T) {
	toy, _ := data.NewToy("checkerboard")
	bins := weighting.MustEqualT(1000, 4)
	a := diffusion.DrawBins(rand.New(rand.NewPCG(7, 7)), toy, bins, 6)
	b := diffusion.DrawBins(rand.New(rand.NewPCG(7, 7)), toy, bins, 6)
	require.Equal(t, a, b)
	for r, tt := range a.T {
		require.Equal(t, r/6, bins.Of(tt), "row %d t=%d", r, tt)
	}
	require.Len(t, a.X0, 24*2)
	// DrawRange draws the same rows as the bins drawn in turn.
	c := diffusion.DrawRange(rand.New(rand.NewPCG(7, 7)), toy, 0, 250, 6)
	require.Equal(t, a.Slice(0, 6), c)
	require.Panics(t, func() { diffusion.DrawRange(rand.New(rand.NewPCG(7, 7)), toy, 5, 5, 6) })
}

// Rebackward after a pass with one set of coefficients gives exactly (bit
// for bit) the gradient, losses and total of a fresh pass with another, for
// the plain and the preconditioned network, and refuses to run before any
// pass.
func TestRebackwardEqualsFreshPass(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("swissroll")
	for _, cfg := range []nn.ResMLPConfig{
		{Dim: 2, Width: 16, Depth: 2},
		{Dim: 2, Width: 16, Depth: 2, SigmaData: 0.5, Skip: true},
	} {
		net, err := nn.InitResMLP(nn.NewCPU(), cfg, 3)
		require.NoError(t, err)
		obj := diffusion.NewObjective(net, sched, weighting.V)
		require.PanicsWithValue(t, "diffusion: Objective.Rebackward before any Loss", func() { obj.Rebackward(nil, nil) })
		B := 24
		b := diffusion.NewBatch(B, 2)
		rng := rand.New(rand.NewPCG(6, 6))
		b.Draw(rng, toy, weighting.Uniform{Steps: 1000})
		c1, c2 := make([]float64, B), make([]float64, B)
		for i := range c1 {
			c1[i], c2[i] = rng.Float64(), rng.Float64()-0.3
		}
		ps, be := net.Params(), net.Backend()
		grad := func() []float32 {
			g := make([]float32, ps.Len())
			be.Download(g, ps.Grad)
			return g
		}
		mseFresh, mseRe := make([]float64, B), make([]float64, B)
		ps.ZeroGrad(be)
		wantL := obj.Loss(b, c2, mseFresh, true)
		want := grad()

		ps.ZeroGrad(be)
		obj.Loss(b, c1, make([]float64, B), true)
		ps.ZeroGrad(be)
		gotL := obj.Rebackward(c2, mseRe)
		require.Equal(t, want, grad(), "skip=%v", cfg.Skip)
		require.Equal(t, mseFresh, mseRe)
		require.Equal(t, wantL, gotL)
		require.Panics(t, func() { obj.Rebackward(c2[:3], mseRe) })
	}
}
