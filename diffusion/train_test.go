package diffusion_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// toyConfig is the small toy run the training tests share.
func toyConfig(steps int) diffusion.TrainConfig {
	return diffusion.TrainConfig{
		Data: "toy:8gaussians", Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Weighting: weighting.MustParse("min-snr:5"),
		Steps: steps, Batch: 64, Seed: 3, EvalSize: 128,
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

// trainTo takes steps until the trainer is at step n, recording metrics
// every 10 steps and at n.
func trainTo(t testing.TB, tr *diffusion.Trainer, n int) []diffusion.Metrics {
	var recs []diffusion.Metrics
	for tr.Step() < n {
		require.NoError(t, tr.StepOnce())
		if tr.Step()%10 == 0 || tr.Step() == n {
			recs = append(recs, tr.Record())
		}
	}
	return recs
}

// toyLossDrop is the factor by which the held-out weighted loss must fall
// in the toy run: an untrained ε-model has loss ≈ 1.2 here and a trained one
// ≈ 0.3 (measured), so 0.5 leaves room for seeds and platforms while any
// failure to learn stays far above it.
const toyLossDrop = 0.5

func TestTrainToyLowersHeldOutLoss(t *testing.T) {
	toy := gaussians(t)
	cfg := toyConfig(1500)
	cfg.Batch, cfg.EvalSize = 128, 256
	tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 48), toy, toy, cfg)
	require.NoError(t, err)
	before := tr.Evaluate()
	trainTo(t, tr, 1500)
	after := tr.Evaluate()
	t.Logf("held-out weighted loss %.4f → %.4f; x0-MSE by range %.3g → %.3g", before.EvalLoss, after.EvalLoss, before.X0MSE, after.X0MSE)
	require.Less(t, after.EvalLoss, toyLossDrop*before.EvalLoss)
	// The noisiest range, where an untrained network is worst, improves most.
	require.Less(t, after.X0MSE[3], 0.2*before.X0MSE[3])
	require.Equal(t, 1500, tr.Step())
}

// A record holds the mean training loss since the previous one; its JSON
// form has the flat keys of the metrics log, reads back exactly, and a
// record of an untrained network has a NaN training loss.
func TestRecordAndItsJSON(t *testing.T) {
	toy := gaussians(t)
	tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 16), toy, toy, toyConfig(25))
	require.NoError(t, err)
	first := tr.Record()
	require.True(t, math.IsNaN(first.Loss))
	var sum float64
	for tr.Step() < 4 {
		require.NoError(t, tr.StepOnce())
		sum += tr.LastLoss()
	}
	m := tr.Record()
	require.InDelta(t, sum/4, m.Loss, 1e-15)
	require.Equal(t, 4, m.Step)
	require.Equal(t, 2e-3*4/20, m.LR, "warm-up: lr·step/warmup")
	require.Len(t, m.Ranges, 4)
	m.StepsPerSec, m.Elapsed = 12.5, 4054194*time.Nanosecond // 0.004054194 s: not exact in binary

	line, err := json.Marshal(m)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(line), `{"step":4,"loss":`), string(line))
	for _, key := range []string{"eval_loss", "x0_mse_0_100", "x0_mse_200_300", "x0_mse_600_700", "x0_mse_800_900", "grad_norm", "lr", "steps_per_s", "elapsed_s"} {
		require.Contains(t, string(line), `"`+key+`":`)
	}
	var back diffusion.Metrics
	require.NoError(t, json.Unmarshal(line, &back))
	require.Equal(t, m, back)
	require.NotContains(t, string(line), "pass_params", "a closed form has no parameters")

	// A ParamPass's parameters (package learned's u) round-trip exactly.
	m.PassParams = []float64{-0.1, 1.0 / 3, 2e-300, 0}
	line, err = json.Marshal(m)
	require.NoError(t, err)
	require.Contains(t, string(line), `"pass_params":[`)
	back = diffusion.Metrics{}
	require.NoError(t, json.Unmarshal(line, &back))
	require.Equal(t, m, back)
	require.Error(t, json.Unmarshal([]byte(`{"step":1,"pass_params":["x"]}`), &back))
	m.PassParams = nil

	nanLine, err := json.Marshal(first)
	require.NoError(t, err)
	require.Contains(t, string(nanLine), `"loss":"NaN"`)
	require.NoError(t, json.Unmarshal(nanLine, &back))
	require.True(t, math.IsNaN(back.Loss))
	for _, bad := range []string{`{"loss":1}`, `{"step":-1}`, `{"step":1,"loss":"x"}`, `{"step":1,"x0_mse_5_2":1}`, `[1]`} {
		require.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
}

