package nncuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	gramref "github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// Tolerances of whole layers, networks and training steps against the CPU
// backend, relative to the largest magnitude of each compared tensor.
const (
	// tolLayer: one layer is a GEMM (float32 sums of ≤ 64 terms) and a few
	// element-wise operations: tolSum.
	tolLayer = tolSum
	// tolNet: a ResMLP pass chains about ten such layers (and LayerNorms,
	// which rescale their inputs' errors by 1/σ of the row); float32
	// rounding in another summation order stays near 1e-6 per layer, and
	// 2e-4 leaves room for the chain while any wrong operation gives O(1).
	tolNet = 2e-4
	// tolAdamStep: after s steps the weights differ by the updates'
	// differences. An AdamW update is lr·m̂/(√v̂ + eps), about lr per
	// element, and inherits the gradient's relative error (≤ tolNet), so
	// the weights differ by ≤ s·lr·tolNet absolute; the weights are O(1),
	// so this test bounds it by a relative 1e-5 (s = 3, lr = 2e-3; weight
	// decay moves them by lr·wd·|p| ≈ 2e-4·|p| per step, so a wrong decay
	// shows). An element whose gradient lies within rounding of 0 could
	// flip the sign of its first update (≈ ±lr); none does for these seeds.
	tolAdamStep = 1e-5
	// tolGram64: two float64 Gram matrices of the same float32 rows: exact
	// products, float64 sums of P ≈ 10⁴ terms in another order, ≤ P·2^-53
	// relative to Σ|g_i·g_j| ≤ ‖g_i‖‖g_j‖: 1e-12.
	tolGram64 = 1e-12
)

var netCfg = nn.ResMLPConfig{Dim: 5, Width: 32, Depth: 2, Hidden: 48, TimeDim: 16}

// TestLayers checks Linear and LayerNorm forward and backward as layers:
// the same parameters (one PCG draw) and inputs on both backends.
func TestLayers(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		const rows, in, outN = 21, 17, 29
		r := rand.New(rand.NewPCG(7, 1))
		x, dy := normal(1)(r, rows*in), normal(1)(r, rows*outN)
		run := func(b nn.Backend) [][]float32 {
			ps := &nn.ParamSet{}
			lin := nn.NewLinear(b, ps, "lin", in, outN)
			ln := nn.NewLayerNorm(b, ps, "ln", outN)
			ps.Build(b)
			ps.Init(b, rand.New(rand.NewPCG(7, 2)))
			// Non-trivial LayerNorm parameters.
			b.Upload(ln.Gamma.Value, normal(1)(rand.New(rand.NewPCG(7, 3)), outN))
			b.Upload(ln.Beta.Value, normal(1)(rand.New(rand.NewPCG(7, 4)), outN))
			ps.ZeroGrad(b)
			xt, dyt := upload(b, x, 0), upload(b, dy, 0)
			y, z := upload(b, nanSlice(rows*outN), 0), upload(b, nanSlice(rows*outN), 0)
			mean, rstd := upload(b, nanSlice(rows), 0), upload(b, nanSlice(rows), 0)
			lin.Forward(y, xt, rows)
			ln.Forward(z, mean, rstd, y, rows)
			dz := b.Alloc(rows * outN) // LayerNorm's dx accumulates: start from 0
			ln.Backward(dz, dyt, y, mean, rstd, rows)
			dx := upload(b, nanSlice(rows*in), 0)
			lin.Backward(dx, dz, xt, rows)
			return [][]float32{download(b, y), download(b, z), download(b, mean), download(b, rstd),
				download(b, dz), download(b, dx), download(b, ps.Grad)}
		}
		want, got := run(nn.NewCPU()), run(be)
		for i, name := range []string{"linear out", "norm out", "mean", "rstd", "norm dx", "linear dx", "grads"} {
			requireClose(t, name, want[i], got[i], tolLayer)
		}
	})
}

// resmlpPass runs a forward and a backward pass of a ResMLP on b and
// returns every tensor it exposes: the output, the gradient of every
// parameter, and the input and output-gradient rows of every Linear and
// LayerNorm site.
func resmlpPass(t *testing.T, b nn.Backend, cfg nn.ResMLPConfig, rows int) map[string][]float32 {
	net, err := nn.InitResMLP(b, cfg, 11)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(11, 1))
	x := upload(b, normal(1)(r, rows*cfg.Dim), 0)
	ts := upload(b, timesteps(r, rows), 0)
	dout := upload(b, normal(1)(r, rows*cfg.Dim), 0)
	out := upload(b, nanSlice(rows*cfg.Dim), 0)
	net.Params().ZeroGrad(b)
	if cfg.Preconditioned() {
		// Random skip weights instead of zeros, and random gains.
		if p := net.Params().Lookup("skip.weight"); p != nil {
			b.Upload(p.Value, normal(0.3)(r, p.Size))
		}
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
		if !s.OutGrad.IsZero() {
			res["δ "+s.Layer.Name] = download(b, s.OutGrad)
		}
	}
	for _, s := range net.NormSites() {
		for k, v := range map[string]nn.Tensor{"x": s.X, "mean": s.Mean, "rstd": s.Rstd, "δ": s.OutGrad} {
			res[k+" "+s.Layer.Name] = download(b, v)
		}
	}
	return res
}

