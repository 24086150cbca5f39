package pareto

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

func (p *Problem) checkLen(w []float64, what string) {
	if len(w) != p.k {
		panic(fmt.Sprintf("pareto: %s has %d entries for %d tasks", what, len(w), p.k))
	}
}

// MulVec sets dst = (G + λI)w and returns it; dst is allocated when nil.
// dst and w are K long and must not overlap.
func (p *Problem) MulVec(dst, w []float64) []float64 {
	p.checkLen(w, "w")
	if dst == nil {
		dst = make([]float64, p.k)
	}
	p.checkLen(dst, "dst")
	for i := range p.k {
		dst[i] = floats.Dot(p.Row(i), w) + p.lambda*w[i]
	}
	return dst
}

// mulGram sets dst = Gw (no λ).
func (p *Problem) mulGram(dst, w []float64) []float64 {
	if dst == nil {
		dst = make([]float64, p.k)
	}
	for i := range p.k {
		dst[i] = floats.Dot(p.Row(i), w)
	}
	return dst
}

// Objective returns f(w) = wᵀ(G + λI)w (Eq. 11; Eq. 10 when λ = 0). w need
// not lie on the simplex.
func (p *Problem) Objective(w []float64) float64 {
	p.checkLen(w, "w")
	f := 0.0
	for i := range p.k {
		f += w[i] * (floats.Dot(p.Row(i), w) + p.lambda*w[i])
	}
	return f
}

// Gradient sets dst = ∇f(w) = 2(G + λI)w and returns it; dst is allocated
// when nil.
func (p *Problem) Gradient(dst, w []float64) []float64 {
	dst = p.MulVec(dst, w)
	floats.Scale(2, dst)
	return dst
}

// Gap returns the Frank-Wolfe duality gap at w ∈ Δ,
//
//	gap(w) = max_{s∈Δ} ⟨∇f(w), w − s⟩ = 2(wᵀHw − min_t (Hw)_t),  H = G + λI,
//
// and the minimising vertex t. By convexity f(w) − f* ≤ gap(w), and
// gap(w) = 0 exactly at the minimisers.
func (p *Problem) Gap(w []float64) (gap float64, vertex int) {
	v := p.MulVec(nil, w)
	return gapOf(w, v)
}

// gapOf computes the gap from w and v = Hw.
func gapOf(w, v []float64) (float64, int) {
	f := floats.Dot(w, v)
	t := floats.MinIdx(v)
	return 2 * (f - v[t]), t
}

// Normalize sets dst to w/Σw, the point of the simplex on the ray of a
// non-negative weighting, and returns it (allocated when dst is nil). It
// returns an error for a wrong length, negative or non-finite entries, or
// weights that are all zero.
func (p *Problem) Normalize(dst, w []float64) ([]float64, error) {
	if len(w) != p.k {
		return nil, fmt.Errorf("pareto: got %d weights for %d tasks", len(w), p.k)
	}
	sum := 0.0
	for t, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return nil, fmt.Errorf("pareto: weight %d is %v; weights must be finite and ≥ 0", t, x)
		}
		sum += x
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("pareto: the weights sum to %v; need a finite positive sum", sum)
	}
	if dst == nil {
		dst = make([]float64, p.k)
	}
	p.checkLen(dst, "dst")
	for t, x := range w {
		dst[t] = x / sum
	}
	return dst, nil
}

// RawWeights converts weights w on the normalised tasks to weights on the
// original losses: w_t/s_t, renormalised to sum to 1, so that
// Σ_t raw_t·g_t is parallel to Σ_t w_t·(g_t/s_t). dst is allocated when nil.
func (p *Problem) RawWeights(dst, w []float64) []float64 {
	p.checkLen(w, "w")
	if dst == nil {
		dst = make([]float64, p.k)
	}
	p.checkLen(dst, "dst")
	sum := 0.0
	for t := range w {
		dst[t] = w[t] / p.scales[t]
		sum += dst[t]
	}
	if sum > 0 {
		floats.Scale(1/sum, dst)
	}
	return dst
}

// FromRaw converts a weighting of the original losses (such as a
// closed-form min-SNR weighting) to the normalised tasks: raw_t·s_t,
// normalised to the simplex. It returns Normalize's errors.
func (p *Problem) FromRaw(dst, raw []float64) ([]float64, error) {
	if len(raw) != p.k {
		return nil, fmt.Errorf("pareto: got %d weights for %d tasks", len(raw), p.k)
	}
	tmp := make([]float64, p.k)
	for t, x := range raw {
		tmp[t] = x * p.scales[t]
	}
	return p.Normalize(dst, tmp)
}

// Evaluation describes a weighting as a point of the problem.
type Evaluation struct {
	// W is the weighting normalised to the simplex.
	W []float64
	// Objective is f(W) = Wᵀ(G + λI)W, the quantity of the paper's Fig. 4.
	Objective float64
	// NormSq is ‖Σ_t W_t g_t‖² = WᵀGW (λ left out).
	NormSq float64
	// Gap is the duality gap at W: Objective − f* ≤ Gap.
	Gap float64
	// Descent is the Eq. 8 check of δ = −Σ_t W_t g_t.
	Descent Descent
}

