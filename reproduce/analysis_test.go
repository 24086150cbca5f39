package reproduce

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// exactTol: the analysis helpers do a handful of float64 operations on
// small numbers, so hand-computed results agree to rounding.
const exactTol = 1e-12

func TestSmoothAndStepsToReach(t *testing.T) {
	require.InDeltaSlice(t, []float64{1.5, 2, 3, 3.5}, Smooth([]float64{1, 2, 3, 4}, 1), exactTol)
	require.Equal(t, []float64{5, 1, 4}, Smooth([]float64{5, 1, 4}, 0))
	steps := []float64{100, 200, 300, 400}
	s, ok := StepsToReach(steps, []float64{0.9, 0.5, 0.4, 0.45}, 0.5)
	require.True(t, ok)
	require.Equal(t, 200.0, s)
	_, ok = StepsToReach(steps, []float64{0.9, 0.8, 0.7, 0.6}, 0.5)
	require.False(t, ok)
}

func TestSpeedUpOver(t *testing.T) {
	steps := []float64{100, 200, 300, 400, 500, 600}
	cases := []struct {
		name          string
		fast, base    []float64
		ratio         float64
		bound         string
		steps, bsteps float64
	}{
		// The baseline ends at 0.4 (first reached at 600); the fast curve
		// reaches 0.4 at 300: 2× faster.
		{"2x", []float64{0.8, 0.5, 0.4, 0.3, 0.3, 0.3}, []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, 2, "", 300, 600},
		// Already there at the first evaluation: a lower bound.
		{"bound", []float64{0.3, 0.3, 0.3, 0.3, 0.3, 0.3}, []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, 6, "≥", 100, 600},
		// Never reaches it: an upper bound of 600/600.
		{"never", []float64{0.9, 0.9, 0.9, 0.9, 0.9, 0.9}, []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, 1, "<", math.NaN(), 600},
		// The same curve: 1×.
		{"same", []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, 1, "", 600, 600},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := SpeedUpOver(steps, c.fast, c.base, 0)
			require.InDelta(t, c.ratio, s.Ratio, exactTol)
			require.Equal(t, c.bound, s.Bound)
			require.Equal(t, c.bsteps, s.BaseSteps)
			if math.IsNaN(c.steps) {
				require.True(t, math.IsNaN(s.Steps))
			} else {
				require.Equal(t, c.steps, s.Steps)
			}
			require.InDelta(t, 0.4, s.Threshold, exactTol)
		})
	}
	// Smoothing: one lucky evaluation does not count. Unsmoothed the fast
	// curve reaches the baseline's final 0.5 at step 100; over 3 points its
	// first smoothed value is (0.5+0.9)/2 = 0.7 and it gets there at 400.
	fast := []float64{0.5, 0.9, 0.9, 0.5, 0.5, 0.5}
	base := []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	require.Equal(t, "≥", SpeedUpOver(steps, fast, []float64{0.9, 0.9, 0.9, 0.9, 0.9, 0.5}, 0).Bound)
	s := SpeedUpOver(steps, fast, base, 1)
	require.Equal(t, 0.5, s.Threshold)
	require.Equal(t, 500.0, s.Steps)
	require.Equal(t, 100.0, s.BaseSteps)
	require.InDelta(t, 0.2, s.Ratio, exactTol)
}

func ExampleSpeedUpOver() {
	steps := []float64{1000, 2000, 3000, 4000}
	baseline := []float64{0.50, 0.30, 0.22, 0.20} // ends at 0.20 after 4000 steps
	minSNR := []float64{0.30, 0.20, 0.15, 0.14}   // gets to 0.20 at 2000 steps
	fmt.Println(SpeedUpOver(steps, minSNR, baseline, 0))
	// Output: 2×
}

func TestRegrets(t *testing.T) {
	r := Regrets([][]float64{{1, 4}, {2, 2}})
	require.InDeltaSlice(t, []float64{0, 1}, r[0], exactTol)
	require.InDeltaSlice(t, []float64{1, 0}, r[1], exactTol)
}

func TestGridTimesteps(t *testing.T) {
	require.Equal(t, []int{125, 375, 625, 875}, GridTimesteps(1000, 4))
	require.Equal(t, []int{0, 1, 2}, GridTimesteps(3, 3))
	require.Panics(t, func() { GridTimesteps(10, 11) })
}

