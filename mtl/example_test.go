package mtl_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/mat"
)

// Every aggregator on three conflicting tasks, with its Eq. 8 check
// min_k ⟨d, g_k⟩ and the Eq. 11 objective of its normalised weights.
func Example() {
	grads := mat.NewDense(3, 2, []float64{ // one task gradient per row
		1, 0,
		-1, 2,
		0, 1,
	})
	p, err := pareto.NewFromGrads(grads, pareto.Config{})
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"mean", "pcgrad", "cagrad", "imtl-g", "nash-mtl", "aligned-mtl", "upgrad", "dualproj", "exact"} {
		a, err := mtl.New(name, mtl.Config{}) // zero Config: the defaults (cagrad's c = 0.5, seed 0)
		if err != nil {
			panic(err)
		}
		r, err := a.Aggregate(p)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-11s w=%.3f min(Gw)/‖d‖²=%6.3f f=%.4f\n", name, r.Normalized, r.ConflictRatio(), r.Objective)
	}
	// Output:
	// mean        w=[0.333 0.333 0.333] min(Gw)/‖d‖²= 0.000 f=1.0000
	// pcgrad      w=[0.476 0.286 0.238] min(Gw)/‖d‖²= 0.066 f=0.6916
	// cagrad      w=[0.556 0.222 0.222] min(Gw)/‖d‖²= 0.400 f=0.5556
	// imtl-g      w=[0.513 0.153 0.333] min(Gw)/‖d‖²= 0.667 f=0.5392
	// nash-mtl    w=[0.532 0.189 0.279] min(Gw)/‖d‖²= 0.268 f=0.5489
	// aligned-mtl w=[0.488 0.178 0.333] min(Gw)/‖d‖²= 0.710 f=0.5721
	// upgrad      w=[0.476 0.286 0.238] min(Gw)/‖d‖²= 0.197 f=0.6916
	// dualproj    w=[0.333 0.333 0.333] min(Gw)/‖d‖²= 0.000 f=1.0000
	// exact       w=[0.750 0.250 0.000] min(Gw)/‖d‖²= 1.000 f=0.5000
}

// Any weighting — here a closed form — gets the same certificate.
func ExampleEvaluate() {
	p, err := pareto.NewFromGram(mat.NewSymDense(2, []float64{1, -0.5, -0.5, 4}), pareto.Config{})
	if err != nil {
		panic(err)
	}
	r, err := mtl.Evaluate(p, "closed-form", []float64{3, 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("Gw=%.2f ‖d‖=%.3f on simplex: %v f=%.4f gap=%.4f\n", r.Inner, r.Norm, r.OnSimplex, r.Objective, r.Gap)
	// Output:
	// Gw=[2.50 2.50] ‖d‖=3.162 on simplex: true f=0.6250 gap=0.0000
}
