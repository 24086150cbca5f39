package nncuda

import (
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/stretchr/testify/require"
)

// ditPass runs a forward and a backward pass of a DiT on b and returns
// every tensor it exposes: the output, the gradient of every parameter,
// the input and output-gradient rows of every Linear site and the position
// table's per-example rows. The parameters are drawn N(0, 0.1²) on the
// host: adaLN-Zero's zeros would leave most gradients zero, and 0.1 is
// the scale of DiT's Xavier initialisation (±0.15 at width 64). Larger
// ones make the pass ill-conditioned: at N(0, 0.3²) the CPU's float32
// gradients differ from its float64 twin's by 2e-2 of their largest
// value, so that no tolerance could tell rounding from a bug; at 0.1 by
// 2e-6.
func ditPass(t *testing.T, b nn.Backend, cfg nn.DiTConfig, rows int) map[string][]float32 {
	net, err := nn.InitDiT(b, cfg, 13)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(13, 1))
	b.Upload(net.Params().Flat, normal(0.1)(r, net.Params().Len()))
	D := net.Dim()
	x := upload(b, normal(1)(r, rows*D), 0)
	ts := upload(b, timesteps(r, rows), 0)
	dout := upload(b, normal(1)(r, rows*D), 0)
	out := upload(b, nanSlice(rows*D), 0)
	net.Params().ZeroGrad(b)
	if cfg.Preconditioned() {
		c, g := upload(b, normal(1)(r, rows), 0), upload(b, normal(3)(r, rows), 0)
		net.ForwardPrecond(out, x, ts, c, g, rows)
	} else {
		net.Forward(out, x, ts, rows)
	}
	net.Backward(dout, rows)
	res := map[string][]float32{"out": download(b, out)}
	for _, p := range net.Params().Params() {
		res["grad "+p.Name] = download(b, p.Grad)
	}
	for _, s := range net.LinearSites() {
		res["in "+s.Layer.Name] = download(b, s.In)
		res["δ "+s.Layer.Name] = download(b, s.OutGrad)
	}
	for _, s := range net.ParamSites() {
		res["δ "+s.Param.Name] = download(b, s.OutGrad)
	}
	return res
}

// tolDiT: a DiT pass chains, per block, two adaLN LayerNorms, the QKV,
// attention (two batched GEMMs and a softmax), projection and MLP GEMMs
// and gated residuals, four blocks deep, forward and back. With these
// parameters the CPU's float32 pass stays within 2e-6 of its float64
// twin (the emulator's, whose GEMMs are float64, within 7e-7); tolNet
// leaves a GPU's float32 GEMMs room for the chain, and any wrong
// operation gives O(1).
const tolDiT = tolNet

// TestDiT compares a whole forward and backward pass of the DiT small
// preset on MNIST's geometry (49 tokens of 16 pixels, width 64, 4 blocks
// of 4 heads), and of a three-channel one with a learned position table
// and the input skips, with the CPU backend's.
func TestDiT(t *testing.T) {
	small, err := nn.DiTPreset("small")
	require.NoError(t, err)
	mnist := small
	mnist.Channels, mnist.Side = 1, 28
	rgb := small
	rgb.Channels, rgb.Side, rgb.Patch, rgb.LearnedPos, rgb.SigmaData, rgb.Skip = 3, 8, 2, true, 0.5, true
	forDevices(t, func(t *testing.T, be *Backend) {
		for name, cfg := range map[string]nn.DiTConfig{"small-mnist": mnist, "small-rgb-precond": rgb} {
			t.Run(name, func(t *testing.T) {
				want, got := ditPass(t, nn.NewCPU(), cfg, 3), ditPass(t, be, cfg, 3)
				require.Len(t, got, len(want))
				for name, w := range want {
					requireClose(t, name, w, got[name], tolDiT)
				}
			})
		}
	})
}
