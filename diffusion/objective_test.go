package diffusion_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/nn/nntest"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
)

// Tolerances of the objective tests.
const (
	// lossRelTol: the float32 pipeline (noising, forward pass, MSE) against
	// the same quantities recomputed on the host from the float32 prediction
	// in float64: float32 rounding of inputs and targets only.
	lossRelTol = 1e-5
	// binGorgoniaRelTol: per-bin gradients on the float64 twin against
	// gorgonia's symbolic gradient of the explicitly converted x0 loss. The
	// per-row coefficients (α, σ, loss weights) cross the Backend boundary
	// as float32 even on the twin, so the two functions differ by ~2⁻²⁴
	// relative; a wrong gradient misses by orders of magnitude more.
	binGorgoniaRelTol = 1e-6
	// binF32RelTol: float32 per-bin gradients against the float64 twin's,
	// relative to the largest entry of each row.
	binF32RelTol = 1e-3
)

func relClose(t *testing.T, what string, want, got []float64, tol float64) {
	t.Helper()
	require.Len(t, got, len(want))
	var maxAbs, maxErr float64
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(want[i]))
		maxErr = math.Max(maxErr, math.Abs(want[i]-got[i]))
	}
	require.Greater(t, maxAbs, 0.0, what)
	require.LessOrEqual(t, maxErr/maxAbs, tol, "%s: max error %g of max %g", what, maxErr, maxAbs)
}

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

// gorgoniaBinGradients computes ∇θ of the bin's unweighted x0-MSE with
// gorgonia: x_t = αx0 + σε on the host in float64, the ResMLP as a graph,
// the prediction explicitly converted to x̂0, and mean (1/D)‖x0 − x̂0‖².
func gorgoniaBinGradients(t *testing.T, net *nn.ResMLP, flat []float64, sched *diffusion.Schedule, target weighting.Target, b diffusion.Batch) (float64, []float64) {
	n, D := b.Len(), net.Dim()
	cfg := net.Config()
	xt, ts := make([]float64, n*D), make([]float64, n)
	// Per-row coefficients of x̂0 = p·x_t + q·pred.
	p, q := make([]float64, n*D), make([]float64, n*D)
	for r, tt := range b.T {
		a, s := sched.Alpha(tt), sched.Sigma(tt)
		ts[r] = float64(tt)
		for j := 0; j < D; j++ {
			i := r*D + j
			xt[i] = a*float64(b.X0[i]) + s*float64(b.Eps[i])
			switch target {
			case weighting.Eps:
				p[i], q[i] = 1/a, -s/a
			case weighting.X0:
				p[i], q[i] = 0, 1
			case weighting.V:
				p[i], q[i] = a, -s
			}
		}
	}
	g := nntest.NewGraph()
	pred, params := g.ResMLP(cfg, net.Params().Layout(), flat, xt, nntest.TimeEmbedding(ts, cfg.TimeDim, cfg.MaxPeriod), n)
	x0hat := G.Must(G.Add(G.Must(G.HadamardProd(g.Matrix("p", n, D, p), g.Matrix("xt", n, D, xt))), G.Must(G.HadamardProd(g.Matrix("q", n, D, q), pred))))
	x0 := make([]float64, n*D)
	for i, v := range b.X0 {
		x0[i] = float64(v)
	}
	diff := G.Must(G.Sub(g.Matrix("x0", n, D, x0), x0hat))
	loss := G.Must(G.Div(G.Must(G.Sum(G.Must(G.Square(diff)))), G.NewConstant(float64(n*D))))
	L, grads, err := g.Gradients(loss, params...)
	require.NoError(t, err)
	var flatGrad []float64
	for _, gr := range grads {
		flatGrad = append(flatGrad, gr...)
	}
	return L, flatGrad
}

