package conflict

import (
	"math"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"gonum.org/v1/gonum/mat"
)

// Stats summarises one Gram matrix of K per-bin gradients.
type Stats struct {
	// Norms are the per-bin gradient norms √G_kk.
	Norms []float64 `json:"norms"`
	// NegativeFraction is the fraction of off-diagonal pairs i < j whose
	// cosine is negative (conflicting bins), over pairs with a defined cosine.
	NegativeFraction float64 `json:"negative_fraction"`
	// MeanCosine is the mean off-diagonal cosine.
	MeanCosine float64 `json:"mean_cosine"`
	// MinCosine is the most negative off-diagonal cosine.
	MinCosine float64 `json:"min_cosine"`
	// CosineByDistance[d] is the mean cosine of pairs of bins d apart,
	// d = 1..K−1 (index 0 holds 1, the diagonal).
	CosineByDistance []float64 `json:"cosine_by_distance"`
}

// Summarize computes Stats from a Gram matrix.
func Summarize(g mat.Symmetric) Stats {
	K := g.SymmetricDim()
	c := gram.Cosine(g)
	st := Stats{Norms: make([]float64, K), CosineByDistance: make([]float64, K), MinCosine: math.NaN()}
	counts := make([]int, K)
	var pairs, neg int
	var sum float64
	for i := 0; i < K; i++ {
		st.Norms[i] = math.Sqrt(math.Max(0, g.At(i, i)))
		for j := i + 1; j < K; j++ {
			v := c.At(i, j)
			if math.IsNaN(v) {
				continue
			}
			pairs++
			sum += v
			if v < 0 {
				neg++
			}
			if math.IsNaN(st.MinCosine) || v < st.MinCosine {
				st.MinCosine = v
			}
			st.CosineByDistance[j-i] += v
			counts[j-i]++
		}
	}
	st.CosineByDistance[0] = 1
	for d := 1; d < K; d++ {
		st.CosineByDistance[d] = ratio(st.CosineByDistance[d], counts[d])
	}
	st.NegativeFraction = ratio(float64(neg), pairs)
	st.MeanCosine = ratio(sum, pairs)
	return st
}

func ratio(sum float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
