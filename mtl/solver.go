package mtl

import (
	"fmt"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
)

// solverMethod exposes a Pareto solver of package solvers (MGDA's min-norm
// problem, the paper's Eq. 10–11, with the problem's λ) as an Aggregator:
// its weights are the solver's, on the simplex, and the certificate's Gap
// is the solver's own duality gap.
type solverMethod struct {
	m   solvers.Method
	set *solvers.Settings
}

func (s solverMethod) Name() string { return s.m.String() }

// Aggregate runs solvers.Solve.
func (s solverMethod) Aggregate(p *pareto.Problem) (Result, error) {
	if s.m == solvers.TwoTask && p.K() != 2 {
		return Result{}, fmt.Errorf("mtl: two-task is the closed form for K = 2, not %d", p.K())
	}
	res, err := solvers.Solve(p, s.m, s.set)
	if err != nil {
		return Result{}, fmt.Errorf("mtl: %w", err)
	}
	r, err := finish(p, s.m.String(), res.W, res.Iterations, res.Status.String())
	if err != nil {
		return Result{}, err
	}
	// The solver's W is on the simplex already: its own F and Gap are the
	// certificate, bit for bit.
	r.Normalized, r.OnSimplex, r.Objective, r.Gap = append([]float64(nil), res.W...), true, res.F, res.Gap
	r.Trace = res.Trace
	return r, nil
}
