package conflict_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// Probe a (here untrained) model: per-bin gradient Gram, cosines,
// statistics and Pareto weights from one forward and backward pass.
func ExampleProbe() {
	net, _ := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 2}, 1)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.V)
	toy, _ := data.NewToy("8gaussians")
	bins := weighting.MustEqualT(1000, 4)
	p, err := conflict.NewProbe(obj, toy, conflict.ProbeConfig{
		Bins: bins, PerBin: 16, Params: "last-block",
		Solve: conflict.SolveConfig{Methods: []string{"fw", "ugd"}, Lambda: 1e-3},
	})
	if err != nil {
		panic(err)
	}
	rec, err := p.Measure(0)
	if err != nil {
		panic(err)
	}
	fmt.Println("bins:", bins.Labels())
	fmt.Println("Gram:", rec.Gram.SymmetricDim(), "×", rec.Gram.SymmetricDim(), "parameters:", p.Info().Selected)
	for _, s := range rec.Solutions {
		sum := 0.0
		for _, w := range s.W {
			sum += w
		}
		fmt.Printf("%s: %d weights summing to %.3f (%s)\n", s.Method, len(s.W), sum, s.Status)
	}
	// Output:
	// bins: [0-249 250-499 500-749 750-999]
	// Gram: 4 × 4 parameters: 4256
	// fw: 4 weights summing to 1.000 (converged)
	// ugd: 4 weights summing to 1.000 (converged)
}

// Min-SNR-5 as weights on four equal timestep bins' x0 losses, normalised
// to sum to 1 as the Pareto weights are.
func ExampleBinWeights() {
	bins := weighting.MustEqualT(1000, 4)
	w := conflict.BinWeights(weighting.MinSNR{Gamma: 5}, nil, diffusion.Cosine(1000), bins)
	fmt.Printf("%.3f\n", w)
	// Output:
	// [0.624 0.310 0.060 0.007]
}

// The online Pareto weighting spec of paretodiff train --weighting: a
// family of the weighting registry, so weighting.Parse reads it wherever
// this package is linked in.
func ExampleParseOnline() {
	w, err := weighting.Parse("pareto:ugd,lambda=0.1,every=4")
	if err != nil {
		panic(err)
	}
	c := w.(conflict.OnlineConfig)
	fmt.Println(c.Bins.K, c.Method, c.Lambda, c.Every, c.DefaultDensity())
	fmt.Println(c)
	// Output:
	// 8 ugd 0.1 4 stratified:8
	// pareto:ugd,lambda=0.1,bins=t:8,every=4,norm=none,tol=0.0001
}
