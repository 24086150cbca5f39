package weighting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// flowTimes are flow times t ∈ (0, 1) across the cap of min-SNR-5, which
// acts for t < 1/(1 + √5) ≈ 0.309.
var flowTimes = []float64{1e-4, 0.01, 0.1, 0.3, 0.309, 0.31, 0.5, 0.9, 0.999}

// flowRelTol: SNR = ((1 − t)/t)² and back through 1 + √SNR costs a few
// float64 roundings.
const flowRelTol = 1e-13

// The flow weight of every strategy is w_x0·t² in terms of the flow time,
// min-SNR-γ is min((1 − t)², γ·t²), and the three wrong conversions differ.
func TestFlowWeightIsX0WeightTimesTSquared(t *testing.T) {
	for _, tt := range flowTimes {
		snr := math.Pow((1-tt)/tt, 2)
		for _, c := range hand {
			s := MustParse(c.spec)
			want := c.x0(snr) * tt * tt
			require.InDelta(t, 0, (Weight(s, Flow, snr)-want)/want, flowRelTol, "%s t=%g", c.spec, tt)
		}
		got := Weight(MinSNR{Gamma: 5}, Flow, snr)
		want := math.Min((1-tt)*(1-tt), 5*tt*tt)
		require.InDelta(t, 0, (got-want)/want, flowRelTol, "min-snr:5 t=%g", tt)
		if tt < 0.05 || tt > 0.95 {
			continue // the ε form 5/SNR = 5t²/(1 − t)² → 5t² at low noise, the v form SNR/(SNR + 1) → (1 − t)² at high
		}
		for _, wrong := range []float64{math.Min(snr, 5) / snr, math.Min(snr, 5) / (snr + 1), math.Min(snr, 5)} {
			require.Greater(t, math.Abs(got-wrong)/want, 0.05, "t=%g", tt)
		}
	}
}

// LossScale of flow against a finite-difference-free check: with x0, ε and
// a prediction x̂0 at x_t = (1 − t)x0 + tε, the velocity error ‖u − û‖²
// (û = ε̂ − x̂0 with ε̂ = (x_t − (1 − t)x̂0)/t) is LossScale·‖x0 − x̂0‖².
func TestFlowLossScaleFromVectors(t *testing.T) {
	x0 := []float64{0.7, -1.3, 0.2}
	eps := []float64{-0.4, 0.9, 1.6}
	x0hat := []float64{0.5, -1.0, 0.6}
	for _, tt := range flowTimes {
		var du, dx float64
		for i := range x0 {
			xt := (1-tt)*x0[i] + tt*eps[i]
			epsHat := (xt - (1-tt)*x0hat[i]) / tt
			e := (eps[i] - x0[i]) - (epsHat - x0hat[i])
			du += e * e
			dx += (x0[i] - x0hat[i]) * (x0[i] - x0hat[i])
		}
		snr := math.Pow((1-tt)/tt, 2)
		require.InDelta(t, 0, (du-Flow.LossScale(snr)*dx)/du, 1e-10, "t=%g", tt)
		require.InDelta(t, 0, (du-dx/(tt*tt))/du, 1e-10, "t=%g", tt)
	}
}

func TestParseFlowTarget(t *testing.T) {
	for _, s := range []string{"flow", "velocity", "u"} {
		got, err := ParseTarget(s)
		require.NoError(t, err)
		require.Equal(t, Flow, got)
	}
	require.Equal(t, "flow", Flow.String())
	require.Equal(t, []Target{Eps, X0, V, Flow}, AllTargets)
	for _, c := range hand {
		require.Equal(t, 1.0, Weight(MustParse(c.spec), Flow, 0), c.spec)
	}
}
