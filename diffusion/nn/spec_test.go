package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every spec a file can hold is either built or an error: Build and
// Spec.Layout agree, never panic, and refuse what cannot exist.
func TestBuildRefusesImpossibleSpecs(t *testing.T) {
	rm := func(c ResMLPConfig) Spec { return Spec{Kind: "resmlp", ResMLP: &c} }
	for _, c := range []struct {
		name string
		spec Spec
		msg  string
	}{
		{"empty", Spec{}, `unknown network kind ""`},
		{"unknown kind", Spec{Kind: "unet", ResMLP: &ResMLPConfig{Dim: 2}}, `unknown network kind "unet"`},
		{"no config", Spec{Kind: "resmlp"}, "without a configuration"},
		{"zero dim", rm(ResMLPConfig{}), "dim ≥ 1, got 0"},
		{"negative dim", rm(ResMLPConfig{Dim: -2}), "dim ≥ 1, got -2"},
		{"negative width", rm(ResMLPConfig{Dim: 2, Width: -1}), "width, hidden and depth ≥ 1"},
		{"negative depth", rm(ResMLPConfig{Dim: 2, Depth: -3}), "width, hidden and depth ≥ 1"},
		{"negative hidden", rm(ResMLPConfig{Dim: 2, Hidden: -1}), "width, hidden and depth ≥ 1"},
		{"odd time_dim", rm(ResMLPConfig{Dim: 2, TimeDim: 3}), "even time_dim"},
		{"negative time_dim", rm(ResMLPConfig{Dim: 2, TimeDim: -2}), "even time_dim"},
		{"activation", rm(ResMLPConfig{Dim: 2, Act: 7}), "invalid activation 7"},
		{"max_period ≤ 1", rm(ResMLPConfig{Dim: 2, MaxPeriod: 0.5}), "max_period > 1"},
		{"max_period inf", rm(ResMLPConfig{Dim: 2, MaxPeriod: math.Inf(1)}), "max_period > 1"},
		{"max_period nan", rm(ResMLPConfig{Dim: 2, MaxPeriod: math.NaN()}), "max_period > 1"},
		{"sigma_data nan", rm(ResMLPConfig{Dim: 2, SigmaData: math.NaN()}), "sigma_data ≥ 0"},
		{"sigma_data negative", rm(ResMLPConfig{Dim: 2, SigmaData: -1}), "sigma_data ≥ 0"},
		// Sizes: each one alone, products that overflow int64, sums that do.
		{"huge dim", rm(ResMLPConfig{Dim: math.MaxInt}), "parameters"},
		{"huge width", rm(ResMLPConfig{Dim: 2, Width: math.MaxInt}), "width, hidden and depth ≥ 1"}, // 2·Width wraps
		{"large width", rm(ResMLPConfig{Dim: 2, Width: math.MaxInt / 4}), "parameters"},
		{"width²", rm(ResMLPConfig{Dim: 2, Width: 1 << 32, Hidden: 1}), "parameters"},
		{"huge depth", rm(ResMLPConfig{Dim: 2, Width: 8, Depth: math.MaxInt}), "parameters"},
		{"huge hidden", rm(ResMLPConfig{Dim: 2, Width: 8, Hidden: math.MaxInt}), "parameters"},
		{"huge time_dim", rm(ResMLPConfig{Dim: 2, Width: 8, TimeDim: math.MaxInt - 1}), "parameters"},
		{"huge skip", rm(ResMLPConfig{Dim: 1 << 16, Width: 1, Depth: 1, Skip: true}), "parameters"}, // D² = 2³²
		{"just over", rm(ResMLPConfig{Dim: 1, Width: 1, Depth: 1, Hidden: 1, TimeDim: MaxParams - 1}), "more than 2147483647 parameters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			net, err := Build(NewCPU(), c.spec)
			require.Nil(t, net)
			require.ErrorContains(t, err, c.msg)
			require.True(t, strings.HasPrefix(err.Error(), "nn: "), err.Error())
			l, err2 := c.spec.Layout()
			require.Nil(t, l)
			require.Equal(t, err, err2)
		})
	}
}

// paramCount and Spec.Layout are what Build makes, for every part of the
// architecture.
func TestSpecLayoutMatchesBuild(t *testing.T) {
	for _, c := range []ResMLPConfig{
		{Dim: 2},
		{Dim: 2, Width: 8, Depth: 1},
		{Dim: 3, Width: 5, Depth: 2, Hidden: 7, TimeDim: 4},
		{Dim: 4, Width: 6, Depth: 3, SigmaData: 0.5, Skip: true},
		{Dim: 784, Width: 16, Depth: 1, Act: GELU},
	} {
		s := Spec{Kind: "resmlp", ResMLP: &c}
		net, err := Build(NewCPU(), s)
		require.NoError(t, err, c)
		l, err := s.Layout()
		require.NoError(t, err, c)
		require.Equal(t, net.Params().Layout(), l, c)
		n, ok := c.WithDefaults().paramCount()
		require.True(t, ok)
		require.Equal(t, net.Params().Len(), n, c)
	}
	// The largest network allowed is counted exactly (not built).
	c := ResMLPConfig{Dim: 1, Width: 1, Depth: 1, Hidden: 1, TimeDim: MaxParams - 15}.WithDefaults() // E·1 + 1 + 14 more
	n, ok := c.paramCount()
	require.True(t, ok)
	require.Equal(t, MaxParams, n)
	require.NoError(t, c.validate())
}

