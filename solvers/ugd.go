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

// softmaxCut is ugd-plain's logit gap below which a softmax weight is set
// to 0: e^−600 ≈ 1e-261 is negligible, and weights left at e^−700 would
// make products with G subnormal, which most CPUs compute far more slowly.
const softmaxCut = -600

// softmax sets w = softmax(β) (shifted by max β, so no overflow), with
// weights whose logit is at or below max β + cut flushed to 0.
func softmax(w, beta []float64, cut float64) {
	m := floats.Max(beta)
	sum := 0.0
	for i, b := range beta {
		w[i] = 0
		if b-m > cut {
			w[i] = math.Exp(b - m)
		}
		sum += w[i]
	}
	floats.Scale(1/sum, w)
}

// softmaxGradient is method ugd-plain, the paper's UGD (Eq. 12–13) taken
// literally: w = softmax(β), and gradient descent on β with
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
// Limits, which are Eq. 13's, not the step rule's: softmax weights are
// never 0 and ∇_β f_t is proportional to w_t, so when the optimum lies on
// a proper face of the simplex the weights off the support shrink like
// 1/t and f converges as O(1/t) (up to 2e-5 relative above the optimum
// after the default 2·10⁴ iterations on the K ≤ 12 test problems, 4e-4 to
// 8e-4 on K = 1000); and a logit pushed far down early (a start near a
// vertex) may never recover, since its gradient vanishes with its weight.
// With full support the convergence is linear. Method ugd (softmaxNatural)
// removes the factor w_t.
func (r *run) softmaxGradient() {
	k := r.k
	beta := make([]float64, k) // beta is (K): logits
	if r.w0 != nil {
		for i, x := range r.w0 {
			beta[i] = math.Log(math.Max(x, ugdMinW0))
		}
	}
	w := make([]float64, k) // w is (K): softmax(β)
	softmax(w, beta, softmaxCut)
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
			softmax(wt, bt, softmaxCut)
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

// Natural-gradient UGD constants (see softmaxNatural).
const (
	// ugdLogitFloor is how far below the largest logit a logit may go: a
	// weight of e^−60 ≈ 1e-26 of the largest is 0 to float64 rounding of f
	// even summed over 10⁴ tasks, so such weights are flushed to 0 and
	// their logits clamped at the floor. The natural gradient of a logit
	// does not depend on its weight, so a task at the floor whose gradient
	// turns negative (it is needed again) climbs back at a rate of η times
	// its gap term per step; without the floor, a logit pushed down for
	// 10⁴ iterations would need as many to return.
	ugdLogitFloor = 60
)

// softmaxNatural is method ugd: the paper's parameterisation (Eq. 12),
// w = softmax(β), minimised along the natural gradient of the softmax.
// Eq. 13's gradient ∇_β f = J∇f(w), J = diag(w) − wwᵀ the softmax's
// Jacobian (and Fisher metric), preconditioned by diag(1/w) gives
//
//	Δβ = −η·d,  d = ∇f(w) − ⟨w, ∇f(w)⟩·1,  ∇f(w) = 2(G + λI)w,
//
// so w_t ← w_t·e^{−η∇f_t}/Z: entropic mirror descent (exponentiated
// gradient, Kivinen & Warmuth 1997; Beck & Teboulle 2003) written in
// logits. A task with (Hw)_t above f has d_t > 0 whatever its weight, so
// weights that should be 0 decay geometrically (e^{−η·d_t} per step)
// rather than like 1/t, and a task that should come back gets a negative
// d_t that raises it at the same rate.
//
// Step rule: f is L-smooth in the ℓ1 norm with L = 2·max_ij |H_ij| (=
// 2·Scale() for a PSD H), and the entropy is 1-strongly convex in it, so
// any η ≤ 1/L guarantees f(w⁺) ≤ f(w) + ½⟨∇f(w), w⁺ − w⟩ < f(w) (descent
// lemma + Pinsker). The trial η is the Barzilai-Borwein step in the
// Fisher metric, ⟨Δw, Δβ⟩/⟨Δw, Δ∇f⟩ = ⟨Δw, Δβ⟩/(2ΔwᵀHΔw) over the last
// step (both terms are ≥ 0: the softmax is monotone, H is PSD), raised to
// at least 1/L (twice the last accepted η when it is not defined; 1/L at
// the start), and halved until the Armijo condition
// f(w⁺) ≤ f(w) + 1e-4·⟨∇f(w), w⁺ − w⟩ holds (60 halvings at most; then
// Stalled). Logits are kept within ugdLogitFloor = 60 of the largest;
// below it the weight is flushed to 0 (see there). Stopping rule: the
// duality gap of the softmax point, as for every method. β starts at
// ln W0 (a zero weight at the floor) or 0 (uniform weights).
//
// Cost: one product Hw⁺ per trial step, formed from the columns of the
// positive weights once at most half are positive (O(K·|supp w|), see
// mulVec) — which the floor makes exact zeros — else O(K²).
//
// Convergence: linear once the optimal support is identified when the
// optimum is strictly complementary ((Hw*)_t > f* off the support) and
// G + λI is positive definite on it; not affine invariant (like pgd), so
// tasks whose squared norms differ by many orders of magnitude slow it.
func (r *run) softmaxNatural() {
	k := r.k
	beta := make([]float64, k) // beta is (K): logits, max β = 0
	if r.w0 != nil {
		m := floats.Max(r.w0)
		for i, x := range r.w0 {
			beta[i] = math.Max(math.Log(x/m), -ugdLogitFloor)
		}
	}
	w := make([]float64, k) // w is (K): softmax(β)
	softmax(w, beta, -ugdLogitFloor)
	r.res.W = w
	v := r.p.MulVec(nil, w) // v is (K): Hw
	f := floats.Dot(w, v)
	// The mirror-descent step bound 1/L, L = 2·max_ij |H_ij|.
	hmax := 0.0
	for i := range k {
		for j, x := range r.p.Row(i) {
			if i == j {
				x += r.lam
			}
			hmax = math.Max(hmax, math.Abs(x))
		}
	}
	lo, hi := r.stepBounds()
	etaL := hi
	if hmax > 0 {
		etaL = math.Min(hi, math.Max(lo, 1/(2*hmax)))
	}
	bt := make([]float64, k) // bt is (K): trial β
	wt := make([]float64, k) // wt is (K): trial w
	vt := make([]float64, k) // vt is (K): trial Hw
	d := make([]float64, k)  // d is (K): the natural gradient 2(v − f)
	eta := etaL
	var sy, ywy float64 // ⟨Δw, Δβ⟩ and ⟨Δw, Δ∇f⟩ of the last step, for BB
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
		for i := range d {
			d[i] = 2 * (v[i] - f)
		}
		if iter > 0 {
			if sy > 0 && ywy > 0 {
				eta = sy / ywy
			} else {
				eta *= 2
			}
			eta = math.Min(hi, math.Max(etaL, eta))
		}
		accepted := false
		var ft, dgw float64
		for range ugdMaxHalvings {
			for i := range bt {
				bt[i] = beta[i] - eta*d[i]
			}
			softmax(wt, bt, -ugdLogitFloor)
			r.mulVec(vt, wt)
			ft = floats.Dot(wt, vt)
			// Δf = (w⁺ − w)ᵀH(w⁺ + w) − 2f·Σ(w⁺ − w) and ⟨∇f, w⁺ − w⟩,
			// both with f·1 taken off (Σ(w⁺ − w) = 0), which resolves
			// changes far below the rounding of f.
			df := 0.0
			dgw = 0
			for i := range wt {
				dw := wt[i] - w[i]
				df += dw * (vt[i] + v[i] - 2*f)
				dgw += dw * d[i]
			}
			if dgw < 0 && df <= ugdArmijo*dgw {
				accepted = true
				break
			}
			eta /= 2
		}
		if !accepted {
			r.res.Status = Stalled
			return
		}
		// BB terms: Δβ = −η·d (before the shift and the floor, which do
		// not change w); ⟨Δw, Δ∇f⟩ = 2ΔwᵀHΔw = 2⟨Δw, Δv⟩.
		sy, ywy = -eta*dgw, 0
		for i := range wt {
			ywy += 2 * (wt[i] - w[i]) * (vt[i] - v[i])
		}
		m := floats.Max(bt)
		for i := range beta {
			beta[i] = math.Max(bt[i]-m, -ugdLogitFloor) // shift to max β = 0 (softmax is shift invariant), floor
		}
		copy(w, wt)
		copy(v, vt)
		f = ft
	}
}
