package diffusion_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// toyConfig is the small toy run the training tests share.
func toyConfig(steps int) diffusion.TrainConfig {
	return diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Strategy: weighting.MustParse("min-snr:5"),
		Steps: steps, Batch: 64, Seed: 3, EvalSize: 128, LogEvery: 10,
		Optim: nn.OptimConfig{LR: 2e-3, Warmup: 20, ClipNorm: 1, EMADecay: 0.999, WeightDecay: 0.01},
	}
}

func toyNet(t testing.TB, be nn.Backend, width int) nn.Network {
	net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: width, Depth: 2}, 3)
	require.NoError(t, err)
	return net
}

func gaussians(t testing.TB) *data.Toy {
	toy, err := data.NewToy("8gaussians")
	require.NoError(t, err)
	return toy
}

// readMetrics parses a JSONL log, dropping the timing fields, which differ
// between runs.
func readMetrics(t *testing.T, b []byte) []map[string]float64 {
	var out []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m := map[string]float64{}
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		delete(m, "elapsed_s")
		delete(m, "steps_per_s")
		out = append(out, m)
	}
	return out
}

// toyLossDrop is the factor by which the held-out weighted loss must fall
// in the toy run: an untrained ε-model has loss ≈ 1.2 here and a trained one
// ≈ 0.3 (measured), so 0.5 leaves room for seeds and platforms while any
// failure to learn stays far above it.
const toyLossDrop = 0.5

func TestTrainToyLowersHeldOutLoss(t *testing.T) {
	toy := gaussians(t)
	cfg := toyConfig(1500)
	cfg.Batch, cfg.LogEvery, cfg.EvalSize = 128, 500, 256
	tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 48), toy, toy, cfg)
	require.NoError(t, err)
	before := tr.Evaluate()
	require.NoError(t, tr.Run(context.Background()))
	after := tr.Evaluate()
	t.Logf("held-out weighted loss %.4f → %.4f; x0-MSE by range %.3g → %.3g", before.EvalLoss, after.EvalLoss, before.X0MSE, after.X0MSE)
	require.Less(t, after.EvalLoss, toyLossDrop*before.EvalLoss)
	// The noisiest range, where an untrained network is worst, improves most.
	require.Less(t, after.X0MSE[3], 0.2*before.X0MSE[3])
	require.Equal(t, 1500, tr.Step())
}

func TestMetricsLog(t *testing.T) {
	toy := gaussians(t)
	var log bytes.Buffer
	cfg := toyConfig(25)
	cfg.Metrics = &log
	_, err := diffusion.Train(context.Background(), toyNet(t, nn.NewCPU(), 16), toy, toy, cfg)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	require.Len(t, lines, 3, "records at steps 10, 20 and the last, 25")
	require.True(t, strings.HasPrefix(lines[0], `{"step":10,"loss":`), lines[0])
	for _, key := range []string{"eval_loss", "x0_mse_0_100", "x0_mse_200_300", "x0_mse_600_700", "x0_mse_800_900", "grad_norm", "lr", "steps_per_s", "elapsed_s"} {
		require.Contains(t, lines[2], `"`+key+`":`)
	}
	recs := readMetrics(t, log.Bytes())
	require.Equal(t, 25.0, recs[2]["step"])
	require.Equal(t, 2e-3, recs[2]["lr"])
	for _, r := range recs {
		for k, v := range r {
			require.False(t, math.IsNaN(v) || v < 0, "%s = %g", k, v)
		}
	}
}

// runTo trains a fresh toy run to steps in dir and returns its final state.
func runTo(t *testing.T, steps int, dir string, log *bytes.Buffer) *diffusion.Checkpoint {
	cfg := toyConfig(steps)
	cfg.CheckpointDir, cfg.Metrics = dir, log
	tr, err := diffusion.Train(context.Background(), toyNet(t, nn.NewCPU(), 24), gaussians(t), gaussians(t), cfg)
	require.NoError(t, err)
	return tr.Checkpoint()
}

