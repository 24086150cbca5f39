package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gorgoniaRelTol bounds the float64 twin's analytic gradients against
// gorgonia's symbolic gradients of the same float64 function: the two differ
// only in the order of floating-point operations.
const gorgoniaRelTol = 1e-10

// gg builds the engine's functions as a gorgonia expression graph: the
// independent symbolic oracle for gradients.
type gg struct{ g *G.ExprGraph }

func (b gg) mat(name string, rows, cols int, v []float64) *G.Node {
	return G.NewMatrix(b.g, G.Float64, G.WithShape(rows, cols), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), v...)))))
}

func (b gg) vec(name string, v []float64) *G.Node {
	return G.NewVector(b.g, G.Float64, G.WithShape(len(v)), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float64(nil), v...)))))
}

func c64(v float64) *G.Node { return G.NewConstant(v) }

// linear is x·Wᵀ + b.
func (b gg) linear(x, w, bias *G.Node) *G.Node {
	y := G.Must(G.Mul(x, G.Must(G.Transpose(w))))
	return G.Must(G.BroadcastAdd(y, bias, nil, []byte{0}))
}

// act is SiLU x·σ(x) or the tanh GELU 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
func (b gg) act(f Activation, x *G.Node) *G.Node {
	if f == SiLU {
		return G.Must(G.HadamardProd(x, G.Must(G.Sigmoid(x))))
	}
	inner := G.Must(G.Add(x, G.Must(G.Mul(c64(0.044715), G.Must(G.Cube(x))))))
	th := G.Must(G.Tanh(G.Must(G.Mul(c64(math.Sqrt(2/math.Pi)), inner))))
	return G.Must(G.HadamardProd(G.Must(G.Mul(c64(0.5), x)), G.Must(G.Add(c64(1), th))))
}

// layerNorm is (x − mean)/√(var + eps)·γ + β per row.
func (b gg) layerNorm(x, gamma, beta *G.Node) *G.Node {
	mean := G.Must(G.Mean(x, 1))
	xc := G.Must(G.BroadcastSub(x, mean, nil, []byte{1}))
	v := G.Must(G.Mean(G.Must(G.Square(xc)), 1))
	rstd := G.Must(G.Inverse(G.Must(G.Sqrt(G.Must(G.Add(v, c64(LayerNormEps)))))))
	xh := G.Must(G.BroadcastHadamardProd(xc, rstd, nil, []byte{1}))
	y := G.Must(G.BroadcastHadamardProd(xh, gamma, nil, []byte{0}))
	return G.Must(G.BroadcastAdd(y, beta, nil, []byte{0}))
}

