package nn

import (
	"fmt"
	"math"
)

// DiTConfig configures a DiT (Peebles & Xie 2023, "Scalable Diffusion
// Models with Transformers"). Zero fields take the documented defaults
// (WithDefaults); Side is required.
type DiTConfig struct {
	// Channels is the number of image channels C (default 1).
	Channels int `json:"channels"`
	// Side is the image side S: an example is a channels-first (C, S, S)
	// image flattened to D = C·S² values. Required.
	Side int `json:"side"`
	// Patch is the patch side p, a divisor of Side; the image becomes
	// L = (S/p)² tokens of p²·C values (default 4).
	Patch int `json:"patch"`
	// Width is the token width W (DiT's hidden_size), a multiple of Heads
	// and of 4 (the sin-cos position table) (default 64).
	Width int `json:"width"`
	// Depth is the number of transformer blocks (default 4).
	Depth int `json:"depth"`
	// Heads is the number of attention heads, each of W/Heads features
	// (default 4).
	Heads int `json:"heads"`
	// MLPRatio sets the MLP's inner width M = ⌊MLPRatio·W⌋ (default 4).
	MLPRatio float64 `json:"mlp_ratio"`
	// FreqDim is the size of the sinusoidal timestep embedding, even
	// (default 256, DiT's frequency_embedding_size).
	FreqDim int `json:"freq_dim"`
	// MaxPeriod is the timestep embedding's longest period (default 10000).
	MaxPeriod float64 `json:"max_period"`
	// LearnedPos makes the position table a parameter "pos" (L, W),
	// initialised to the fixed sin-cos table; otherwise the table is a
	// constant.
	LearnedPos bool `json:"learned_pos,omitempty"`
	// SigmaData, when positive, adds the fixed skip c_r·x_r to the output
	// (as ResMLPConfig.SigmaData; see diffusion.SkipGains). Zero: none.
	SigmaData float64 `json:"sigma_data,omitempty"`
	// Skip adds the learned skip g_r·skip(x_r), a Linear layer D → D
	// initialised to zero (as ResMLPConfig.Skip).
	Skip bool `json:"skip,omitempty"`
}

// ditEps is the ε of the DiT's LayerNorms (DiT's eps=1e-6).
const ditEps = 1e-6

// ditPosPeriod is the sin-cos position table's longest period, fixed by
// DiT's get_2d_sincos_pos_embed (not MaxPeriod, which is the timestep's).
const ditPosPeriod = 10000

// DiTPreset returns the architecture of a named DiT without the data's
// Channels and Side, which the caller sets:
//   - "small": patch 4, width 64, depth 4, heads 4, mlp_ratio 4, for MNIST
//     on a 2-core CPU (49 tokens of 16 pixels; its training step is
//     package diffusion's BenchmarkTrainStepMNIST_DiTSmall_B128, and
//     bench/compare_dit.sh times it against PyTorch: see bench/RESULTS.md);
//   - "s": DiT-S/2's transformer, patch 2, width 384, depth 12, heads 6,
//     mlp_ratio 4 (Peebles & Xie 2023, Table 1), for a GPU.
func DiTPreset(name string) (DiTConfig, error) {
	switch name {
	case "small":
		return DiTConfig{Patch: 4, Width: 64, Depth: 4, Heads: 4, MLPRatio: 4}, nil
	case "s":
		return DiTConfig{Patch: 2, Width: 384, Depth: 12, Heads: 6, MLPRatio: 4}, nil
	}
	return DiTConfig{}, fmt.Errorf("nn: unknown DiT preset %q (want small or s)", name)
}

// Dim returns D = Channels·Side², the length of a flattened example (of a
// configuration with defaults filled in and validated).
func (c DiTConfig) Dim() int { return c.Channels * c.Side * c.Side }

// Tokens returns L = (Side/Patch)², the number of patch tokens.
func (c DiTConfig) Tokens() int { g := c.Side / c.Patch; return g * g }

// PatchDim returns P = Patch²·Channels, the values of one patch token.
func (c DiTConfig) PatchDim() int { return c.Patch * c.Patch * c.Channels }

// Hidden returns M = ⌊MLPRatio·Width⌋, the MLP's inner width (DiT's
// int(hidden_size * mlp_ratio)).
func (c DiTConfig) Hidden() int { return int(c.MLPRatio * float64(c.Width)) }

// Preconditioned reports whether the network's output has input skips
// whose per-row gains the caller supplies (SigmaData > 0 or Skip); it
// must then be run with ForwardPrecond.
func (c DiTConfig) Preconditioned() bool { return c.SigmaData > 0 || c.Skip }

