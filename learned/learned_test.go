package learned_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/learned"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

func TestParseAndString(t *testing.T) {
	for spec, want := range map[string]string{
		"learned":                         "learned:bins=t:8,lr=0.01",
		"learned:bins=4":                  "learned:bins=t:4,lr=0.01",
		"learned:bins=logsnr:6,lr=0.003":  "learned:bins=logsnr:6,lr=0.003",
		"learned:bins=edges:0,10,1000":    "learned:bins=edges:0,10,1000,lr=0.01",
		"learned:lr=0.1,bins=edges:0,5,9": "learned:bins=edges:0,5,9,lr=0.1",
		"learned:mlp=128":                 "learned:mlp=128,lr=0.01",
		"learned:base=snr,mlp=4":          "learned:mlp=4,lr=0.01,base=snr",
		"learned:base=p2:1,1,bins=2":      "learned:bins=t:2,lr=0.01,base=p2:1,1",
		"learned:bins=3,base=constant":    "learned:bins=t:3,lr=0.01,base=constant",
		"learned:bins=3,base=target":      "learned:bins=t:3,lr=0.01",
	} {
		w, err := weighting.Parse(spec)
		require.NoError(t, err, spec)
		require.Equal(t, want, w.String(), spec)
		back, err := learned.Parse(w.String())
		require.NoError(t, err)
		require.Equal(t, w, back, "Parse(String()) gives the same weighting")
		_, isOnline := w.(diffusion.OnlineWeighting)
		require.True(t, isOnline)
	}
	for _, bad := range []string{"learned:bins=0", "learned:mlp=0", "learned:mlp=5000", "learned:mlp=8,bins=4", "learned:lr=-1", "learned:lr=x", "learned:foo=1", "learned:4", "learned:base=pareto:fw", "learned:base=x"} {
		_, err := weighting.Parse(bad)
		require.Error(t, err, bad)
	}
	_, err := weighting.ParseStrategy("learned")
	require.ErrorIs(t, err, weighting.ErrNotClosedForm)
}

// ∂/∂u of L·e^{−u} + u is 1 − L·e^{−u}, against central differences.
func TestUncertaintyLossGradientByFiniteDifferences(t *testing.T) {
	const h, tol = 1e-5, 1e-8
	for _, L := range []float64{1e-4, 0.02, 1, 7} {
		for _, u := range []float64{-6, -1, 0, 0.5, 3} {
			v, d := learned.UncertaintyLoss(L, u)
			require.InDelta(t, L*math.Exp(-u)+u, v, 1e-15*math.Max(1, math.Abs(v)))
			lo, _ := learned.UncertaintyLoss(L, u-h)
			hi, _ := learned.UncertaintyLoss(L, u+h)
			fd := (hi - lo) / (2 * h)
			require.InDelta(t, fd, d, tol*math.Max(1, math.Abs(fd)), "L=%g u=%g", L, u)
		}
	}
}

// The models' parameter gradient of J = (1/B)·Σ_b ℓ(L_b, u(t_b)), formed
// as the weighting forms it (∂ℓ/∂u_b through AddGrad), against central
// differences in every parameter.
func TestModelGradientsByFiniteDifferences(t *testing.T) {
	const h, tol = 1e-6, 1e-7
	sched := diffusion.Cosine(200)
	rng := rand.New(rand.NewPCG(4, 5))
	ts, L := make([]int, 48), make([]float64, 48)
	for b := range ts {
		ts[b] = rng.IntN(200)
		L[b] = math.Exp(-6 * rng.Float64())
	}
	for name, m := range map[string]learned.Model{
		"bins":    learned.NewBinModel(weighting.MustEqualT(200, 5)),
		"fourier": learned.NewFourierModel(sched, 12, 9),
	} {
		theta := m.Params()
		for i := range theta {
			theta[i] = rng.NormFloat64() * 0.5
		}
		J := func() float64 {
			var s float64
			for b, tt := range ts {
				v, _ := learned.UncertaintyLoss(L[b], m.U(tt))
				s += v / float64(len(ts))
			}
			return s
		}
		g := make([]float64, len(ts))
		for b, tt := range ts {
			_, d := learned.UncertaintyLoss(L[b], m.U(tt))
			g[b] = d / float64(len(ts))
		}
		grad := make([]float64, len(theta))
		m.AddGrad(grad, ts, g)
		for i := range theta {
			old := theta[i]
			theta[i] = old + h
			hi := J()
			theta[i] = old - h
			lo := J()
			theta[i] = old
			require.InDelta(t, (hi-lo)/(2*h), grad[i], tol, "%s parameter %d", name, i)
		}
	}
}

