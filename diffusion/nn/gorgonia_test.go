package nn_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/nn/nntest"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
)

// gorgoniaRelTol bounds the float64 twin's analytic gradients against
// gorgonia's symbolic gradients of the same float64 function: the two differ
// only in the order of floating-point operations.
const gorgoniaRelTol = 1e-10

func uniform(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * (2*rng.Float64() - 1)
	}
	return v
}

func tensor64(be *nn.CPU[float64], v []float64) nn.Tensor {
	t := be.Alloc(len(v))
	copy(be.Data(t), v)
	return t
}

func requireClose(t *testing.T, what string, want, got []float64, relTol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var maxAbs, maxErr float64
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(want[i]))
		maxErr = math.Max(maxErr, math.Abs(want[i]-got[i]))
	}
	require.Greater(t, maxAbs, 1e-6, "%s: all zero, the check would be vacuous", what)
	require.LessOrEqual(t, maxErr/maxAbs, relTol, "%s: max error %g, max value %g", what, maxErr, maxAbs)
}

// objective adds Σ c ⊙ y to the graph.
func objective(g *nntest.Graph, y *G.Node, c []float64, rows, cols int) *G.Node {
	return G.Must(G.Sum(G.Must(G.HadamardProd(y, g.Matrix("c", rows, cols, c)))))
}

func TestLayersAgainstGorgonia(t *testing.T) {
	be := nn.NewCPU64()
	rng := rand.New(rand.NewPCG(20, 1))
	rows, in, out := 4, 6, 5
	ps := &nn.ParamSet{}
	lin := nn.NewLinear(be, ps, "fc", in, out)
	ln := nn.NewLayerNorm(be, ps, "ln", in)
	ps.Build(be)
	copy(be.Data(ps.Flat), uniform(rng, ps.Len(), 1))
	xv := uniform(rng, rows*in, 3)
	x := tensor64(be, xv)

	t.Run("linear", func(t *testing.T) {
		c := uniform(rng, rows*out, 1)
		y, dx := be.Alloc(rows*out), be.Alloc(rows*in)
		ps.ZeroGrad(be)
		lin.Forward(y, x, rows)
		lin.Backward(dx, tensor64(be, c), x, rows)
		g := nntest.NewGraph()
		gx, gw, gb := g.Matrix("x", rows, in, xv), g.Matrix("W", out, in, be.Data(lin.W.Value)), g.Vector("b", be.Data(lin.B.Value))
		_, grads, err := g.Gradients(objective(g, g.Linear(gx, gw, gb), c, rows, out), gx, gw, gb)
		require.NoError(t, err)
		requireClose(t, "linear dx", grads[0], be.Data(dx), gorgoniaRelTol)
		requireClose(t, "linear dW", grads[1], be.Data(lin.W.Grad), gorgoniaRelTol)
		requireClose(t, "linear db", grads[2], be.Data(lin.B.Grad), gorgoniaRelTol)
	})
	for _, f := range []nn.Activation{nn.SiLU, nn.GELU} {
		t.Run(f.String(), func(t *testing.T) {
			c := uniform(rng, rows*in, 1)
			dx := be.Alloc(rows * in)
			be.ActivateBackward(f, dx, x, tensor64(be, c))
			g := nntest.NewGraph()
			gx := g.Matrix("x", rows, in, xv)
			_, grads, err := g.Gradients(objective(g, g.Act(f, gx), c, rows, in), gx)
			require.NoError(t, err)
			requireClose(t, f.String()+" dx", grads[0], be.Data(dx), gorgoniaRelTol)
		})
	}
	t.Run("layernorm", func(t *testing.T) {
		c := uniform(rng, rows*in, 1)
		y, mean, rstd, dx := be.Alloc(rows*in), be.Alloc(rows), be.Alloc(rows), be.Alloc(rows*in)
		ps.ZeroGrad(be)
		ln.Forward(y, mean, rstd, x, rows)
		ln.Backward(dx, tensor64(be, c), x, mean, rstd, rows)
		g := nntest.NewGraph()
		gx, gg, gb := g.Matrix("x", rows, in, xv), g.Vector("gamma", be.Data(ln.Gamma.Value)), g.Vector("beta", be.Data(ln.Beta.Value))
		_, grads, err := g.Gradients(objective(g, g.LayerNorm(gx, gg, gb), c, rows, in), gx, gg, gb)
		require.NoError(t, err)
		requireClose(t, "layernorm dx", grads[0], be.Data(dx), gorgoniaRelTol)
		requireClose(t, "layernorm dγ", grads[1], be.Data(ln.Gamma.Grad), gorgoniaRelTol)
		requireClose(t, "layernorm dβ", grads[2], be.Data(ln.Beta.Grad), gorgoniaRelTol)
	})
}

func TestResMLPAgainstGorgonia(t *testing.T) {
	for _, precond := range []bool{false, true} {
		for _, act := range []nn.Activation{nn.SiLU, nn.GELU} {
			testResMLPAgainstGorgonia(t, act, precond)
		}
	}
}