func TestLossChanges(t *testing.T) {
	before := [][]float64{{1, 2, 3}}
	after := [][]float64{{0.5, 1.5, 3.5}} // differences −0.5, −0.5, +0.5
	c := LossChanges([]int{7}, before, after)[0]
	require.Equal(t, 7, c.T)
	require.InDelta(t, 2, c.Before, exactTol)
	require.InDelta(t, 11.0/6, c.After, exactTol)
	require.InDelta(t, (11.0/6-2)/2, c.Rel, exactTol)
	// sd of (−0.5, −0.5, 0.5) is √(1/3); SE = sd/√3/Before = 1/6.
	require.InDelta(t, 1.0/6, c.SE, exactTol)
}

// The loss probe's x0-MSE equals the definition computed by hand from the
// network's prediction, for each target.
func TestLossProbeMatchesDefinition(t *testing.T) {
	toy, err := data.NewToy("moons")
	require.NoError(t, err)
	sched := diffusion.Cosine(100)
	ts := []int{0, 37, 99}
	probe := NewLossProbe(toy, ts, 5, 4)
	for _, tg := range weighting.Targets {
		net, err := nn.InitResMLP(nn.NewCPU64(), nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 9)
		require.NoError(t, err)
		got := probe.Losses(net, sched, tg)
		den := diffusion.NewNetDenoiser(net, tg, sched)
		for i, tt := range ts {
			b := probe.batches[i]
			xt := make([]float32, len(b.X0))
			for j := range xt {
				xt[j] = float32(sched.Alpha(tt)*float64(b.X0[j]) + sched.Sigma(tt)*float64(b.Eps[j]))
			}
			pred := make([]float32, len(xt))
			den.Predict(pred, xt, b.T)
			x0 := make([]float32, len(xt))
			diffusion.ToX0(x0, tg, pred, xt, sched.Alpha(tt), sched.Sigma(tt))
			for r := 0; r < 5; r++ {
				dx, dy := float64(x0[2*r]-b.X0[2*r]), float64(x0[2*r+1]-b.X0[2*r+1])
				want := (dx*dx + dy*dy) / 2
				// probeTol: float32 inputs and float64 network; the ε
				// target's x̂0 at t = 0 divides by α ≈ 1 and at t = 99 the
				// x0 error is large, so the tolerance is relative.
				const probeTol = 1e-4
				require.InDelta(t, want, got[i][r], probeTol*math.Max(1, want), "%s t=%d row %d", tg, tt, r)
			}
		}
	}
}

// Fine-tuning on a bin changes the network, reproducibly: a second call
// reuses the cached fine-tune, and a fresh cache trains the same weights.
func TestFineTuneIsDeterministic(t *testing.T) {
	cfg := FineTuneConfig{Lo: 100, Hi: 200, Steps: 5, Batch: 16, LR: 1e-3, Seed: 1}
	get := func(env *Env) []float32 {
		m, err := TrainModel(context.Background(), env, ModelSizesFor(Smoke).Model("eps", "snr", 5, 5))
		require.NoError(t, err)
		net, err := FineTune(context.Background(), env, m, cfg)
		require.NoError(t, err)
		v := make([]float32, net.Params().Len())
		net.Backend().Download(v, net.Params().Flat)
		return v
	}
	env := &Env{Scale: Smoke, Out: t.TempDir(), Seed: 5}
	a, b, c := get(env), get(env), get(&Env{Scale: Smoke, Out: t.TempDir(), Seed: 5})
	require.Equal(t, a, b)
	require.Equal(t, a, c)
	m, err := TrainModel(context.Background(), env, ModelSizesFor(Smoke).Model("eps", "snr", 5, 5))
	require.NoError(t, err)
	ck, err := m.Checkpoint()
	require.NoError(t, err)
	require.NotEqual(t, ck.EMA, a, "the weights moved")
	_, err = FineTune(context.Background(), env, m, FineTuneConfig{Lo: 200, Hi: 100, Steps: 5, Batch: 16, LR: 1e-3})
	require.Error(t, err)
}
