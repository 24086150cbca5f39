package sampler

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/diffusion"
)

// Printed by testdata/grids_ref.py (numpy, diffusers' formulas); its output
// is in testdata/grids_ref.out.
func TestTimestepsMatchReference(t *testing.T) {
	cases := []struct {
		T, n            int
		trailing, linsp []int
	}{
		{1000, 10, []int{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}, []int{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}},
		{1000, 3, []int{999, 666, 332}, []int{999, 500, 0}},
		{1000, 7, []int{999, 856, 713, 570, 428, 285, 142}, []int{999, 832, 666, 500, 333, 166, 0}},
		{37, 5, []int{36, 29, 21, 14, 6}, []int{36, 27, 18, 9, 0}},
		{10, 10, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
	}
	for _, c := range cases {
		got, err := Timesteps(c.T, c.n, Trailing)
		require.NoError(t, err)
		require.Equal(t, c.trailing, got, "trailing T=%d n=%d", c.T, c.n)
		got, err = Timesteps(c.T, c.n, Linspace)
		require.NoError(t, err)
		require.Equal(t, c.linsp, got, "linspace T=%d n=%d", c.T, c.n)
	}
}

func TestTimestepsProperties(t *testing.T) {
	for _, T := range []int{2, 37, 1000} {
		for _, sp := range []Spacing{Trailing, Linspace} {
			for n := 1; n <= T; n++ {
				ts, err := Timesteps(T, n, sp)
				require.NoError(t, err)
				require.Len(t, ts, n)
				require.Equal(t, T-1, ts[0], "%v T=%d n=%d starts at the noisiest step", sp, T, n)
				require.True(t, strictlyDescending(ts) && ts[n-1] >= 0, "%v T=%d n=%d: %v", sp, T, n, ts)
				if sp == Linspace && n > 1 {
					require.Equal(t, 0, ts[n-1])
				}
			}
		}
	}
	for _, n := range []int{0, -1, 1001} {
		_, err := Timesteps(1000, n, Trailing)
		require.Error(t, err)
	}
	_, err := Timesteps(1000, 10, Spacing(7))
	require.Error(t, err)
}

func TestParseSpacing(t *testing.T) {
	for _, sp := range []Spacing{Trailing, Linspace} {
		got, err := ParseSpacing(sp.String())
		require.NoError(t, err)
		require.Equal(t, sp, got)
	}
	_, err := ParseSpacing("leading")
	require.Error(t, err)
}

// Printed by testdata/grids_ref.py.
func TestKarrasTimestepsMatchReference(t *testing.T) {
	cases := []struct {
		zeroTerminal bool
		n            int
		sigmaMax     float64
		want         []int
	}{
		{false, 18, 80, []int{999, 991, 988, 983, 976, 965, 949, 921, 876, 802, 681, 507, 315, 164, 73, 27, 6, 0}},
		{false, 10, math.Inf(1), []int{999, 998, 995, 983, 895, 259, 0}},
		{true, 18, 80, []int{999, 991, 988, 983, 976, 965, 949, 921, 876, 802, 681, 507, 315, 164, 73, 27, 6, 0}},
		{true, 6, math.Inf(1), []int{999, 998, 994, 963, 488, 0}},
		{false, 2, 80, []int{999, 0}},
		{true, 3, 80, []int{999, 991, 0}},
	}
	for _, c := range cases {
		s, err := diffusion.NewSchedule("cosine", 1000, c.zeroTerminal)
		require.NoError(t, err)
		got, err := KarrasTimesteps(s, c.n, DefaultRho, c.sigmaMax)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "zero-terminal=%v n=%d σ_max=%g", c.zeroTerminal, c.n, c.sigmaMax)
	}
}

func TestKarrasTimestepsProperties(t *testing.T) {
	for _, name := range diffusion.ScheduleNames {
		for _, zt := range []bool{false, true} {
			s, err := diffusion.NewSchedule(name, 200, zt)
			require.NoError(t, err)
			for _, smax := range []float64{0, 5, math.Inf(1)} {
				for n := 1; n <= 200; n++ {
					ts, err := KarrasTimesteps(s, n, 0, smax)
					require.NoError(t, err)
					require.Equal(t, 199, ts[0], "%s n=%d starts at T−1", s, n)
					require.LessOrEqual(t, len(ts), n)
					require.True(t, strictlyDescending(ts), "%s n=%d: %v", s, n, ts)
					if n >= 2 {
						require.Equal(t, 0, ts[len(ts)-1], "%s n=%d ends at 0", s, n)
					}
				}
			}
		}
	}
	s := diffusion.Cosine(100)
	for _, n := range []int{0, 101} {
		_, err := KarrasTimesteps(s, n, 7, 80)
		require.Error(t, err)
	}
	_, err := KarrasTimesteps(s, 10, math.NaN(), 80)
	require.Error(t, err)
}

func TestEDMSigma(t *testing.T) {
	s := diffusion.Cosine(1000)
	for _, tt := range []int{0, 500, 999} {
		require.InDelta(t, 1/math.Sqrt(s.SNR(tt)), EDMSigma(s, tt), 1e-12*EDMSigma(s, tt))
	}
	require.True(t, math.IsInf(EDMSigma(s.ZeroTerminal(), 999), 1))
}

func strictlyDescending(ts []int) bool {
	for i := 1; i < len(ts); i++ {
		if ts[i] >= ts[i-1] {
			return false
		}
	}
	return true
}