// Kill-and-resume on the CPU backend: N/2 steps, a checkpoint on disk, then
// a fresh trainer built only from that file runs to N; it ends bit for bit
// where an uninterrupted run of N steps ends, and logs the same metrics.
func TestResumeIsBitIdentical(t *testing.T) {
	const N = 60
	var straightLog, firstLog, secondLog bytes.Buffer
	straight := runTo(t, N, t.TempDir(), &straightLog)

	dir := t.TempDir()
	half := runTo(t, N/2, dir, &firstLog)
	require.Equal(t, N/2, half.Step)

	ck, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(dir))
	require.NoError(t, err)
	cfg := diffusion.TrainConfig{Steps: N, LogEvery: 10, Metrics: &secondLog, CheckpointDir: dir}
	tr, err := diffusion.ResumeTrainer(ck, nn.NewCPU(), gaussians(t), gaussians(t), cfg)
	require.NoError(t, err)
	require.Equal(t, N/2, tr.Step())
	require.NoError(t, tr.Run(context.Background()))
	resumed := tr.Checkpoint()

	require.Equal(t, straight.Params, resumed.Params, "parameters")
	require.Equal(t, straight.M, resumed.M, "first moments")
	require.Equal(t, straight.V, resumed.V, "second moments")
	require.Equal(t, straight.EMA, resumed.EMA, "EMA weights")
	require.Equal(t, straight.RNG, resumed.RNG, "random state")
	require.Equal(t, N, resumed.Step)
	both := append(readMetrics(t, firstLog.Bytes()), readMetrics(t, secondLog.Bytes())...)
	require.Equal(t, readMetrics(t, straightLog.Bytes()), both, "metrics")

	// The file on disk is the final state too.
	final, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(dir))
	require.NoError(t, err)
	require.Equal(t, resumed.Params, final.Params)

	// Training is deterministic: a second uninterrupted run gives the same bits.
	again := runTo(t, N, t.TempDir(), &bytes.Buffer{})
	require.Equal(t, straight.Params, again.Params)
}

// nanAfter yields NaN data from its n-th Sample call on.
type nanAfter struct {
	*data.Toy
	n, calls int
}

func (d *nanAfter) Sample(rng *rand.Rand, x []float32) {
	d.calls++
	d.Toy.Sample(rng, x)
	if d.calls >= d.n {
		x[0] = float32(math.NaN())
	}
}

func TestNonFiniteLossStopsAndKeepsLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := toyConfig(20)
	cfg.CheckpointDir, cfg.CheckpointEvery = dir, 5
	bad := &nanAfter{Toy: gaussians(t), n: 13}
	tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 16), bad, gaussians(t), cfg)
	require.NoError(t, err)
	err = tr.Run(context.Background())
	require.ErrorContains(t, err, "step 13: training loss is NaN")
	require.Equal(t, 12, tr.Step(), "the failed step is not taken")
	ck, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(dir))
	require.NoError(t, err)
	require.Equal(t, 10, ck.Step, "the last good checkpoint stays")
	for _, v := range ck.Params {
		require.False(t, math.IsNaN(float64(v)))
	}
}

func TestCallbackAndCancel(t *testing.T) {
	var seen []int
	cfg := toyConfig(20)
	cfg.CallbackEvery = 7
	cfg.Callback = func(tr *diffusion.Trainer) error {
		seen = append(seen, tr.Step())
		// The callback may probe the model: a forward/backward pass.
		obj := tr.Objective()
		b := diffusion.DrawBins(rand.New(rand.NewPCG(1, 1)), gaussians(t), []int{0, 500, 1000}, 4)
		obj.BinGradientRows(b, 2, nil)
		if tr.Step() == 14 {
			return errors.New("enough")
		}
		return nil
	}
	_, err := diffusion.Train(context.Background(), toyNet(t, nn.NewCPU(), 16), gaussians(t), gaussians(t), cfg)
	require.EqualError(t, err, "diffusion: callback at step 14: enough")
	require.Equal(t, []int{7, 14}, seen)

	// Cancelling writes a checkpoint of the last completed step.
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg = toyConfig(20)
	cfg.CheckpointDir, cfg.CallbackEvery = dir, 5
	cfg.Callback = func(*diffusion.Trainer) error { cancel(); return nil }
	_, err = diffusion.Train(ctx, toyNet(t, nn.NewCPU(), 16), gaussians(t), gaussians(t), cfg)
	require.ErrorIs(t, err, context.Canceled)
	ck, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(dir))
	require.NoError(t, err)
	require.Equal(t, 5, ck.Step)
}