// TestResMLP compares a whole forward and backward pass of the denoiser
// with each activation, and with the input skips.
func TestResMLP(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		for _, act := range []nn.Activation{nn.SiLU, nn.GELU, -1} {
			name := act.String()
			if act < 0 {
				name = "precond"
			}
			t.Run(name, func(t *testing.T) {
				cfg := netCfg
				cfg.Act = act
				if act < 0 {
					cfg.Act, cfg.SigmaData, cfg.Skip = nn.SiLU, 0.5, true
				}
				want, got := resmlpPass(t, nn.NewCPU(), cfg, 24), resmlpPass(t, be, cfg, 24)
				require.Len(t, got, len(want))
				for name, w := range want {
					requireClose(t, name, w, got[name], tolNet)
				}
			})
		}
	})
}

// toyTrainer is a small training run on the 8-Gaussians toy data.
func toyTrainer(t *testing.T, b nn.Backend, target weighting.Target) *diffusion.Trainer {
	return toyTrainerNet(t, b, target, false)
}

// toyTrainerNet is toyTrainer, with the network's input skips if precond
// is set.
func toyTrainerNet(t *testing.T, b nn.Backend, target weighting.Target, precond bool) *diffusion.Trainer {
	toy, err := data.NewToy("8gaussians")
	require.NoError(t, err)
	cfg := netCfg
	cfg.Dim = 2
	if precond {
		cfg.SigmaData, cfg.Skip = 1, true
	}
	net, err := nn.InitResMLP(b, cfg, 5)
	require.NoError(t, err)
	tr, err := diffusion.NewTrainer(net, toy, toy, diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: target, Weighting: weighting.MustParse("min-snr:5"),
		Steps: 3, Batch: 32, Seed: 5, EvalSize: 16,
		Optim: nn.OptimConfig{LR: 2e-3, Warmup: 2, ClipNorm: 0.5, EMADecay: 0.999, WeightDecay: 0.1},
	})
	require.NoError(t, err)
	return tr
}

// trainState is everything a training step changes.
func trainState(tr *diffusion.Trainer) map[string][]float32 {
	b, o := tr.Net().Backend(), tr.Optimizer()
	return map[string][]float32{
		"params": download(b, tr.Net().Params().Flat), "adam m": download(b, o.M),
		"adam v": download(b, o.V), "ema": download(b, o.EMA),
	}
}

// TestTrainSteps takes three full training steps (batch drawn on the host,
// noising, weighted loss, backward, clipping, AdamW with warm-up and weight
// decay, EMA) on both backends from the same seed, for each target, and
// compares the losses, gradient norms, every parameter, both Adam moments,
// the EMA and the held-out metrics; also for a network with input skips.
func TestTrainSteps(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		for _, tc := range []struct {
			target  weighting.Target
			precond bool
		}{{weighting.Eps, false}, {weighting.X0, false}, {weighting.V, false}, {weighting.Eps, true}, {weighting.V, true}} {
			name := tc.target.String()
			if tc.precond {
				name += "-precond"
			}
			t.Run(name, func(t *testing.T) {
				trC := toyTrainerNet(t, nn.NewCPU(), tc.target, tc.precond)
				trG := toyTrainerNet(t, be, tc.target, tc.precond)
				for s := range 3 {
					require.NoError(t, trC.StepOnce())
					require.NoError(t, trG.StepOnce())
					require.InEpsilon(t, trC.LastLoss(), trG.LastLoss(), tolNet, "loss of step %d", s+1)
				}
				want, got := trainState(trC), trainState(trG)
				for name, w := range want {
					tol := tolAdamStep
					if name == "adam m" || name == "adam v" {
						tol = tolNet // the moments are gradient statistics
					}
					requireClose(t, name, w, got[name], tol)
				}
				mc, mg := trC.Evaluate(), trG.Evaluate()
				require.InEpsilon(t, mc.EvalLoss, mg.EvalLoss, tolNet)
				for i := range mc.X0MSE {
					require.InEpsilon(t, mc.X0MSE[i], mg.X0MSE[i], tolNet, "x0-MSE of range %v", mc.Ranges[i])
				}
			})
		}
	})
}

// TestResumeAcrossBackends continues a CPU run's checkpoint on the GPU
// backend (checkpoints hold host values, so either backend resumes the
// other's run) and compares it with the CPU run continued.
func TestResumeAcrossBackends(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		toy, err := data.NewToy("8gaussians")
		require.NoError(t, err)
		trC := toyTrainer(t, nn.NewCPU(), weighting.V)
		require.NoError(t, trC.StepOnce())
		ck := trC.Checkpoint()
		trG, err := diffusion.ResumeTrainer(ck, be, toy, toy, 0)
		require.NoError(t, err)
		for range 2 {
			require.NoError(t, trC.StepOnce())
			require.NoError(t, trG.StepOnce())
		}
		want, got := trainState(trC), trainState(trG)
		requireClose(t, "params", want["params"], got["params"], tolAdamStep)
		requireClose(t, "ema", want["ema"], got["ema"], tolAdamStep)
	})
}

