package gram_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// Tolerances of the per-bin Gram tests, relative to √(G_kk·G_ll) for entry
// (k, l), i.e. absolute errors of the cosine matrix.
const (
	// gramRelTol64: float64 twin backend. The only differences from the
	// brute force are the per-example coefficients crossing the Backend
	// boundary as float32 (τ_n/c_n and c_n rounded separately, ~2⁻²³) and
	// the order of float64 sums; a wrong term is off by O(1).
	gramRelTol64 = 1e-6
	// gramRelTol32: float32 backend against its own brute force, the
	// issue's bar: float32 GEMMs on both sides, float64 Gram sums.
	gramRelTol32 = 1e-5
	// linearityTol: δ rows of one pass rescaled by τ_n/c_n against the δ
	// rows of a pass with coefficients τ, on the float64 twin: the
	// coefficients cross as float32 (~2⁻²³ each), relative to each row's
	// largest entry.
	linearityTol = 1e-6
)

// gauss3 is a 3-dimensional dataset of correlated Gaussian rows.
type gauss3 struct{}

func (gauss3) Dim() int { return 3 }
func (gauss3) Sample(rng *rand.Rand, x []float32) {
	for i := 0; i < len(x); i += 3 {
		z := rng.NormFloat64()
		x[i], x[i+1], x[i+2] = float32(z), float32(0.5*z+rng.NormFloat64()), float32(rng.NormFloat64()*0.3-1)
	}
}

