package diffusion_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/sampler"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// gainRelTol is the agreement of SkipGains with the optimal denoiser of
// Gaussian data, computed by another route (posterior of a one-component
// mixture, in float32 outputs): float32 rounding.
const gainRelTol = 1e-6

// The fixed gain c is the exact E[b·ε | x_t]/x_t for data N(0, σ_d²) per
// coordinate (the closed-form optimal denoiser of package sampler), and
// c + g is b/σ_t, the exact gain where the data has no variance; x0 has
// no skips.
func TestSkipGainsAreTheGaussianOptimum(t *testing.T) {
	sd := 0.5
	gauss := sampler.Gaussian([]float64{0}, []float64{sd})
	for _, sched := range []*diffusion.Schedule{diffusion.Cosine(1000), mustSchedule(t, "linear", 1000, true)} {
		opt, err := sampler.NewOptimalDenoiser(gauss, sched, weighting.Eps)
		require.NoError(t, err)
		for _, tt := range []int{0, 1, 10, 100, 500, 900, 998} {
			alpha, sigma := sched.Alpha(tt), sched.Sigma(tt)
			xt, eps := []float32{1.5}, []float32{0}
			opt.Predict(eps, xt, []int{tt})
			wiener := float64(eps[0]) / 1.5 // E[ε | x_t]/x_t
			for _, c := range []struct {
				target weighting.Target
				b      float64
			}{{weighting.Eps, 1}, {weighting.V, alpha}} {
				cs, g := diffusion.SkipGains(sched, c.target, sd, tt)
				require.InDelta(t, c.b*wiener, cs, gainRelTol*math.Abs(c.b*wiener)+1e-12, "%v t=%d", c.target, tt)
				require.InDelta(t, c.b/sigma, cs+g, 1e-12*c.b/sigma, "%v t=%d", c.target, tt)
				c0, g0 := diffusion.SkipGains(sched, c.target, 0, tt)
				require.Zero(t, c0)
				require.Equal(t, c.b/sigma, g0)
			}
			c, g := diffusion.SkipGains(sched, weighting.X0, sd, tt)
			require.Zero(t, c)
			require.Zero(t, g)
		}
	}
	// The last step of a zero-terminal schedule: α = 0, σ = 1.
	zt := mustSchedule(t, "cosine", 1000, true)
	c, g := diffusion.SkipGains(zt, weighting.Eps, sd, 999)
	require.Equal(t, [2]float64{1, 0}, [2]float64{c, g})
	c, g = diffusion.SkipGains(zt, weighting.V, sd, 999)
	require.Equal(t, [2]float64{0, 0}, [2]float64{c, g})
}

func mustSchedule(t *testing.T, name string, T int, zero bool) *diffusion.Schedule {
	s, err := diffusion.NewSchedule(name, T, zero)
	require.NoError(t, err)
	return s
}

// A preconditioned network's prediction (NetDenoiser) is the plain
// network's output plus c·x_t + g·(S x_t + b_S) with the gains of
// SkipGains, and the Objective's losses are those of that prediction.
func TestPrecondDenoiserAndObjective(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("moons")
	D, B := 2, 24
	for _, target := range weighting.Targets {
		cfg := nn.ResMLPConfig{Dim: D, Width: 16, Depth: 1}
		plain, err := nn.InitResMLP(nn.NewCPU(), cfg, 4)
		require.NoError(t, err)
		cfg.SigmaData, cfg.Skip = 0.7, true
		net, err := nn.InitResMLP(nn.NewCPU(), cfg, 4)
		require.NoError(t, err)
		// A non-zero learned skip.
		rng := rand.New(rand.NewPCG(3, 3))
		S := []float32{0.3, -0.2, 0.5, 0.1}
		bS := []float32{0.05, -0.1}
		ps := net.Params()
		net.Backend().Upload(ps.Lookup("skip.weight").Value, S)
		net.Backend().Upload(ps.Lookup("skip.bias").Value, bS)

		b := diffusion.NewBatch(B, D)
		b.Draw(rng, toy, weighting.Uniform{Steps: 1000})
		b.T[0], b.T[1] = 0, 999
		xt := make([]float32, B*D)
		for r, tt := range b.T {
			diffusion.Noise(xt[r*D:(r+1)*D], b.X0[r*D:(r+1)*D], b.Eps[r*D:(r+1)*D], sched.Alpha(tt), sched.Sigma(tt))
		}
		base, got := make([]float32, B*D), make([]float32, B*D)
		diffusion.NewNetDenoiser(plain, target, nil).Predict(base, xt, b.T)
		diffusion.NewNetDenoiser(net, target, sched).Predict(got, xt, b.T)
		mse := make([]float64, B)
		c := make([]float64, B)
		for i := range c {
			c[i] = 1
		}
		diffusion.NewObjective(net, sched, target).Loss(b, c, mse, false)
		for r, tt := range b.T {
			cs, g := diffusion.SkipGains(sched, target, cfg.SigmaData, tt)
			tg := make([]float32, D)
			diffusion.TargetOf(tg, target, b.X0[r*D:(r+1)*D], b.Eps[r*D:(r+1)*D], sched.Alpha(tt), sched.Sigma(tt))
			var wantMSE float64
			for j := 0; j < D; j++ {
				x := xt[r*D : (r+1)*D]
				sx := float64(bS[j]) + float64(S[j*D])*float64(x[0]) + float64(S[j*D+1])*float64(x[1])
				want := float64(base[r*D+j]) + cs*float64(x[j]) + g*sx
				require.InDelta(t, want, got[r*D+j], 1e-5*(math.Abs(want)+1), "%v t=%d", target, tt)
				wantMSE += math.Pow(float64(tg[j])-want, 2) / float64(D)
			}
			require.InDelta(t, wantMSE, mse[r], 1e-5*(wantMSE+1), "%v t=%d loss", target, tt)
		}
	}
	// A preconditioned network needs the schedule for its gains.
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: D, Width: 8, Depth: 1, Skip: true}, 1)
	require.NoError(t, err)
	require.Panics(t, func() { diffusion.NewNetDenoiser(net, weighting.V, nil) })
}

// The gains of the two input skips of a v-prediction network on MNIST
// (σ_d = 0.5): c + g = α/σ; the learned skip's gain g dominates at small
// t, where the noise must be read off x_t with a gain of up to 156; at
// t = T−1, where v ≈ −x0, both vanish.
func ExampleSkipGains() {
	sched := diffusion.Cosine(1000)
	for _, t := range []int{0, 100, 500, 999} {
		c, g := diffusion.SkipGains(sched, weighting.V, 0.5, t)
		fmt.Printf("t=%3d  c=%.4f  g=%.4f  c+g=α/σ=%.4f\n", t, c, g, sched.Alpha(t)/sched.Sigma(t))
	}
	// Output:
	// t=  0  c=0.0257  g=155.6063  c+g=α/σ=155.6320
	// t=100  c=0.6125  g=5.2340  c+g=α/σ=5.8465
	// t=500  c=0.7926  g=0.1921  c+g=α/σ=0.9847
	// t=999  c=0.0000  g=0.0000  c+g=α/σ=0.0000
}