// The Fourier model is EDM2's: u = bias + Σ_h θ_h·√2·cos(2π(f_h·c + p_h))/√H
// with c = −λ/8; its features have mean square 1 over random phases, and
// the same seed gives the same features.
func TestFourierModelFeatures(t *testing.T) {
	sched := diffusion.Cosine(100)
	a, b := learned.NewFourierModel(sched, 64, 1), learned.NewFourierModel(sched, 64, 1)
	other := learned.NewFourierModel(sched, 64, 2)
	for i := range a.Params() {
		a.Params()[i], b.Params()[i], other.Params()[i] = 1, 1, 1
	}
	differ := false
	for tt := 0; tt < 100; tt++ {
		require.Equal(t, a.U(tt), b.U(tt))
		differ = differ || a.U(tt) != other.U(tt)
	}
	require.True(t, differ, "another seed draws other features")
	// Σ_h φ_h(t)² ≈ 1 (each φ_h² averages 1/H): the unit-variance
	// features of EDM2's MPFourier, read off the gradient of u in θ.
	const tol = 0.35
	for _, tt := range []int{0, 50, 99} {
		g := make([]float64, 65)
		a.AddGrad(g, []int{tt}, []float64{1})
		var ss float64
		for _, v := range g[:64] {
			ss += v * v
		}
		require.InDelta(t, 1, ss, tol, "t=%d", tt)
		require.Equal(t, 1.0, g[64], "the bias")
	}
}

// The trainer's steps with a learned weighting, against an independent
// computation on the same batches, for u dividing the model's own loss
// (the default) and the x0 loss (base=constant): step 1 (u = 0) moves each
// bin's u by Adam's first step −η·g_k/(|g_k| + ε) with g_k = Σ_{b∈k}
// (1 − L_b)/B, L_b the example's loss; step 2's training loss, on the
// model's own target, is Σ_b b(t_b)·X0Scale(t_b)·e^{−u(t_b)}·mse_b/B with
// the u that step 1 left.
func TestLearnedStepsAgainstAReference(t *testing.T) {
	const B, seed, lr = 32, 5, 0.01
	for _, spec := range []string{"learned:bins=t:4", "learned:bins=t:4,base=constant"} {
		sched := diffusion.Cosine(1000)
		toy, err := data.NewToy("8gaussians")
		require.NoError(t, err)
		w, err := learned.Parse(spec)
		require.NoError(t, err)
		net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 1}, 1)
		require.NoError(t, err)
		tr, err := diffusion.NewTrainer(net, toy, toy, diffusion.TrainConfig{Schedule: sched, Target: weighting.V, Weighting: w,
			Steps: 2, Batch: B, Seed: seed, EvalSize: 8, Optim: nn.OptimConfig{LR: 1e-3}})
		require.NoError(t, err)
		pass := tr.StepPass().(*learned.Learned)

		// The same batches the trainer draws, and each example's loss
		// under the network as it is before the step: the v-MSE, or the
		// x0-MSE = v-MSE/(SNR + 1).
		rng := rand.New(rand.NewPCG(seed, diffusion.StreamTrain))
		obj := diffusion.NewObjective(tr.Net(), sched, weighting.V)
		losses := func(b diffusion.Batch) []float64 {
			c, mse := make([]float64, B), make([]float64, B)
			obj.Loss(b, c, mse, false)
			if w.Base != nil {
				for i, tt := range b.T {
					mse[i] /= sched.SNR(tt) + 1
				}
			}
			return mse
		}
		bins := weighting.MustEqualT(1000, 4)
		b1 := diffusion.NewBatch(B, 2)
		b1.Draw(rng, toy, weighting.Uniform{Steps: 1000})
		L := losses(b1)
		g := make([]float64, 4)
		for i, tt := range b1.T {
			g[bins.Of(tt)] += (1 - L[i]) / B
		}
		require.NoError(t, tr.StepOnce())
		for k, gk := range g {
			want := -lr * gk / (math.Abs(gk) + 1e-8)
			require.InDelta(t, want, pass.PassParams()[k], 1e-15, "%s bin %d", spec, k)
			require.Equal(t, pass.PassParams()[k], pass.Model().U(bins.Edges[k]))
		}

		b2 := diffusion.NewBatch(B, 2)
		b2.Draw(rng, toy, weighting.Uniform{Steps: 1000})
		L = losses(b2)
		var want float64
		for i, tt := range b2.T {
			want += math.Exp(-pass.Model().U(tt)) * L[i] / B
		}
		require.NoError(t, tr.StepOnce())
		require.InDelta(t, want, tr.LastLoss(), 1e-6*want, spec)
	}
}

