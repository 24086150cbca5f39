package conflict

import (
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/stretchr/testify/require"
)

func TestStats(t *testing.T) {
	// Three gradients: g0 and g1 orthogonal, g2 = −g0, plus a zero gradient.
	g := gram.FromRows([][]float32{{1, 0, 0}, {0, 2, 0}, {-3, 0, 0}, {0, 0, 0}})
	st := Summarize(g)
	require.Equal(t, []float64{1, 2, 3, 0}, st.Norms)
	// Defined pairs: (0,1)=0, (0,2)=−1, (1,2)=0.
	require.InDelta(t, 1.0/3, st.NegativeFraction, 1e-15)
	require.InDelta(t, -1.0/3, st.MeanCosine, 1e-15)
	require.Equal(t, -1.0, st.MinCosine)
	require.Equal(t, []float64{1, 0, -1, math.NaN()}[:3], st.CosineByDistance[:3])
	require.True(t, math.IsNaN(st.CosineByDistance[3]))
}
