package weighting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// cosineLogSNR is the log-SNR of the cosine schedule on T steps, computed
// here from its formula (ᾱ(s) = cos²(((s + 0.008)/1.008)·π/2), β clipped at
// 0.999): the bins need only a decreasing log-SNR.
func cosineLogSNR(T int) []float64 {
	f := func(s float64) float64 { c := math.Cos((s + 0.008) / 1.008 * math.Pi / 2); return c * c }
	out := make([]float64, T)
	abar := 1.0
	for t := 0; t < T; t++ {
		beta := math.Min(1-f(float64(t+1)/float64(T))/f(float64(t)/float64(T)), 0.999)
		abar *= 1 - beta
		out[t] = math.Log(abar / (1 - abar))
	}
	return out
}

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

	s := cosineLogSNR(1000)
	for _, zt := range []bool{false, true} {
		ls := s
		if zt {
			ls = append(append([]float64(nil), s[:999]...), math.Inf(-1))
		}
		lb, err := EqualLogSNR(ls, 8)
		require.NoError(t, err)
		require.Equal(t, 8, lb.K())
		require.Equal(t, 1000, lb.T())
		// Every interior edge is where log-SNR first drops below its cut.
		hi, lo := ls[0], ls[999]
		if zt {
			lo = ls[998]
		}
		for k := 1; k < 8; k++ {
			cut := hi - (hi-lo)*float64(k)/8
			e := lb.Edges[k]
			require.Less(t, ls[e], cut)
			require.GreaterOrEqual(t, ls[e-1], cut)
		}
	}
	// Too many bins for the grid: every bin still gets a timestep.
	one, err := EqualLogSNR(cosineLogSNR(10), 10)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, one.Edges)
	// Cosine at T = 1000 leaves bins empty in its tail from K = 9 on
	// (log-SNR −12.9 at t = 998, −19.8 at t = 999): each edge is then where
	// log-SNR first drops below its cut, or one past the previous edge (a
	// bin of one timestep), or, at the very end, one before the next.
	for _, K := range []int{9, 10, 20, 50} {
		b, err := EqualLogSNR(s, K)
		require.NoError(t, err, "K=%d", K)
		require.Equal(t, K, b.K())
		repaired := 0
		for k := 1; k < K; k++ {
			e := b.Edges[k]
			require.Greater(t, e, b.Edges[k-1], "K=%d: bin %d is not empty", K, k-1)
			cut := s[0] - (s[0]-s[999])*float64(k)/float64(K)
			first := 0
			for first < 1000 && s[first] >= cut {
				first++ // brute force: the first t below the cut
			}
			switch {
			case e == first:
			case e == b.Edges[k-1]+1 && first < e, e == b.Edges[k+1]-1 && first > e:
				repaired++
			default:
				t.Fatalf("K=%d: edge %d at %d, its cut's first timestep %d", K, k, e, first)
			}
		}
		require.Positive(t, repaired, "K=%d needs a repair on this grid", K)
	}

	for spec, want := range map[string][]int{"t:2": {0, 500, 1000}, "edges:0,100,1000": {0, 100, 1000}} {
		b, err := ParseBins(spec, s)
		require.NoError(t, err)
		require.Equal(t, want, b.Edges)
	}
	for spec, msg := range map[string]string{
		"t:x":                "not a bin count",
		"t:0":                "not a bin count ≥ 1",
		"t:1001":             "1 ≤ K ≤ T",
		"edges:0,50,50,1000": "increase strictly",
		"edges:10,1000":      "start at 0",
		"edges:0,a,1000":     "not an integer",
		"sqrt:3":             "unknown bins",
	} {
		_, err := ParseBins(spec, s)
		require.ErrorContains(t, err, msg, spec)
	}
}

func TestBinsSpecRoundTrip(t *testing.T) {
	for _, spec := range []string{"t:8", "logsnr:4", "edges:0,100,1000"} {
		s, err := ParseBinsSpec(spec)
		require.NoError(t, err)
		require.Equal(t, spec, s.String())
	}
	b := MustEqualT(1000, 3)
	back, err := ParseBins(b.String(), cosineLogSNR(1000))
	require.NoError(t, err)
	require.True(t, b.Equal(back))
	require.False(t, b.Equal(MustEqualT(1000, 4)))
	require.Panics(t, func() { MustEqualT(3, 4) })
}
