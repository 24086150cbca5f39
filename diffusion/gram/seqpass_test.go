package gram_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

const (
	// seqExactTol64: the materialised Gram on the float64 twin without
	// rescaling (c nil) has no float32 step at all (the kernels see the
	// same float32 coefficients as the brute force), so only the order of
	// float64 sums differs.
	seqExactTol64 = 1e-10
	// seqFDTol: central differences of the float64 test network at step
	// 1e-5, truncation O(h²) ≈ 1e-10 times third derivatives of order 1,
	// relative to the largest gradient entry of the parameter.
	seqFDTol = 1e-6
)

// The test network's sizes: T tokens of F features, width H, inner width
// H2, time embedding E; D = T·F.
const seqT, seqF, seqH, seqH2, seqE = 4, 3, 8, 12, 6

// gaussD is a dataset of independent standard normal rows of length d.
type gaussD int

func (d gaussD) Dim() int { return int(d) }
func (d gaussD) Sample(rng *rand.Rand, x []float32) {
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
}

// The test network is a network: its Backward is the gradient of its
// Forward, by central differences on the float64 twin, every parameter.
func TestSeqNetGradient(t *testing.T) {
	be := nn.NewCPU64()
	net := newSeqNet(be, seqT, seqF, seqH, seqH2, seqE, 3)
	const B = 3
	D := net.Dim()
	rng := rand.New(rand.NewPCG(1, 1))
	x, ts, w := be.Alloc(B*D), be.Alloc(B), be.Alloc(B*D)
	for i := range be.Data(x) {
		be.Data(x)[i], be.Data(w)[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	copy(be.Data(ts), []float64{3, 470, 999})
	out := be.Alloc(B * D)
	loss := func() float64 { // L = ⟨w, out⟩
		net.Forward(out, x, ts, B)
		return be.Dot(w, out)
	}
	loss()
	net.Params().ZeroGrad(be)
	net.Backward(w, B)
	grad := append([]float64(nil), be.Data(net.Params().Grad)...)
	flat := be.Data(net.Params().Flat)
	const h = 1e-5
	for _, p := range net.Params().Params() {
		var scale, worst float64
		for i := 0; i < p.Size; i++ {
			scale = math.Max(scale, math.Abs(grad[p.Offset+i]))
		}
		require.Greater(t, scale, 0.0, p.Name)
		for i := 0; i < p.Size; i += max(1, p.Size/7) {
			j := p.Offset + i
			v := flat[j]
			flat[j] = v + h
			up := loss()
			flat[j] = v - h
			down := loss()
			flat[j] = v
			worst = math.Max(worst, math.Abs((up-down)/(2*h)-grad[j])/scale)
		}
		require.LessOrEqual(t, worst, seqFDTol, "%s: worst relative error %.3g", p.Name, worst)
	}
}

// seqBrute is the brute-force Gram of a sequence network: one
// BinGradients pass per non-empty bin, zero rows for empty bins, the
// selected parameters' entries copied on the backend, and their Gram by
// Backend.Gram (no float32 step on the float64 twin); and the bins'
// losses (NaN for an empty bin).
func seqBrute(t *testing.T, obj *diffusion.Objective, b diffusion.Batch, counts []int, sel func(string) bool) (*mat.SymDense, []float64) {
	t.Helper()
	be, ps := obj.Net.Backend(), obj.Net.Params()
	var chosen []*nn.Param
	width := 0
	for _, p := range ps.Params() {
		if sel == nil || sel(p.Name) {
			chosen, width = append(chosen, p), width+p.Size
		}
	}
	K := len(counts)
	grad, rows := be.Alloc(ps.Len()), be.Alloc(K*width)
	losses := make([]float64, K)
	off := 0
	for k, n := range counts {
		losses[k] = math.NaN()
		if n == 0 {
			continue
		}
		losses[k] = gram.BinGradients(obj, grad, b.Slice(off, off+n), 1, nil)[0]
		off += n
		at := k * width
		for _, p := range chosen {
			be.Copy(rows.View(at, p.Size), grad.View(p.Offset, p.Size))
			at += p.Size
		}
	}
	g := make([]float64, K*K)
	be.Gram(g, rows, K, width)
	return mat.NewSymDense(K, g), losses
}

// gramCloseBins is gramClose where some bins may be empty: their rows and
// columns must be exactly zero, the others within tol of want relative to
// √(want_kk·want_ll).
func gramCloseBins(t *testing.T, what string, want *mat.SymDense, counts []int, got []float64, tol float64) float64 {
	t.Helper()
	K := len(counts)
	require.Len(t, got, K*K)
	worst := 0.0
	for k := 0; k < K; k++ {
		for l := 0; l < K; l++ {
			require.Equal(t, got[k*K+l], got[l*K+k], "%s: not symmetric", what)
			if counts[k] == 0 || counts[l] == 0 {
				require.Zero(t, got[k*K+l], "%s: empty bin's entry (%d, %d)", what, k, l)
				continue
			}
			scale := math.Sqrt(want.At(k, k) * want.At(l, l))
			require.Greater(t, scale, 0.0, what)
			worst = math.Max(worst, math.Abs(got[k*K+l]-want.At(k, l))/scale)
		}
	}
	require.LessOrEqual(t, worst, tol, "%s: worst relative error %.3g", what, worst)
	return worst
}

// seqVariant is one way of running Pass: method, blocks and whether the
// backend's ragged GEMM is hidden.
type seqVariant struct {
	method gram.Method
	blocks gram.Blocks
	plain  bool
}

func (v seqVariant) String() string {
	return fmt.Sprintf("%v/blocks%d/plain=%v", v.method, v.blocks, v.plain)
}

var seqVariants = []seqVariant{
	{gram.Auto, gram.AutoBlocks, false},
	{gram.Ghost, gram.TriangleBlocks, false}, {gram.Ghost, gram.TriangleBlocks, true}, {gram.Ghost, gram.SquareBlocks, false},
	{gram.Materialize, gram.AutoBlocks, false},
}

// The one-pass Gram of a network with token rows (Tokens = T and 1 mixed,
// a LayerNorm over token rows, a ParamSite, an attention step) equals the
// brute-force K-pass Gram on every entry, on the float64 twin and on
// float32, for K = 1, 3 and 8 with unequal and empty bins, every target
// (eps, x0, v on the cosine schedule, flow on the flow schedule), every
// method and block layout, c nil and given, all parameters and a subset.
func TestPassSequenceMatchesBruteForce(t *testing.T) {
	cosine := diffusion.Cosine(1000)
	flow, err := diffusion.FlowSchedule(1000, 3)
	require.NoError(t, err)
	type objective struct {
		sched  *diffusion.Schedule
		target weighting.Target
	}
	objs := []objective{{cosine, weighting.Eps}, {cosine, weighting.X0}, {cosine, weighting.V}, {flow, weighting.Flow}}
	binnings := [][]int{{5}, {3, 1, 2}, {2, 0, 4}, {1, 2, 0, 3, 1, 2, 1, 2}}
	params := []string{"all", "pos,norm.bias,fc1.bias,embed.weight,ada.*,flat.weight"}
	worst := map[string]float64{}
	for _, be32 := range []bool{false, true} {
		for oi, o := range objs {
			for bi, counts := range binnings {
				for _, ps := range params {
					var be nn.Backend = nn.NewCPU64()
					if be32 {
						be = nn.NewCPU()
					}
					net := newSeqNet(be, seqT, seqF, seqH, seqH2, seqE, uint64(7+oi))
					obj := diffusion.NewObjective(net, o.sched, o.target)
					b := gramBatch(gaussD(net.Dim()), counts, uint64(bi+1))
					sel := selector(ps)
					want, wantLoss := seqBrute(t, obj, b, counts, sel)
					c := make([]float64, b.Len())
					for r, tt := range b.T {
						c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, o.target, o.sched.SNR(tt)) / float64(b.Len())
					}
					for _, v := range seqVariants {
						var vbe nn.Backend = be
						if v.plain {
							vbe = plainBackend{be}
						}
						vobj := obj
						if v.plain {
							vobj = diffusion.NewObjective(seqOn(net, vbe), o.sched, o.target)
						}
						g, err := gram.NewPass(vobj, gram.Config{Params: sel, Method: v.method, Blocks: v.blocks})
						require.NoError(t, err)
						name := fmt.Sprintf("%s/%v/%v/bins%d/%s/%v", be.Name(), o.sched.Name(), o.target, bi, ps, v)
						checkSeqRuns(t, name, g, b, counts, c, v, be32, want, wantLoss, worst)
					}
				}
			}
		}
	}
	for kind, w := range worst {
		t.Logf("%s: worst relative error %.3g", kind, w)
	}
}

// seqOn is net seen through another backend value (plainBackend hides
// the ragged GEMM): the same layers and buffers.
type seqOnBackend struct {
	*seqNet
	be nn.Backend
}

func (s seqOnBackend) Backend() nn.Backend { return s.be }

func seqOn(net *seqNet, be nn.Backend) gram.ParamSiteNetwork { return seqOnBackend{net, be} }

// With training coefficients, Pass.Run leaves the training gradient of a
// sequence network bit for bit that of a plain Objective.Loss pass.
func TestPassSequenceTrainingGradient(t *testing.T) {
	be := nn.NewCPU()
	net := newSeqNet(be, seqT, seqF, seqH, seqH2, seqE, 4)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.Eps)
	counts := []int{3, 2, 4}
	b := gramBatch(gaussD(net.Dim()), counts, 5)
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
}

