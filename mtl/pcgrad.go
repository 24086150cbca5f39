package mtl

import (
	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/floats"
)

// pcgrad is PCGrad, "gradient surgery" (Yu et al. 2020, "Gradient Surgery
// for Multi-Task Learning", NeurIPS, Alg. 1): each task's gradient is
// projected, one other task at a time in a random order, onto the normal
// plane of every gradient it conflicts with,
//
//	g_i^PC ← g_i;  for j ≠ i in random order:
//	    if ⟨g_i^PC, g_j⟩ < 0:  g_i^PC ← g_i^PC − (⟨g_i^PC, g_j⟩/‖g_j‖²)·g_j
//	d = Σ_i g_i^PC.
//
// Gram form: g_i^PC stays in the span of the task gradients, g_i^PC =
// Σ_k c_k g_k, so only its coefficients c (starting at e_i) and the inner
// products Gc = (⟨g_i^PC, g_k⟩)_k are kept; a projection on g_j is
// c_j ← c_j − (Gc)_j/G_jj and Gc ← Gc − ((Gc)_j/G_jj)·G_{:,j}, O(K), so
// O(K³) in all and no vector of the parameter space. w = Σ_i c^(i). Every
// projection raises a coefficient ((Gc)_j < 0), so w ≥ 0 and w_i ≥ 1: the
// result is on the simplex once normalised. A task with a zero gradient
// (G_jj = 0) is never projected on.
//
// Hyper-parameter: Config.Seed, the orders' seed; call n projects in the
// orders of (Seed, n) (order.go), so PCGrad keeps no state but the call
// index, which a caller may set (Sequenced).
type pcgrad struct {
	orders orderSeq
}

func newPCGrad(c Config) *pcgrad { return &pcgrad{orders: orderSeq{seed: c.Seed}} }

func (*pcgrad) Name() string { return "pcgrad" }

// SetCall sets the index of the next call's orders (Sequenced).
func (a *pcgrad) SetCall(n uint64) { a.orders.call = n }

// Aggregate projects in the current call's random orders.
func (a *pcgrad) Aggregate(p *pareto.Problem) (Result, error) {
	w := pcgradWeights(p, a.orders.next(p.K()))
	return finish(p, "pcgrad", w, 0, "closed-form")
}

// pcgradWeights is PCGrad in Gram form for the given orders.
func pcgradWeights(p *pareto.Problem, orders [][]int) []float64 {
	k := p.K()
	w := make([]float64, k)
	c, gc := make([]float64, k), make([]float64, k)
	for i := range k {
		clear(c)
		c[i] = 1
		copy(gc, p.Row(i))
		for _, j := range orders[i] {
			gjj := p.At(j, j)
			if gc[j] < 0 && gjj > 0 {
				a := gc[j] / gjj
				c[j] -= a
				floats.AddScaled(gc, -a, p.Row(j))
			}
		}
		floats.Add(w, c)
	}
	return w
}
