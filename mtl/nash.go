package mtl

import (
	"math"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// nashMTL is Nash-MTL (Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik
// & Fetaya 2022, "Multi-Task Learning as a Bargaining Game", ICML, Thm. 5.1
// and Eq. 2): the Nash bargaining solution of the tasks is d = Σ_k α_k g_k
// with α > 0 solving
//
//	Gα = 1/α   (elementwise: α_k·⟨d, g_k⟩ = 1 for every task),
//
// so every task's improvement ⟨d, g_k⟩ = 1/α_k is positive, and the
// weights are invariant to rescaling a task's gradient (its α_k scales
// inversely). The paper approximates the fixed point by a sequence of
// convex programs (cvxpy, at most 20). Here it is solved directly, since
// Gα = 1/α is the stationarity condition of the strictly convex
//
//	φ(α) = ½·αᵀGα − Σ_k ln α_k,   α > 0:
//
// Newton's method on φ (Hessian G + diag(1/α²), positive definite),
// from α_k = 1/√G_kk (exact when the gradients are orthogonal), each step
// halved until α stays positive and φ satisfies Armijo's condition, until
// max_k |α_k(Gα)_k − 1| ≤ Config.Tol (at most Config.MaxIter steps;
// quadratic convergence near the solution). G → sG scales α by 1/√s.
//
// Degenerate cases: a task whose gradient is 0 can never satisfy its
// condition; it gets α_k = 0 and the others are solved without it. When φ
// is unbounded below — a non-negative α with Gα = 0 exists, i.e. the tasks
// are Pareto stationary — there is no fixed point: the iterates grow, and
// the run stops with Status "no-fixed-point" once ‖α‖ exceeds 10¹² times
// its start (the last iterate is returned). Hyper-parameters: Config.Tol,
// Config.MaxIter.
type nashMTL struct{ c Config }

func (nashMTL) Name() string { return "nash-mtl" }

// Aggregate runs Newton's method on φ.
func (a nashMTL) Aggregate(p *pareto.Problem) (Result, error) {
	k := p.K()
	var live []int
	for i := range k {
		if p.At(i, i) > 0 {
			live = append(live, i)
		}
	}
	w := make([]float64, k)
	if len(live) == 0 {
		return finish(p, "nash-mtl", w, 0, "degenerate")
	}
	g := subGram(p, live)
	alpha, iters, status := nashNewton(g, len(live), a.c.Tol, a.c.MaxIter)
	for c, i := range live {
		w[i] = alpha[c]
	}
	return finish(p, "nash-mtl", w, iters, status)
}

// subGram returns the Gram of the tasks idx, row-major.
func subGram(p *pareto.Problem, idx []int) []float64 {
	n := len(idx)
	g := make([]float64, n*n)
	for a, i := range idx {
		for b, j := range idx {
			g[a*n+b] = p.At(i, j)
		}
	}
	return g
}

// nashNewton solves Gα = 1/α (G n×n, row-major, positive diagonal).
func nashNewton(g []float64, n int, tol float64, maxIter int) ([]float64, int, string) {
	alpha := make([]float64, n)
	for i := range n {
		alpha[i] = 1 / math.Sqrt(g[i*n+i])
	}
	start := floats.Norm(alpha, 2)
	phi := func(x []float64) float64 {
		f := 0.0
		for i := range n {
			f += 0.5*x[i]*floats.Dot(g[i*n:(i+1)*n], x) - math.Log(x[i])
		}
		return f
	}
	gx, grad := make([]float64, n), make([]float64, n)
	h := mat.NewSymDense(n, nil)
	trial := make([]float64, n)
	for iter := 0; ; iter++ {
		res := 0.0
		for i := range n {
			gx[i] = floats.Dot(g[i*n:(i+1)*n], alpha)
			grad[i] = gx[i] - 1/alpha[i]
			res = math.Max(res, math.Abs(alpha[i]*gx[i]-1))
		}
		if res <= tol {
			return alpha, iter, "converged"
		}
		if iter >= maxIter {
			return alpha, iter, "iteration-limit"
		}
		if floats.Norm(alpha, 2) > 1e12*start {
			return alpha, iter, "no-fixed-point"
		}
		for i := range n {
			for j := i; j < n; j++ {
				v := g[i*n+j]
				if i == j {
					v += 1 / (alpha[i] * alpha[i])
				}
				h.SetSym(i, j, v)
			}
		}
		var chol mat.Cholesky
		if !chol.Factorize(h) {
			return alpha, iter, "no-fixed-point"
		}
		step := mat.NewVecDense(n, nil)
		if err := chol.SolveVecTo(step, mat.NewVecDense(n, grad)); err != nil {
			return alpha, iter, "no-fixed-point"
		}
		dir := step.RawVector().Data // the Newton step is −dir
		slope := floats.Dot(grad, dir)
		f0 := phi(alpha)
		t := 1.0
		for ; t > 1e-30; t /= 2 {
			ok := true
			for i := range n {
				trial[i] = alpha[i] - t*dir[i]
				if !(trial[i] > 0) {
					ok = false
					break
				}
			}
			// Near the solution φ's decrease is below its rounding; a step
			// that shrinks the residual is then accepted instead.
			if ok && (phi(trial) <= f0-1e-4*t*slope || nashResidual(g, n, trial) < res) {
				break
			}
		}
		if !(t > 1e-30) {
			return alpha, iter, "stalled"
		}
		copy(alpha, trial)
	}
}

// nashResidual returns max_k |α_k(Gα)_k − 1|.
func nashResidual(g []float64, n int, alpha []float64) float64 {
	res := 0.0
	for i := range n {
		res = math.Max(res, math.Abs(alpha[i]*floats.Dot(g[i*n:(i+1)*n], alpha)-1))
	}
	return res
}