// The split-half estimator over token rows: RunSplit's Raw is
// SplitFromHalves of the brute-force Gram of the halves.
func TestRunSplitSequence(t *testing.T) {
	sched := diffusion.Cosine(1000)
	for _, be32 := range []bool{false, true} {
		var be nn.Backend = nn.NewCPU64()
		tol := gramRelTol64
		if be32 {
			be, tol = nn.NewCPU(), gramRelTol32
		}
		net := newSeqNet(be, seqT, seqF, seqH, seqH2, seqE, 6)
		obj := diffusion.NewObjective(net, sched, weighting.V)
		counts := []int{4, 5, 2}
		b := gramBatch(gaussD(net.Dim()), counts, 3)
		halves, err := gram.Halves(counts)
		require.NoError(t, err)
		wantHalves, wantHalfLoss := seqBrute(t, obj, b, halves, nil)
		want, err := gram.SplitFromHalves(wantHalves, wantHalfLoss, counts)
		require.NoError(t, err)
		wantPlain, _ := seqBrute(t, obj, b, counts, nil)
		g, err := gram.NewPass(obj, gram.Config{Method: gram.Ghost})
		require.NoError(t, err)
		res, err := g.RunSplit(b, counts, nil)
		require.NoError(t, err)
		K := len(counts)
		gramClose(t, "plain", wantPlain, res.Plain, tol)
		for i := 0; i < K; i++ {
			for j := 0; j < K; j++ {
				s := math.Sqrt(wantPlain.At(i, i) * wantPlain.At(j, j))
				require.InDelta(t, want.Raw[i*K+j], res.Raw[i*K+j], 4*tol*s, "Ĝ[%d][%d]", i, j)
			}
		}
	}
}

