package export_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/export"
	"github.com/paretodiff/paretodiff/matio"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

var update = flag.Bool("update", false, "regenerate testdata/twin (the PyTorch twin's fixtures)")

// twinFixtures are the trained models whose exports and predictions the
// PyTorch twin's test (python/tests/test_twins.py) compares with: a plain
// SiLU ε-model, a v-model with tanh-GELU, both input skips and a
// zero-terminal linear schedule of another T, and a DiT on MNIST (16
// tokens of 7×7 pixels, 8 wide, a learned position table, the fixed skip;
// its learned skip, 784² weights, is left to python/'s Go test, which
// trains one at run time).
var twinFixtures = map[string]run.Spec{
	"dit": {
		Net: nn.Spec{Kind: "dit", DiT: &nn.DiTConfig{Patch: 7, Width: 8, Depth: 2, Heads: 2, MLPRatio: 2, LearnedPos: true, SigmaData: 0.5}},
		Train: diffusion.TrainSpec{Data: "mnist", Target: "v", Weighting: "min-snr:5", Batch: 8, EvalSize: 4, Seed: 7,
			Optim: nn.OptimConfig{LR: 1e-2, Warmup: 2, EMADecay: 0.5}},
		Steps: 20, Eval: run.EvalSpec{Every: 10},
	},
	"plain": {
		Net:   nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{Width: 8, Depth: 2}},
		Train: diffusion.TrainSpec{Data: "toy:moons", Target: "eps", Weighting: "min-snr:5", Batch: 32, EvalSize: 16, Seed: 5, Optim: nn.OptimConfig{LR: 3e-3, Warmup: 2}},
		Steps: 40, Eval: run.EvalSpec{Every: 20},
	},
	"precond": {
		Net: nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{Width: 8, Depth: 2, Act: nn.GELU, SigmaData: 0.5, Skip: true}},
		Train: diffusion.TrainSpec{Data: "toy:8gaussians", Schedule: "linear", T: 200, ZeroTerminal: true, Target: "v", Weighting: "min-snr:5",
			Batch: 32, EvalSize: 16, Seed: 6, Optim: nn.OptimConfig{LR: 3e-2, Warmup: 2}},
		Steps: 40, Eval: run.EvalSpec{Every: 20},
	},
}

// Fixture files of each twin fixture.
const (
	fixtureCheckpoint  = "checkpoint.bin"
	fixtureModel       = "model.safetensors"
	fixtureX, fixtureT = "x.npy", "t.npy"
	fixturePred        = "pred.npy"
	fixtureRows        = 32
)

// predTol: the Go model's predictions against the committed ones, which
// another CPU (another SIMD path of the float32 kernels) may round
// differently in the last bits.
const predTol = 1e-6

// fixtureInputs are fixed inputs x_t (rows, D) and timesteps spanning
// 0 … T−1, both ends included: fixtureRows of them, or fixtureImageRows of
// images (D > fixtureImageDim), whose files are larger.
func fixtureInputs(D, T int) ([]float32, []int) {
	rows := fixtureRows
	if D > fixtureImageDim {
		rows = fixtureImageRows
	}
	rng := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, rows*D)
	for i := range x {
		x[i] = float32(1.5 * rng.NormFloat64())
	}
	t := make([]int, rows)
	for i := range t {
		t[i] = int(math.Round(float64(i) * float64(T-1) / float64(rows-1)))
	}
	return x, t
}

// Rows of an image fixture (see fixtureInputs).
const (
	fixtureImageDim  = 64
	fixtureImageRows = 8
)

// predict runs the checkpoint's EMA model (as sample does) on the inputs.
func predict(t *testing.T, ck *diffusion.Checkpoint, x []float32, ts []int) []float32 {
	t.Helper()
	den, err := ck.Denoiser(nn.NewCPU(), true)
	require.NoError(t, err)
	out := make([]float32, len(x))
	den.Predict(out, x, ts)
	return out
}