// selector turns comma-separated globs into a parameter filter (nil for
// "all").
func selector(spec string) func(string) bool {
	if spec == "all" {
		return nil
	}
	pats := strings.Split(spec, ",")
	return func(name string) bool {
		for _, p := range pats {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
		return false
	}
}

// bruteGram is the reference: one BinGradientRows pass per bin (a bin's
// rows as a batch of one bin), the selected parameters' entries, and
// gram.FromRows in float64.
func bruteGram(t *testing.T, obj *diffusion.Objective, b diffusion.Batch, counts []int, task weighting.Strategy, sel func(string) bool) (*mat.SymDense, []float64) {
	t.Helper()
	var rows [][]float64
	var losses []float64
	off := 0
	for _, n := range counts {
		g, l := gram.BinGradientRows(obj, b.Slice(off, off+n), 1, task)
		off += n
		var row []float64
		for _, p := range obj.Net.Params().Params() {
			if sel == nil || sel(p.Name) {
				row = append(row, g[0][p.Offset:p.Offset+p.Size]...)
			}
		}
		rows = append(rows, row)
		losses = append(losses, l[0])
	}
	return gram.FromRows(rows), losses
}

// gramClose checks |G_kl − want_kl| ≤ tol·√(want_kk·want_ll).
func gramClose(t *testing.T, what string, want *mat.SymDense, got []float64, tol float64) float64 {
	t.Helper()
	K := want.SymmetricDim()
	require.Len(t, got, K*K)
	worst := 0.0
	for k := 0; k < K; k++ {
		for l := 0; l < K; l++ {
			require.Equal(t, got[k*K+l], got[l*K+k], "%s: not symmetric", what)
			scale := math.Sqrt(want.At(k, k) * want.At(l, l))
			require.Greater(t, scale, 0.0, what)
			worst = math.Max(worst, math.Abs(got[k*K+l]-want.At(k, l))/scale)
		}
	}
	require.LessOrEqual(t, worst, tol, "%s: worst relative error %.3g", what, worst)
	return worst
}

func gramBatch(ds diffusion.Dataset, counts []int, seed uint64) diffusion.Batch {
	// Bins over [0, 1000) as equal as the counts' number allows, grouped.
	K := len(counts)
	edges := weighting.MustEqualT(1000, K).Edges
	rng := rand.New(rand.NewPCG(seed, 9))
	B := 0
	for _, n := range counts {
		B += n
	}
	b := diffusion.NewBatch(B, ds.Dim())
	b.Draw(rng, ds, weighting.Uniform{Steps: 1000})
	r := 0
	for k, n := range counts {
		for i := 0; i < n; i++ {
			b.T[r] = edges[k] + rng.IntN(edges[k+1]-edges[k])
			r++
		}
	}
	return b
}

// plainBackend is a backend without the optional nn.RaggedGemmer, the way
// a backend that has only the Backend operations reaches the Pass.
type plainBackend struct{ nn.Backend }

// The one-pass Gram equals the brute-force K-pass Gram for every target,
// several K (equal and unequal bins), both methods and the automatic
// choice, subsets of parameters, a weighted task loss, and with the
// training coefficients of another weighting (so the δ rows are rescaled).
func TestPassMatchesBruteForce(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("swissroll")
	type model struct {
		ds  diffusion.Dataset
		cfg nn.ResMLPConfig
	}
	models := []model{
		{toy, nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 2, Hidden: 12, TimeDim: 6}},
		{gauss3{}, nn.ResMLPConfig{Dim: 3, Width: 6, Depth: 1, Hidden: 10, TimeDim: 4, Act: nn.GELU}},
		// Input skips: the learned skip is one more Linear site, whose
		// output gradient is g ⊙ dout.
		{gauss3{}, nn.ResMLPConfig{Dim: 3, Width: 6, Depth: 2, Hidden: 10, TimeDim: 4, SigmaData: 0.5, Skip: true}},
	}
	cases := []struct {
		counts []int
		params string
		method gram.Method
		task   string // "" for the x0-MSE
		train  string // "" for c = nil, else the training weighting
	}{
		{[]int{4}, "all", gram.Auto, "", ""},
		{[]int{3, 3, 3}, "all", gram.Ghost, "", "min-snr:5"},
		{[]int{3, 3, 3}, "all", gram.Materialize, "", "min-snr:5"},
		{[]int{2, 5, 1, 3}, "all", gram.Auto, "", "snr"},
		{[]int{4, 4, 4, 4, 4}, "block1.*", gram.Ghost, "", ""},
		{[]int{3, 4, 2}, "out.bias,block0.norm.weight,time1.weight,in.*", gram.Ghost, "min-snr:5", "constant"},
		{[]int{3, 4, 2}, "out.bias,block0.norm.weight,time1.weight,in.*", gram.Materialize, "", "max-snr:1"},
	}
	for mi, m := range models {
		for _, target := range weighting.Targets {
			for ci, tc := range cases {
				if mi == 1 && (ci == 4 || ci == 5) {
					continue // block1 does not exist; keep the table small
				}
				if mi == 2 && ci != 1 && ci != 2 && ci != 5 {
					continue // keep the table small
				}
				for _, variant := range []struct {
					be32   bool
					blocks gram.Blocks
					plain  bool // hide nn.RaggedGemmer: one GEMM per bin
				}{
					{false, gram.TriangleBlocks, false}, {true, gram.TriangleBlocks, false},
					{false, gram.TriangleBlocks, true}, {true, gram.TriangleBlocks, true},
					{false, gram.SquareBlocks, false}, {true, gram.SquareBlocks, false},
				} {
					be32 := variant.be32
					var be nn.Backend = nn.NewCPU64()
					tol := gramRelTol64
					if be32 {
						be, tol = nn.NewCPU(), gramRelTol32
					}
					if variant.plain {
						be = plainBackend{be}
					}
					name := fmt.Sprintf("model%d/%v/case%d/%s/blocks%d/plain=%v", mi, target, ci, be.Name(), variant.blocks, variant.plain)
					net, err := nn.InitResMLP(be, m.cfg, 5)
					require.NoError(t, err)
					obj := diffusion.NewObjective(net, sched, target)
					b := gramBatch(m.ds, tc.counts, uint64(ci+1))
					var task weighting.Strategy
					if tc.task != "" {
						task = weighting.MustParse(tc.task)
					}
					sel := selector(tc.params)
					want, wantLoss := bruteGram(t, obj, b, tc.counts, task, sel)

					g, err := gram.NewPass(obj, gram.Config{Params: sel, Task: task, Method: tc.method, Blocks: variant.blocks})
					require.NoError(t, err)
					var c []float64
					if tc.train != "" {
						s := weighting.MustParse(tc.train)
						c = make([]float64, b.Len())
						for r, tt := range b.T {
							c[r] = weighting.Weight(s, target, sched.SNR(tt)) / float64(b.Len())
						}
					}
					res, err := g.Run(b, tc.counts, c)
					require.NoError(t, err, name)
					w := gramClose(t, name, want, res.Gram, tol)
					t.Logf("%s worst %.3g ghost %d mat %d", name, w, res.Ghost, res.Materialized)
					for k := range wantLoss {
						require.InDelta(t, wantLoss[k], res.BinLoss[k], 1e-6*wantLoss[k], name)
					}
					switch tc.method {
					case gram.Ghost:
						require.Zero(t, res.Materialized, name)
					case gram.Materialize:
						require.Zero(t, res.Ghost, name)
					}
				}
			}
		}
	}
}