// WeightFunc overrides the strategy: zero weights give a zero loss and a
// zero gradient, and AdamW then leaves the weights alone (no decay here).
func TestWeightFuncOverridesWeights(t *testing.T) {
	cfg := toyConfig(5)
	cfg.Optim.WeightDecay = 0
	var steps []int
	cfg.WeightFunc = func(step int, ts []int, w []float64) {
		steps = append(steps, step)
		require.Len(t, ts, 64)
		require.Equal(t, weighting.Weight(cfg.Strategy, weighting.Eps, cfg.Schedule.SNR(ts[0])), w[0])
		for i := range w {
			w[i] = 0
		}
	}
	net := toyNet(t, nn.NewCPU(), 16)
	before := make([]float32, net.Params().Len())
	net.Backend().Download(before, net.Params().Flat)
	tr, err := diffusion.Train(context.Background(), net, gaussians(t), gaussians(t), cfg)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3, 4, 5}, steps)
	require.Equal(t, before, tr.Checkpoint().Params)
}

func TestDenoisersAndCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	cfg := toyConfig(30)
	cfg.CheckpointDir = dir
	cfg.Meta = map[string]string{"data": "toy:8gaussians"}
	tr, err := diffusion.Train(context.Background(), toyNet(t, nn.NewCPU(), 16), gaussians(t), gaussians(t), cfg)
	require.NoError(t, err)

	xt := []float32{0.1, -0.3, 1.2, 0.4, -2, 0}
	ts := []int{0, 500, 999}
	predict := func(d diffusion.Denoiser) []float32 {
		out := make([]float32, len(xt))
		d.Predict(out, xt, ts)
		return out
	}
	live, err := tr.Denoiser(false)
	require.NoError(t, err)
	ema, err := tr.Denoiser(true)
	require.NoError(t, err)
	require.Equal(t, 2, ema.Dim())
	require.Equal(t, weighting.Eps, ema.Target())
	require.NotEqual(t, predict(live), predict(ema), "EMA weights differ from the live ones")

	ck, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(dir))
	require.NoError(t, err)
	require.Equal(t, "toy:8gaussians", ck.Meta["data"])
	fromFile, err := ck.Denoiser(nn.NewCPU(), true)
	require.NoError(t, err)
	require.Equal(t, predict(ema), predict(fromFile))
	fromFileLive, err := ck.Denoiser(nn.NewCPU(), false)
	require.NoError(t, err)
	require.Equal(t, predict(live), predict(fromFileLive))

	// Damaged files are refused with a reason.
	raw, err := os.ReadFile(diffusion.CheckpointPath(dir))
	require.NoError(t, err)
	for name, mutate := range map[string]func([]byte) []byte{
		"checksum mismatch": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"bad magic":         func(b []byte) []byte { b[0] = 'X'; return b },
		"truncated":         func(b []byte) []byte { return b[:len(b)-100] },
	} {
		p := filepath.Join(t.TempDir(), "ck.bin")
		require.NoError(t, os.WriteFile(p, mutate(append([]byte(nil), raw...)), 0o644))
		_, err := diffusion.LoadCheckpoint(p)
		require.Error(t, err, name)
		if name != "truncated" {
			require.ErrorContains(t, err, name)
		}
	}
	_, err = diffusion.LoadCheckpoint(filepath.Join(dir, "missing.bin"))
	require.Error(t, err)

	// A resume must match the network and the run configuration.
	other := toyConfig(40)
	other.Seed = 99
	tr2, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 16), gaussians(t), gaussians(t), other)
	require.NoError(t, err)
	require.ErrorContains(t, tr2.Restore(ck), "run configuration")
	tr3, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 20), gaussians(t), gaussians(t), toyConfig(40))
	require.NoError(t, err)
	require.ErrorContains(t, tr3.Restore(ck), "checkpoint network")
}

func TestTrainConfigErrors(t *testing.T) {
	net := toyNet(t, nn.NewCPU(), 8)
	toy := gaussians(t)
	for msg, mutate := range map[string]func(*diffusion.TrainConfig){
		"needs a schedule":           func(c *diffusion.TrainConfig) { c.Schedule = nil },
		"needs a weighting strategy": func(c *diffusion.TrainConfig) { c.Strategy = nil },
		"steps ≥ 1":                  func(c *diffusion.TrainConfig) { c.Steps = 0 },
		"batch must be ≥ 1":          func(c *diffusion.TrainConfig) { c.Batch = -1 },
		"density has T=10":           func(c *diffusion.TrainConfig) { c.Density = weighting.Uniform{Steps: 10} },
		"needs CallbackEvery":        func(c *diffusion.TrainConfig) { c.Callback = func(*diffusion.Trainer) error { return nil } },
		"learning rate":              func(c *diffusion.TrainConfig) { c.Optim.LR = -1 },
	} {
		cfg := toyConfig(5)
		mutate(&cfg)
		_, err := diffusion.NewTrainer(net, toy, toy, cfg)
		require.ErrorContains(t, err, msg)
	}
	mnistLike := &struct{ *data.Toy }{toy}
	_ = mnistLike
	net3, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 3, Width: 8}, 1)
	require.NoError(t, err)
	_, err = diffusion.NewTrainer(net3, toy, toy, toyConfig(5))
	require.ErrorContains(t, err, "data of dimension 2")
}

