package conflict

import (
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestBins(t *testing.T) {
	b, err := EqualT(1000, 4)
	require.NoError(t, err)
	require.Equal(t, []int{0, 250, 500, 750, 1000}, b.Edges)
	require.Equal(t, 4, b.K())
	require.Equal(t, 0, b.Of(0))
	require.Equal(t, 0, b.Of(249))
	require.Equal(t, 1, b.Of(250))
	require.Equal(t, 3, b.Of(999))
	require.Equal(t, []string{"0-249", "250-499", "500-749", "750-999"}, b.Labels())
	require.Equal(t, 124.5, b.Centers()[0])

	s := diffusion.Cosine(1000)
	for _, zt := range []bool{false, true} {
		sched := s
		if zt {
			sched = s.ZeroTerminal()
		}
		lb, err := EqualLogSNR(sched, 8)
		require.NoError(t, err)
		require.Equal(t, 8, lb.K())
		require.Equal(t, 1000, lb.T())
		// Every interior edge is where log-SNR first drops below its cut.
		hi, lo := sched.LogSNR(0), sched.LogSNR(999)
		if zt {
			lo = sched.LogSNR(998)
		}
		for k := 1; k < 8; k++ {
			cut := hi - (hi-lo)*float64(k)/8
			e := lb.Edges[k]
			require.Less(t, sched.LogSNR(e), cut)
			require.GreaterOrEqual(t, sched.LogSNR(e-1), cut)
		}
	}
	_, err = EqualLogSNR(diffusion.Cosine(10), 10)
	require.ErrorContains(t, err, "empty")

	for spec, want := range map[string][]int{"t:2": {0, 500, 1000}, "edges:0,100,1000": {0, 100, 1000}} {
		b, err := ParseBins(spec, s)
		require.NoError(t, err)
		require.Equal(t, want, b.Edges)
	}
	for spec, msg := range map[string]string{
		"t:x":                "not a bin count",
		"t:0":                "1 ≤ K ≤ T",
		"edges:0,50,50,1000": "increase strictly",
		"edges:10,1000":      "start at 0",
		"edges:0,a,1000":     "not an integer",
		"sqrt:3":             "unknown bins",
	} {
		_, err := ParseBins(spec, s)
		require.ErrorContains(t, err, msg, spec)
	}
}

func TestCosineAndStats(t *testing.T) {
	// Three gradients: g0 and g1 orthogonal, g2 = −g0, plus a zero gradient.
	rows := [][]float32{{1, 0, 0}, {0, 2, 0}, {-3, 0, 0}, {0, 0, 0}}
	g := GramOf(rows)
	require.Equal(t, 9.0, g.At(2, 2))
	require.Equal(t, -3.0, g.At(0, 2))
	c := Cosine(g)
	require.Equal(t, 1.0, c.At(0, 0))
	require.Equal(t, 0.0, c.At(0, 1))
	require.Equal(t, -1.0, c.At(0, 2))
	require.True(t, math.IsNaN(c.At(0, 3)))
	require.True(t, math.IsNaN(c.At(3, 3)))

	st := Summarize(g)
	require.Equal(t, []float64{1, 2, 3, 0}, st.Norms)
	// Defined pairs: (0,1)=0, (0,2)=−1, (1,2)=0.
	require.InDelta(t, 1.0/3, st.NegativeFraction, 1e-15)
	require.InDelta(t, -1.0/3, st.MeanCosine, 1e-15)
	require.Equal(t, -1.0, st.MinCosine)
	require.Equal(t, []float64{1, 0, -1, math.NaN()}[:3], st.CosineByDistance[:3])
	require.True(t, math.IsNaN(st.CosineByDistance[3]))
}

func TestGramOfMatchesGonum(t *testing.T) {
	rows := [][]float64{{1, 2, 3}, {-1, 0.5, 2}, {4, 4, -1}}
	a := mat.NewDense(3, 3, nil)
	for i, r := range rows {
		a.SetRow(i, r)
	}
	var want mat.Dense
	want.Mul(a, a.T())
	g := GramOf(rows)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			require.InDelta(t, want.At(i, j), g.At(i, j), 1e-12)
		}
	}
	require.Panics(t, func() { GramOf([][]float64{{1, 2}, {1}}) })
}
