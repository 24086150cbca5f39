package weighting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// weightRelTol: the reference formulas below are the same float64 arithmetic
// written out by hand, so only the order of rounding may differ.
const weightRelTol = 1e-14

// snrPoints covers very low, crossing-γ and very high SNR.
var snrPoints = []float64{1e-9, 0.01, 0.5, 1, 4.999, 5, 5.001, 20, 1e4, 1e9}

// hand gives each strategy's weight for each target as written in the package doc's formulas,
// without going through Weight or X0Weight.
var hand = []struct {
	spec          string
	eps, x0, v    func(snr float64) float64
	canonicalSpec string
}{
	{"constant", func(s float64) float64 { return 1 / s }, func(s float64) float64 { return 1 }, func(s float64) float64 { return 1 / (s + 1) }, "constant"},
	{"snr", func(s float64) float64 { return 1 }, func(s float64) float64 { return s }, func(s float64) float64 { return s / (s + 1) }, "snr"},
	{"max-snr:1", func(s float64) float64 { return math.Max(s, 1) / s }, func(s float64) float64 { return math.Max(s, 1) }, func(s float64) float64 { return math.Max(s, 1) / (s + 1) }, "max-snr:1"},
	{"truncated-snr", func(s float64) float64 { return math.Max(s, 1) / s }, func(s float64) float64 { return math.Max(s, 1) }, func(s float64) float64 { return math.Max(s, 1) / (s + 1) }, "max-snr:1"},
	{"min-snr:5", func(s float64) float64 { return math.Min(s, 5) / s }, func(s float64) float64 { return math.Min(s, 5) }, func(s float64) float64 { return math.Min(s, 5) / (s + 1) }, "min-snr:5"},
	{"min-snr", func(s float64) float64 { return math.Min(s, 5) / s }, func(s float64) float64 { return math.Min(s, 5) }, func(s float64) float64 { return math.Min(s, 5) / (s + 1) }, "min-snr:5"},
	{"min-snr:20", func(s float64) float64 { return math.Min(s, 20) / s }, func(s float64) float64 { return math.Min(s, 20) }, func(s float64) float64 { return math.Min(s, 20) / (s + 1) }, "min-snr:20"},
	{"soft-min-snr:5", func(s float64) float64 { return 5 / (s + 5) }, func(s float64) float64 { return 5 * s / (s + 5) }, func(s float64) float64 { return 5 * s / ((s + 5) * (s + 1)) }, "soft-min-snr:5"},
	{"inv-snr", func(s float64) float64 { return 1 / (s * s) }, func(s float64) float64 { return 1 / s }, func(s float64) float64 { return 1 / (s * (s + 1)) }, "inv-snr"},
	{"p2:1,1", func(s float64) float64 { return 1 / (1 + s) }, func(s float64) float64 { return s / (1 + s) }, func(s float64) float64 { return s / ((1 + s) * (s + 1)) }, "p2:1,1"},
	{"p2:1,0.5", func(s float64) float64 { return 1 / math.Sqrt(1+s) }, func(s float64) float64 { return s / math.Sqrt(1+s) }, func(s float64) float64 { return s / (math.Sqrt(1+s) * (s + 1)) }, "p2:1,0.5"},
	{"debiased", func(s float64) float64 { return 1 / math.Sqrt(s) }, func(s float64) float64 { return math.Sqrt(s) }, func(s float64) float64 { return math.Sqrt(s) / (s + 1) }, "debiased"},
	// EDM on the x0 loss: λ(σ) = (σ² + σ_d²)/(σ σ_d)² with σ² = 1/SNR.
	{"edm:0.5", func(s float64) float64 { sg := 1 / s; return (sg + 0.25) / (sg * 0.25) / s }, func(s float64) float64 { sg := 1 / s; return (sg + 0.25) / (sg * 0.25) }, func(s float64) float64 { sg := 1 / s; return (sg + 0.25) / (sg * 0.25) / (s + 1) }, "edm:0.5"},
}

