package pareto

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// ConflictingGrads returns K random task gradients in ℝ^P (a K×P matrix,
// one task per row) that conflict the way per-timestep gradients do:
//
//	g_t = s_t·(μ·u + z_t),  z_t ~ N(0, I/P),  ln s_t ~ N(0, 1),  μ = 0.5,
//
// with u = e_0 a direction shared by all tasks. Pairs of tasks have cosine
// about μ²/(1+μ²) = 0.2 ± 1/√P, so for small P many pairs conflict (negative
// cosine) while Σ_t w_t g_t stays away from 0, and the norms spread over
// about two orders of magnitude, which makes the normalisers matter. The
// draws come from rand.NewPCG(seed, 0x5eed), so a seed fixes the matrix.
func ConflictingGrads(k, p int, seed uint64) *mat.Dense {
	if k < 1 || p < 1 {
		panic("pareto: ConflictingGrads needs K ≥ 1 and P ≥ 1")
	}
	const mu = 0.5
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	a := mat.NewDense(k, p, nil) // a is (K, P)
	sd := 1 / math.Sqrt(float64(p))
	for t := range k {
		s := math.Exp(rng.NormFloat64())
		row := a.RawRowView(t)
		for j := range row {
			row[j] = s * sd * rng.NormFloat64()
		}
		row[0] += s * mu
	}
	return a
}
