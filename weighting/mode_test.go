package weighting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// modeBruteCells is the number of midpoint cells of u ∈ (0, 1) the brute
// force pushes through f; each bin edge is then found to within one cell,
// whose mass is 1/modeBruteCells, so PMF and brute force differ by at most
// 2/modeBruteCells per timestep. (At s = MaxModeScale, f'(½) = 0 and the
// inverse is ill-conditioned there, so the brute force stops at s = 1.7;
// TestModeEdgeScale covers the bound.)
const modeBruteCells = 1_000_000

// Mode's PMF (by bisection of f) against a brute force that maps a fine
// grid of u through f and counts the indices, and its draws against the
// PMF.
func TestModePMFBruteForce(t *testing.T) {
	for _, s := range []float64{-1, -0.5, 0.8, DefaultModeScale, 1.7} {
		const T = 50
		d := Mode{Steps: T, Scale: s}
		brute := make([]float64, T)
		for i := range modeBruteCells {
			u := (float64(i) + 0.5) / modeBruteCells
			c := math.Cos(math.Pi * u / 2)
			x := 1 - u - s*(c*c-1+u) // SD3 Eq. 20, written out
			brute[max(0, min(int(x*T), T-1))] += 1.0 / modeBruteCells
		}
		pmf := d.PMF()
		sum := 0.0
		for tt, p := range pmf {
			require.InDelta(t, brute[tt], p, 2.0/modeBruteCells, "s=%g t=%d", s, tt)
			require.GreaterOrEqual(t, p, 0.0)
			sum += p
		}
		require.InDelta(t, 1, sum, 1e-12, "s=%g", s)
		checkAgainstPMF(t, Mode{Steps: 1000, Scale: s}, 700)
	}
}

// At the largest scale the PMF is still a distribution and the draws follow it.
func TestModeEdgeScale(t *testing.T) {
	d := Mode{Steps: 1000, Scale: MaxModeScale}
	sum := 0.0
	for _, p := range d.PMF() {
		require.GreaterOrEqual(t, p, 0.0)
		sum += p
	}
	require.InDelta(t, 1, sum, 1e-12)
	checkAgainstPMF(t, d, 701)
}

// At s = 0 the mode map is 1 − u: the uniform density.
func TestModeZeroIsUniform(t *testing.T) {
	for _, p := range (Mode{Steps: 40, Scale: 0}).PMF() {
		require.InDelta(t, 1.0/40, p, 1e-14)
	}
}

// s > 0 puts more mass in the middle than at the ends (SD3's reason for it),
// s < 0 less.
func TestModeShape(t *testing.T) {
	mid := func(s float64) float64 { p := (Mode{Steps: 100, Scale: s}).PMF(); return p[50] / p[2] }
	require.Greater(t, mid(DefaultModeScale), 1.5)
	require.Less(t, mid(-0.8), 1.0)
}

func TestParseMode(t *testing.T) {
	for spec, want := range map[string]string{"mode": "mode:1.29", "mode:0.5": "mode:0.5", "mode:-1": "mode:-1"} {
		d, err := ParseDensity(spec, 100, nil)
		require.NoError(t, err, spec)
		require.Equal(t, want, d.String())
		back, err := ParseDensity(d.String(), 100, nil)
		require.NoError(t, err)
		require.Equal(t, d, back)
	}
	for spec, msg := range map[string]string{
		"mode:2":     "monotone",
		"mode:-1.01": "monotone",
		"mode:1,2":   "at most one parameter",
		"mode:x":     "not a finite number",
	} {
		_, err := ParseDensity(spec, 100, nil)
		require.ErrorContains(t, err, msg, spec)
	}
}