func TestWeightsAgainstHandFormulas(t *testing.T) {
	for _, c := range hand {
		s, err := ParseStrategy(c.spec)
		require.NoError(t, err, c.spec)
		require.Equal(t, c.canonicalSpec, s.String())
		for _, snr := range snrPoints {
			for _, tc := range []struct {
				target Target
				want   float64
			}{{Eps, c.eps(snr)}, {X0, c.x0(snr)}, {V, c.v(snr)}} {
				got := Weight(s, tc.target, snr)
				require.InDelta(t, 0, (got-tc.want)/tc.want, weightRelTol, "%s target=%v snr=%g: got %g want %g", c.spec, tc.target, snr, got, tc.want)
			}
		}
	}
}

// The loss identities: ε weight·SNR = x0 weight = v weight·(SNR+1).
func TestLossIdentities(t *testing.T) {
	for _, c := range hand {
		s := MustParse(c.spec)
		for _, snr := range snrPoints {
			x0 := Weight(s, X0, snr)
			require.InDelta(t, 0, (Weight(s, Eps, snr)*snr-x0)/x0, 1e-13, c.spec)
			require.InDelta(t, 0, (Weight(s, V, snr)*(snr+1)-x0)/x0, 1e-13, c.spec)
		}
	}
}

func TestZeroSNRGivesOne(t *testing.T) {
	for _, c := range hand {
		s := MustParse(c.spec)
		for _, target := range Targets {
			require.Equal(t, 1.0, Weight(s, target, 0), "%s %v", c.spec, target)
		}
	}
}

// The known trap: v-prediction min-SNR differs from the two wrong versions.
func TestMinSNRVPredictionTrap(t *testing.T) {
	s := MinSNR{Gamma: 5}
	snr := 0.5
	right := math.Min(snr, 5) / (snr + 1)
	require.Equal(t, right, Weight(s, V, snr))
	require.NotEqual(t, math.Min(snr, 5)/snr, Weight(s, V, snr))
	require.NotEqual(t, math.Min(snr+1, 5)/(snr+1), Weight(s, V, snr))
}

func TestWeightsSlice(t *testing.T) {
	snr := []float64{0, 0.5, 10}
	got := Weights(nil, MinSNR{Gamma: 5}, Eps, snr)
	require.Equal(t, []float64{1, 1, 0.5}, got)
	require.Panics(t, func() { Weights(make([]float64, 2), SNR{}, Eps, snr) })
}

func TestParseErrors(t *testing.T) {
	for spec, msg := range map[string]string{
		"minsnr":           `unknown weighting "minsnr"`,
		"min-snr:-1":       "γ must be positive",
		"min-snr:0":        "γ must be positive",
		"min-snr:NaN":      "not finite",
		"max-snr:+Inf":     "not finite",
		"min-snr:abc":      `"abc" is not a number`,
		"min-snr:1,2":      "at most 1 parameter",
		"snr:3":            "at most 0 parameter",
		"p2:1":             "two parameters",
		"p2:-1,1":          "k must be ≥ 0",
		"p2:1,-0.5":        "p must be ≥ 0",
		"edm:0":            "σ_d must be positive",
		"edm:-0.5":         "σ_d must be positive",
		"soft-min-snr:inf": "not finite",
	} {
		_, err := Parse(spec)
		require.ErrorContains(t, err, msg, spec)
	}
	require.Panics(t, func() { MustParse("bogus") })
}

func TestParseRoundTrip(t *testing.T) {
	for _, spec := range []string{"constant", "snr", "max-snr:2.5", "min-snr:5", "soft-min-snr:1", "inv-snr", "p2:0,2", "debiased", "edm:1"} {
		s := MustParse(spec)
		require.Equal(t, spec, s.String())
		require.Equal(t, s, MustParse(s.String()))
	}
}

func TestParseTarget(t *testing.T) {
	for _, target := range Targets {
		got, err := ParseTarget(target.String())
		require.NoError(t, err)
		require.Equal(t, target, got)
	}
	_, err := ParseTarget("score")
	require.ErrorContains(t, err, `unknown target "score"`)
}