// Kill-and-resume on the CPU backend: N/2 steps, a checkpoint on disk, then
// a fresh trainer built only from that file runs to N; it ends bit for bit
// where an uninterrupted run of N steps ends, and records the same metrics.
func TestResumeIsBitIdentical(t *testing.T) {
	const N = 60
	run := func(n int) (*diffusion.Trainer, []diffusion.Metrics) {
		tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 24), gaussians(t), gaussians(t), toyConfig(N))
		require.NoError(t, err)
		return tr, trainTo(t, tr, n)
	}
	straight, straightRecs := run(N)
	half, firstRecs := run(N / 2)
	path := filepath.Join(t.TempDir(), "checkpoint.bin")
	require.NoError(t, half.Checkpoint().Save(path))

	ck, err := diffusion.LoadCheckpoint(path)
	require.NoError(t, err)
	tr, err := diffusion.ResumeTrainer(ck, nn.NewCPU(), gaussians(t), gaussians(t), 0)
	require.NoError(t, err)
	require.Equal(t, N/2, tr.Step())
	require.Equal(t, N, tr.Config().Steps, "the checkpoint's step count")
	secondRecs := trainTo(t, tr, N)
	a, b := straight.Checkpoint(), tr.Checkpoint()
	require.Equal(t, a.Params, b.Params, "parameters")
	require.Equal(t, a.M, b.M, "first moments")
	require.Equal(t, a.V, b.V, "second moments")
	require.Equal(t, a.EMA, b.EMA, "EMA weights")
	require.Equal(t, a.RNG, b.RNG, "random state")
	require.Equal(t, straightRecs, append(firstRecs, secondRecs...), "metrics")

	// Training is deterministic: a second uninterrupted run gives the same bits.
	again, _ := run(N)
	require.Equal(t, a.Params, again.Checkpoint().Params)
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

func TestNonFiniteLossIsAnErrorAndNoUpdate(t *testing.T) {
	bad := &nanAfter{Toy: gaussians(t), n: 13}
	tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 16), bad, gaussians(t), toyConfig(20))
	require.NoError(t, err)
	for i := 0; i < 12; i++ {
		require.NoError(t, tr.StepOnce())
	}
	before := tr.Checkpoint()
	err = tr.StepOnce()
	require.ErrorContains(t, err, "step 13: training loss is NaN")
	require.Equal(t, 12, tr.Step(), "the failed step is not taken")
	require.Equal(t, before.Params, tr.Checkpoint().Params)
}

func TestDenoisersAndCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	tr, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 16), gaussians(t), gaussians(t), toyConfig(30))
	require.NoError(t, err)
	trainTo(t, tr, 30)
	require.NoError(t, tr.Checkpoint().Save(filepath.Join(dir, "checkpoint.bin")))

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

	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, "toy:8gaussians", ck.Config.Data)
	require.Equal(t, "min-snr:5", ck.Config.Weighting)
	fromFile, err := ck.Denoiser(nn.NewCPU(), true)
	require.NoError(t, err)
	require.Equal(t, predict(ema), predict(fromFile))
	fromFileLive, err := ck.Denoiser(nn.NewCPU(), false)
	require.NoError(t, err)
	require.Equal(t, predict(live), predict(fromFileLive))

	// Damaged files are refused with a reason.
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
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
	require.ErrorContains(t, tr2.Restore(ck), "run configuration differs from this run's in seed: 3 vs 99")
	tr3, err := diffusion.NewTrainer(toyNet(t, nn.NewCPU(), 20), gaussians(t), gaussians(t), toyConfig(40))
	require.NoError(t, err)
	require.ErrorContains(t, tr3.Restore(ck), "checkpoint network")
}

// notAWeighting is a Weighting the trainer cannot use.
type notAWeighting struct{}

func (notAWeighting) String() string { return "not-a-weighting" }

