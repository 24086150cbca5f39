package conflict

import (
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/weighting"
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

// TestOnlineDegenerateSolveKeepsTheLastWeights: IMTL-G's equal-projection
// direction normalised to Σα = 1 raises every loss when 1ᵀG⁻¹n < 0, and
// the aggregator then returns zero weights ("degenerate"); the online step
// must keep the last weights (or the mean before any) instead of stopping.
func TestOnlineDegenerateSolveKeepsTheLastWeights(t *testing.T) {
	// Rows g1 = (−3, −1, 2), g2 = (−1, 0, 0), g3 = (−3, 0, −1): full rank,
	// and 1ᵀG⁻¹n = −5.72 with n_k = ‖g_k‖ (checked with numpy).
	g := []float64{14, 3, 7, 3, 1, 3, 7, 3, 10}
	cfg, err := ParseOnline("mtl:imtl-g,bins=3")
	require.NoError(t, err)
	o, err := NewOnline(cfg)
	require.NoError(t, err)
	o.bins = weighting.MustEqualT(9, 3)
	res := gram.Result{K: 3, Gram: g, BinLoss: []float64{1, 1, 1}}
	counts := []int{2, 2, 2}

	require.NoError(t, o.solveFrom(1, res, counts))
	require.Equal(t, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, o.Weights(), "no last weights: the mean")
	sol, solves := o.Last()
	require.Equal(t, "degenerate; kept the last weights", sol.Status)
	require.Equal(t, 1, solves)

	last := []float64{0.5, 0.3, 0.2}
	o.w = append([]float64(nil), last...)
	require.NoError(t, o.solveFrom(2, res, counts))
	require.Equal(t, last, o.Weights())

	// A Gram where IMTL-G is well defined (orthogonal gradients of norms 1,
	// 2, 4: α ∝ 1/‖g_k‖) replaces them.
	res.Gram = []float64{1, 0, 0, 0, 4, 0, 0, 0, 16}
	require.NoError(t, o.solveFrom(3, res, counts))
	require.InDeltaSlice(t, []float64{4.0 / 7, 2.0 / 7, 1.0 / 7}, o.Weights(), 1e-12)
}