func dense(rows, cols int, v []float32) *mat.Dense {
	m := mat.NewDense(rows, cols, nil)
	for i, x := range v {
		m.Set(i/cols, i%cols, float64(x))
	}
	return m
}

// The committed fixtures are what this code exports and predicts; with
// -update they are trained and written anew.
func TestTwinFixtures(t *testing.T) {
	for name, spec := range twinFixtures {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "twin", name)
			if *update {
				writeFixture(t, dir, spec)
			}
			ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, fixtureCheckpoint))
			require.NoError(t, err)
			m, err := export.FromCheckpoint(ck, true)
			require.NoError(t, err)
			fresh := filepath.Join(t.TempDir(), fixtureModel)
			require.NoError(t, m.WriteSafetensors(fresh))
			want, err := os.ReadFile(filepath.Join(dir, fixtureModel))
			require.NoError(t, err)
			got, err := os.ReadFile(fresh)
			require.NoError(t, err)
			require.Equal(t, want, got, "the export of the committed checkpoint")

			D, T := m.Meta.Dim(), m.Meta.T
			x, ts := fixtureInputs(D, T)
			pred := predict(t, ck, x, ts)
			wantPred, err := matio.ReadNPY(filepath.Join(dir, fixturePred))
			require.NoError(t, err)
			for i, v := range pred {
				require.InDelta(t, wantPred.At(i/D, i%D), float64(v), predTol, "row %d", i/D)
			}
			wantT, err := matio.ReadVector(filepath.Join(dir, fixtureT))
			require.NoError(t, err)
			for i, v := range ts {
				require.Equal(t, float64(v), wantT[i])
			}
		})
	}
}

// writeFixture trains the spec and writes its fixture files into dir.
func writeFixture(t *testing.T, dir string, spec run.Spec) {
	r, err := run.Train(context.Background(), filepath.Join(t.TempDir(), "run"), spec, run.Options{Existing: run.Replace})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	raw, err := os.ReadFile(r.CheckpointPath())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, fixtureCheckpoint), raw, 0o644))
	ck, err := r.Checkpoint()
	require.NoError(t, err)
	m, err := export.FromCheckpoint(ck, true)
	require.NoError(t, err)
	require.NoError(t, m.WriteSafetensors(filepath.Join(dir, fixtureModel)))
	D := m.Meta.Dim()
	x, ts := fixtureInputs(D, m.Meta.T)
	tf := make([]float64, len(ts))
	for i, v := range ts {
		tf[i] = float64(v)
	}
	require.NoError(t, matio.WriteNPY(filepath.Join(dir, fixtureX), dense(len(ts), D, x)))
	require.NoError(t, matio.WriteVectorNPY(filepath.Join(dir, fixtureT), tf))
	require.NoError(t, matio.WriteNPY(filepath.Join(dir, fixturePred), dense(len(ts), D, predict(t, ck, x, ts))))
}

// header is a safetensors header entry, read independently of matio.
type header struct {
	Dtype       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// readFile reads a safetensors file by the format's specification: its
// entries, its metadata and its data section.
func readFile(t *testing.T, path string) (map[string]header, map[string]string, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	n := int(binary.LittleEndian.Uint64(b))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b[8:8+n], &raw))
	entries := map[string]header{}
	var meta map[string]string
	for k, v := range raw {
		if k == "__metadata__" {
			require.NoError(t, json.Unmarshal(v, &meta))
			continue
		}
		var h header
		require.NoError(t, json.Unmarshal(v, &h))
		entries[k] = h
	}
	return entries, meta, b[8+n:]
}