// A site whose rows do not fit the batch is an error, not a panic.
func TestPassSequenceSiteErrors(t *testing.T) {
	net := newSeqNet(nn.NewCPU(), seqT, seqF, seqH, seqH2, seqE, 1)
	obj := diffusion.NewObjective(badTokens{net}, diffusion.Cosine(1000), weighting.Eps)
	g, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	counts := []int{2, 2}
	_, err = g.Run(gramBatch(gaussD(net.Dim()), counts, 1), counts, nil)
	require.ErrorContains(t, err, `Linear layer "embed"`)
}

// badTokens claims twice the embed layer's tokens.
type badTokens struct{ *seqNet }

func (b badTokens) LinearSites() []nn.LinearSite {
	s := b.seqNet.LinearSites()
	s[2].Tokens *= 2
	return s
}

// The reasoning behind one pass, per example: attention mixes an
// example's tokens but never two examples, so backpropagation is still
// linear in each example's output gradient, and the δ rows of every site
// for coefficients c, each example's rows (all its tokens) scaled by
// τ_n/c_n, are the δ rows for coefficients τ.
func TestPassSequenceLinearity(t *testing.T) {
	be := nn.NewCPU64()
	net := newSeqNet(be, seqT, seqF, seqH, seqH2, seqE, 2)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.V)
	b := gramBatch(gaussD(net.Dim()), []int{3, 3}, 3)
	B := b.Len()
	c, tau, mse := make([]float64, B), make([]float64, B), make([]float64, B)
	for r, tt := range b.T {
		c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.V, sched.SNR(tt)) / float64(B)
		tau[r] = weighting.Weight(weighting.Constant{}, weighting.V, sched.SNR(tt)) / 3
	}
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
		for _, s := range net.ParamSites() {
			out = append(out, append([]float64(nil), be.Data(s.OutGrad)...))
		}
		return out
	}
	withC, withTau := rowsOf(c), rowsOf(tau)
	require.Len(t, withC, 5+1+1) // 5 Linear layers with δ rows (flat's is the objective's), 1 LayerNorm, 1 ParamSite
	for i := range withC {
		per := len(withC[i]) / B // an example's elements, all its tokens
		for n := 0; n < B; n++ {
			ratio := float64(float32(tau[n])) / float64(float32(c[n]))
			var maxAbs, maxErr float64
			for j := n * per; j < (n+1)*per; j++ {
				maxAbs = math.Max(maxAbs, math.Abs(withTau[i][j]))
				maxErr = math.Max(maxErr, math.Abs(withTau[i][j]-ratio*withC[i][j]))
			}
			require.LessOrEqual(t, maxErr, linearityTol*maxAbs, "site %d example %d", i, n)
		}
	}
}

