package solvers_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/mat"
)

// Solving for the Pareto weighting of three tasks from their gradients,
// with and without the λ of Eq. 11.
func ExampleSolve() {
	grads := mat.NewDense(3, 2, []float64{ // one task gradient per row
		1, 0,
		-1, 2,
		0, 1,
	})
	for _, lambda := range []float64{0, 1} {
		p, err := pareto.NewFromGrads(grads, pareto.Config{Lambda: lambda})
		if err != nil {
			panic(err)
		}
		res, err := solvers.Solve(p, solvers.PFW, nil) // nil: default settings
		if err != nil {
			panic(err)
		}
		d := p.Descent(res.W) // Eq. 8 at the solution
		fmt.Printf("λ=%g: w=%.4f f=%.4f %s, every task decreases: %v\n",
			lambda, res.W, res.F, res.Status, d.DecreasesAll)
	}
	// Output:
	// λ=0: w=[0.7500 0.2500 0.0000] f=0.5000 converged, every task decreases: true
	// λ=1: w=[0.5333 0.1333 0.3333] f=0.9333 converged, every task decreases: true
}
