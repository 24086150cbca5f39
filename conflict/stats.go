package conflict

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Cosine returns C_ij = G_ij/√(G_ii G_jj) for a Gram matrix G. C_ii is 1
// when G_ii > 0; entries involving a zero-norm gradient are NaN.
func Cosine(g mat.Symmetric) *mat.SymDense {
	K := g.SymmetricDim()
	c := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			d := math.Sqrt(g.At(i, i) * g.At(j, j))
			v := math.NaN()
			if d > 0 {
				v = g.At(i, j) / d
				v = math.Max(-1, math.Min(1, v)) // rounding can step just outside
			}
			if i == j && d > 0 {
				v = 1
			}
			c.SetSym(i, j, v)
		}
	}
	return c
}

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
	c := Cosine(g)
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

// GramOf returns G = A Aᵀ in float64 for K gradient rows of length P
// (rows[k] is bin k's gradient), accumulating in float64 whatever the
// input precision.
func GramOf[F float32 | float64](rows [][]F) *mat.SymDense {
	K := len(rows)
	g := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		if len(rows[i]) != len(rows[0]) {
			panic(fmt.Sprintf("conflict: GramOf: row %d has %d values, row 0 has %d", i, len(rows[i]), len(rows[0])))
		}
		for j := i; j < K; j++ {
			var s float64
			a, b := rows[i], rows[j]
			for p := range a {
				s += float64(a[p]) * float64(b[p])
			}
			g.SetSym(i, j, s)
		}
	}
	return g
}