// Evaluate normalises any non-negative weighting to the simplex and
// returns its objective, gap and Eq. 8 check (for the paper's Fig. 4, which
// compares the objective of closed-form weightings with the optimum).
func (p *Problem) Evaluate(w []float64) (Evaluation, error) {
	wn, err := p.Normalize(nil, w)
	if err != nil {
		return Evaluation{}, err
	}
	v := p.MulVec(nil, wn)
	gap, _ := gapOf(wn, v)
	f := floats.Dot(wn, v)
	return Evaluation{
		W: wn, Objective: f, NormSq: f - p.lambda*floats.Dot(wn, wn), Gap: gap,
		Descent: p.Descent(wn),
	}, nil
}

// Descent is the first-order effect on every task of the step
// δ = −Σ_t w_t g_t (Eq. 8): the change of L_t along δ is ⟨δ, g_t⟩ = −(Gw)_t.
type Descent struct {
	// Inner holds ⟨δ, g_t⟩ for every task t (K values).
	Inner []float64
	// Worst is max_t ⟨δ, g_t⟩ and Task its argmax: the task helped least
	// (or hurt most).
	Worst float64
	Task  int
	// NormSq is ‖δ‖² = wᵀGw.
	NormSq float64
	// DecreasesAll reports Worst < 0: δ decreases every task to first order.
	// At the λ = 0 optimum Worst ≤ −‖δ‖² (Theorem 1), so it is true unless
	// the tasks are Pareto stationary (δ = 0).
	DecreasesAll bool
}

// Descent evaluates Eq. 8 for δ = −Σ_t w_t g_t. With gradients (NewFromGrads)
// δ is formed explicitly and ⟨δ, g_t⟩ computed from the vectors; with only a
// Gram matrix, ⟨δ, g_t⟩ = −(Gw)_t. λ plays no part: it changes which w is
// chosen, not the effect of δ on the tasks.
func (p *Problem) Descent(w []float64) Descent {
	p.checkLen(w, "w")
	d := Descent{Inner: make([]float64, p.k)}
	if p.grads != nil {
		delta := p.Direction(nil, w)
		for t := range p.k {
			d.Inner[t] = floats.Dot(delta, p.grads.RawRowView(t))
		}
		d.NormSq = floats.Dot(delta, delta)
	} else {
		gw := p.mulGram(nil, w)
		for t := range p.k {
			d.Inner[t] = -gw[t]
		}
		d.NormSq = floats.Dot(w, gw)
	}
	d.Task = floats.MaxIdx(d.Inner)
	d.Worst = d.Inner[d.Task]
	d.DecreasesAll = d.Worst < 0
	return d
}

// Direction sets dst = δ = −Σ_t w_t g_t over the normalised gradients (P
// values) and returns it; dst is allocated when nil. It panics when the
// problem has no gradients (see HasGrads).
func (p *Problem) Direction(dst, w []float64) []float64 {
	p.checkLen(w, "w")
	if p.grads == nil {
		panic("pareto: Direction needs a problem built from gradients")
	}
	_, n := p.grads.Dims()
	if dst == nil {
		dst = make([]float64, n)
	}
	if len(dst) != n {
		panic(fmt.Sprintf("pareto: dst has %d entries for %d parameters", len(dst), n))
	}
	clear(dst)
	for t := range p.k {
		floats.AddScaled(dst, -w[t], p.grads.RawRowView(t))
	}
	return dst
}

// KKT holds the optimality conditions of min_{w∈Δ} wᵀHw (H = G + λI) at a
// point: w ≥ 0, Σw = 1, (Hw)_t ≥ μ for all t with equality where w_t > 0,
// μ = wᵀHw. All residuals are divided by Scale(), so they do not depend on
// the units of G.
type KKT struct {
	// Feasibility is max(|Σw − 1|, max_t −w_t).
	Feasibility float64
	// Dual is max_t (μ − (Hw)_t)/Scale() = gap/(2·Scale()).
	Dual float64
	// Complementarity is max_t w_t·|(Hw)_t − μ|/Scale().
	Complementarity float64
}

// Max returns the largest of the three residuals.
func (k KKT) Max() float64 { return math.Max(k.Feasibility, math.Max(k.Dual, k.Complementarity)) }

// KKT returns the optimality residuals at w.
func (p *Problem) KKT(w []float64) KKT {
	v := p.MulVec(nil, w)
	mu := floats.Dot(w, v)
	s := p.Scale()
	if s == 0 {
		s = 1
	}
	var r KKT
	r.Feasibility = math.Abs(floats.Sum(w) - 1)
	for t := range p.k {
		r.Feasibility = math.Max(r.Feasibility, -w[t])
		r.Dual = math.Max(r.Dual, (mu-v[t])/s)
		r.Complementarity = math.Max(r.Complementarity, math.Abs(w[t])*math.Abs(v[t]-mu)/s)
	}
	return r
}

// ParetoStationary reports whether w ∈ Δ shows the tasks to be Pareto
// stationary (Theorem 1): ‖Σ_t w_t g_t‖² = wᵀGw ≤ tol·max_t G_tt. λ is
// ignored; w should minimise the λ = 0 problem (see WithLambda), since
// a poor w can only fail to show stationarity. A problem whose gradients
// are all zero is stationary.
func (p *Problem) ParetoStationary(w []float64, tol float64) bool {
	p.checkLen(w, "w")
	gw := p.mulGram(nil, w)
	return floats.Dot(w, gw) <= tol*p.maxDg
}