func TestTrainConfigErrors(t *testing.T) {
	net := toyNet(t, nn.NewCPU(), 8)
	toy := gaussians(t)
	for msg, mutate := range map[string]func(*diffusion.TrainConfig){
		"needs a schedule":      func(c *diffusion.TrainConfig) { c.Schedule = nil },
		"needs a weighting":     func(c *diffusion.TrainConfig) { c.Weighting = nil },
		"neither a closed form": func(c *diffusion.TrainConfig) { c.Weighting = notAWeighting{} },
		"steps ≥ 1":             func(c *diffusion.TrainConfig) { c.Steps = 0 },
		"batch must be ≥ 1":     func(c *diffusion.TrainConfig) { c.Batch = -1 },
		"density has T=10":      func(c *diffusion.TrainConfig) { c.Density = weighting.Uniform{Steps: 10} },
		"eval size must be ≥ 1": func(c *diffusion.TrainConfig) { c.EvalSize = -1 },
		"unknown target":        func(c *diffusion.TrainConfig) { c.Target = weighting.Target(7) },
		"learning rate":         func(c *diffusion.TrainConfig) { c.Optim.LR = -1 },
	} {
		cfg := toyConfig(5)
		mutate(&cfg)
		_, err := diffusion.NewTrainer(net, toy, toy, cfg)
		require.ErrorContains(t, err, msg)
	}
	net3, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 3, Width: 8}, 1)
	require.NoError(t, err)
	_, err = diffusion.NewTrainer(net3, toy, toy, toyConfig(5))
	require.ErrorContains(t, err, "data of dimension 2")
}

// Checkpoint formats: a checkpoint written before input skips existed
// (testdata/checkpoint-v1, made by genck.go.txt with the code of commit
// 840f3eb) still loads, names its data and weighting from its old "meta"
// header and predicts what it did; every network is now written in format
// 3 with the data and the weighting in its run configuration; it
// round-trips, resumes bit-identically, and a mismatched or newer version
// is refused with a reason.
func TestCheckpointVersions(t *testing.T) {
	old, err := diffusion.LoadCheckpoint("testdata/checkpoint-v1/checkpoint.bin")
	require.NoError(t, err)
	require.False(t, old.Spec.ResMLP.Preconditioned())
	require.NotEmpty(t, old.Config.Data, "migrated from meta.data")
	require.NotEmpty(t, old.Config.Weighting, "migrated from config.strategy")
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
		nc := nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}
		if precond {
			nc.SigmaData, nc.Skip = 1, true
		}
		newTrainer := func(steps int) *diffusion.Trainer {
			net, err := nn.InitResMLP(nn.NewCPU(), nc, 3)
			require.NoError(t, err)
			tr, err := diffusion.NewTrainer(net, gaussians(t), gaussians(t), toyConfig(steps))
			require.NoError(t, err)
			return tr
		}
		tr := newTrainer(5)
		trainTo(t, tr, 5)
		path := filepath.Join(t.TempDir(), "checkpoint.bin")
		require.NoError(t, tr.Checkpoint().Save(path))
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "PDIFFCK3", string(raw[:8]))
		require.Equal(t, precond, bytes.Contains(raw, []byte(`"skip"`)))
		require.Equal(t, precond, bytes.Contains(raw, []byte(`"sigma_data"`)))
		require.True(t, bytes.Contains(raw, []byte(`"weighting":"min-snr:5"`)))
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
		resumed, err := diffusion.ResumeTrainer(ck, nn.NewCPU(), gaussians(t), gaussians(t), 8)
		require.NoError(t, err)
		trainTo(t, resumed, 8)
		straight := newTrainer(8)
		trainTo(t, straight, 8)
		require.Equal(t, straight.Checkpoint().Params, resumed.Checkpoint().Params)

		// An old version whose network does not match it, and a newer
		// version, are refused; the CRC covers the magic, so it is
		// recomputed.
		for _, magic := range []string{map[bool]string{false: "PDIFFCK2", true: "PDIFFCK1"}[precond], "PDIFFCK4"} {
			bad := append([]byte(magic), raw[8:len(raw)-4]...)
			bad = binary.LittleEndian.AppendUint32(bad, crc32.ChecksumIEEE(bad))
			p := filepath.Join(t.TempDir(), "ck.bin")
			require.NoError(t, os.WriteFile(p, bad, 0o644))
			_, err := diffusion.LoadCheckpoint(p)
			if magic == "PDIFFCK4" {
				require.ErrorContains(t, err, "newer than this program reads")
			} else {
				require.ErrorContains(t, err, "does not match its network")
			}
		}
	}
}
