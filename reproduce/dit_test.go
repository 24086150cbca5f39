package reproduce

import (
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// A DiT keeps its scale's data, training and evaluation sizes and takes
// its preset's architecture; the smoke scale's DiT is tiny, on MNIST; toy
// data and unknown names are errors (bad input for an Env).
func TestModelSizesOf(t *testing.T) {
	for _, s := range Scales {
		for _, m := range []string{"", "resmlp"} {
			got, err := ModelSizesOf(s, m)
			require.NoError(t, err)
			require.Equal(t, ModelSizesFor(s), got, "%s %q is the ResMLP's table", s, m)
		}
	}
	for _, c := range []struct {
		scale  Scale
		model  string
		preset string
	}{{Medium, "dit", "small"}, {Paper, "dit", "small"}, {Medium, "dit-s", "s"}, {Paper, "dit-s", "s"}} {
		got, err := ModelSizesOf(c.scale, c.model)
		require.NoError(t, err)
		p, err := nn.DiTPreset(c.preset)
		require.NoError(t, err)
		want := ModelSizesFor(c.scale)
		want.Net, want.Width, want.Depth, want.Patch, want.Heads, want.MLPRatio = c.model, p.Width, p.Depth, p.Patch, p.Heads, p.MLPRatio
		require.Equal(t, want, got, "%s %s", c.scale, c.model)
		spec := got.Model("v", "min-snr:5", 1, 1)
		n, err := spec.Normalize()
		require.NoError(t, err)
		require.Equal(t, "dit", n.Net.Kind)
		require.Equal(t, nn.DiTConfig{Channels: 1, Side: 28, Patch: p.Patch, Width: p.Width, Depth: p.Depth, Heads: p.Heads, MLPRatio: p.MLPRatio,
			FreqDim: 256, MaxPeriod: 10000, SigmaData: 0.5, Skip: true}, *n.Net.DiT, "the ResMLP's input skips (auto) for v on MNIST")
	}
	smoke, err := ModelSizesOf(Smoke, "dit")
	require.NoError(t, err)
	require.Equal(t, "mnist", smoke.Data)
	require.Equal(t, smokeDiT.Width, smoke.Width)
	require.Equal(t, smoke.Steps%smoke.EvalEvery, 0)
	require.NotZero(t, smoke.Model("x0", "constant", 1, 1).Eval.Quality.Classifier.TrainSize, "a tiny FD classifier")
	require.False(t, smoke.Model("x0", "constant", 1, 1).Net.DiT.Preconditioned(), "x0 has no input skips")

	for _, c := range []struct {
		scale Scale
		model string
		msg   string
	}{
		{Quick, "dit", "reproduce: --model dit needs image data: the quick scale trains on toy:checkerboard (2-D points); use the medium or paper scale"},
		{Medium, "unet", `reproduce: unknown model "unet" (want resmlp, dit, dit-s)`},
		{"huge", "dit", `reproduce: unknown scale "huge"`},
	} {
		_, err := ModelSizesOf(c.scale, c.model)
		require.EqualError(t, err, c.msg)
		_, err = Plan(&Env{Scale: c.scale, Model: c.model, Seed: 1}, Targets())
		require.ErrorContains(t, err, c.msg)
		require.ErrorIs(t, err, run.ErrInput)
	}
}

// The plan of a DiT is the ResMLP's run for run (the same indices, kinds,
// needs and targets: a sweep's array size and its indices do not depend
// on the model), with other keys: every label starts with dit_ and every
// hash differs, so that a cache never gives a ResMLP for a DiT run; DiT
// and DiT-S differ too, except at smoke scale, where both are the tiny
// DiT.
func TestDiTPlanIsTheResMLPsRunForRun(t *testing.T) {
	for _, s := range []Scale{Smoke, Medium, Paper} {
		plans := map[string][]PlannedRun{}
		for _, m := range Models {
			plans[m] = planOf(t, &Env{Scale: s, Model: m, Seed: 1}, "all")
		}
		base := plans["resmlp"]
		for _, m := range []string{"dit", "dit-s"} {
			p := plans[m]
			require.Len(t, p, len(base), "%s %s", s, m)
			for i := range p {
				a, b := base[i], p[i]
				require.Equal(t, a.Index, b.Index)
				require.Equal(t, a.Kind, b.Kind, "%s %s run %d", s, m, i)
				require.Equal(t, a.Needs, b.Needs)
				require.Equal(t, a.Targets, b.Targets)
				require.Equal(t, a.Spec.Train.Target, b.Spec.Train.Target)
				require.Equal(t, a.Spec.Train.Weighting, b.Spec.Train.Weighting)
				require.Equal(t, "dit", b.Spec.Net.Kind)
				label, hash := a.Key[:len(a.Key)-13], a.Key[len(a.Key)-12:]
				require.Equal(t, "dit_"+label+"_", b.Key[:len(b.Key)-12], "%s: %s", a.Key, b.Key)
				require.NotEqual(t, hash, b.Key[len(b.Key)-12:], "another hash")
			}
		}
		for i := range base {
			if s == Smoke {
				require.Equal(t, plans["dit"][i].Key, plans["dit-s"][i].Key)
			} else {
				require.NotEqual(t, plans["dit"][i].Key, plans["dit-s"][i].Key)
			}
		}
	}
}