// TestTrainDeterministic: two runs from the same seed on the device end
// with the same bits.
func TestTrainDeterministic(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		run := func() map[string][]float32 {
			tr := toyTrainer(t, be, weighting.Eps)
			for range 3 {
				require.NoError(t, tr.StepOnce())
			}
			return trainState(tr)
		}
		a, b := run(), run()
		for name := range a {
			require.Equal(t, a[name], b[name], name)
		}
	})
}

// TestBinGradientsAndGram computes the per-timestep-bin gradients of a
// stratified batch (one backward pass per bin, diffusion's reference
// method) and their K×K Gram matrix on both backends. The device's Gram of
// its own gradient rows must match the CPU's Gram of the same rows to
// float64 rounding; the rows and the Gram must match the CPU's computation
// to float32 rounding.
func TestBinGradientsAndGram(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		const K, perBin = 4, 6
		bins := weighting.MustEqualT(1000, K)
		run := func(b nn.Backend) (rows []float32, gram, losses []float64) {
			toy, err := data.NewToy("checkerboard")
			require.NoError(t, err)
			cfg := netCfg
			cfg.Dim = 2
			net, err := nn.InitResMLP(b, cfg, 9)
			require.NoError(t, err)
			obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.V)
			batch := diffusion.DrawBins(rand.New(rand.NewPCG(9, 1)), toy, bins, perBin)
			P := net.Params().Len()
			dst := upload(b, nanSlice(K*P), 0)
			losses = gramref.BinGradients(obj, dst, batch, K, weighting.MustParse("min-snr:5"))
			gram = make([]float64, K*K)
			b.Gram(gram, dst, K, P)
			return download(b, dst), gram, losses
		}
		rowsC, gramC, lossC := run(nn.NewCPU())
		rowsG, gramG, lossG := run(be)
		for k := range lossC {
			require.InEpsilon(t, lossC[k], lossG[k], tolNet, "loss of bin %d", k)
		}
		P := len(rowsC) / K
		norm := func(x []float32) float64 {
			s := 0.0
			for _, v := range x {
				s += float64(v) * float64(v)
			}
			return math.Sqrt(s)
		}
		for k := range K {
			want, got := rowsC[k*P:(k+1)*P], rowsG[k*P:(k+1)*P]
			requireClose(t, fmt.Sprintf("gradient of bin %d", k), want, got, tolNet)
			diff := make([]float32, P)
			for i := range diff {
				diff[i] = got[i] - want[i]
			}
			require.LessOrEqual(t, norm(diff), tolNet*norm(want), "‖Δg‖/‖g‖ of bin %d", k)
		}
		// The Gram of the device's rows, recomputed on the CPU in float64:
		// the same float64 sums in another order.
		cpu := nn.NewCPU()
		ref := make([]float64, K*K)
		cpu.Gram(ref, upload(cpu, rowsG, 0), K, P)
		for i := range K {
			for j := range K {
				require.InDelta(t, ref[i*K+j], gramG[i*K+j], tolGram64*math.Sqrt(ref[i*K+i]*ref[j*K+j]),
					"device Gram [%d, %d] of the device's rows", i, j)
				// Against the CPU's rows: with ‖Δg_k‖ ≤ tolNet·‖g_k‖ (checked
				// above), ⟨g_i, g_j⟩ moves by ≤ (2 + tolNet)·tolNet·‖g_i‖‖g_j‖
				// (Cauchy–Schwarz).
				require.InDelta(t, gramC[i*K+j], gramG[i*K+j], 2.01*tolNet*math.Sqrt(gramC[i*K+i]*gramC[j*K+j]), "Gram [%d, %d]", i, j)
			}
		}
	})
}

// TestResumeBitIdentical: a run checkpointed and resumed on the device ends
// with the same bits as the uninterrupted run (the kernels and cuBLAS are
// deterministic and the checkpoint holds the exact state).
func TestResumeBitIdentical(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		toy, err := data.NewToy("8gaussians")
		require.NoError(t, err)
		whole := toyTrainer(t, be, weighting.Eps)
		for range 3 {
			require.NoError(t, whole.StepOnce())
		}
		part := toyTrainer(t, be, weighting.Eps)
		require.NoError(t, part.StepOnce())
		resumed, err := diffusion.ResumeTrainer(part.Checkpoint(), be, toy, toy, 0)
		require.NoError(t, err)
		for range 2 {
			require.NoError(t, resumed.StepOnce())
		}
		a, b := trainState(whole), trainState(resumed)
		for name := range a {
			require.Equal(t, a[name], b[name], name)
		}
	})
}