// The automatic choice materialises the thin layers of a toy model (2-D
// input and output) and uses the ghost products for the wide ones.
func TestPassAutoChoice(t *testing.T) {
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 64, Depth: 2}, 1)
	require.NoError(t, err)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.Eps)
	g, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	toy, _ := data.NewToy("moons")
	counts := []int{8, 8, 8, 8}
	res, err := g.Run(gramBatch(toy, counts, 1), counts, nil)
	require.NoError(t, err)
	// in (2→64) and out (64→2) are materialised; time1, time2 and the
	// blocks' fc1, fc2 (64→128→64) are ghost.
	require.Equal(t, 2, res.Materialized)
	require.Equal(t, 6, res.Ghost)
}

// The reasoning behind one pass: backpropagation is linear in each
// example's output gradient and examples do not interact, so the δ rows
// of every layer for coefficients c, scaled row by row by τ_n/c_n, are the
// δ rows for coefficients τ.
func TestPassLinearity(t *testing.T) {
	be := nn.NewCPU64()
	net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 2, Hidden: 12, TimeDim: 6}, 2)
	require.NoError(t, err)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.V)
	toy, _ := data.NewToy("8gaussians")
	b := gramBatch(toy, []int{5, 5, 5}, 3)
	B := b.Len()
	c, tau, mse := make([]float64, B), make([]float64, B), make([]float64, B)
	for r, tt := range b.T {
		c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.V, sched.SNR(tt)) / float64(B)
		tau[r] = weighting.Weight(weighting.Constant{}, weighting.V, sched.SNR(tt)) / 5
	}
	// δ rows of every site after a pass with coefficients w.
	rowsOf := func(w []float64) [][]float64 {
		net.Params().ZeroGrad(be)
		obj.Loss(b, w, mse, true)
		var out [][]float64
		for _, s := range net.LinearSites() {
			if !s.OutGrad.IsZero() {
				out = append(out, append([]float64(nil), be.Data(s.OutGrad)...))
			}
		}
		for _, s := range net.NormSites() {
			out = append(out, append([]float64(nil), be.Data(s.OutGrad)...))
		}
		return out
	}
	withC, withTau := rowsOf(c), rowsOf(tau)
	require.Len(t, withC, 8+3) // 8 Linear layers (LinearSites include the output layer's δ), 3 LayerNorms
	for i := range withC {
		cols := len(withC[i]) / B
		for r := 0; r < B; r++ {
			ratio := float64(float32(tau[r])) / float64(float32(c[r]))
			var maxAbs, maxErr float64
			for j := r * cols; j < (r+1)*cols; j++ {
				maxAbs = math.Max(maxAbs, math.Abs(withTau[i][j]))
				maxErr = math.Max(maxErr, math.Abs(withTau[i][j]-ratio*withC[i][j]))
			}
			require.LessOrEqual(t, maxErr, linearityTol*maxAbs, "site %d row %d", i, r)
		}
	}
}

// The pass leaves the training gradient of the coefficients c, bit for bit
// the gradient of a plain Objective.Loss pass, and runs deterministically.
func TestPassTrainingGradient(t *testing.T) {
	be := nn.NewCPU()
	net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 2}, 7)
	require.NoError(t, err)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.Eps)
	toy, _ := data.NewToy("checkerboard")
	counts := []int{6, 6, 6, 6}
	b := gramBatch(toy, counts, 4)
	c := make([]float64, b.Len())
	for r, tt := range b.T {
		c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.Eps, sched.SNR(tt)) / float64(b.Len())
	}
	net.Params().ZeroGrad(be)
	want := obj.Loss(b, c, make([]float64, b.Len()), true)
	wantGrad := append([]float32(nil), be.Data(net.Params().Grad)...)

	g, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	res, err := g.Run(b, counts, c)
	require.NoError(t, err)
	require.Equal(t, want, res.Loss)
	require.Equal(t, wantGrad, be.Data(net.Params().Grad))
	again, err := g.Run(b, counts, c)
	require.NoError(t, err)
	require.Equal(t, res.Gram, again.Gram)
}

func TestPassErrors(t *testing.T) {
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 1)
	require.NoError(t, err)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.X0)
	_, err = gram.NewPass(obj, gram.Config{Params: func(string) bool { return false }})
	require.ErrorContains(t, err, "matches no parameter")
	_, err = gram.NewPass(obj, gram.Config{Method: 7})
	require.ErrorContains(t, err, "invalid method")
	_, err = gram.NewPass(diffusion.NewObjective(opaqueNet{net}, diffusion.Cosine(1000), weighting.X0), gram.Config{})
	require.ErrorContains(t, err, "does not expose")

	g, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	toy, _ := data.NewToy("moons")
	b := gramBatch(toy, []int{2, 2}, 1)
	_, err = g.Run(b, []int{2, 2}, []float64{1, 0, 1, 1})
	require.ErrorContains(t, err, "row 1 has training coefficient 0")
	require.Panics(t, func() { g.Run(b, []int{2, 1}, nil) })
}