// Checkpoint formats: a checkpoint written before input skips existed
// (testdata/checkpoint-v1, made by genck.go.txt with the code of commit
// 840f3eb) still loads and predicts what it did; a network without skips is
// still written in format 1 with the same header keys; one with skips is
// written in format 2, round-trips, and a mismatched or newer version is
// refused with a reason.
func TestCheckpointVersions(t *testing.T) {
	old, err := diffusion.LoadCheckpoint("testdata/checkpoint-v1/checkpoint.bin")
	require.NoError(t, err)
	require.False(t, old.Spec.ResMLP.Preconditioned())
	var ref struct {
		XT   []float32 `json:"xt"`
		T    []int     `json:"t"`
		Pred []float32 `json:"pred"`
	}
	raw, err := os.ReadFile("testdata/checkpoint-v1/pred.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &ref))
	den, err := old.Denoiser(nn.NewCPU(), true)
	require.NoError(t, err)
	got := make([]float32, len(ref.XT))
	den.Predict(got, ref.XT, ref.T)
	require.Equal(t, ref.Pred, got)

	for _, precond := range []bool{false, true} {
		dir := t.TempDir()
		cfg := toyConfig(5)
		cfg.CheckpointDir = dir
		nc := nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}
		if precond {
			nc.SigmaData, nc.Skip = 1, true
		}
		net, err := nn.InitResMLP(nn.NewCPU(), nc, 3)
		require.NoError(t, err)
		tr, err := diffusion.Train(context.Background(), net, gaussians(t), gaussians(t), cfg)
		require.NoError(t, err)
		path := diffusion.CheckpointPath(dir)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		want := map[bool]string{false: "PDIFFCK1", true: "PDIFFCK2"}[precond]
		require.Equal(t, want, string(raw[:8]))
		require.Equal(t, precond, bytes.Contains(raw, []byte(`"skip"`)))
		require.Equal(t, precond, bytes.Contains(raw, []byte(`"sigma_data"`)))
		ck, err := diffusion.LoadCheckpoint(path)
		require.NoError(t, err)
		require.Equal(t, nc.WithDefaults(), *ck.Spec.ResMLP)
		fromFile, err := ck.Denoiser(nn.NewCPU(), true)
		require.NoError(t, err)
		ema, err := tr.Denoiser(true)
		require.NoError(t, err)
		a, b := make([]float32, len(ref.XT)), make([]float32, len(ref.XT))
		ema.Predict(a, ref.XT, ref.T)
		fromFile.Predict(b, ref.XT, ref.T)
		require.Equal(t, a, b)

		// A resumed run ends where an uninterrupted one does.
		resumed, err := diffusion.ResumeTrainer(ck, nn.NewCPU(), gaussians(t), gaussians(t), diffusion.TrainConfig{Steps: 8, LogEvery: 10})
		require.NoError(t, err)
		require.NoError(t, resumed.Run(context.Background()))
		net2, err := nn.InitResMLP(nn.NewCPU(), nc, 3)
		require.NoError(t, err)
		straight, err := diffusion.Train(context.Background(), net2, gaussians(t), gaussians(t), toyConfig(8))
		require.NoError(t, err)
		require.Equal(t, straight.Checkpoint().Params, resumed.Checkpoint().Params)

		// The wrong version for the network, and a newer version, are
		// refused; the CRC covers the magic, so it is recomputed.
		for _, magic := range []string{map[bool]string{false: "PDIFFCK2", true: "PDIFFCK1"}[precond], "PDIFFCK3"} {
			bad := append([]byte(magic), raw[8:len(raw)-4]...)
			bad = binary.LittleEndian.AppendUint32(bad, crc32.ChecksumIEEE(bad))
			p := filepath.Join(t.TempDir(), "ck.bin")
			require.NoError(t, os.WriteFile(p, bad, 0o644))
			_, err := diffusion.LoadCheckpoint(p)
			if magic == "PDIFFCK3" {
				require.ErrorContains(t, err, "newer than this program reads")
			} else {
				require.ErrorContains(t, err, "does not match its network")
			}
		}
	}
}