// The brute-force per-bin gradients against gorgonia, for every target.
func TestBinGradientsAgainstGorgonia(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("swissroll")
	edges := []int{0, 100, 400, 700, 990}
	const perBin = 5
	for _, target := range weighting.Targets {
		be := nn.NewCPU64()
		cfg := nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 2, Hidden: 12, TimeDim: 6}
		net, err := nn.InitResMLP(be, cfg, 11)
		require.NoError(t, err)
		obj := diffusion.NewObjective(net, sched, target)
		b := diffusion.DrawBins(rand.New(rand.NewPCG(2, 3)), toy, edges, perBin)
		K, P := len(edges)-1, net.Params().Len()
		dst := be.Alloc(K * P)
		losses := obj.BinGradients(dst, b, K, nil)
		flat := append([]float64(nil), be.Data(net.Params().Flat)...)
		// gorgonia's gradient order is the layout's parameter order; put
		// ours in the same order.
		layout := net.Params().Layout()
		for k := 0; k < K; k++ {
			L, want := gorgoniaBinGradients(t, net, flat, sched, target, b.Slice(k*perBin, (k+1)*perBin))
			require.InDelta(t, L, losses[k], binGorgoniaRelTol*L, "%v bin %d loss", target, k)
			row := be.Data(dst)[k*P : (k+1)*P]
			var got []float64
			for _, l := range layout {
				n := 1
				for _, d := range l.Shape {
					n *= d
				}
				got = append(got, row[l.Offset:l.Offset+n]...)
			}
			relClose(t, target.String()+" bin gradient", want, got, binGorgoniaRelTol)
		}

		// The float32 backend gives the same rows within float32 rounding.
		net32, err := nn.InitResMLP(nn.NewCPU(), cfg, 11)
		require.NoError(t, err)
		rows, losses32 := diffusion.NewObjective(net32, sched, target).BinGradientRows(b, K, nil)
		for k := 0; k < K; k++ {
			relClose(t, "float32 bin gradient", be.Data(dst)[k*P:(k+1)*P], rows[k], binF32RelTol)
			require.InDelta(t, losses[k], losses32[k], binF32RelTol*losses[k])
		}
	}
}

// A weighted per-task loss: the strategy's weight multiplies each example.
func TestBinGradientsWeighted(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("8gaussians")
	be := nn.NewCPU64()
	net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 1)
	require.NoError(t, err)
	obj := diffusion.NewObjective(net, sched, weighting.V)
	// One timestep per bin, so the weight is one number per bin.
	b := diffusion.DrawBins(rand.New(rand.NewPCG(4, 4)), toy, []int{50, 51, 500}, 3)
	b.T[3], b.T[4], b.T[5] = 500, 500, 500
	s := weighting.MustParse("min-snr:5")
	P := net.Params().Len()
	plain, weighted := be.Alloc(2*P), be.Alloc(2*P)
	l0 := obj.BinGradients(plain, b, 2, nil)
	l1 := obj.BinGradients(weighted, b, 2, s)
	for k, tt := range []int{50, 500} {
		// Weight(s, v, snr) on the v loss vs Weight(constant, v, snr): ratio w_x0(SNR) = min(SNR, 5).
		ratio := math.Min(sched.SNR(tt), 5)
		// The weights reach the kernels as float32: binGorgoniaRelTol's reason.
		require.InDelta(t, ratio*l0[k], l1[k], binGorgoniaRelTol*l1[k])
		want := make([]float64, P)
		for i := range want {
			want[i] = ratio * be.Data(plain)[k*P+i]
		}
		relClose(t, "weighted bin gradient", want, be.Data(weighted)[k*P:(k+1)*P], binGorgoniaRelTol)
	}
	require.Panics(t, func() { obj.BinGradients(plain, b, 4, nil) }, "6 rows do not split into 4 bins")
}

func TestDrawBinsLayoutAndDeterminism(t *testing.T) {
	toy, _ := data.NewToy("checkerboard")
	edges := weighting.BinEdges(1000, 4)
	a := diffusion.DrawBins(rand.New(rand.NewPCG(7, 7)), toy, edges, 6)
	b := diffusion.DrawBins(rand.New(rand.NewPCG(7, 7)), toy, edges, 6)
	require.Equal(t, a, b)
	for r, tt := range a.T {
		k := r / 6
		require.True(t, tt >= edges[k] && tt < edges[k+1], "row %d t=%d bin %d", r, tt, k)
	}
	require.Len(t, a.X0, 24*2)
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