// WithDefaults returns c with zero fields set to their defaults (the
// "small" preset's architecture, one channel, DiT's timestep embedding).
func (c DiTConfig) WithDefaults() DiTConfig {
	small, _ := DiTPreset("small")
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.Patch == 0 {
		c.Patch = small.Patch
	}
	if c.Width == 0 {
		c.Width = small.Width
	}
	if c.Depth == 0 {
		c.Depth = small.Depth
	}
	if c.Heads == 0 {
		c.Heads = small.Heads
	}
	if c.MLPRatio == 0 {
		c.MLPRatio = small.MLPRatio
	}
	if c.FreqDim == 0 {
		c.FreqDim = 256
	}
	if c.MaxPeriod == 0 {
		c.MaxPeriod = 10000
	}
	return c
}

// validate checks a configuration with defaults filled in.
func (c DiTConfig) validate() error {
	switch {
	case c.Channels < 1 || c.Side < 1 || c.Patch < 1 || c.Width < 1 || c.Depth < 1 || c.Heads < 1:
		return fmt.Errorf("nn: dit needs channels, side, patch, width, depth and heads ≥ 1, got %d, %d, %d, %d, %d, %d",
			c.Channels, c.Side, c.Patch, c.Width, c.Depth, c.Heads)
	case c.Side%c.Patch != 0:
		return fmt.Errorf("nn: dit needs a patch that divides the side, got side %d, patch %d", c.Side, c.Patch)
	case c.Width%c.Heads != 0:
		return fmt.Errorf("nn: dit needs a width divisible by heads, got width %d, heads %d", c.Width, c.Heads)
	case c.Width%4 != 0:
		return fmt.Errorf("nn: dit needs a width divisible by 4 (the sin-cos position table), got %d", c.Width)
	case !(c.MLPRatio > 0) || c.MLPRatio*float64(c.Width) > MaxParams || c.Hidden() < 1:
		return fmt.Errorf("nn: dit needs mlp_ratio > 0 with mlp_ratio·width ≥ 1, got %g (width %d)", c.MLPRatio, c.Width)
	case c.FreqDim < 2 || c.FreqDim%2 != 0:
		return fmt.Errorf("nn: dit needs an even freq_dim ≥ 2, got %d", c.FreqDim)
	case !(c.MaxPeriod > 1) || math.IsInf(c.MaxPeriod, 0):
		return fmt.Errorf("nn: dit needs a finite max_period > 1, got %g", c.MaxPeriod)
	case !(c.SigmaData >= 0) || math.IsInf(c.SigmaData, 0):
		return fmt.Errorf("nn: dit needs a finite sigma_data ≥ 0, got %g", c.SigmaData)
	}
	if _, ok := c.paramCount(); !ok {
		return fmt.Errorf("nn: dit with channels %d, side %d, patch %d, width %d, depth %d, heads %d, mlp_ratio %g, freq_dim %d "+
			"has more than %d parameters (or an example, its position table or its attention is larger than that)",
			c.Channels, c.Side, c.Patch, c.Width, c.Depth, c.Heads, c.MLPRatio, c.FreqDim, MaxParams)
	}
	return nil
}

// paramCount returns the number of parameters of a DiT with c (whose sizes
// are ≥ 1 and Side a multiple of Patch), or false if it, or one of the
// per-example sizes that GPU kernels index with int32 (D, the L·W position
// table, the Heads·L² attention weights), exceeds MaxParams. Every sum and
// product is checked before it is made, so it cannot overflow.
func (c DiTConfig) paramCount() (int, bool) {
	var sizes paramCounter
	g := c.Side / c.Patch
	L := sizes.mul(g, g)
	D := sizes.mul(c.Channels, sizes.mul(c.Side, c.Side))
	P := sizes.mul(c.Channels, sizes.mul(c.Patch, c.Patch))
	sizes.mul(L, c.Width)               // the position table
	sizes.mul(c.Heads, sizes.mul(L, L)) // one example's attention weights
	W, M, F := c.Width, c.Hidden(), c.FreqDim
	var n paramCounter
	linear := func(n *paramCounter, in, out int) { n.add(n.mul(out, in)); n.add(out) }
	linear(&n, P, W) // patch
	if c.LearnedPos {
		n.add(n.mul(L, W))
	}
	linear(&n, F, W) // time1
	linear(&n, W, W) // time2
	var block paramCounter
	linear(&block, W, block.mul(6, W)) // adaln
	linear(&block, W, block.mul(3, W)) // qkv
	linear(&block, W, W)               // proj
	linear(&block, W, M)               // fc1
	linear(&block, M, W)               // fc2
	n.add(n.mul(c.Depth, block.n))
	linear(&n, W, n.mul(2, W)) // final.adaln
	linear(&n, W, P)           // final.linear
	if c.Skip {
		linear(&n, D, D)
	}
	if sizes.over || block.over || n.over {
		return 0, false
	}
	return n.n, true
}
