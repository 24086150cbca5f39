package conflict_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// Tolerances of the probe tests.
const (
	// probeGramTol: the one-pass Gram against the K-pass reference on the
	// float32 backend, relative to √(G_kk·G_ll): the 1e-5 bar.
	probeGramTol = 1e-5
	// simplexTol: solver weights sum to 1 within float64 rounding of a sum
	// of K terms after RawWeights' renormalisation.
	simplexTol = 1e-12
)

func toyProbeNet(t testing.TB, width, depth int) (*diffusion.Objective, diffusion.Dataset) {
	t.Helper()
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: width, Depth: depth}, 2)
	require.NoError(t, err)
	toy, err := data.NewToy("8gaussians")
	require.NoError(t, err)
	return diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.V), toy
}

func TestParseParams(t *testing.T) {
	names := []string{"time1.weight", "in.weight", "block0.fc1.weight", "block0.norm.bias", "block2.fc2.bias", "block10.fc1.weight", "norm_out.weight", "out.bias"}
	sel, err := conflict.ParseParams("all", names)
	require.NoError(t, err)
	require.Nil(t, sel)
	pick := func(spec string) []string {
		sel, err := conflict.ParseParams(spec, names)
		require.NoError(t, err, spec)
		var out []string
		for _, n := range names {
			if sel(n) {
				out = append(out, n)
			}
		}
		return out
	}
	require.Equal(t, []string{"block10.fc1.weight"}, pick("last-block"), "block10 is after block2 numerically")
	require.Equal(t, []string{"norm_out.weight", "out.bias"}, pick("head"))
	require.Equal(t, []string{"block0.fc1.weight", "block10.fc1.weight", "out.bias"}, pick("block*.fc1.weight, out.*"))
	for spec, msg := range map[string]string{
		"block7.*":        "matches no parameter",
		"[":               "not a valid glob",
		"block0.*,,out.*": "not a valid glob",
	} {
		_, err := conflict.ParseParams(spec, names)
		require.ErrorContains(t, err, msg, spec)
	}
	_, err = conflict.ParseParams("last-block", []string{"w"})
	require.ErrorContains(t, err, "no residual blocks")

	// A DiT's head is its final adaLN and Linear layer, its last block the
	// highest blockN of attention and MLP.
	dit := []string{"patch.weight", "pos", "block0.adaln.weight", "block1.qkv.weight", "block1.fc2.bias", "final.adaln.weight", "final.linear.bias", "skip.weight"}
	sel, err = conflict.ParseParams("head", dit)
	require.NoError(t, err)
	sel2, err := conflict.ParseParams("last-block", dit)
	require.NoError(t, err)
	var head, last []string
	for _, n := range dit {
		if sel(n) {
			head = append(head, n)
		}
		if sel2(n) {
			last = append(last, n)
		}
	}
	require.Equal(t, []string{"final.adaln.weight", "final.linear.bias"}, head)
	require.Equal(t, []string{"block1.qkv.weight", "block1.fc2.bias"}, last)
}

// The probe's one-pass Gram equals the K-pass reference; records are
// deterministic for a fixed batch; fresh batches depend on the step only.
func TestProbeMatchesReference(t *testing.T) {
	obj, toy := toyProbeNet(t, 32, 2)
	bins, err := weighting.EqualLogSNR(obj.Schedule.LogSNRs(), 4)
	require.NoError(t, err)
	for _, params := range []string{"all", "last-block"} {
		cfg := conflict.ProbeConfig{Bins: bins, PerBin: 6, Params: params, Seed: 3, Solve: conflict.SolveConfig{Lambda: 0.01}}
		fast, err := conflict.NewProbe(obj, toy, cfg)
		require.NoError(t, err)
		cfg.Reference = true
		ref, err := conflict.NewProbe(obj, toy, cfg)
		require.NoError(t, err)
		a, err := fast.Measure(5)
		require.NoError(t, err)
		b, err := ref.Measure(5)
		require.NoError(t, err)
		K := bins.K()
		for k := 0; k < K; k++ {
			require.InDelta(t, b.Losses[k], a.Losses[k], 1e-6*b.Losses[k])
			for l := 0; l < K; l++ {
				scale := math.Sqrt(b.Gram.At(k, k) * b.Gram.At(l, l))
				require.InDelta(t, b.Gram.At(k, l), a.Gram.At(k, l), probeGramTol*scale, "%s G[%d,%d]", params, k, l)
			}
		}
		require.Equal(t, 5, a.Step)
		require.Len(t, a.Solutions, 2)
		for _, s := range a.Solutions {
			require.Len(t, s.W, K)
			sum := 0.0
			for _, w := range s.W {
				require.GreaterOrEqual(t, w, 0.0)
				sum += w
			}
			require.InDelta(t, 1, sum, simplexTol, s.Method)
			require.Equal(t, "converged", s.Status, s.Method)
			require.NotNil(t, a.Solution(s.Method))
		}
		// The same fixed batch gives the same record, bit for bit.
		again, err := fast.Measure(5)
		require.NoError(t, err)
		require.Equal(t, a.Gram, again.Gram)
		require.Equal(t, a.Solutions, again.Solutions)
	}

	fresh, err := conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: bins, PerBin: 3, Fresh: true, Seed: 3, NoSolve: true})
	require.NoError(t, err)
	require.Equal(t, fresh.Batch(7), fresh.Batch(7))
	require.NotEqual(t, fresh.Batch(7).X0, fresh.Batch(8).X0)
	r, err := fresh.Measure(7)
	require.NoError(t, err)
	require.Empty(t, r.Solutions)
	for k, tt := range fresh.Batch(7).T {
		lo, hi := bins.Range(k / 3)
		require.True(t, tt >= lo && tt < hi)
	}

	_, err = conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: weighting.MustEqualT(10, 2)})
	require.ErrorContains(t, err, "T=10")
	_, err = conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: weighting.MustEqualT(1000, 1)})
	require.ErrorContains(t, err, "at least 2 bins")
	_, err = conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: bins, Solve: conflict.SolveConfig{Methods: []string{"newton"}}})
	require.ErrorContains(t, err, "unknown method")
	_, err = conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: bins, Params: "block9.*"})
	require.ErrorContains(t, err, "matches no parameter")
}

