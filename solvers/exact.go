package solvers

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// wolfe is the exact method: Wolfe's minimum-norm-point algorithm (Wolfe
// 1976, "Finding the nearest point in a polytope") on the points x_t with
// ⟨x_i, x_j⟩ = H_ij, H = G + λI, which only needs H.
//
// It keeps a corral S of affinely independent vertices and w supported on
// S. A major cycle adds the vertex s = argmin_t (Hw)_t when the gap
// 2(wᵀHw − (Hw)_s) is above the tolerance (the KKT check: w is optimal iff
// (Hw)_t ≥ wᵀHw for every t). Minor cycles solve the affine problem
// min αᵀH_SSα s.t. Σα = 1 exactly and, if some α_i ≤ 0, move w toward α
// until a weight reaches 0 and drop it. The objective falls strictly at
// every major cycle and no corral repeats, so the method is finite.
func (r *run) wolfe() {
	k := r.k
	w := make([]float64, k) // w is (K)
	v := make([]float64, k) // v is (K): Hw
	r.res.W = w
	start := r.bestVertex()
	w[start] = 1
	r.axpyCol(v, 1, start)
	corral := []int{start}
	inS := make([]bool, k)
	inS[start] = true
	iter := 0
	for {
		f, s, gap := fwState(w, v)
		r.record(iter, f, gap)
		if r.converged(f, gap) {
			r.res.Status = Converged
			return
		}
		if r.limit(iter) {
			return
		}
		if inS[s] {
			// s is already in the corral, so w is its affine minimiser
			// up to rounding: no further progress is possible.
			r.res.Status = Stalled
			return
		}
		corral = append(corral, s)
		inS[s] = true
		for { // minor cycles
			iter++
			alpha, ok := r.affineMin(corral)
			if !ok {
				r.res.Status = Stalled
				r.setV(v, w, corral)
				return
			}
			if floats.Min(alpha) > 0 {
				for i, t := range corral {
					w[t] = alpha[i]
				}
				break
			}
			theta, drop := 1.0, -1
			for i, t := range corral {
				if alpha[i] <= 0 {
					th := 0.0
					if den := w[t] - alpha[i]; den > 0 {
						th = w[t] / den
					}
					if th < theta || drop < 0 {
						theta, drop = th, t
					}
				}
			}
			if drop == s && theta == 0 {
				// The vertex just added would leave at once: the affine
				// solve contradicts the gap test in float64.
				inS[s] = false
				corral = slices.DeleteFunc(corral, func(t int) bool { return t == s })
				r.res.Status = Stalled
				r.setV(v, w, corral)
				return
			}
			for i, t := range corral {
				w[t] = (1-theta)*w[t] + theta*alpha[i]
			}
			w[drop] = 0
			corral = slices.DeleteFunc(corral, func(t int) bool {
				if w[t] <= 0 {
					w[t] = 0
					inS[t] = false
					return true
				}
				return false
			})
			if r.limit(iter) {
				r.setV(v, w, corral)
				return
			}
		}
		r.setV(v, w, corral)
	}
}

// setV sets v = Hw for w supported on the corral, after renormalising w.
func (r *run) setV(v, w []float64, corral []int) {
	sum := 0.0
	for _, t := range corral {
		sum += w[t]
	}
	clear(v)
	for _, t := range corral {
		w[t] /= sum
		r.axpyCol(v, w[t], t)
	}
}

// affineMin returns the weights α (Σα = 1) of the point of least norm in
// the affine hull of the corral's points: the solution of the bordered KKT
// system [H_SS 1; 1ᵀ 0][α; −μ] = [0; 1]. The system is equilibrated first
// (rows and columns of H_SS scaled by 1/√H_tt, the border scaled to at most
// 1), since tasks may differ by many orders of magnitude, solved by LU with
// partial pivoting and refined once. ok is false when the system is
// numerically singular (the corral is affinely dependent in float64).
func (r *run) affineMin(corral []int) (alpha []float64, ok bool) {
	m := len(corral)
	if m == 1 {
		return []float64{1}, true
	}
	d := make([]float64, m) // d is (m): 1/√H_tt
	dmax := 0.0
	for i, t := range corral {
		h := r.h(t, t)
		d[i] = 1
		if h > 0 {
			d[i] = 1 / math.Sqrt(h)
		}
		dmax = math.Max(dmax, d[i])
	}
	c := 1 / dmax
	a := mat.NewDense(m+1, m+1, nil) // a is (m+1, m+1): the scaled bordered matrix
	for i, ti := range corral {
		row := r.p.Row(ti)
		for j, tj := range corral {
			x := row[tj]
			if i == j {
				x += r.lam
			}
			a.Set(i, j, d[i]*x*d[j])
		}
		a.Set(i, m, c*d[i])
		a.Set(m, i, c*d[i])
	}
	b := mat.NewVecDense(m+1, nil) // b is (m+1): [0; c]
	b.SetVec(m, c)
	var lu mat.LU
	lu.Factorize(a)
	if lu.Det() == 0 {
		return nil, false
	}
	x := mat.NewVecDense(m+1, nil)
	if err := lu.SolveVecTo(x, false, b); err != nil {
		return nil, false
	}
	// One step of iterative refinement: x += A⁻¹(b − Ax).
	res := mat.NewVecDense(m+1, nil)
	res.MulVec(a, x)
	res.SubVec(b, res)
	corr := mat.NewVecDense(m+1, nil)
	if err := lu.SolveVecTo(corr, false, res); err == nil {
		x.AddVec(x, corr)
	}
	alpha = make([]float64, m)
	sum := 0.0
	for i := range alpha {
		alpha[i] = d[i] * x.AtVec(i)
		sum += alpha[i]
	}
	if !(math.Abs(sum) > 0) || math.IsNaN(sum) || math.IsInf(sum, 0) {
		return nil, false
	}
	for i := range alpha {
		alpha[i] /= sum
		if math.IsNaN(alpha[i]) || math.IsInf(alpha[i], 0) {
			return nil, false
		}
	}
	return alpha, true
}