// checkSeqRuns runs g on b with c nil and with the training coefficients
// c and checks every Gram entry against the brute force want (relative to
// √(G_kk·G_ll), the tolerance by backend and method), the bin losses
// against wantLoss (NaN for an empty bin) and the method's layer counts;
// worst collects the largest relative error of each kind.
func checkSeqRuns(t *testing.T, name string, g *gram.Pass, b diffusion.Batch, counts []int, c []float64, v seqVariant, be32 bool,
	want *mat.SymDense, wantLoss []float64, worst map[string]float64) {
	t.Helper()
	for _, withC := range []bool{false, true} {
		name := fmt.Sprintf("%s/c=%v", name, withC)
		var cc []float64
		if withC {
			cc = c
		}
		res, err := g.Run(b, counts, cc)
		require.NoError(t, err, name)
		tol, kind := gramRelTol64, "float64"
		switch {
		case be32:
			tol, kind = gramRelTol32, "float32"
		case v.method == gram.Materialize && !withC:
			tol, kind = seqExactTol64, "float64 materialised, c nil"
		}
		w := gramCloseBins(t, name, want, counts, res.Gram, tol)
		worst[kind] = math.Max(worst[kind], w)
		for k, l := range wantLoss {
			if counts[k] == 0 {
				require.True(t, math.IsNaN(res.BinLoss[k]), name)
				continue
			}
			require.InDelta(t, l, res.BinLoss[k], 1e-6*l, name)
		}
		switch v.method {
		case gram.Ghost:
			require.Zero(t, res.Materialized, name)
		case gram.Materialize:
			require.Zero(t, res.Ghost, name)
		}
	}
}
