package mtl

import (
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/floats"
)

// upgrad is UPGrad, the unconflicting projection of gradients (Quinton &
// Rey 2024, "Jacobian Descent for Multi-Objective Optimization", §4 and
// Prop. 1; TorchJD's UPGrad): every task gradient is projected onto the
// dual cone of the gradients, {x : ⟨x, g_k⟩ ≥ 0 ∀k}, and the projections
// are averaged,
//
//	d = (1/K)·Σ_i π(g_i),   π(g_i) = Jᵀv_i,   v_i = argmin_{v ≥ e_i} vᵀGv,
//
// so w = (1/K)·Σ_i v_i ≥ 1/K·1 and (Gw)_k ≥ 0 for every task: d never
// conflicts with any task. It is the mean when no pair of tasks conflicts
// (every g_i already lies in the cone), and it weighs by the Gram alone, so
// it is invariant to scaling G. Each projection is projectDualCone
// (Lawson–Hanson in Gram form, at most Config.MaxIter steps). The
// preferences are uniform (TorchJD's default); TorchJD also adds a small
// ridge to G, which is not needed here (G_PP of the active set stays
// definite). Status: "converged", or the worst of the K projections'
// (a cap, "iteration-limit", over "stalled").
type upgrad struct{ c Config }

func (upgrad) Name() string { return "upgrad" }

// Aggregate averages the K projections.
func (a upgrad) Aggregate(p *pareto.Problem) (Result, error) {
	k := p.K()
	w := make([]float64, k)
	iters, status := 0, solvers.Converged
	e := make([]float64, k)
	for i := range k {
		clear(e)
		e[i] = 1 / float64(k)
		v, n, st := projectDualCone(p, e, a.c.MaxIter)
		floats.Add(w, v)
		iters += n
		status = worseStatus(status, st)
	}
	return finish(p, "upgrad", w, iters, status.String())
}

// dualProj is DualProj (Quinton & Rey 2024, §4; TorchJD's DualProj): the
// mean gradient projected onto the dual cone of the task gradients,
//
//	d = π(g_0) = Jᵀv,   v = argmin_{v ≥ (1/K)·1} vᵀGv,
//
// so w = v ≥ 1/K and (Gw)_k ≥ 0 for every task; it is the mean when the
// mean conflicts with no task. One projectDualCone; Config.MaxIter caps it
// (Status "iteration-limit"; "stalled" if G_PP became singular).
type dualProj struct{ c Config }

func (dualProj) Name() string { return "dualproj" }

// Aggregate projects the mean.
func (a dualProj) Aggregate(p *pareto.Problem) (Result, error) {
	v, n, status := projectDualCone(p, uniform(p.K()), a.c.MaxIter)
	return finish(p, "dualproj", v, n, status.String())
}

// worseStatus returns the status of K projections so far, a, combined
// with the next one's, b: a cap (IterationLimit) over Stalled over
// Converged, so that UPGrad reports the worst of its projections.
func worseStatus(a, b solvers.Status) solvers.Status {
	rank := func(s solvers.Status) int {
		switch s {
		case solvers.Converged:
			return 0
		case solvers.Stalled:
			return 1
		}
		return 2
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
