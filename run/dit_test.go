package run_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// ditSpec is a tiny DiT on MNIST: 16 tokens of 7×7 pixels, width 8.
func ditSpec(c *nn.DiTConfig) run.Spec {
	return run.Spec{
		Net:   nn.Spec{Kind: "dit", DiT: c},
		Train: diffusion.TrainSpec{Data: "mnist", Target: "v", Weighting: "min-snr:5", Batch: 4, EvalSize: 2, Seed: 2, Optim: nn.OptimConfig{LR: 1e-3, Warmup: 1}},
		Steps: 2,
		Eval:  run.EvalSpec{Every: 1},
	}
}

// A DiT spec takes the data's image shape (MNIST: one channel of side 28,
// C·S² = 784 = the example length) and, for every size not given, the
// "small" preset's; normalising is idempotent and the hash sees the
// network.
func TestSpecNormalizeDiT(t *testing.T) {
	small, err := nn.DiTPreset("small")
	require.NoError(t, err)
	n, err := ditSpec(nil).Normalize()
	require.NoError(t, err)
	c := n.Net.DiT
	require.NotNil(t, c)
	require.Nil(t, n.Net.ResMLP)
	require.Equal(t, "dit", n.Net.Kind)
	require.Equal(t, []int{1, 28}, []int{c.Channels, c.Side})
	require.Equal(t, data.MNISTDim, c.Dim())
	require.Equal(t, []int{small.Patch, small.Width, small.Depth, small.Heads}, []int{c.Patch, c.Width, c.Depth, c.Heads})
	require.Equal(t, small.MLPRatio, c.MLPRatio)
	again, err := n.Normalize()
	require.NoError(t, err)
	require.Equal(t, n, again)

	// Sizes given are kept; the rest come from the preset.
	m, err := ditSpec(&nn.DiTConfig{Patch: 7, Width: 8, Heads: 2, LearnedPos: true, SigmaData: 0.5, Skip: true}).Normalize()
	require.NoError(t, err)
	require.Equal(t, nn.DiTConfig{Channels: 1, Side: 28, Patch: 7, Width: 8, Depth: small.Depth, Heads: 2, MLPRatio: small.MLPRatio,
		FreqDim: 256, MaxPeriod: 10000, LearnedPos: true, SigmaData: 0.5, Skip: true}, *m.Net.DiT)
	ha, err := n.Hash()
	require.NoError(t, err)
	hb, err := m.Hash()
	require.NoError(t, err)
	require.NotEqual(t, ha, hb)
	// A ResMLP of the same run hashes differently: a model cache never
	// takes one for the other.
	r := ditSpec(nil)
	r.Net = nn.Spec{Kind: "resmlp"}
	hr, err := r.Hash()
	require.NoError(t, err)
	require.NotEqual(t, ha, hr)

	for _, c := range []struct {
		name string
		spec run.Spec
		msg  string
	}{
		{"toy data", func() run.Spec { s := ditSpec(nil); s.Train.Data = "toy:moons"; return s }(),
			"the DiT needs image data (mnist), not toy:moons (2-dimensional points)"},
		{"another side", ditSpec(&nn.DiTConfig{Side: 32}), "a DiT of 1×32×32 images for mnist, whose images are 1×28×28"},
		{"another channel count", ditSpec(&nn.DiTConfig{Channels: 3}), "a DiT of 3×28×28 images for mnist, whose images are 1×28×28"},
		{"negative size", ditSpec(&nn.DiTConfig{Heads: -1}), "dit sizes must be ≥ 0"},
		{"patch not dividing the side", ditSpec(&nn.DiTConfig{Patch: 5}), "nn: dit needs a patch that divides the side, got side 28, patch 5"},
		{"heads not dividing the width", ditSpec(&nn.DiTConfig{Width: 8, Heads: 3}), "nn: dit needs a width divisible by heads"},
	} {
		_, err := c.spec.Normalize()
		require.ErrorIs(t, err, run.ErrInput, c.name)
		require.ErrorContains(t, err, "run: spec net: "+c.msg, c.name)
	}
}

// A DiT run trains, and its checkpoint builds the same network (Spec is in
// the checkpoint).
func TestTrainDiT(t *testing.T) {
	if _, err := data.FindMNIST(); err != nil {
		t.Skipf("no MNIST here: %v", err)
	}
	spec := ditSpec(&nn.DiTConfig{Patch: 7, Width: 8, Depth: 1, Heads: 2, SigmaData: 0.5, Skip: true})
	r, err := run.Train(context.Background(), filepath.Join(t.TempDir(), "run"), spec, run.Options{})
	require.NoError(t, err)
	require.Equal(t, 2, r.Step)
	ck, err := r.Checkpoint()
	require.NoError(t, err)
	n, err := spec.Normalize()
	require.NoError(t, err)
	require.Equal(t, n.Net, ck.Spec)
	net, err := ck.Network(nn.NewCPU(), true)
	require.NoError(t, err)
	require.Equal(t, data.MNISTDim, net.Dim())
}

// Every model name builds its network: the ResMLP, the DiT presets; an
// unknown name is an error naming the known ones.
func TestModelNet(t *testing.T) {
	for _, name := range run.Models {
		net, err := run.ModelNet(name)
		require.NoError(t, err, name)
		s := ditSpec(nil)
		s.Net = net
		n, err := s.Normalize()
		require.NoError(t, err, name)
		require.Equal(t, map[string]string{"resmlp": "resmlp", "dit": "dit", "dit-s": "dit"}[name], n.Net.Kind)
	}
	for name, preset := range map[string]string{"dit": "small", "dit-s": "s"} {
		net, err := run.ModelNet(name)
		require.NoError(t, err)
		want, err := nn.DiTPreset(preset)
		require.NoError(t, err)
		require.Equal(t, want, *net.DiT, name)
	}
	net, err := run.ModelNet("resmlp")
	require.NoError(t, err)
	require.Equal(t, nn.ResMLPConfig{}, *net.ResMLP, "the ResMLP's defaults come from Normalize")
	_, err = run.ModelNet("unet")
	require.EqualError(t, err, `unknown model "unet" (want resmlp, dit, dit-s)`)
}
