package gram

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

// FromRows returns G = A Aᵀ in float64 for K gradient rows of length P
// (rows[k] is bin k's gradient), accumulating in float64 whatever the
// input precision.
func FromRows[F float32 | float64](rows [][]F) *mat.SymDense {
	K := len(rows)
	g := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		if len(rows[i]) != len(rows[0]) {
			panic(fmt.Sprintf("gram: FromRows: row %d has %d values, row 0 has %d", i, len(rows[i]), len(rows[0])))
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
