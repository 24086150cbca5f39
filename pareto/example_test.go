package pareto_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/mat"
)

// Evaluating closed-form weightings on a problem, as in the paper's Fig. 4:
// the objective of Eq. 11, the duality gap (how far above the optimum it
// is at most) and the Eq. 8 check of δ = −Σ w_t g_t.
func ExampleProblem_Evaluate() {
	// Three tasks in ℝ², one gradient per row; the first two conflict.
	grads := mat.NewDense(3, 2, []float64{
		1, 0,
		-1, 2,
		0, 1,
	})
	p, err := pareto.NewFromGrads(grads, pareto.Config{Lambda: 0.1})
	if err != nil {
		panic(err)
	}
	for _, w := range [][]float64{{1, 1, 1}, {3, 1, 0}, {1, 0, 0}} {
		ev, err := p.Evaluate(w) // normalised to the simplex
		if err != nil {
			panic(err)
		}
		fmt.Printf("w=%.3f f=%.4f gap=%.4f worst⟨δ,g_t⟩=%+.4f decreases every task: %v\n",
			ev.W, ev.Objective, ev.Gap, ev.Descent.Worst, ev.Descent.DecreasesAll)
	}
	// Output:
	// w=[0.333 0.333 0.333] f=1.0333 gap=2.0000 worst⟨δ,g_t⟩=+0.0000 decreases every task: false
	// w=[0.750 0.250 0.000] f=0.5625 gap=0.1250 worst⟨δ,g_t⟩=-0.5000 decreases every task: true
	// w=[1.000 0.000 0.000] f=1.1000 gap=4.2000 worst⟨δ,g_t⟩=+1.0000 decreases every task: false
}