func sampleRecord(step int) conflict.Record {
	g := mat.NewSymDense(3, []float64{4, -1, 0, -1, 1, 0, 0, 0, 0}) // bin 2 has a zero gradient
	return conflict.Record{
		Step: step, Losses: []float64{0.5, 0.25, 0.125}, Gram: g, Cosine: gram.Cosine(g), Stats: conflict.Summarize(g),
		Solutions: []conflict.Solution{{Method: "fw", W: []float64{0.2, 0.8, 0}, F: 0.4, Gap: 1e-12, NormSq: 0.4, Iterations: 3, Status: "converged"}},
		Seconds:   0.01,
	}
}

// A log reads back as written, NaN statistics included, and a failed
// append leaves the JSONL of the previous probes intact.
func TestLogRoundTrip(t *testing.T) {
	dir := t.TempDir()
	info := conflict.Info{Edges: []int{0, 300, 600, 1000}, Labels: []string{"0-299", "300-599", "600-999"}, PerBin: 4, Params: "all",
		Task: "constant", Target: "eps", Schedule: "cosine", T: 1000, Methods: []string{"fw"}, Normalizer: "none", Gram: "one-pass"}
	log, err := conflict.CreateLog(dir, info)
	require.NoError(t, err)
	require.NoError(t, log.Append(sampleRecord(10)))
	require.NoError(t, log.Append(sampleRecord(20)))
	gotInfo, recs, err := conflict.ReadLog(dir)
	require.NoError(t, err)
	require.Equal(t, info, gotInfo)
	require.Len(t, recs, 2)
	want := sampleRecord(20)
	require.Equal(t, 20, recs[1].Step)
	require.Equal(t, want.Losses, recs[1].Losses)
	require.Equal(t, want.Solutions, recs[1].Solutions)
	require.True(t, mat.Equal(want.Gram, recs[1].Gram))
	require.True(t, math.IsNaN(recs[1].Stats.CosineByDistance[2]), "NaN survives the round trip")
	require.Equal(t, want.Stats.NegativeFraction, recs[1].Stats.NegativeFraction)
	require.FileExists(t, filepath.Join(dir, conflict.CosineDir, conflict.MatrixName(20)))

	raw, err := os.ReadFile(filepath.Join(dir, conflict.RecordsFile))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 2)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	require.Equal(t, "gram/step-00000010.npy", m["gram"])
	require.Equal(t, "NaN", m["cosine_by_distance"].([]any)[2])

	// Make the next matrix unwritable: the JSONL must stay as it was.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, conflict.GramDir)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, conflict.GramDir), nil, 0o644))
	require.Error(t, log.Append(sampleRecord(30)))
	after, err := os.ReadFile(filepath.Join(dir, conflict.RecordsFile))
	require.NoError(t, err)
	require.True(t, bytes.Equal(raw, after))
}

func TestBinWeights(t *testing.T) {
	sched := diffusion.Cosine(1000)
	bins, err := weighting.FromEdges(1000, []int{0, 100, 400, 1000})
	require.NoError(t, err)
	// Constant: each bin's share of the timesteps.
	require.InDeltaSlice(t, []float64{0.1, 0.3, 0.6}, conflict.BinWeights(weighting.Constant{}, nil, sched, bins), 1e-15)
	// Min-SNR-5: Σ_{t∈k} min(SNR(t), 5), normalised — by hand.
	want := make([]float64, 3)
	var sum float64
	for k := range want {
		lo, hi := bins.Range(k)
		for tt := lo; tt < hi; tt++ {
			want[k] += math.Min(sched.SNR(tt), 5)
		}
		sum += want[k]
	}
	for k := range want {
		want[k] /= sum
	}
	require.InDeltaSlice(t, want, conflict.BinWeights(weighting.MinSNR{Gamma: 5}, nil, sched, bins), 1e-14)
	// Against a task loss weighted the same way, every strategy is constant.
	require.InDeltaSlice(t, []float64{0.1, 0.3, 0.6}, conflict.BinWeights(weighting.SNR{}, weighting.SNR{}, sched, bins), 1e-15)
}

