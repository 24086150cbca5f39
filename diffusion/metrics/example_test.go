package metrics_test

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/paretodiff/paretodiff/diffusion/metrics"
)

// The Fréchet distance between two Gaussians given by their statistics, as
// for cached reference statistics of a feature set.
func ExampleFrechetStats() {
	a := metrics.Stats{Mean: []float64{0, 0}, Cov: mat.NewSymDense(2, []float64{1, 0, 0, 1})}
	b := metrics.Stats{Mean: []float64{3, 4}, Cov: mat.NewSymDense(2, []float64{4, 0, 0, 4})}
	fd, err := metrics.FrechetStats(a, b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("FD = %.6f (‖Δμ‖² = 25 plus 2·(√4 − √1)² = 2)\n", fd)
	// Output:
	// FD = 27.000000 (‖Δμ‖² = 25 plus 2·(√4 − √1)² = 2)
}

// A set against a copy of itself shifted by 0.8: in one dimension SWD is
// the exact Wasserstein distance, here 0.8 for every order p.
func ExampleSlicedWasserstein() {
	x := []float32{0.1, -1.3, 2.2, 0.7, -0.4} // (N, D) = (5, 1)
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = v + 0.8
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []float64{1, 2} {
		d, err := metrics.SlicedWasserstein(x, y, 1, rng, &metrics.SWDSettings{P: p})
		if err != nil {
			panic(err)
		}
		fmt.Printf("SWD_%g = %.4f\n", p, d)
	}
	// Output:
	// SWD_1 = 0.8000
	// SWD_2 = 0.8000
}

// Class probabilities of four samples over three classes.
func ExampleLabelEntropy() {
	probs := []float64{
		0.9, 0.05, 0.05,
		0.05, 0.9, 0.05,
		0.05, 0.05, 0.9,
		0.9, 0.05, 0.05,
	}
	s, err := metrics.LabelEntropy(probs, 3)
	if err != nil {
		panic(err)
	}
	fmt.Printf("E H(p(y|x)) = %.3f nats, H(p(y)) = %.3f nats, IS = %.3f\n", s.MeanEntropy, s.MarginalEntropy, s.InceptionScore)
	// Output:
	// E H(p(y|x)) = 0.394 nats, H(p(y)) = 1.056 nats, IS = 1.938
}
