package mtl

import (
	"math"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/floats"
)

// imtlG is IMTL-G, the gradient half of impartial multi-task learning (Liu,
// Li, Kuang, Xue, Chen, Yang, Liao & Zhang 2021, "Towards Impartial
// Multi-task Learning", ICLR, §3.2 and Alg. 1): the combined direction has
// equal projections on every unit task gradient u_k = g_k/‖g_k‖,
//
//	⟨d, u_1⟩ = ⟨d, u_k⟩ for all k,   d = Σ_k α_k g_k,   Σ_k α_k = 1,
//
// solved in the paper as α_{2:K} = g_1 Uᵀ(D Uᵀ)⁻¹ with rows u_1 − u_k of U
// and g_1 − g_k of D. In Gram form the conditions read (Gα)_k = t·‖g_k‖ for
// one t, so α = t·G⁺n with n_k = √G_kk, normalised to Σα = 1:
//
//	α = G⁺n / (1ᵀG⁺n).
//
// G⁺ is the pseudo-inverse on the eigenvalues above Config.RankTol·λ_max:
// duplicated tasks are solved exactly on the range of G (where n then
// lies); for other rank-deficient G the K conditions can be inconsistent
// (g_3 = g_1 + g_2 forces n_3 = n_1 + n_2) and α is their least-squares
// solution. A zero-gradient task has n_k = 0 and gets its
// projection 0·t. If 1ᵀG⁺n ≤ 0 (no gradient, or n outside the range) the
// weights are 0 and Status says "degenerate". The weights may be negative;
// the method is invariant to scaling G and to rescaling any one task's
// gradient up to that task's weight. No hyper-parameters beyond RankTol.
type imtlG struct{ c Config }

func (imtlG) Name() string { return "imtl-g" }

// Aggregate solves for the equal-projection weights.
func (a imtlG) Aggregate(p *pareto.Problem) (Result, error) {
	s, err := rangeSpectrum(p, a.c.RankTol)
	if err != nil {
		return Result{}, err
	}
	k := p.K()
	n := make([]float64, k)
	for i := range k {
		n[i] = math.Sqrt(p.At(i, i))
	}
	alpha := s.apply(func(l float64) float64 { return 1 / l }, n)
	sum := floats.Sum(alpha)
	if !(sum > 0) {
		return finish(p, "imtl-g", make([]float64, k), 0, "degenerate")
	}
	floats.Scale(1/sum, alpha)
	return finish(p, "imtl-g", alpha, 0, "closed-form")
}
