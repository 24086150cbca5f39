// Package nntest holds independent oracles for testing the nn engine and
// the code built on it: the engine's functions (Linear, SiLU, GELU,
// LayerNorm, the ResMLP and DiT denoisers) rebuilt as gorgonia expression
// graphs in float64, whose symbolic gradients the explicit backward passes
// must match, and a float64 sinusoidal time embedding.
//
// Invariants: every function here is written from the formulas in nn's
// documentation, never by calling nn's kernels, so agreement is evidence.
// Graphs are float64; parameters are taken by name from a flat float64
// buffer in an nn.ParamSet layout.
package nntest

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph builds float64 gorgonia expressions of the engine's functions.
type Graph struct {
	G *G.ExprGraph // the underlying gorgonia graph
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{G: G.NewGraph()} }

// Matrix adds a (rows, cols) input node holding a copy of v.
func (g *Graph) Matrix(name string, rows, cols int, v []float64) *G.Node {
	if len(v) != rows*cols {
		panic(fmt.Sprintf("nntest: Matrix %s: %d values for %d×%d", name, len(v), rows, cols))
	}
	return G.NewMatrix(g.G, G.Float64, G.WithShape(rows, cols), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), v...)))))
}

// Vector adds an input vector node holding a copy of v.
func (g *Graph) Vector(name string, v []float64) *G.Node {
	return G.NewVector(g.G, G.Float64, G.WithShape(len(v)), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float64(nil), v...)))))
}

func must(n *G.Node, err error) *G.Node { return G.Must(n, err) }

func scalar(v float64) *G.Node { return G.NewConstant(v) }

// Linear is x·Wᵀ + b for x (rows, in), W (out, in), b (out).
func (g *Graph) Linear(x, w, b *G.Node) *G.Node {
	y := must(G.Mul(x, must(G.Transpose(w))))
	return must(G.BroadcastAdd(y, b, nil, []byte{0}))
}

// Act is SiLU x·σ(x) or the tanh GELU 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
func (g *Graph) Act(f nn.Activation, x *G.Node) *G.Node {
	switch f {
	case nn.SiLU:
		return must(G.HadamardProd(x, must(G.Sigmoid(x))))
	case nn.GELU:
		inner := must(G.Add(x, must(G.Mul(scalar(0.044715), must(G.Cube(x))))))
		th := must(G.Tanh(must(G.Mul(scalar(math.Sqrt(2/math.Pi)), inner))))
		return must(G.HadamardProd(must(G.Mul(scalar(0.5), x)), must(G.Add(scalar(1), th))))
	}
	panic(fmt.Sprintf("nntest: activation %v", f))
}

// LayerNorm is (x − mean)/√(var + nn.LayerNormEps)·γ + β per row, with the
// biased variance.
func (g *Graph) LayerNorm(x, gamma, beta *G.Node) *G.Node {
	mean := must(G.Mean(x, 1))
	xc := must(G.BroadcastSub(x, mean, nil, []byte{1}))
	v := must(G.Mean(must(G.Square(xc)), 1))
	rstd := must(G.Inverse(must(G.Sqrt(must(G.Add(v, scalar(nn.LayerNormEps)))))))
	xh := must(G.BroadcastHadamardProd(xc, rstd, nil, []byte{1}))
	y := must(G.BroadcastHadamardProd(xh, gamma, nil, []byte{0}))
	return must(G.BroadcastAdd(y, beta, nil, []byte{0}))
}

// ResMLP builds the ResMLP of cfg (defaults applied) on x (rows, Dim) and
// the time embedding e (rows, TimeDim, see TimeEmbedding), with parameters
// read from flat in the given layout. It returns the output node (rows, Dim)
// and one node per parameter, in layout order. cfg must not have input
// skips (see ResMLPPrecond).
func (g *Graph) ResMLP(cfg nn.ResMLPConfig, layout []nn.Layout, flat, x, e []float64, rows int) (*G.Node, []*G.Node) {
	if cfg.Preconditioned() {
		panic("nntest: ResMLP of a preconditioned configuration; use ResMLPPrecond")
	}
	return g.ResMLPPrecond(cfg, layout, flat, x, e, nil, nil, rows)
}

// ResMLPPrecond is ResMLP with the input skips of cfg: the output plus
// c_r·x_r (with SigmaData) and g_r·(x_r·Sᵀ + b_S) (with Skip), where c and g
// (rows) are the per-row gains (nil when unused).
func (g *Graph) ResMLPPrecond(cfg nn.ResMLPConfig, layout []nn.Layout, flat, x, e, c, gain []float64, rows int) (*G.Node, []*G.Node) {
	cfg = cfg.WithDefaults()
	nodes, params := g.paramNodes(layout, flat)
	lin := func(name string, x *G.Node) *G.Node { return g.Linear(x, nodes[name+".weight"], nodes[name+".bias"]) }
	norm := func(name string, x *G.Node) *G.Node {
		return g.LayerNorm(x, nodes[name+".weight"], nodes[name+".bias"])
	}
	f := cfg.Act
	temb := lin("time2", g.Act(f, lin("time1", g.Matrix("e", rows, cfg.TimeDim, e))))
	xn := g.Matrix("x", rows, cfg.Dim, x)
	h := must(G.Add(lin("in", xn), temb))
	for i := 0; i < cfg.Depth; i++ {
		p := fmt.Sprintf("block%d.", i)
		h = must(G.Add(h, lin(p+"fc2", g.Act(f, lin(p+"fc1", norm(p+"norm", h))))))
	}
	out := lin("out", g.Act(f, norm("norm_out", h)))
	rowScale := func(name string, v []float64, m *G.Node) *G.Node {
		if len(v) != rows {
			panic(fmt.Sprintf("nntest: ResMLPPrecond: %d gains %s for %d rows", len(v), name, rows))
		}
		return must(G.BroadcastHadamardProd(m, g.Vector(name, v), nil, []byte{1}))
	}
	if cfg.SigmaData > 0 {
		out = must(G.Add(out, rowScale("skip_c", c, xn)))
	}
	if cfg.Skip {
		out = must(G.Add(out, rowScale("skip_g", gain, lin("skip", xn))))
	}
	return out, params
}

// Gradients runs the graph and returns the value of the scalar node loss
// and its gradient with respect to each of wrt.
func (g *Graph) Gradients(loss *G.Node, wrt ...*G.Node) (float64, [][]float64, error) {
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return 0, nil, err
	}
	vm := G.NewTapeMachine(g.G)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return 0, nil, err
	}
	out := make([][]float64, len(grads))
	for i, gn := range grads {
		out[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	return loss.Value().Data().(float64), out, nil
}

// TimeEmbedding returns the sinusoidal embedding (rows, dim) of the
// timesteps t in float64: cos(t·f_i) in the first half and sin(t·f_i) in
// the second, f_i = maxPeriod^(−i/half).
func TimeEmbedding(t []float64, dim int, maxPeriod float64) []float64 {
	half := dim / 2
	out := make([]float64, len(t)*dim)
	for r, tv := range t {
		for i := 0; i < half; i++ {
			f := math.Pow(maxPeriod, -float64(i)/float64(half))
			out[r*dim+i] = math.Cos(tv * f)
			out[r*dim+half+i] = math.Sin(tv * f)
		}
	}
	return out
}
