package mtl

import (
	"math"

	"github.com/paretodiff/paretodiff/pareto"
)

// alignedMTL is Aligned-MTL (Senushkin, Patakin, Kuznetsov & Konushin
// 2023, "Independent Component Alignment for Multi-Task Learning", CVPR,
// Alg. 1): the gradient matrix J (rows g_k) with SVD J = VΣUᵀ is replaced
// by the aligned Ĵ = σ_min·VUᵀ, whose singular values are all σ_min — a
// system of condition number one, so no task's component dominates — and
// the update is d = Ĵᵀω with the task preferences ω (uniform, 1/K, as
// TorchJD's default). In Gram form G = JJᵀ = VΛVᵀ, Ĵ = BJ with the
// balance transformation
//
//	B = √λ_min · V Λ^{−1/2} Vᵀ   (over the range of G),
//
// so BGB = λ_min·P (P the projector on the range of G) and the weights are
// w = Bω. Eigenvalues at most Config.RankTol·λ_max count as 0 and
// λ_min is the smallest one kept (the paper's rank-R case). w is invariant
// to scaling G; it may have negative entries. A zero Gram gives w = 0
// (Status "degenerate"). No hyper-parameters beyond RankTol.
type alignedMTL struct{ c Config }

func (alignedMTL) Name() string { return "aligned-mtl" }

// Aggregate applies the balance transformation to the uniform preferences.
func (a alignedMTL) Aggregate(p *pareto.Problem) (Result, error) {
	s, err := rangeSpectrum(p, a.c.RankTol)
	if err != nil {
		return Result{}, err
	}
	if len(s.values) == 0 {
		return finish(p, "aligned-mtl", make([]float64, p.K()), 0, "degenerate")
	}
	w := s.apply(alignedScale(s), uniform(p.K()))
	return finish(p, "aligned-mtl", w, 0, "closed-form")
}

// alignedScale is B's function of the eigenvalues, √(λ_min/λ).
func alignedScale(s spectrum) func(float64) float64 {
	lmin := s.values[0]
	return func(l float64) float64 { return math.Sqrt(lmin / l) }
}
