package reproduce

import (
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/stretchr/testify/require"
)

// GramNoise averages the draws' signal fractions bin by bin and their
// projection shifts; the median and minimum are over the bins.
func TestGramNoise(t *testing.T) {
	recs := []conflict.Record{
		{Signal: []float64{0.9, 0.1, 0.5, math.NaN()}, Projection: &gram.Projection{Shift: 0.02}},
		{Signal: []float64{0.7, -0.1, 0.3, math.NaN()}, Projection: &gram.Projection{Shift: 0.04}},
	}
	n := noiseOf(recs)
	const tol = 1e-15
	require.InDeltaSlice(t, []float64{0.8, 0, 0.4}, n.Signal[:3], tol)
	require.True(t, math.IsNaN(n.Signal[3]), "an empty bin stays NaN")
	require.InDelta(t, 0.03, n.Shift, tol)
	require.InDelta(t, 0.4, n.Median(), tol, "median of 0.8, 0, 0.4 (the NaN bin left out)")
	require.InDelta(t, 0, n.Min(), tol)
	plain := noiseOf([]conflict.Record{{}})
	require.Nil(t, plain.Signal, "the plain estimator records no signal fractions")
	require.True(t, math.IsNaN(plain.Median()))
}