func gaussians(t testing.TB) *data.Toy {
	toy, err := data.NewToy("8gaussians")
	require.NoError(t, err)
	return toy
}

// opaqueNet hides ResMLP's sites.
type opaqueNet struct{ nn.Network }

func TestGroupByBin(t *testing.T) {
	b := diffusion.NewBatch(5, 1)
	copy(b.T, []int{700, 10, 450, 20, 999})
	copy(b.X0, []float32{0, 1, 2, 3, 4})
	bins, err := weighting.FromEdges(1000, []int{0, 100, 500, 1000})
	require.NoError(t, err)
	g, counts, order := gram.GroupByBin(b, bins)
	require.Equal(t, []int{2, 1, 2}, counts)
	require.Equal(t, []int{1, 3, 2, 0, 4}, order)
	require.Equal(t, []int{10, 20, 450, 700, 999}, g.T)
	require.Equal(t, []float32{1, 3, 2, 0, 4}, g.X0)
	require.Panics(t, func() { gram.GroupByBin(b, weighting.MustEqualT(500, 2)) })
}

// After training, the examples of a bin cancel (the per-bin gradient is much
// shorter than the per-example ones), which is where float32 ghost products
// lose most: the Gram still meets the bar at a realistic bin size (K = 8,
// 32 examples per bin) for every target.
func TestPassTrainedModel(t *testing.T) {
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 64, Depth: 2}, 3)
	require.NoError(t, err)
	cfg := diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Weighting: weighting.MustParse("min-snr:5"),
		Steps: 300, Batch: 64, Seed: 3, EvalSize: 128,
		Optim: nn.OptimConfig{LR: 2e-3, Warmup: 20, ClipNorm: 1, EMADecay: 0.999, WeightDecay: 0.01},
	}
	tr, err := diffusion.NewTrainer(net, gaussians(t), gaussians(t), cfg)
	require.NoError(t, err)
	for tr.Step() < cfg.Steps {
		require.NoError(t, tr.StepOnce())
	}
	counts := []int{32, 32, 32, 32, 32, 32, 32, 32}
	b := diffusion.DrawBins(rand.New(rand.NewPCG(1, 2)), gaussians(t), weighting.MustEqualT(1000, 8), 32)
	for _, target := range weighting.Targets {
		obj := diffusion.NewObjective(net, cfg.Schedule, target)
		want, _ := bruteGram(t, obj, b, counts, nil, nil)
		for _, blocks := range []gram.Blocks{gram.TriangleBlocks, gram.SquareBlocks} {
			g, err := gram.NewPass(obj, gram.Config{Method: gram.Ghost, Blocks: blocks})
			require.NoError(t, err)
			res, err := g.Run(b, counts, nil)
			require.NoError(t, err)
			gramClose(t, fmt.Sprintf("trained %v blocks %d", target, blocks), want, res.Gram, gramRelTol32)
		}
	}
}

// An empty bin has a zero row and column and a NaN loss; the other entries
// are those of the non-empty bins alone.
func TestPassEmptyBin(t *testing.T) {
	net, err := nn.InitResMLP(nn.NewCPU64(), nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 3)
	require.NoError(t, err)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.Eps)
	toy, _ := data.NewToy("moons")
	b := gramBatch(toy, []int{3, 4}, 2)
	want, wantLoss := bruteGram(t, obj, b, []int{3, 4}, nil, nil)
	for _, blocks := range []gram.Blocks{gram.TriangleBlocks, gram.SquareBlocks} {
		g, err := gram.NewPass(obj, gram.Config{Method: gram.Ghost, Blocks: blocks})
		require.NoError(t, err)
		res, err := g.Run(b, []int{3, 0, 4}, nil)
		require.NoError(t, err)
		require.True(t, math.IsNaN(res.BinLoss[1]))
		require.InDelta(t, wantLoss[0], res.BinLoss[0], 1e-6*wantLoss[0])
		for k := 0; k < 3; k++ {
			require.Zero(t, res.Gram[k*3+1])
			require.Zero(t, res.Gram[1*3+k])
		}
		sub := []float64{res.Gram[0], res.Gram[2], res.Gram[6], res.Gram[8]}
		gramClose(t, "empty bin", want, sub, gramRelTol64)
	}
}