// FuzzSpecLayout: any sizes give a layout of at most MaxParams parameters
// or an error, never a panic; small ones are what Build makes.
func FuzzSpecLayout(f *testing.F) {
	f.Add(2, 8, 1, 0, 0, false)
	f.Add(784, 256, 3, 512, 256, true)
	f.Add(-1, 0, 0, 0, 0, false)
	f.Add(1<<20, 1<<20, 1<<20, 1<<20, 1<<20, true)
	f.Add(math.MaxInt, math.MaxInt, math.MaxInt, math.MaxInt, math.MaxInt, true)
	f.Fuzz(func(t *testing.T, dim, width, depth, hidden, timeDim int, skip bool) {
		s := Spec{Kind: "resmlp", ResMLP: &ResMLPConfig{Dim: dim, Width: width, Depth: depth, Hidden: hidden, TimeDim: timeDim, Skip: skip}}
		l, err := s.Layout()
		if err != nil {
			return
		}
		// The parameters tile [0, total) in offset order.
		byOffset := append([]Layout(nil), l...)
		slices.SortFunc(byOffset, func(a, b Layout) int { return a.Offset - b.Offset })
		total := 0
		for _, p := range byOffset {
			n := 1
			for _, d := range p.Shape {
				require.Positive(t, d)
				n *= d
			}
			require.Equal(t, total, p.Offset, p.Name)
			total += n
		}
		require.LessOrEqual(t, total, MaxParams)
		if total <= 1<<16 {
			net, err := Build(NewCPU(), s)
			require.NoError(t, err)
			require.Equal(t, l, net.Params().Layout())
		}
	})
}

// FuzzDiTSpecLayout: any DiT sizes give a layout of at most MaxParams
// parameters or an error, never a panic; small ones are what Build makes.
func FuzzDiTSpecLayout(f *testing.F) {
	f.Add(1, 28, 4, 64, 4, 4, 4.0, 256, false, false)
	f.Add(4, 32, 2, 384, 12, 6, 4.0, 256, true, true)
	f.Add(0, 0, 0, 0, 0, 0, 0.0, 0, false, false)
	f.Add(-1, 7, 3, 5, -2, 0, -1.5, 3, true, false)
	f.Add(math.MaxInt, math.MaxInt, 1, math.MaxInt, math.MaxInt, 1, math.Inf(1), math.MaxInt, true, true)
	f.Add(2, 1<<30, 1, 4, 1, 1, 1e-9, 2, false, true)
	f.Fuzz(func(t *testing.T, channels, side, patch, width, depth, heads int, ratio float64, freq int, learned, skip bool) {
		c := DiTConfig{Channels: channels, Side: side, Patch: patch, Width: width, Depth: depth, Heads: heads, MLPRatio: ratio,
			FreqDim: freq, LearnedPos: learned, Skip: skip}
		s := Spec{Kind: "dit", DiT: &c}
		l, err := s.Layout()
		if err != nil {
			return
		}
		total := 0
		for _, p := range l {
			n := 1
			for _, d := range p.Shape {
				require.Positive(t, d)
				n *= d
			}
			total += n
		}
		require.LessOrEqual(t, total, MaxParams)
		if total <= 1<<15 {
			net, err := Build(NewCPU(), s)
			require.NoError(t, err)
			require.Equal(t, l, net.Params().Layout())
		}
	})
}

// Spec.Dim is the example length of either kind (a DiT's from its image
// shape, one channel by default) and 0 for a spec that does not build.
func TestSpecDim(t *testing.T) {
	require.Equal(t, 784, Spec{Kind: "resmlp", ResMLP: &ResMLPConfig{Dim: 784}}.Dim())
	require.Equal(t, 784, Spec{Kind: "dit", DiT: &DiTConfig{Side: 28}}.Dim())
	require.Equal(t, 3*32*32, Spec{Kind: "dit", DiT: &DiTConfig{Channels: 3, Side: 32}}.Dim())
	require.Zero(t, Spec{Kind: "dit"}.Dim())
	require.Zero(t, Spec{Kind: "unet", ResMLP: &ResMLPConfig{Dim: 2}}.Dim())
}
