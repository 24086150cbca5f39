package gram_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas/gonum"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/pass_golden.json from the current Pass.Run")

const goldenPath = "testdata/pass_golden.json"

// goldenResult is a Result as the bits of its float64 values (hex of
// math.Float64bits), so that the file pins them exactly.
type goldenResult struct {
	Gram         []string `json:"gram"`
	BinLoss      []string `json:"binLoss"`
	Loss         string   `json:"loss"`
	MSE          []string `json:"mse"`
	Ghost        int      `json:"ghost"`
	Materialized int      `json:"materialized"`
}

func bitsOf(v []float64) []string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%016x", math.Float64bits(x))
	}
	return s
}

func goldenOf(r gram.Result) goldenResult {
	return goldenResult{
		Gram: bitsOf(r.Gram), BinLoss: bitsOf(r.BinLoss), Loss: bitsOf([]float64{r.Loss})[0], MSE: bitsOf(r.MSE),
		Ghost: r.Ghost, Materialized: r.Materialized,
	}
}

// packedKernel reports whether nn.NewCPU multiplies with its packed
// AVX2/FMA kernel: its float32 bits differ from gonum's Sgemm then. The
// float32 golden values were recorded with that kernel.
func packedKernel() bool {
	const m, n, k = 12, 32, 96
	rng := rand.New(rand.NewPCG(3, 3))
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	be := nn.NewCPU()
	at, bt, ct := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
	be.Upload(at, a)
	be.Upload(bt, b)
	be.Gemm(false, false, m, n, k, 1, at, k, bt, n, 0, ct, n)
	want := make([]float32, m*n)
	gonum.Implementation{}.Sgemm('N', 'N', m, n, k, 1, a, k, b, n, 0, want, n)
	got := be.Data(ct)
	for i := range want {
		if got[i] != want[i] {
			return true
		}
	}
	return false
}

// goldenCases runs Pass.Run on fixed batches through every path of the
// pass (ghost by the lower block triangle with and without a ragged GEMM,
// by the full square, materialised, the automatic choice, parameter
// subsets with a bias without its weight and a LayerNorm γ alone, a
// learned input skip, an empty bin, rescaled δ rows and c = nil, a
// weighted task loss) on the backend be.
func goldenCases(t *testing.T, be nn.Backend) map[string]gram.Result {
	t.Helper()
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("swissroll")
	small := nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 2, Hidden: 12, TimeDim: 6}
	skip := nn.ResMLPConfig{Dim: 3, Width: 6, Depth: 2, Hidden: 10, TimeDim: 4, SigmaData: 0.5, Skip: true}
	wide := nn.ResMLPConfig{Dim: 2, Width: 48, Depth: 2}
	cases := []struct {
		name   string
		cfg    nn.ResMLPConfig
		ds     diffusion.Dataset
		target weighting.Target
		counts []int
		set    gram.Config
		task   string
		train  string // "" for c = nil
		plain  bool   // hide nn.RaggedGemmer
	}{
		{"ghost-triangle-ragged", small, toy, weighting.Eps, []int{3, 0, 4, 2}, gram.Config{Method: gram.Ghost, Blocks: gram.TriangleBlocks}, "", "min-snr:5", false},
		{"ghost-triangle-plain", small, toy, weighting.V, []int{3, 0, 4, 2}, gram.Config{Method: gram.Ghost, Blocks: gram.TriangleBlocks}, "", "min-snr:5", true},
		{"ghost-square", small, toy, weighting.X0, []int{3, 0, 4, 2}, gram.Config{Method: gram.Ghost, Blocks: gram.SquareBlocks}, "", "snr", false},
		{"ghost-nil-c", small, toy, weighting.Eps, []int{2, 5, 1, 3}, gram.Config{Method: gram.Ghost}, "", "", false},
		{"materialize", small, toy, weighting.Eps, []int{3, 0, 4, 2}, gram.Config{Method: gram.Materialize}, "", "min-snr:5", false},
		{"materialize-nil-c", small, toy, weighting.V, []int{2, 5, 1, 3}, gram.Config{Method: gram.Materialize}, "", "", false},
		{"subset-ghost", small, toy, weighting.Eps, []int{3, 4, 2}, gram.Config{Method: gram.Ghost}, "min-snr:5", "constant", false},
		{"subset-materialize", small, toy, weighting.X0, []int{3, 4, 2}, gram.Config{Method: gram.Materialize}, "", "max-snr:1", true},
		{"skip-auto", skip, gauss3{}, weighting.V, []int{3, 3, 3}, gram.Config{}, "", "min-snr:5", false},
		{"wide-auto", wide, toy, weighting.Eps, []int{8, 8, 8, 8}, gram.Config{}, "", "min-snr:5", false},
		{"wide-auto-square", wide, toy, weighting.Eps, []int{8, 8, 0, 8, 8}, gram.Config{Blocks: gram.SquareBlocks}, "snr", "", false},
		{"wide-auto-plain", wide, toy, weighting.X0, []int{8, 8, 8, 8}, gram.Config{}, "", "min-snr:5", true},
	}
	out := map[string]gram.Result{}
	for i, tc := range cases {
		b := be
		if tc.plain {
			b = plainBackend{be}
		}
		net, err := nn.InitResMLP(b, tc.cfg, 5)
		require.NoError(t, err, tc.name)
		obj := diffusion.NewObjective(net, sched, tc.target)
		batch := gramBatch(tc.ds, tc.counts, uint64(i+1))
		set := tc.set
		if tc.name == "subset-ghost" || tc.name == "subset-materialize" {
			set.Params = selector("out.bias,block0.norm.weight,time1.weight,in.*")
		}
		if tc.task != "" {
			set.Task = weighting.MustParse(tc.task)
		}
		var c []float64
		if tc.train != "" {
			s := weighting.MustParse(tc.train)
			c = make([]float64, batch.Len())
			for r, tt := range batch.T {
				c[r] = weighting.Weight(s, tc.target, sched.SNR(tt)) / float64(batch.Len())
			}
		}
		g, err := gram.NewPass(obj, set)
		require.NoError(t, err, tc.name)
		res, err := g.Run(batch, tc.counts, c)
		require.NoError(t, err, tc.name)
		out[be.Name()+"/"+tc.name] = res
	}
	return out
}

// Pass.Run gives, bit for bit, the Result recorded in testdata (on amd64;
// the float32 backend's values only with its packed FMA kernel). Rerun with
// -update-golden only when a change of the numbers is intended.
func TestPassGolden(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the golden bits were recorded on amd64 (floating-point contraction and the SGEMM kernel differ elsewhere)")
	}
	got := map[string]goldenResult{}
	for name, r := range goldenCases(t, nn.NewCPU64()) {
		got[name] = goldenOf(r)
	}
	fp32 := packedKernel()
	if fp32 || *updateGolden {
		for name, r := range goldenCases(t, nn.NewCPU()) {
			got[name] = goldenOf(r)
		}
	}
	if *updateGolden {
		require.True(t, fp32, "record the golden values with the packed FMA kernel")
		js, err := json.MarshalIndent(got, "", "\t")
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
		require.NoError(t, os.WriteFile(goldenPath, append(js, '\n'), 0o644))
		return
	}
	js, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	var want map[string]goldenResult
	require.NoError(t, json.Unmarshal(js, &want))
	if !fp32 {
		t.Log("no packed FMA kernel: checking the float64 backend's values only")
		for name := range want {
			if _, ok := got[name]; !ok {
				delete(want, name)
			}
		}
	}
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		require.Equal(t, w, got[name], name)
	}
}
