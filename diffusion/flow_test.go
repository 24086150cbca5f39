package diffusion

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// flowRelTol: α, σ and SNR of the flow schedule are a few float64 roundings
// of the closed forms written out below.
const flowRelTol = 1e-13

// The flow schedule against its closed form t'_i = s·t_i/(1 + (s − 1)t_i),
// t_i = (i + 1)/T, α = 1 − t', σ = t', SNR = ((1 − t')/t')², and its
// invariants: α + σ = 1, SNR strictly decreasing to exactly 0 at T−1,
// SNR(t') = SNR(t)/s².
func TestFlowScheduleClosedForm(t *testing.T) {
	for _, shift := range []float64{1, 3, 0.5} {
		for _, T := range []int{2, 10, 1000} {
			s, err := FlowSchedule(T, shift)
			require.NoError(t, err)
			require.False(t, s.VariancePreserving())
			require.False(t, s.IsZeroTerminal())
			require.Equal(t, T, s.T())
			require.Equal(t, shift, s.Shift())
			for i := range T {
				u := float64(i+1) / float64(T)
				tp := shift * u / (1 + (shift-1)*u)
				require.LessOrEqual(t, relErr(s.Sigma(i), tp), flowRelTol, "shift %g T=%d i=%d σ", shift, T, i)
				require.LessOrEqual(t, relErr(s.FlowTime(i), tp), flowRelTol)
				require.InDelta(t, 1-tp, s.Alpha(i), 1e-15, "α")
				require.InDelta(t, 1, s.Alpha(i)+s.Sigma(i), 1e-15, "α + σ")
				require.InDelta(t, (1-tp)*(1-tp), s.AlphaBar(i), 1e-15, "ᾱ = α²")
				snr := math.Pow((1-tp)/tp, 2)
				require.LessOrEqual(t, relErr(s.SNR(i), snr), 1e-12, "SNR i=%d", i)
				if i < T-1 {
					require.InDelta(t, math.Log(snr), s.LogSNR(i), 1e-12*math.Max(1, math.Abs(s.LogSNR(i))))
					raw := math.Pow((1-u)/u, 2)
					require.LessOrEqual(t, relErr(s.SNR(i), raw/(shift*shift)), 1e-12, "shift divides SNR by s²")
				}
				if i > 0 {
					require.Less(t, s.SNR(i), s.SNR(i-1))
					require.Less(t, s.LogSNR(i), s.LogSNR(i-1))
				}
				require.Greater(t, s.Sigma(i), 0.0)
			}
			require.Equal(t, 0.0, s.Alpha(T-1))
			require.Equal(t, 1.0, s.Sigma(T-1))
			require.Equal(t, 0.0, s.SNR(T-1))
			require.True(t, math.IsInf(s.LogSNR(T-1), -1))
			require.Same(t, s, s.ZeroTerminal())
			require.Panics(t, func() { s.Beta(1) })
		}
	}
}

func TestFlowScheduleNames(t *testing.T) {
	for name, want := range map[string]string{"flow": "flow", "flow:shift=3": "flow:shift=3", "flow:shift=1": "flow", "flow: shift = 2.50": "flow:shift=2.5"} {
		s, err := NewSchedule(name, 100, false)
		require.NoError(t, err, name)
		require.Equal(t, want, s.Name())
		require.Equal(t, want, s.String())
		back, err := NewSchedule(s.Name(), 100, false)
		require.NoError(t, err)
		require.Equal(t, s, back)
	}
	for name, msg := range map[string]string{
		"flow:shift=0":   "positive finite",
		"flow:shift=-2":  "positive finite",
		"flow:shift=inf": "positive finite",
		"flow:shift=NaN": "positive finite",
		"flow:3":         "want flow:shift=S",
		"flow:scale=3":   "want flow:shift=S",
		"flows":          "unknown schedule",
	} {
		_, err := NewSchedule(name, 100, false)
		require.ErrorContains(t, err, msg, name)
	}
	_, err := NewSchedule("flow", 100, true)
	require.ErrorContains(t, err, "already ends at SNR 0")
	_, err = NewSchedule("flow", 1, false)
	require.ErrorContains(t, err, "T ≥ 2")
	_, err = FlowSchedule(MaxT+1, 1)
	require.ErrorContains(t, err, "too long")
	_, err = ParseFlowName("cosine")
	require.ErrorContains(t, err, "not a flow schedule")
}

// v-prediction is refused on the flow schedule, everywhere a target meets a
// schedule; every target works on a VP schedule.
func TestCheckTarget(t *testing.T) {
	flow, err := FlowSchedule(100, 1)
	require.NoError(t, err)
	for _, tg := range weighting.AllTargets {
		require.NoError(t, Cosine(100).CheckTarget(tg))
		if tg == weighting.V {
			require.ErrorContains(t, flow.CheckTarget(tg), "v-prediction needs a variance-preserving schedule")
		} else {
			require.NoError(t, flow.CheckTarget(tg))
		}
	}
	require.ErrorContains(t, flow.CheckTarget(weighting.Target(9)), "invalid target")
	cfg := TrainConfig{Schedule: flow, Target: weighting.V, Weighting: weighting.Constant{}, Steps: 1}.withDefaults()
	require.ErrorContains(t, cfg.validate(), "v-prediction needs a variance-preserving schedule")
}