// The effective weight on the x0 loss: the target's loss scale times
// e^{−u} by default, the base's weight times e^{−u} with a base; 1·e^{−u}
// where SNR = 0.
func TestX0Weight(t *testing.T) {
	const tol = 1e-15
	own, err := learned.Parse("learned")
	require.NoError(t, err)
	withBase, err := learned.Parse("learned:base=min-snr:5")
	require.NoError(t, err)
	e := math.Exp(-0.7)
	for _, snr := range []float64{1e-3, 0.5, 30} {
		require.InDelta(t, snr*e, own.X0Weight(weighting.Eps, 0.7, snr), tol*snr)
		require.InDelta(t, (snr+1)*e, own.X0Weight(weighting.V, 0.7, snr), tol*snr)
		require.InDelta(t, e, own.X0Weight(weighting.X0, 0.7, snr), tol)
		require.InDelta(t, math.Min(snr, 5)*e, withBase.X0Weight(weighting.Eps, 0.7, snr), tol*snr)
	}
	require.Equal(t, e, own.X0Weight(weighting.Eps, 0.7, 0))
}

// On a zero-terminal schedule (SNR 0 and log-SNR −∞ at the last step) u
// stays finite: the Fourier features clamp λ, and the loss u divides is
// the model's own there.
func TestZeroTerminalSchedule(t *testing.T) {
	toy, err := data.NewToy("moons")
	require.NoError(t, err)
	for _, spec := range []string{"learned:mlp=4", "learned:bins=4,base=constant"} {
		w, err := learned.Parse(spec)
		require.NoError(t, err)
		net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 1)
		require.NoError(t, err)
		sched := diffusion.Cosine(50).ZeroTerminal()
		tr, err := diffusion.NewTrainer(net, toy, toy, diffusion.TrainConfig{Schedule: sched, Weighting: w, Steps: 20, Batch: 64, Seed: 2, EvalSize: 8,
			Density: weighting.Uniform{Steps: 50}})
		require.NoError(t, err)
		for tr.Step() < 20 {
			require.NoError(t, tr.StepOnce(), spec)
		}
		u := tr.StepPass().(*learned.Learned).Model()
		for tt := 0; tt < 50; tt++ {
			require.False(t, math.IsNaN(u.U(tt)) || math.IsInf(u.U(tt), 0), "%s t=%d", spec, tt)
		}
	}
}