// Every parameter reads back under its engine name with its layout and
// the checkpoint's EMA (or raw) values; the schedule's α_t and σ_t and the
// spec are there.
func TestExportReadsBack(t *testing.T) {
	ck, err := diffusion.LoadCheckpoint(filepath.Join("testdata", "twin", "precond", fixtureCheckpoint))
	require.NoError(t, err)
	sched, _, err := ck.Config.ScheduleAndTarget()
	require.NoError(t, err)
	for _, ema := range []bool{true, false} {
		m, err := export.FromCheckpoint(ck, ema)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "m.safetensors")
		require.NoError(t, m.WriteSafetensors(path))
		entries, meta, data := readFile(t, path)
		values := ck.Params
		if ema {
			values = ck.EMA
		}
		require.Len(t, entries, len(ck.Layout)+2)
		for _, l := range ck.Layout {
			e := entries[l.Name]
			require.Equal(t, "F32", e.Dtype, l.Name)
			require.Equal(t, l.Shape, e.Shape, l.Name)
			for i := 0; i < (e.DataOffsets[1]-e.DataOffsets[0])/4; i++ {
				v := math.Float32frombits(binary.LittleEndian.Uint32(data[e.DataOffsets[0]+4*i:]))
				require.Equal(t, values[l.Offset+i], v, "%s[%d]", l.Name, i)
			}
		}
		require.Equal(t, []int{8, 2}, entries["in.weight"].Shape) // (out, in): width × dim
		require.Equal(t, []int{2, 2}, entries["skip.weight"].Shape)
		for name, f := range map[string]func(int) float64{"schedule.alpha": sched.Alpha, "schedule.sigma": sched.Sigma} {
			e := entries[name]
			require.Equal(t, "F64", e.Dtype)
			require.Equal(t, []int{200}, e.Shape)
			for i := 0; i < 200; i++ {
				require.Equal(t, f(i), math.Float64frombits(binary.LittleEndian.Uint64(data[e.DataOffsets[0]+8*i:])))
			}
		}
		require.Equal(t, "pt", meta["format"])
		var got export.Meta
		require.NoError(t, json.Unmarshal([]byte(meta[export.MetaKey]), &got))
		require.Equal(t, ck.Spec.ResMLP, got.ResMLP)
		require.Nil(t, got.DiT)
		require.Equal(t, map[bool]string{true: "ema", false: "raw"}[ema], got.Weights)
		require.Equal(t, "v", got.Target)
		require.True(t, got.ZeroTerminal)
		require.Equal(t, ck.Step, got.Step)
	}
}

// A DiT exports under its engine names and layouts (the learned position
// table among them) with its configuration, format and LayerNorm ε in the
// metadata, and no ResMLP configuration.
func TestExportDiT(t *testing.T) {
	ck, err := diffusion.LoadCheckpoint(filepath.Join("testdata", "twin", "dit", fixtureCheckpoint))
	require.NoError(t, err)
	m, err := export.FromCheckpoint(ck, true)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, m.WriteSafetensors(path))
	entries, meta, _ := readFile(t, path)
	require.Len(t, entries, len(ck.Layout)+2)
	// W = 8, P = 7·7·1 = 49, L = (28/7)² = 16, M = 2·8 = 16, F = 256.
	for name, shape := range map[string][]int{
		"patch.weight": {8, 49}, "pos": {16, 8}, "time1.weight": {8, 256}, "time2.weight": {8, 8},
		"block0.adaln.weight": {48, 8}, "block1.qkv.weight": {24, 8}, "block1.proj.bias": {8},
		"block0.fc1.weight": {16, 8}, "block0.fc2.weight": {8, 16}, "final.adaln.weight": {16, 8}, "final.linear.weight": {49, 8},
	} {
		require.Equal(t, shape, entries[name].Shape, name)
		require.Equal(t, "F32", entries[name].Dtype, name)
	}
	var got export.Meta
	require.NoError(t, json.Unmarshal([]byte(meta[export.MetaKey]), &got))
	require.Equal(t, export.DiTFormatVersion, got.Format)
	require.Equal(t, "dit", got.Kind)
	require.Nil(t, got.ResMLP)
	require.Equal(t, ck.Spec.DiT, got.DiT)
	require.Equal(t, 1e-6, got.LayerNormEps)
	require.Equal(t, 784, got.Dim())
	require.Equal(t, "v", got.Target)
}
