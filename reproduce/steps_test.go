package reproduce

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEffectOf checks the Fig. 2 summary on hand-made loss changes: a run
// fine-tuned on [100, 200), distant timesteps 200 or more away.
func TestEffectOf(t *testing.T) {
	cs := []LossChange{
		{T: 50, Rel: 0.01, SE: 0.01},    // near (before the bin), not counted
		{T: 120, Rel: -0.05, SE: 0.01},  // inside
		{T: 180, Rel: -0.03, SE: 0.02},  // inside
		{T: 350, Rel: 0.02, SE: 0.02},   // near (350 < 200+200)
		{T: 400, Rel: 0.05, SE: 0.01},   // far, significantly worse
		{T: 600, Rel: 0.01, SE: 0.01},   // far, within 2 SE
		{T: 900, Rel: -0.04, SE: 0.005}, // far, significantly better
	}
	e := EffectOf(cs, 100, 200, 200)
	require.InDelta(t, -0.04, e.Inside, exactTol)
	require.InDelta(t, math.Sqrt(0.01*0.01+0.02*0.02)/2, e.InsideSE, exactTol)
	require.Equal(t, 3, e.NFar)
	require.InDelta(t, 0.01, e.FarMedian, exactTol)
	require.Equal(t, 1, e.Worse)
	require.Equal(t, 1, e.Better)

	none := EffectOf(cs[:1], 100, 200, 200)
	require.True(t, math.IsNaN(none.Inside) && math.IsNaN(none.FarMedian))
	require.Zero(t, none.NFar)
}

// TestEnvModelsSharesTheCache: two runs writing to different folders share
// models through Env.Models.
func TestEnvModelsSharesTheCache(t *testing.T) {
	models := t.TempDir()
	cfg := ModelSizesFor(Smoke).Model("v", GammaSpec(5), 1, 1)
	a := &Env{Scale: Smoke, Out: t.TempDir(), Models: models, Seed: 1}
	m1, err := TrainModel(context.Background(), a, cfg)
	require.NoError(t, err)
	require.False(t, m1.Cached)
	b := &Env{Scale: Smoke, Out: t.TempDir(), Models: models, Seed: 1}
	m2, err := TrainModel(context.Background(), b, cfg)
	require.NoError(t, err)
	require.True(t, m2.Cached)
	require.Equal(t, m1.Final, m2.Final)
	require.Equal(t, models, b.ModelsDir())
	require.Equal(t, "min-snr:5", cfg.Train.Weighting)
}
