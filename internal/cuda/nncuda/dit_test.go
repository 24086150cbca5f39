package nncuda

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
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

// patterns is a test dataset of images: each example is one of four fixed
// random patterns plus N(0, 0.1²) noise (structure for a DiT to learn,
// drawn from the caller's stream, so both backends see the same batches).
type patterns struct {
	dim  int
	base [4][]float32
}

func newPatterns(dim int) *patterns {
	p := &patterns{dim: dim}
	r := rand.New(rand.NewPCG(21, 1))
	for i := range p.base {
		p.base[i] = normal(1)(r, dim)
	}
	return p
}

func (p *patterns) Dim() int { return p.dim }

func (p *patterns) Sample(rng *rand.Rand, x []float32) {
	for i := 0; i < len(x); i += p.dim {
		b := p.base[rng.IntN(len(p.base))]
		for j := range p.dim {
			x[i+j] = b[j] + float32(0.1*rng.NormFloat64())
		}
	}
}

// ditTrainCfg is a DiT for training steps: two channels of 8×8 in 2×2
// patches (16 tokens), learned positions.
var ditTrainCfg = nn.DiTConfig{Channels: 2, Side: 8, Patch: 2, Width: 32, Depth: 2, Heads: 4, FreqDim: 32, LearnedPos: true}

// ditTrainer is a small training run of a DiT of ditTrainCfg with
// parameters N(0, 0.1²) (see ditPass) on patterns.
func ditTrainer(t *testing.T, b nn.Backend) *diffusion.Trainer {
	net, err := nn.InitDiT(b, ditTrainCfg, 17)
	require.NoError(t, err)
	b.Upload(net.Params().Flat, normal(0.1)(rand.New(rand.NewPCG(17, 1)), net.Params().Len()))
	data := newPatterns(net.Dim())
	tr, err := diffusion.NewTrainer(net, data, data, diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: weighting.V, Weighting: weighting.MustParse("min-snr:5"),
		Steps: 3, Batch: 8, Seed: 17, EvalSize: 4,
		Optim: nn.OptimConfig{LR: 2e-3, Warmup: 2, ClipNorm: 0.5, EMADecay: 0.999, WeightDecay: 0.1},
	})
	require.NoError(t, err)
	return tr
}

// keyBiasElems returns the indices into the flat parameters of the
// attention's key biases (columns W … 2W − 1 of every qkv bias). Their
// gradient is 0 in exact arithmetic (adding q·b to every score of a
// softmax row changes nothing), so the float32 gradient is rounding noise
// of either sign, which AdamW normalises to a step of ±lr: the two
// backends' key biases part by up to lr per step, and only that bound
// can be checked.
func keyBiasElems(ps *nn.ParamSet, width int) []int {
	var out []int
	for _, p := range ps.Params() {
		if strings.HasSuffix(p.Name, ".qkv.bias") {
			for c := width; c < 2*width; c++ {
				out = append(out, p.Offset+c)
			}
		}
	}
	return out
}

// maskOut returns a copy of x with the elements idx set to 0.
func maskOut(x []float32, idx []int) []float32 {
	out := append([]float32(nil), x...)
	for _, i := range idx {
		out[i] = 0
	}
	return out
}

// TestTrainStepsDiT takes three full training steps of a DiT
// (ditTrainer) on both backends from the same seed and parameters and compares the losses,
// every parameter (the key biases to the bound above), both Adam moments,
// the EMA and the held-out metrics, as TestTrainSteps does for the ResMLP.
func TestTrainStepsDiT(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		trC, trG := ditTrainer(t, nn.NewCPU()), ditTrainer(t, be)
		for s := range 3 {
			require.NoError(t, trC.StepOnce())
			require.NoError(t, trG.StepOnce())
			require.InEpsilon(t, trC.LastLoss(), trG.LastLoss(), tolDiT, "loss of step %d", s+1)
		}
		want, got := trainState(trC), trainState(trG)
		keyBias := keyBiasElems(trC.Net().Params(), ditTrainCfg.Width)
		for name, w := range want {
			tol := tolAdamStep
			if name == "adam m" || name == "adam v" {
				tol = tolDiT // the moments are gradient statistics
			} else {
				// An AdamW step moves a parameter by lr·|m̂|/√v̂ ≤
				// lr·(1 − β1)/√(1 − β2) ≈ 3.2·lr whatever its gradient (Kingma & Ba
				// 2015, §2.1, the case 1 − β1 > √(1 − β2)), so
				// the key biases part by at most 2·3.2·Σ_s lr_s (the
				// warm-up's lr_s are 1e-3, 2e-3, 2e-3), the EMA by less.
				const keyBiasBound = 2 * 3.2 * 5e-3
				for _, i := range keyBias {
					require.InDelta(t, w[i], got[name][i], keyBiasBound, "%s element %d (a key bias)", name, i)
				}
				w, got[name] = maskOut(w, keyBias), maskOut(got[name], keyBias)
			}
			requireClose(t, name, w, got[name], tol)
		}
		mc, mg := trC.Evaluate(), trG.Evaluate()
		require.InEpsilon(t, mc.EvalLoss, mg.EvalLoss, tolDiT)
		for i := range mc.X0MSE {
			require.InEpsilon(t, mc.X0MSE[i], mg.X0MSE[i], tolDiT, "x0-MSE of range %v", mc.Ranges[i])
		}
	})
}

// TestStepHandoversDiT: a DiT training step, too, hands work to the
// device's worker three times (its ≈190 kernel launches and GEMMs, for
// two blocks, stay below maxQueue).
func TestStepHandoversDiT(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		tr := ditTrainer(t, be)
		require.NoError(t, tr.StepOnce()) // the first step allocates its buffers
		n := be.handovers
		require.NoError(t, tr.StepOnce())
		require.Equal(t, 3, be.handovers-n)
	})
}
