package gram_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/nn/nntest"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
)

// Tolerances of the brute-force reference's tests.
const (
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

// concat joins batches row-wise.
func concat(bs ...diffusion.Batch) diffusion.Batch {
	var out diffusion.Batch
	for _, b := range bs {
		out.X0, out.Eps, out.T = append(out.X0, b.X0...), append(out.Eps, b.Eps...), append(out.T, b.T...)
	}
	return out
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
	bins, err := weighting.FromEdges(1000, []int{0, 100, 400, 700, 1000})
	require.NoError(t, err)
	const perBin = 5
	for _, target := range weighting.Targets {
		be := nn.NewCPU64()
		cfg := nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 2, Hidden: 12, TimeDim: 6}
		net, err := nn.InitResMLP(be, cfg, 11)
		require.NoError(t, err)
		obj := diffusion.NewObjective(net, sched, target)
		b := diffusion.DrawBins(rand.New(rand.NewPCG(2, 3)), toy, bins, perBin)
		K, P := bins.K(), net.Params().Len()
		dst := be.Alloc(K * P)
		losses := gram.BinGradients(obj, dst, b, K, nil)
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
		rows, losses32 := gram.BinGradientRows(diffusion.NewObjective(net32, sched, target), b, K, nil)
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
	rng := rand.New(rand.NewPCG(4, 4))
	b := concat(diffusion.DrawRange(rng, toy, 50, 51, 3), diffusion.DrawRange(rng, toy, 500, 501, 3))
	s := weighting.MustParse("min-snr:5")
	P := net.Params().Len()
	plain, weighted := be.Alloc(2*P), be.Alloc(2*P)
	l0 := gram.BinGradients(obj, plain, b, 2, nil)
	l1 := gram.BinGradients(obj, weighted, b, 2, s)
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
	require.Panics(t, func() { gram.BinGradients(obj, plain, b, 4, nil) }, "6 rows do not split into 4 bins")
}
