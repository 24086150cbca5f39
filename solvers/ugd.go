package solvers

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// UGD step rule constants (see softmaxGradient).
const (
	// ugdArmijo is the sufficient-decrease constant c of the Armijo test
	// f(β − ηg) ≤ f(β) − c·η·‖g‖².
	ugdArmijo = 1e-4
	// ugdMaxHalvings bounds the backtracking of one iteration; failing it
	// is Status Stalled.
	ugdMaxHalvings = 60
	// ugdMinW0 is the least starting weight: ∇_β f_t is proportional to
	// w_t, so a logit starting at ln 0 could never move.
	ugdMinW0 = 1e-8
	// ugdMaxMove caps η·max_t |∇_β f_t|, the largest change of a logit in
	// one trial step (a weight ratio of e³ ≈ 20). A long BB step would
	// otherwise push a task that looks bad early so far down that it cannot
	// come back when it is needed later (∇_β f_t ∝ w_t): on K = 1000 a cap
	// of 30 left f 2% above the optimum after 3000 iterations, a cap of 3
	// 0.17%, with the same results on small problems.
	ugdMaxMove = 3
)

// softmaxCut is the logit gap below which a softmax weight is set to 0:
// e^−600 ≈ 1e-261 is negligible, and weights left at e^−700 would make
// products with G subnormal, which is two orders of magnitude slower.
const softmaxCut = -600

// softmax sets w = softmax(β) (shifted by max β, so no overflow), with
// weights below e^softmaxCut flushed to 0.
func softmax(w, beta []float64) {
	m := floats.Max(beta)
	sum := 0.0
	for i, b := range beta {
		w[i] = 0
		if b-m > softmaxCut {
			w[i] = math.Exp(b - m)
		}
		sum += w[i]
	}
	floats.Scale(1/sum, w)
}

// softmaxGradient is the paper's UGD (Eq. 12–13): w = softmax(β), and
// gradient descent on β with
//
//	∇_β f = w ⊙ (∇f(w) − ⟨w, ∇f(w)⟩),  ∇f(w) = 2(G + λI)w.
//
// Step rule: the trial step is the Barzilai-Borwein step ‖Δβ‖²/⟨Δβ, Δ∇_β⟩
// (twice the last accepted step when that is not positive; 1/Scale() at the
// start), halved until the Armijo condition f(β − ηg) ≤ f(β) − 1e-4·η·‖g‖²
// holds; after 60 halvings the run stops as Stalled. Stopping rule: the
// duality gap of the softmax point w, gap = 2(f(w) − min_t ((G+λI)w)_t),
// meets Settings' tolerances — the same certificate as every other
// method, so UGD's answer is comparable. β starts at 0 (uniform weights)
// or ln W0 (weights raised to at least 1e-8). Trial steps are capped so that
// no logit moves by more than 3.
//
// Limits, which are the parameterisation's, not the step rule's: softmax
// weights are never 0 and ∇_β f_t is proportional to w_t, so when the
// optimum lies on a proper face of the simplex the weights off the support
// shrink like 1/t and f converges as O(1/t) (about 1e-6 relative after the
// default 2·10⁴ iterations on small problems); and a logit pushed far down
// early (a start near a vertex) may never recover. With full support the
// convergence is linear.
func (r *run) softmaxGradient() {
	k := r.k
	beta := make([]float64, k) // beta is (K): logits
	if r.w0 != nil {
		for i, x := range r.w0 {
			beta[i] = math.Log(math.Max(x, ugdMinW0))
		}
	}
	w := make([]float64, k) // w is (K): softmax(β)
	softmax(w, beta)
	r.res.W = w
	v := r.p.MulVec(nil, w) // v is (K): Hw
	f := floats.Dot(w, v)
	g := make([]float64, k) // g is (K): ∇_β f
	grad := func(g, w, v []float64, f float64) {
		for i := range g {
			g[i] = w[i] * 2 * (v[i] - f)
		}
	}
	grad(g, w, v, f)
	bt := make([]float64, k) // trial β
	wt := make([]float64, k) // trial w
	vt := make([]float64, k) // trial Hw
	gt := make([]float64, k) // trial gradient
	lo, hi := r.stepBounds()
	eta := math.Min(hi, math.Max(lo, 1/r.scale))
	var ds, dg []float64 // Δβ and Δg of the last step, for BB
	for iter := 0; ; iter++ {
		gap := 2 * (f - floats.Min(v))
		r.record(iter, f, gap)
		if r.converged(f, gap) {
			r.res.Status = Converged
			return
		}
		if r.limit(iter) {
			return
		}
		gg := floats.Dot(g, g)
		if !(gg > 0) {
			r.res.Status = Stalled
			return
		}
		if ds != nil {
			sy := floats.Dot(ds, dg)
			if sy > 0 {
				eta = floats.Dot(ds, ds) / sy
			} else {
				eta *= 2
			}
			eta = math.Min(hi, math.Max(lo, eta))
		}
		// No logit moves by more than ugdMaxMove in one trial step.
		if gmax := math.Max(floats.Max(g), -floats.Min(g)); eta*gmax > ugdMaxMove {
			eta = ugdMaxMove / gmax
		}
		accepted := false
		var ft float64
		for range ugdMaxHalvings {
			for i := range bt {
				bt[i] = beta[i] - eta*g[i]
			}
			softmax(wt, bt)
			r.p.MulVec(vt, wt)
			ft = floats.Dot(wt, vt)
			// f(w_t) − f(w) = (w_t − w)ᵀH(w_t + w), with Σ(w_t − w) = 0 so
			// 2f·1 can be taken off H(w_t + w): this resolves decreases far
			// below the rounding of f itself, which ft − f would not.
			df := 0.0
			for i := range wt {
				df += (wt[i] - w[i]) * (vt[i] + v[i] - 2*f)
			}
			if df <= -ugdArmijo*eta*gg {
				accepted = true
				break
			}
			eta /= 2
		}
		if !accepted {
			r.res.Status = Stalled
			return
		}
		grad(gt, wt, vt, ft)
		if ds == nil {
			ds, dg = make([]float64, k), make([]float64, k)
		}
		m := floats.Max(bt)
		for i := range beta {
			ds[i] = bt[i] - beta[i]
			dg[i] = gt[i] - g[i]
			beta[i] = bt[i] - m // keep max β = 0: softmax is shift invariant
		}
		copy(w, wt)
		copy(v, vt)
		copy(g, gt)
		f = ft
	}
}