// gradients runs the graph and returns the gradient of Σ c ⊙ y with respect
// to each of wrt.
func (b gg) gradients(t *testing.T, y *G.Node, c []float64, rows, cols int, wrt ...*G.Node) [][]float64 {
	t.Helper()
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, b.mat("c", rows, cols, c)))))
	grads, err := G.Grad(loss, wrt...)
	require.NoError(t, err)
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	out := make([][]float64, len(grads))
	for i, gn := range grads {
		out[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	return out
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

func TestLayersAgainstGorgonia(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(20, 1))
	rows, in, out := 4, 6, 5
	ps := &ParamSet{}
	lin := NewLinear(be, ps, "fc", in, out)
	ln := NewLayerNorm(be, ps, "ln", in)
	ps.Build(be)
	copy(be.Data(ps.Flat), to64(randVals(rng, ps.Len())))
	xv := to64(randVals(rng, rows*in))
	for i := range xv {
		xv[i] *= 3
	}
	x := set64(be, xv)

	t.Run("linear", func(t *testing.T) {
		c := to64(randVals(rng, rows*out))
		y, dx := be.Alloc(rows*out), be.Alloc(rows*in)
		ps.ZeroGrad(be)
		lin.Forward(y, x, rows)
		lin.Backward(dx, set64(be, c), x, rows)
		b := gg{G.NewGraph()}
		gx, gw, gb := b.mat("x", rows, in, xv), b.mat("W", out, in, be.Data(lin.W.Value)), b.vec("b", be.Data(lin.B.Value))
		g := b.gradients(t, b.linear(gx, gw, gb), c, rows, out, gx, gw, gb)
		requireClose(t, "linear dx", g[0], be.Data(dx), gorgoniaRelTol)
		requireClose(t, "linear dW", g[1], be.Data(lin.W.Grad), gorgoniaRelTol)
		requireClose(t, "linear db", g[2], be.Data(lin.B.Grad), gorgoniaRelTol)
	})
	for _, f := range []Activation{SiLU, GELU} {
		t.Run(f.String(), func(t *testing.T) {
			c := to64(randVals(rng, rows*in))
			dx := be.Alloc(rows * in)
			be.ActivateBackward(f, dx, x, set64(be, c))
			b := gg{G.NewGraph()}
			gx := b.mat("x", rows, in, xv)
			g := b.gradients(t, b.act(f, gx), c, rows, in, gx)
			requireClose(t, f.String()+" dx", g[0], be.Data(dx), gorgoniaRelTol)
		})
	}
	t.Run("layernorm", func(t *testing.T) {
		c := to64(randVals(rng, rows*in))
		y, mean, rstd, dx := be.Alloc(rows*in), be.Alloc(rows), be.Alloc(rows), be.Alloc(rows*in)
		ps.ZeroGrad(be)
		ln.Forward(y, mean, rstd, x, rows)
		ln.Backward(dx, set64(be, c), x, mean, rstd, rows)
		b := gg{G.NewGraph()}
		gx, gg1, gb := b.mat("x", rows, in, xv), b.vec("gamma", be.Data(ln.Gamma.Value)), b.vec("beta", be.Data(ln.Beta.Value))
		g := b.gradients(t, b.layerNorm(gx, gg1, gb), c, rows, in, gx, gg1, gb)
		requireClose(t, "layernorm dx", g[0], be.Data(dx), gorgoniaRelTol)
		requireClose(t, "layernorm dγ", g[1], be.Data(ln.Gamma.Grad), gorgoniaRelTol)
		requireClose(t, "layernorm dβ", g[2], be.Data(ln.Beta.Grad), gorgoniaRelTol)
	})
}

// gorgoniaResMLP builds the ResMLP of m (same weights) as a gorgonia graph on
// x and the precomputed time embedding e, and returns its output and the
// parameter nodes in m's parameter order.
func gorgoniaResMLP(b gg, m *ResMLP, be *CPU[float64], x, e []float64, rows int) (*G.Node, []*G.Node) {
	cfg := m.Config()
	nodes := map[string]*G.Node{}
	var order []*G.Node
	for _, p := range m.Params().Params() {
		var n *G.Node
		if len(p.Shape) == 2 {
			n = b.mat(p.Name, p.Shape[0], p.Shape[1], be.Data(p.Value))
		} else {
			n = b.vec(p.Name, be.Data(p.Value))
		}
		nodes[p.Name] = n
		order = append(order, n)
	}
	lin := func(name string, x *G.Node) *G.Node { return b.linear(x, nodes[name+".weight"], nodes[name+".bias"]) }
	norm := func(name string, x *G.Node) *G.Node {
		return b.layerNorm(x, nodes[name+".weight"], nodes[name+".bias"])
	}
	gx := b.mat("x", rows, cfg.Dim, x)
	ge := b.mat("e", rows, cfg.TimeDim, e)
	temb := lin("time2", b.act(cfg.Act, lin("time1", ge)))
	h := G.Must(G.Add(lin("in", gx), temb))
	for i := 0; i < cfg.Depth; i++ {
		p := "block" + string(rune('0'+i)) + "."
		h = G.Must(G.Add(h, lin(p+"fc2", b.act(cfg.Act, lin(p+"fc1", norm(p+"norm", h))))))
	}
	return lin("out", b.act(cfg.Act, norm("norm_out", h))), order
}

func TestResMLPAgainstGorgonia(t *testing.T) {
	for _, act := range []Activation{SiLU, GELU} {
		be := NewCPU64()
		cfg := smallConfig
		cfg.Act = act
		m, err := InitResMLP(be, cfg, 8)
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(21, uint64(act)))
		for _, p := range m.Params().Params() {
			if p.init.Kind == "const" {
				copy(be.Data(p.Value), to64(randVals(rng, p.Size)))
			}
		}
		mc := newModelCase(rng, m.Config(), 6)
		mc.run(m)
		e := be.Alloc(mc.rows * m.Config().TimeDim)
		be.TimeEmbedding(e, upload(be, mc.t), mc.rows, m.Config().TimeDim, float32(m.Config().MaxPeriod))

		b := gg{G.NewGraph()}
		out, params := gorgoniaResMLP(b, m, be, to64(mc.x), be.Data(e), mc.rows)
		grads := b.gradients(t, out, mc.obj.c, mc.rows, cfg.Dim, params...)
		for i, p := range m.Params().Params() {
			requireClose(t, act.String()+" "+p.Name, grads[i], be.Data(p.Grad), gorgoniaRelTol)
		}
	}
}
