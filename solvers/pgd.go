package solvers

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
)

// pgdMemory is the number of recent objective values of pgd's nonmonotone
// (Grippo-Lampariello-Lucidi) acceptance test.
const pgdMemory = 10

// pgdArmijo is the sufficient-decrease constant of that test.
const pgdArmijo = 1e-4

// ProjectSimplex sets dst to the Euclidean projection of y onto the simplex
// Δ = {x ≥ 0, Σx = 1} and returns it (allocated when dst is nil; dst may be
// y). It is the sort-based O(K log K) algorithm used by MGDA (Held, Wolfe &
// Crowder 1974; Duchi et al. 2008): with u = y sorted in decreasing order,
// ρ = max{j : u_j − (Σ_{i≤j} u_i − 1)/j > 0}, θ = (Σ_{i≤ρ} u_i − 1)/ρ and
// x = max(y − θ, 0). It panics if y holds NaN or ±Inf.
func ProjectSimplex(dst, y []float64) []float64 {
	if dst == nil {
		dst = make([]float64, len(y))
	}
	if len(dst) != len(y) {
		panic("solvers: ProjectSimplex: length mismatch")
	}
	for _, x := range y {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			panic("solvers: ProjectSimplex: non-finite input")
		}
	}
	u := slices.Clone(y)
	slices.Sort(u)
	slices.Reverse(u)
	sum, theta := 0.0, 0.0
	for j, x := range u {
		sum += x
		t := (sum - 1) / float64(j+1)
		if x-t > 0 {
			theta = t
		}
	}
	for i, x := range y {
		dst[i] = math.Max(x-theta, 0)
	}
	return dst
}

// stepBounds returns the range a gradient step size is clipped to: the
// step multiplies a gradient in units of Scale(), so it is measured in
// 1/Scale(); the range is wide enough for curvatures down to 1e-30·Scale().
func (r *run) stepBounds() (lo, hi float64) {
	s := r.scale
	if !(s > 0) {
		s = 1
	}
	return 1e-30 / s, math.Min(1e30/s, math.MaxFloat64/4) // finite even for subnormal scales
}

// projectedGradient is the pgd method, a spectral projected gradient
// (Birgin, Martínez & Raydan 2000) with MGDA's sort-based projection:
//
//	z = Π_Δ(w − η∇f(w)),  d = z − w,  w ← w + γd.
//
// Step rule: η alternates the two Barzilai-Borwein steps ‖s‖²/⟨s, y⟩ and
// ⟨s, y⟩/‖y‖² (s = Δw, y = Δ∇f = 2HΔw, both taken over the coordinates
// positive before and after the step, so tasks clipped to 0 do not dictate
// the step), clipped to [1e-30, 1e30]/Scale(); the first η is 1/L,
// L = 2λ_max(H). γ = 1 when f(z) ≤ max(last 10 f) + 1e-4·⟨∇f, d⟩ (the
// nonmonotone test that lets BB steps work), otherwise γ is the exact
// minimiser of the quadratic on [0, 1]. Stopping rule: the duality gap, as
// for every method. Not affine invariant: on tasks whose squared norms
// differ by many orders of magnitude it converges slowly.
func (r *run) projectedGradient() {
	k := r.k
	w := make([]float64, k) // w is (K)
	if r.w0 != nil {
		copy(w, r.w0)
	} else {
		for i := range w {
			w[i] = 1 / float64(k)
		}
	}
	r.res.W = w
	v := r.p.MulVec(nil, w)  // v is (K): Hw
	y := make([]float64, k)  // y is (K): the gradient step, then its projection z
	hz := make([]float64, k) // hz is (K): Hz
	wPrev := make([]float64, k)
	vPrev := make([]float64, k)
	lo, hi := r.stepBounds()
	etaL := 1 / (2 * math.Max(r.scale, math.SmallestNonzeroFloat64)) // 1/(2 max_t H_tt) ≥ 1/L
	eta := etaL
	stale := 0
	hist := make([]float64, 0, pgdMemory)
	for iter := 0; ; iter++ {
		f, _, _, stop := r.check(iter, w, v, &stale)
		if stop {
			return
		}
		if iter > 0 {
			ss, sy, yy := 0.0, 0.0, 0.0
			for i := range w {
				if w[i] == 0 || wPrev[i] == 0 {
					continue
				}
				dw := w[i] - wPrev[i]
				dy := 2 * (v[i] - vPrev[i])
				ss += dw * dw
				sy += dw * dy
				yy += dy * dy
			}
			if sy > 0 {
				e := ss / sy // BB1
				if iter%2 == 0 {
					e = sy / yy // BB2
				}
				eta = math.Min(hi, math.Max(lo, e))
			}
		}
		dv, dhd := r.pgdDirection(y, hz, w, v, eta, f)
		if !(dv < 0) && eta < etaL {
			// A short BB step drowned in the rounding of the projection:
			// retry with the first step.
			eta = etaL
			dv, dhd = r.pgdDirection(y, hz, w, v, eta, f)
		}
		if !(dv < 0) {
			// z = w in float64: w is a fixed point of the projected
			// gradient map, yet the gap is above the tolerance.
			r.res.Status = Stalled
			return
		}
		gamma := 1.0
		fz := f + 2*dv + dhd // f(z) = f + 2dᵀv + dᵀHd
		if len(hist) == pgdMemory {
			copy(hist, hist[1:])
			hist = hist[:pgdMemory-1]
		}
		hist = append(hist, f)
		if dhd > -dv && fz > floats.Max(hist)+pgdArmijo*2*dv {
			gamma = -dv / dhd
		}
		copy(wPrev, w)
		copy(vPrev, v)
		if gamma == 1 {
			copy(w, y)
			copy(v, hz)
			stale = 0
			continue
		}
		for i := range w {
			w[i] += gamma * (y[i] - w[i])
			v[i] += gamma * (hz[i] - v[i])
		}
		stale++
	}
}

// pgdDirection sets z = Π_Δ(w − 2ηv) in y and hz = Hz, and returns
// ⟨∇f, d⟩/2 = dᵀv and dᵀHd for d = z − w. Since Σd = 0, dᵀv is computed
// as dᵀ(v − f·1): near the optimum v is nearly constant, and subtracting f
// keeps the rounding of d (about an ulp of w) from swamping dᵀv.
func (r *run) pgdDirection(y, hz, w, v []float64, eta, f float64) (dv, dhd float64) {
	for i := range y {
		y[i] = w[i] - eta*2*v[i]
	}
	ProjectSimplex(y, y)
	r.p.MulVec(hz, y)
	for i := range y {
		d := y[i] - w[i]
		dv += d * (v[i] - f)
		dhd += d * (hz[i] - v[i])
	}
	return dv, dhd
}
