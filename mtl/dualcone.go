package mtl

import (
	"math"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// projectDualCone returns the weights v of the projection of Jᵀu (the
// combination Σ_k u_k g_k) onto the dual cone {x : ⟨x, g_k⟩ ≥ 0 for all k}
// of the task gradients: by Quinton & Rey (2024, Prop. 1), the projection
// is Jᵀv with
//
//	v = argmin_{v ≥ u} vᵀGv,
//
// a non-negative quadratic program in x = v − u ≥ 0, min ½xᵀGx + (Gu)ᵀx,
// which is the non-negative least-squares problem min_{x≥0} ‖Jᵀ(u + x)‖².
// It is solved by Lawson & Hanson's active-set method (1974, Ch. 23) in
// Gram form: the passive set P grows by the task whose constraint is most
// violated, (Gv)_j < −tol, and the unconstrained minimiser on P (a
// Cholesky solve of G_PP) is taken when positive, otherwise the step stops
// at the first weight to reach 0, which leaves P. At the end Gv ≥ −tol
// (no task conflicts with the projection) and x_j·(Gv)_j = 0. tol is
// 1e-12·max_k G_kk·Σ_k|v_k|, the rounding of Gv in the units of G. maxIter
// caps the additions to P; the iterations are returned with the status:
// solvers.Converged when the KKT conditions were met, IterationLimit when
// the cap came first, Stalled when G_PP became numerically singular (no
// further progress in float64); v is the last iterate, ≥ u, in every case.
func projectDualCone(p *pareto.Problem, u []float64, maxIter int) (v []float64, iters int, status solvers.Status) {
	k := p.K()
	v = append([]float64(nil), u...)
	maxDiag := 0.0
	for i := range k {
		maxDiag = math.Max(maxDiag, p.At(i, i))
	}
	passive := make([]bool, k)
	x := make([]float64, k)
	gu := gramMul(p, u)
	for ; iters < maxIter; iters++ {
		gv := gramMul(p, v)
		j, worst := -1, -1e-12*maxDiag*floats.Norm(v, 1)
		for i := range k {
			if !passive[i] && gv[i] < worst {
				j, worst = i, gv[i]
			}
		}
		if j < 0 {
			return v, iters, solvers.Converged
		}
		passive[j] = true
		for range k + 1 { // each pass either accepts z or removes a task from P
			z, ok := passiveSolve(p, passive, gu)
			if !ok {
				passive[j] = false
				return v, iters, solvers.Stalled
			}
			alpha, hit := 1.0, false
			for i := range k {
				if passive[i] && z[i] <= 0 {
					if a := x[i] / (x[i] - z[i]); a < alpha {
						alpha = a
					}
					hit = true
				}
			}
			if !hit {
				copy(x, z)
				break
			}
			for i := range k {
				x[i] += alpha * (z[i] - x[i])
				if passive[i] && x[i] <= 0 {
					x[i], passive[i] = 0, false
				}
			}
		}
		for i := range k {
			v[i] = u[i] + x[i]
		}
	}
	return v, iters, solvers.IterationLimit
}

// passiveSolve returns z with z_P solving G_PP z_P = −(Gu)_P and z = 0 off
// P; ok is false when G_PP is numerically singular.
func passiveSolve(p *pareto.Problem, passive []bool, gu []float64) ([]float64, bool) {
	var idx []int
	for i, in := range passive {
		if in {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	h := mat.NewSymDense(n, nil)
	rhs := mat.NewVecDense(n, nil)
	for a, i := range idx {
		for b := a; b < n; b++ {
			h.SetSym(a, b, p.At(i, idx[b]))
		}
		rhs.SetVec(a, -gu[i])
	}
	var chol mat.Cholesky
	if !chol.Factorize(h) {
		return nil, false
	}
	sol := mat.NewVecDense(n, nil)
	if err := chol.SolveVecTo(sol, rhs); err != nil {
		return nil, false
	}
	z := make([]float64, len(passive))
	for a, i := range idx {
		z[i] = sol.AtVec(a)
	}
	return z, true
}
