package gram

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestCosine(t *testing.T) {
	// Three gradients: g0 and g1 orthogonal, g2 = −g0, plus a zero gradient.
	rows := [][]float32{{1, 0, 0}, {0, 2, 0}, {-3, 0, 0}, {0, 0, 0}}
	g := FromRows(rows)
	require.Equal(t, 9.0, g.At(2, 2))
	require.Equal(t, -3.0, g.At(0, 2))
	c := Cosine(g)
	require.Equal(t, 1.0, c.At(0, 0))
	require.Equal(t, 0.0, c.At(0, 1))
	require.Equal(t, -1.0, c.At(0, 2))
	require.True(t, math.IsNaN(c.At(0, 3)))
	require.True(t, math.IsNaN(c.At(3, 3)))
}

func TestFromRowsMatchesGonum(t *testing.T) {
	rows := [][]float64{{1, 2, 3}, {-1, 0.5, 2}, {4, 4, -1}}
	a := mat.NewDense(3, 3, nil)
	for i, r := range rows {
		a.SetRow(i, r)
	}
	var want mat.Dense
	want.Mul(a, a.T())
	g := FromRows(rows)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			require.InDelta(t, want.At(i, j), g.At(i, j), 1e-12)
		}
	}
	require.Panics(t, func() { FromRows([][]float64{{1, 2}, {1}}) })
}
