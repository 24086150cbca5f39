package mtl

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// cagrad is CAGrad, conflict-averse gradient descent (Liu, Liu, Jin, Stone
// & Liu 2021, "Conflict-Averse Gradient Descent for Multi-task Learning",
// NeurIPS, Alg. 1 and Eq. 4–5): the update maximises the worst task's
// improvement within a ball around the mean gradient g_0 = (1/K)·Σ_k g_k,
//
//	max_d min_k ⟨g_k, d⟩   s.t. ‖d − g_0‖ ≤ c‖g_0‖,
//
// whose dual over the simplex is
//
//	w* = argmin_{w∈Δ} F(w) = ⟨g_w, g_0⟩ + c‖g_0‖·‖g_w‖,   g_w = Σ_k w_k g_k,
//
// and d = g_0 + (c‖g_0‖/‖g_w*‖)·g_w*, i.e. the weights (1/K)·1 +
// (c‖g_0‖/‖g_w*‖)·w*. c = 0 gives the mean; as c → ∞ the normalised
// weights tend to MGDA's min-norm point. (The official code also divides d
// by 1 + c², which changes only its length.)
//
// How F is minimised (not in the paper, which calls a generic solver):
// with r = c‖g_0‖ and n = ‖g_w‖ > 0 at the optimum, ∇F = G(b + (r/n)w),
// b = (1/K)·1, is proportional to the gradient of ½‖g_w + μ·g_0‖² with
// μ = n/r. So w* is MGDA's min-norm point of the shifted tasks g_k + μ·g_0,
// whose Gram is G_ij + μ(a_i + a_j) + μ²·bᵀa (a = Gb), solved exactly by
// solvers.Exact; and μ solves h(μ) = ‖g_{w(μ)}‖ − rμ = 0, with h(0) ≥ 0 and
// h < 0 beyond max_k ‖g_k‖/r, found by the Illinois variant of regula
// falsi, |h| ≤ Config.Tol·r·(bracket end), at most Config.MaxIter steps.
// Any root is a KKT point of the convex F, so optimal. If g_w* = 0 (the
// tasks are Pareto stationary) or g_0 = 0, d is the mean (Status
// "closed-form").
//
// Status: "converged" at a root; "iteration-limit" when MaxIter steps
// ended first (the weights are those of the bracket's lower end, μ with
// h(μ) > 0, a feasible but not optimal d); the status of the inner
// min-norm solve (solvers.Exact, such as "stalled") when that did not
// converge at the returned μ. The certificate (Eq. 8 check, Eq. 11
// objective) is of the returned weights in every case.
//
// Hyper-parameter: Config.C, the c above (default 0.5).
type cagrad struct{ c Config }

func (cagrad) Name() string { return "cagrad" }

// Aggregate solves CAGrad's dual.
func (a cagrad) Aggregate(p *pareto.Problem) (Result, error) {
	w, iters, status, err := cagradWeights(p, a.c.C, a.c.Tol, a.c.MaxIter)
	if err != nil {
		return Result{}, err
	}
	return finish(p, "cagrad", w, iters, status)
}

// cagradInner is the min-norm point w(μ) of the shifted tasks, its ‖g_w‖
// and the inner solve's status.
type cagradInner func(mu float64) (w []float64, n float64, status solvers.Status, err error)

// cagradWeights returns CAGrad's weights for c ≥ 0, the root finder's
// iterations and the status (see cagrad).
func cagradWeights(p *pareto.Problem, c, tol float64, maxIter int) ([]float64, int, string, error) {
	k := p.K()
	b := uniform(k)
	a := gramMul(p, b)
	g0sq := math.Max(0, floats.Dot(b, a))
	r := c * math.Sqrt(g0sq)
	if !(r > 0) {
		return b, 0, "closed-form", nil
	}
	inner := func(mu float64) ([]float64, float64, solvers.Status, error) {
		sh := mat.NewSymDense(k, nil)
		for i := range k {
			for j := i; j < k; j++ {
				sh.SetSym(i, j, p.At(i, j)+mu*(a[i]+a[j])+mu*mu*g0sq)
			}
		}
		// A Gram of vectors g_k + μg_0: the O(K³) semidefiniteness test is
		// not needed (MaxPSDCheck −1 keeps the 2×2 minors' check).
		q, err := pareto.NewFromGram(sh, pareto.Config{PSDTol: 1e-9, MaxPSDCheck: -1})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("mtl: cagrad: shifted problem at μ = %g: %w", mu, err)
		}
		res, err := solvers.Solve(q, solvers.Exact, nil)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("mtl: cagrad: %w", err)
		}
		n := math.Sqrt(math.Max(0, floats.Dot(res.W, gramMul(p, res.W))))
		return res.W, n, res.Status, nil
	}
	maxNorm := 0.0
	for i := range k {
		maxNorm = math.Max(maxNorm, math.Sqrt(p.At(i, i)))
	}
	lo, hi := 0.0, 2*maxNorm/r
	w, n, st, err := inner(lo)
	if err != nil {
		return nil, 0, "", err
	}
	iters, status := 0, "closed-form" // Pareto stationary: the mean
	if n > 0 {
		var root bool
		w, n, st, iters, root, err = cagradRoot(inner, r, lo, hi, n, tol, maxIter)
		if err != nil {
			return nil, iters, "", err
		}
		switch {
		case !root:
			status = solvers.IterationLimit.String()
		case st != solvers.Converged:
			status = st.String()
		default:
			status = solvers.Converged.String()
		}
	}
	out := append([]float64(nil), b...)
	if n > 0 {
		floats.AddScaled(out, r/n, w)
	}
	return out, iters, status, nil
}

// cagradRoot finds μ ∈ [lo, hi] with h(μ) = n(μ) − rμ = 0, h(lo) = hLo > 0
// and h(hi) < 0, by the Illinois variant of regula falsi (superlinear,
// the bracket always kept), and returns the inner weights, n and the inner
// status there, the iterations, and whether it found the root (false: the
// cap came first, and the bracket's lower end is returned).
func cagradRoot(inner cagradInner, r, lo, hi, nLo, tol float64, maxIter int) ([]float64, float64, solvers.Status, int, bool, error) {
	wLo, _, stLo, err := inner(lo)
	if err != nil {
		return nil, 0, 0, 0, false, err
	}
	_, nHi, _, err := inner(hi)
	if err != nil {
		return nil, 0, 0, 0, false, err
	}
	hLo, hHi := nLo-r*lo, nHi-r*hi
	side := 0
	for iter := 1; iter <= maxIter; iter++ {
		mid := (lo*hHi - hi*hLo) / (hHi - hLo)
		if !(mid > lo && mid < hi) {
			mid = lo + (hi-lo)/2
		}
		wm, nm, stm, err := inner(mid)
		if err != nil {
			return nil, 0, 0, iter, false, err
		}
		hm := nm - r*mid
		if math.Abs(hm) <= tol*r*hi || hi-lo <= tol*hi {
			return wm, nm, stm, iter, true, nil
		}
		if hm > 0 {
			lo, hLo, wLo, nLo, stLo = mid, hm, wm, nm, stm
			if side == 1 {
				hHi /= 2
			}
			side = 1
		} else {
			hi, hHi = mid, hm
			if side == -1 {
				hLo /= 2
			}
			side = -1
		}
	}
	return wLo, nLo, stLo, maxIter, false, nil
}