func TestWriteFigures(t *testing.T) {
	dir := t.TempDir()
	info := conflict.Info{Edges: []int{0, 300, 600, 1000}, Labels: []string{"0-299", "300-599", "600-999"}, Task: "constant"}
	recs := []conflict.Record{sampleRecord(10), sampleRecord(20), sampleRecord(30), sampleRecord(40)}
	files, err := conflict.WriteFigures(dir, info, diffusion.Cosine(1000), recs, conflict.FigureOptions{HeatmapSteps: []int{10, 40}})
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte("\x89PNG")), f)
	}
	_, err = conflict.WriteFigures(dir, info, diffusion.Cosine(500), recs, conflict.FigureOptions{})
	require.ErrorContains(t, err, "T=500")
}

// A ProbeSpec is the probe configuration of its fields, defaults filled in;
// a bad field is an error naming it.
func TestProbeSpec(t *testing.T) {
	sched := diffusion.Cosine(1000)
	cfg, err := conflict.ProbeSpec{}.Config(sched)
	require.NoError(t, err)
	require.Equal(t, weighting.MustEqualT(1000, 8), cfg.Bins)
	require.Equal(t, conflict.DefaultPerBin, cfg.PerBin)
	require.True(t, cfg.NoSolve, "no methods: no solves")
	require.Nil(t, cfg.Task)
	require.Equal(t, conflict.ProbeSpec{Bins: "t:8", PerBin: conflict.DefaultPerBin, Params: "all", Task: "constant", Gram: "auto", Normalizer: "none"},
		conflict.ProbeSpec{}.WithDefaults())

	cfg, err = conflict.ProbeSpec{Bins: "logsnr:4", PerBin: 3, Params: "head", Task: "min-snr:5", Gram: "reference",
		Methods: []string{"fw", "exact"}, Lambda: 0.5, Normalizer: "l2", Fresh: true, Seed: 9}.Config(sched)
	require.NoError(t, err)
	require.Equal(t, 4, cfg.Bins.K())
	require.Equal(t, weighting.MinSNR{Gamma: 5}, cfg.Task)
	require.True(t, cfg.Reference && cfg.Fresh && !cfg.NoSolve)
	require.Equal(t, conflict.SolveConfig{Methods: []string{"fw", "exact"}, Lambda: 0.5, Normalizer: pareto.NormL2}, cfg.Solve)
	require.Equal(t, uint64(9), cfg.Seed)
	// The aggregators' options: canonical in WithDefaults, in the solve
	// configuration, and left out of the JSON when empty (so a spec
	// without them keeps its bytes and hash).
	cfg, err = conflict.ProbeSpec{Methods: []string{"cagrad"}, MTLOptions: " seed=3, c=0.40"}.Config(sched)
	require.NoError(t, err)
	require.Equal(t, mtl.Config{C: 0.4, Seed: 3}, cfg.Solve.Options)
	require.Equal(t, "c=0.4,seed=3", conflict.ProbeSpec{MTLOptions: " seed=3, c=0.40"}.WithDefaults().MTLOptions)
	require.Equal(t, "", conflict.ProbeSpec{MTLOptions: "seed=0"}.WithDefaults().MTLOptions)
	js, err := json.Marshal(conflict.ProbeSpec{}.WithDefaults())
	require.NoError(t, err)
	require.NotContains(t, string(js), "mtl_options")
	cfg, err = conflict.ProbeSpec{Gram: "ghost"}.Config(sched)
	require.NoError(t, err)
	require.Equal(t, gram.Ghost, cfg.Method)

	for msg, s := range map[string]conflict.ProbeSpec{
		"probe bins":       {Bins: "t:1"},
		"probe per_bin":    {PerBin: -1},
		"probe normalizer": {Normalizer: "l3"},
		"probe lambda":     {Lambda: -1},
		"probe methods":    {Methods: []string{"newton"}},
		"probe methods: conflict: two-task is the closed form for 2 bins, not 8": {Methods: []string{"two-task"}},
		"probe task":                   {Task: "pareto:fw"},
		"probe gram":                   {Gram: "fast"},
		"probe every":                  {Every: -2},
		"probe mtl_options: mtl: c=-1": {MTLOptions: "c=-1"},
	} {
		_, err := s.Config(sched)
		require.ErrorContains(t, err, "conflict: "+msg, msg)
		var se *conflict.SpecError
		require.ErrorAs(t, err, &se)
	}
}