func testResMLPAgainstGorgonia(t *testing.T, act nn.Activation, precond bool) {
	be := nn.NewCPU64()
	cfg := nn.ResMLPConfig{Dim: 3, Width: 6, Depth: 2, Hidden: 8, TimeDim: 4, Act: act}
	if precond {
		cfg.SigmaData, cfg.Skip = 0.5, true
	}
	m, err := nn.InitResMLP(be, cfg, 8)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(21, uint64(act)))
	ps := m.Params()
	// Random LayerNorm gains and shifts instead of 1 and 0, and a
	// non-zero skip.
	for _, p := range ps.Params() {
		if strings.Contains(p.Name, "norm") || strings.HasPrefix(p.Name, "skip.") {
			copy(be.Data(p.Value), uniform(rng, p.Size, 1))
		}
	}
	rows, D := 6, cfg.Dim
	xv, c := uniform(rng, rows*D, 1), uniform(rng, rows*D, 1)
	ts := make([]float64, rows)
	for i := range ts {
		ts[i] = float64(rng.IntN(1000))
	}
	tt := be.Alloc(rows)
	copy(be.Data(tt), ts)
	out := be.Alloc(rows * D)
	var cg, gg []float64 // skip gains
	if precond {
		cg, gg = uniform(rng, rows, 1), uniform(rng, rows, 3)
		m.ForwardPrecond(out, tensor64(be, xv), tt, tensor64(be, cg), tensor64(be, gg), rows)
	} else {
		m.Forward(out, tensor64(be, xv), tt, rows)
	}
	ps.ZeroGrad(be)
	m.Backward(tensor64(be, c), rows)

	g := nntest.NewGraph()
	mc := m.Config()
	gout, params := g.ResMLPPrecond(mc, ps.Layout(), be.Data(ps.Flat), xv, nntest.TimeEmbedding(ts, mc.TimeDim, mc.MaxPeriod), cg, gg, rows)
	_, grads, err := g.Gradients(objective(g, gout, c, rows, D), params...)
	require.NoError(t, err)
	for i, p := range ps.Params() {
		requireClose(t, act.String()+" "+p.Name, grads[i], be.Data(p.Grad), gorgoniaRelTol)
	}
	require.Len(t, ps.Params(), len(params))
}

// The DiT's analytic gradients against gorgonia's symbolic ones, for every
// parameter, with all parameters random (adaLN-Zero's zeros would hide most
// terms). gorgonia has the 2-D products, slices, concatenation and SoftMax
// the graph needs (nntest.Graph.DiT builds it example by example and head by
// head; its BatchedMatMul is not used). It has no patch rearrangement and
// no sinusoidal embedding, so the graph takes the patch tokens (from the
// float64 twin's Patchify, tested against the index formula on its own) and
// the timestep embedding (nntest.TimeEmbedding) as inputs; those maps have
// no parameters.
func TestDiTAgainstGorgonia(t *testing.T) {
	for _, cfg := range []nn.DiTConfig{
		{Channels: 2, Side: 4, Patch: 2, Width: 8, Depth: 2, Heads: 2, MLPRatio: 1.5, FreqDim: 6},
		{Channels: 1, Side: 6, Patch: 3, Width: 4, Depth: 1, Heads: 1, MLPRatio: 2, FreqDim: 4, LearnedPos: true, SigmaData: 0.5, Skip: true},
	} {
		testDiTAgainstGorgonia(t, cfg)
	}
}

func testDiTAgainstGorgonia(t *testing.T, cfg nn.DiTConfig) {
	be := nn.NewCPU64()
	m, err := nn.InitDiT(be, cfg, 8)
	require.NoError(t, err)
	cfg = m.Config()
	rng := rand.New(rand.NewPCG(22, uint64(cfg.Width)))
	ps := m.Params()
	copy(be.Data(ps.Flat), uniform(rng, ps.Len(), 0.7))
	rows, D, L, P := 3, cfg.Dim(), cfg.Tokens(), cfg.PatchDim()
	xv, c := uniform(rng, rows*D, 1), uniform(rng, rows*D, 1)
	ts := make([]float64, rows)
	for i := range ts {
		ts[i] = float64(rng.IntN(1000))
	}
	x, tt, out := tensor64(be, xv), tensor64(be, ts), be.Alloc(rows*D)
	var gain []float64
	if cfg.Preconditioned() {
		gain = uniform(rng, rows, 3)
		m.ForwardPrecond(out, x, tt, tensor64(be, uniform(rng, rows, 1)), tensor64(be, gain), rows)
	} else {
		m.Forward(out, x, tt, rows)
	}
	ps.ZeroGrad(be)
	m.Backward(tensor64(be, c), rows)

	tokens := func(img []float64) []float64 {
		z := be.Alloc(len(img))
		be.Patchify(z, tensor64(be, img), rows, cfg.Channels, cfg.Side, cfg.Patch, false)
		return be.Data(z)
	}
	pos := nn.SinCosPosEmbed2D(cfg.Side/cfg.Patch, cfg.Width)
	for i, v := range pos {
		pos[i] = float64(float32(v)) // the network holds it as float32 values, like every parameter
	}
	g := nntest.NewGraph()
	in := nntest.DiTInputs{Z: tokens(xv), X: xv, E: nntest.TimeEmbedding(ts, cfg.FreqDim, cfg.MaxPeriod), Pos: pos, Gain: gain}
	tok, skip, params := g.DiT(cfg, ps.Layout(), be.Data(ps.Flat), in, rows)
	loss := objective(g, tok, tokens(c), rows*L, P) // Σ c ⊙ Unpatchify(y) = Σ Patchify(c) ⊙ y
	if skip != nil {
		loss = G.Must(G.Add(loss, objective(g, skip, c, rows, D)))
	}
	_, grads, err := g.Gradients(loss, params...)
	require.NoError(t, err)
	require.Len(t, ps.Params(), len(params))
	for i, p := range ps.Params() {
		requireClose(t, p.Name, grads[i], be.Data(p.Grad), gorgoniaRelTol)
	}
}