// On the flow schedule every target but v converts to x0 and ε and back,
// the flow target is ε − x0 with x̂0 = x_t − t·û, and the loss identities
// hold: ‖u − û‖² = ‖x0 − x̂0‖²/t² = (1 + √SNR)²‖x0 − x̂0‖², ‖ε − ε̂‖² =
// SNR·‖x0 − x̂0‖².
func TestFlowTargetsAndLossIdentities(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s, err := FlowSchedule(1000, 3)
	require.NoError(t, err)
	const n = 64
	for _, i := range []int{0, 10, 300, 700, 990} {
		a, sg := s.Alpha(i), s.Sigma(i)
		x0, eps := randVec(rng, n), randVec(rng, n)
		xt := make([]float32, n)
		Noise(xt, x0, eps, a, sg)
		for _, target := range []weighting.Target{weighting.Eps, weighting.X0, weighting.Flow} {
			y := make([]float32, n)
			TargetOf(y, target, x0, eps, a, sg)
			gx0, geps := make([]float32, n), make([]float32, n)
			ToX0(gx0, target, y, xt, a, sg)
			ToEps(geps, target, y, xt, a, sg)
			for j := range x0 {
				if target == weighting.Flow {
					require.InDelta(t, eps[j]-x0[j], y[j], 1e-6, "u = ε − x0")
					require.InDelta(t, float64(xt[j])-sg*float64(y[j]), float64(gx0[j]), targetTol, "x̂0 = x_t − t·û")
				}
				require.InDelta(t, x0[j], gx0[j], targetTol*(1+sg/a), "i=%d %v x0", i, target)
				require.InDelta(t, eps[j], geps[j], targetTol*(1+a/sg), "i=%d %v eps", i, target)
			}
			pred := make([]float32, n)
			for j := range pred {
				pred[j] = y[j] + 0.01*float32(rng.NormFloat64())
			}
			px0 := make([]float32, n)
			ToX0(px0, target, pred, xt, a, sg)
			var lossT, lossX0 float64
			for j := range pred {
				d := float64(pred[j]) - float64(y[j])
				lossT += d * d
				d = float64(px0[j]) - float64(x0[j])
				lossX0 += d * d
			}
			want := lossX0 * target.LossScale(s.SNR(i))
			require.InDelta(t, 0, (lossT-want)/want, 1e-3, "i=%d %v loss identity", i, target)
			if target == weighting.Flow {
				require.InDelta(t, 0, (lossT-lossX0/(sg*sg))/lossT, 1e-3, "‖u − û‖² = ‖x0 − x̂0‖²/t²")
			}
		}
	}
}

// The flow velocity is the time derivative of x_t along a pair (x0, ε): a
// central finite difference of (1 − t)x0 + tε against TargetOf.
func TestFlowTargetIsDxDt(t *testing.T) {
	x0, eps := []float32{0.7, -1.2}, []float32{0.3, 0.9}
	u := make([]float32, 2)
	TargetOf(u, weighting.Flow, x0, eps, 0.4, 0.6)
	const h = 1e-3
	for j := range u {
		x := func(t float64) float64 { return (1-t)*float64(x0[j]) + t*float64(eps[j]) }
		require.InDelta(t, (x(0.6+h)-x(0.6-h))/(2*h), float64(u[j]), 1e-6)
	}
}

// The objective's target coefficients for flow are (−1, 1): target = ε − x0.
func TestFlowTargetCoefficients(t *testing.T) {
	s, err := FlowSchedule(10, 1)
	require.NoError(t, err)
	o := &Objective{Schedule: s, Target: weighting.Flow}
	a, b := o.TargetCoefficients(4)
	require.Equal(t, [2]float64{-1, 1}, [2]float64{a, b})
	c, g := SkipGains(s, weighting.Flow, 0.5, 4)
	al, sg := s.Alpha(4), s.Sigma(4)
	require.InDelta(t, sg/(al*al*0.25+sg*sg), c, 1e-15, "Wiener gain of the noise part ε")
	require.InDelta(t, 1/sg, c+g, 1e-14, "c + g = 1/σ")
}

// A file whose spec pairs the flow schedule with v-prediction is an error
// for every reader, not a panic.
func TestTrainSpecRefusesVOnFlow(t *testing.T) {
	_, _, err := TrainSpec{Schedule: "flow", T: 100, Target: "v"}.ScheduleAndTarget()
	require.ErrorContains(t, err, "v-prediction needs a variance-preserving schedule")
	s, tg, err := TrainSpec{Schedule: "flow:shift=3", T: 100, Target: "flow"}.ScheduleAndTarget()
	require.NoError(t, err)
	require.Equal(t, "flow:shift=3", s.Name())
	require.Equal(t, weighting.Flow, tg)
}
