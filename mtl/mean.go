package mtl

import "github.com/paretodiff/paretodiff/pareto"

// mean is the plain average of the task gradients, d = (1/K)·Σ_k g_k: the
// unweighted multi-task loss (1/K)·Σ_k L_k, every method's baseline
// (CAGrad at c = 0). No hyper-parameters.
type mean struct{}

func (mean) Name() string { return "mean" }

// Aggregate returns w = 1/K.
func (mean) Aggregate(p *pareto.Problem) (Result, error) {
	return finish(p, "mean", uniform(p.K()), 0, "closed-form")
}
