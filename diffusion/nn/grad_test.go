package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Tolerances of the gradient checks.
const (
	// fdStep is the central-difference step: in float64 its truncation error
	// (~h²·f‴) and rounding error (~1e-16·|L|/h) stay below 1e-8 relative
	// here (measured: at most 1.5e-8, for GELU at |x| ≈ 4).
	fdStep = 1e-5
	// fdRelTol bounds max|FD − analytic| / max|analytic| for the float64
	// twin; a wrong formula misses it by orders of magnitude.
	fdRelTol = 1e-6
	// f32RelTol bounds the float32 backend's gradient against the float64
	// twin's, relative to the largest gradient: a few layers of float32
	// rounding (2⁻²⁴ ≈ 6e-8 per operation) with sums over ≤ 100 terms.
	f32RelTol = 1e-4
)

// objective is L = Σ c ⊙ y for a fixed random c, so ∂L/∂y = c.
type objective struct{ c []float64 }

func newObjective(rng *rand.Rand, n int) objective {
	return objective{c: to64(randVals(rng, n))}
}

func (o objective) value(y []float64) float64 {
	var s float64
	for i, v := range y[:len(o.c)] {
		s += o.c[i] * v
	}
	return s
}

// set64 allocates a float64-twin tensor holding v.
func set64(be *CPU[float64], v []float64) Tensor {
	t := be.Alloc(len(v))
	copy(be.Data(t), v)
	return t
}

// checkFD perturbs every element of vals (live storage of an input or a
// parameter) by ±fdStep, evaluates loss, and compares the central difference
// with the analytic gradient grad.
func checkFD(t *testing.T, what string, vals, grad []float64, loss func() float64) {
	t.Helper()
	require.Len(t, grad, len(vals))
	var maxAbs, maxErr float64
	for i := range vals {
		old := vals[i]
		vals[i] = old + fdStep
		lp := loss()
		vals[i] = old - fdStep
		lm := loss()
		vals[i] = old
		fd := (lp - lm) / (2 * fdStep)
		maxErr = math.Max(maxErr, math.Abs(fd-grad[i]))
		maxAbs = math.Max(maxAbs, math.Abs(grad[i]))
	}
	require.Greater(t, maxAbs, 1e-6, "%s: gradient is all zero, the check would be vacuous", what)
	require.LessOrEqual(t, maxErr/maxAbs, fdRelTol, "%s: finite differences disagree (max error %g, max gradient %g)", what, maxErr, maxAbs)
}

func TestLinearFiniteDifferences(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(10, 1))
	rows, in, out := 4, 5, 3
	ps := &ParamSet{}
	l := NewLinear(be, ps, "fc", in, out)
	ps.Build(be)
	ps.Init(be, rng)
	x := set64(be, to64(randVals(rng, rows*in)))
	y, dx := be.Alloc(rows*out), be.Alloc(rows*in)
	obj := newObjective(rng, rows*out)
	loss := func() float64 { l.Forward(y, x, rows); return obj.value(be.Data(y)) }
	loss()
	ps.ZeroGrad(be)
	l.Backward(dx, set64(be, obj.c), x, rows)
	checkFD(t, "linear dW", be.Data(l.W.Value), be.Data(l.W.Grad), loss)
	checkFD(t, "linear db", be.Data(l.B.Value), be.Data(l.B.Grad), loss)
	checkFD(t, "linear dx", be.Data(x), be.Data(dx), loss)
}

func TestActivationFiniteDifferences(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(11, 1))
	for _, f := range []Activation{SiLU, GELU} {
		xv := to64(randVals(rng, 40))
		for i := range xv {
			xv[i] *= 4 // cover the curved part and both tails
		}
		x, y, dx := set64(be, xv), be.Alloc(40), be.Alloc(40)
		obj := newObjective(rng, 40)
		loss := func() float64 { be.Activate(f, y, x); return obj.value(be.Data(y)) }
		be.ActivateBackward(f, dx, x, set64(be, obj.c))
		checkFD(t, f.String()+" dx", be.Data(x), be.Data(dx), loss)
	}
}

func TestLayerNormFiniteDifferences(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(12, 1))
	rows, cols := 3, 7
	ps := &ParamSet{}
	n := NewLayerNorm(be, ps, "ln", cols)
	ps.Build(be)
	// Random γ and β rather than 1 and 0, so every term of the backward
	// formula matters.
	copy(be.Data(ps.Flat), to64(randVals(rng, ps.Len())))
	x := set64(be, to64(randVals(rng, rows*cols)))
	y, mean, rstd, dx := be.Alloc(rows*cols), be.Alloc(rows), be.Alloc(rows), be.Alloc(rows*cols)
	obj := newObjective(rng, rows*cols)
	loss := func() float64 { n.Forward(y, mean, rstd, x, rows); return obj.value(be.Data(y)) }
	loss()
	n.Backward(dx, set64(be, obj.c), x, mean, rstd, rows)
	checkFD(t, "layernorm dγ", be.Data(n.Gamma.Value), be.Data(n.Gamma.Grad), loss)
	checkFD(t, "layernorm dβ", be.Data(n.Beta.Value), be.Data(n.Beta.Grad), loss)
	checkFD(t, "layernorm dx", be.Data(x), be.Data(dx), loss)

	// Backward accumulates: a second call doubles every gradient.
	loss() // the checks above left the statistics of a perturbed x
	be.Fill(dx, 0)
	n.Backward(dx, set64(be, obj.c), x, mean, rstd, rows)
	g1 := append([]float64(nil), be.Data(dx)...)
	n.Backward(dx, set64(be, obj.c), x, mean, rstd, rows)
	for i, v := range be.Data(dx) {
		require.InDelta(t, 2*g1[i], v, 1e-14)
	}
}

func TestWeightedMSEFiniteDifferences(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(13, 1))
	rows, cols := 5, 3
	pred := set64(be, to64(randVals(rng, rows*cols)))
	target := set64(be, to64(randVals(rng, rows*cols)))
	w := set64(be, []float64{0.5, 2, 1, 0, 3})
	rowLoss, dpred := be.Alloc(rows), be.Alloc(rows*cols)
	const scale = 1.0 / 5
	loss := func() float64 {
		be.WeightedMSE(rowLoss, Tensor{}, pred, target, w, rows, cols, scale)
		var s float64
		for r, v := range be.Data(rowLoss) {
			s += scale * be.Data(w)[r] * v
		}
		return s
	}
	be.WeightedMSE(rowLoss, dpred, pred, target, w, rows, cols, scale)
	checkFD(t, "weighted MSE dpred", be.Data(pred), be.Data(dpred), loss)
}

// smallConfig is a ResMLP small enough to difference every parameter;
// smallPrecond is the same with both input skips.
var (
	smallConfig  = ResMLPConfig{Dim: 3, Width: 6, Depth: 2, Hidden: 8, TimeDim: 4}
	smallPrecond = ResMLPConfig{Dim: 3, Width: 6, Depth: 2, Hidden: 8, TimeDim: 4, SigmaData: 0.5, Skip: true}
)

// modelCase is a model with inputs and an objective on its output.
type modelCase struct {
	rows int
	x, t []float32
	c, g []float32 // skip gains (rows), for a preconditioned model
	obj  objective
}

func newModelCase(rng *rand.Rand, cfg ResMLPConfig, rows int) modelCase {
	ts := make([]float32, rows)
	for i := range ts {
		ts[i] = float32(rng.IntN(1000))
	}
	mc := modelCase{rows: rows, x: randVals(rng, rows*cfg.Dim), t: ts, obj: newObjective(rng, rows*cfg.Dim)}
	if cfg.Preconditioned() {
		mc.c, mc.g = randVals(rng, rows), randVals(rng, rows)
		for i := range mc.g {
			mc.g[i] *= 3 // gains well away from 1
		}
	}
	return mc
}

// forward runs m on the case's inputs (with its gains if m is
// preconditioned).
func (mc modelCase) forward(m *ResMLP, out, x, ts Tensor) {
	if !m.Config().Preconditioned() {
		m.Forward(out, x, ts, mc.rows)
		return
	}
	be := m.Backend()
	m.ForwardPrecond(out, x, ts, upload(be, mc.c), upload(be, mc.g), mc.rows)
}

// run does Forward and Backward (dout = c) on m and returns the loss.
func (mc modelCase) run(m *ResMLP) float64 {
	be := m.Backend()
	D := m.Dim()
	x, ts, out := upload(be, mc.x), upload(be, mc.t), be.Alloc(mc.rows*D)
	mc.forward(m, out, x, ts)
	c := make([]float32, len(mc.obj.c))
	for i, v := range mc.obj.c {
		c[i] = float32(v)
	}
	m.Params().ZeroGrad(be)
	m.Backward(upload(be, c), mc.rows)
	return mc.obj.value(to64(download(be, out)))
}

func TestResMLPFiniteDifferences(t *testing.T) {
	for _, base := range []ResMLPConfig{smallConfig, smallPrecond} {
		for _, act := range []Activation{SiLU, GELU} {
			be := NewCPU64()
			cfg := base
			cfg.Act = act
			m, err := InitResMLP(be, cfg, 7)
			require.NoError(t, err)
			// Random LayerNorm gains and shifts (and skip weights), so that
			// no gradient is trivially structured.
			rng := rand.New(rand.NewPCG(14, uint64(act)))
			for _, p := range m.Params().Params() {
				if p.init.Kind == "const" {
					copy(be.Data(p.Value), to64(randVals(rng, p.Size)))
				}
			}
			mc := newModelCase(rng, m.Config(), 5)
			mc.run(m)
			grad := append([]float64(nil), be.Data(m.Params().Grad)...)
			x, ts, out := upload(be, mc.x), upload(be, mc.t), be.Alloc(mc.rows*cfg.Dim)
			loss := func() float64 { mc.forward(m, out, x, ts); return mc.obj.value(be.Data(out)) }
			for _, p := range m.Params().Params() {
				checkFD(t, act.String()+" "+p.Name, be.Data(p.Value), grad[p.Offset:p.Offset+p.Size], loss)
			}
		}
	}
}

// The input skips add exactly c_r·x_r + g_r·(S x_r + b_S) to the output
// of the same network without them; the learned skip starts at zero; and
// a preconditioned network refuses the plain Forward.
func TestResMLPPrecondOutput(t *testing.T) {
	be := NewCPU64()
	plain, err := InitResMLP(be, smallConfig, 9)
	require.NoError(t, err)
	pre, err := InitResMLP(be, smallPrecond, 9)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(18, 1))
	mc := newModelCase(rng, smallPrecond, 4)
	x, ts := upload(be, mc.x), upload(be, mc.t)
	D, rows := smallConfig.Dim, mc.rows
	base, got := be.Alloc(rows*D), be.Alloc(rows*D)
	plain.Forward(base, x, ts, rows)

	// The skip is zero at initialisation; the rest of the weights match.
	skipW, skipB := pre.Params().Lookup("skip.weight"), pre.Params().Lookup("skip.bias")
	require.Equal(t, make([]float64, D*D), be.Data(skipW.Value))
	require.Equal(t, make([]float64, D), be.Data(skipB.Value))
	for _, p := range plain.Params().Params() {
		require.Equal(t, be.Data(p.Value), be.Data(pre.Params().Lookup(p.Name).Value), p.Name)
	}

	S, bS := to64(randVals(rng, D*D)), to64(randVals(rng, D))
	copy(be.Data(skipW.Value), S)
	copy(be.Data(skipB.Value), bS)
	mc.forward(pre, got, x, ts)
	want := append([]float64(nil), be.Data(base)...)
	for r := 0; r < rows; r++ {
		for j := 0; j < D; j++ {
			sx := bS[j]
			for k := 0; k < D; k++ {
				sx += S[j*D+k] * float64(mc.x[r*D+k])
			}
			want[r*D+j] += float64(mc.c[r])*float64(mc.x[r*D+j]) + float64(mc.g[r])*sx
		}
	}
	requireClose(t, "precond output", want, be.Data(got), 1e-12)
	require.Panics(t, func() { pre.Forward(got, x, ts, rows) })
}

// The float32 backend computes the same gradient as the float64 twin.
func TestResMLPFloat32MatchesFloat64(t *testing.T) {
	for _, cfg := range []ResMLPConfig{
		{Dim: 5, Width: 16, Depth: 3, Hidden: 24},
		{Dim: 5, Width: 16, Depth: 3, Hidden: 24, SigmaData: 0.5, Skip: true},
	} {
		m32, err := InitResMLP(NewCPU(), cfg, 3)
		require.NoError(t, err)
		m64, err := InitResMLP(NewCPU64(), cfg, 3)
		require.NoError(t, err)
		mc := newModelCase(rand.New(rand.NewPCG(15, 1)), m32.Config(), 9)
		l32, l64 := mc.run(m32), mc.run(m64)
		require.InDelta(t, l64, l32, f32RelTol*math.Abs(l64))
		g32 := to64(download(m32.be, m32.Params().Grad))
		g64 := to64(download(m64.be, m64.Params().Grad))
		var maxAbs, maxErr float64
		for i := range g64 {
			maxAbs = math.Max(maxAbs, math.Abs(g64[i]))
			maxErr = math.Max(maxErr, math.Abs(g32[i]-g64[i]))
		}
		require.LessOrEqual(t, maxErr/maxAbs, f32RelTol)
	}
}

func TestResMLPDeterministic(t *testing.T) {
	cfg := ResMLPConfig{Dim: 20, Width: 70, Depth: 2}
	var grads [2][]float32
	for i := range grads {
		m, err := InitResMLP(NewCPU(), cfg, 5)
		require.NoError(t, err)
		newModelCase(rand.New(rand.NewPCG(16, 1)), m.Config(), 130).run(m)
		grads[i] = download(m.be, m.Params().Grad)
	}
	require.Equal(t, grads[0], grads[1])
}

// requireClose checks max|want − got| ≤ relTol·max|want| and that want is
// not all zero.
func requireClose(t *testing.T, what string, want, got []float64, relTol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var maxAbs, maxErr float64
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(want[i]))
		maxErr = math.Max(maxErr, math.Abs(want[i]-got[i]))
	}
	require.Greater(t, maxAbs, 1e-6, "%s: all zero, the check would be vacuous", what)
	require.LessOrEqual(t, maxErr/maxAbs, relTol, "%s: max error %g, max value %g", what, maxErr, maxAbs)
}

// The rows LinearSites and NormSites hand out are the per-example factors of
// every layer's gradient: Σ_n δ_nᵀ a_n is the weight gradient and Σ_n δ_n
// the bias gradient of each Linear layer; Σ_n δ_n ⊙ x̂_n and Σ_n δ_n are γ's
// and β's of each LayerNorm.
func TestSitesFactorTheGradients(t *testing.T) {
	for _, skip := range []bool{false, true} {
		testSitesFactorTheGradients(t, skip)
	}
}

func testSitesFactorTheGradients(t *testing.T, skip bool) {
	be := NewCPU64()
	m, err := InitResMLP(be, ResMLPConfig{Dim: 3, Width: 5, Depth: 2, Hidden: 7, TimeDim: 4, Skip: skip}, 2)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(17, 1))
	mc := newModelCase(rng, m.Config(), 6)
	x, ts, out := upload(be, mc.x), upload(be, mc.t), be.Alloc(mc.rows*3)
	mc.forward(m, out, x, ts)
	m.Params().ZeroGrad(be)
	dout := set64(be, mc.obj.c)
	m.Backward(dout, mc.rows)
	sites := m.LinearSites()
	if skip {
		require.Len(t, sites, 9) // time1, time2, in, 2 × (fc1, fc2), out, skip
		require.Equal(t, "skip", sites[8].Layer.Name)
	} else {
		require.Len(t, sites, 8) // time1, time2, in, 2 × (fc1, fc2), out
	}
	for _, s := range sites {
		a, d := be.Data(s.In), be.Data(s.OutGrad)
		in, outN := s.Layer.In, s.Layer.Out
		require.Len(t, a, mc.rows*in, s.Layer.Name)
		require.Len(t, d, mc.rows*outN, s.Layer.Name)
		gw, gb := make([]float64, outN*in), make([]float64, outN)
		for n := 0; n < mc.rows; n++ {
			for o := 0; o < outN; o++ {
				gb[o] += d[n*outN+o]
				for i := 0; i < in; i++ {
					gw[o*in+i] += d[n*outN+o] * a[n*in+i]
				}
			}
		}
		requireClose(t, s.Layer.Name+" weight from sites", gw, be.Data(s.Layer.W.Grad), 1e-12)
		requireClose(t, s.Layer.Name+" bias from sites", gb, be.Data(s.Layer.B.Grad), 1e-12)
	}
	norms := m.NormSites()
	require.Len(t, norms, 3)
	for _, s := range norms {
		W := s.Layer.Dim
		xs, mean, rstd, d := be.Data(s.X), be.Data(s.Mean), be.Data(s.Rstd), be.Data(s.OutGrad)
		gg, gb := make([]float64, W), make([]float64, W)
		for n := 0; n < mc.rows; n++ {
			for j := 0; j < W; j++ {
				gg[j] += d[n*W+j] * (xs[n*W+j] - mean[n]) * rstd[n]
				gb[j] += d[n*W+j]
			}
		}
		requireClose(t, s.Layer.Name+" γ from sites", gg, be.Data(s.Layer.Gamma.Grad), 1e-12)
		requireClose(t, s.Layer.Name+" β from sites", gb, be.Data(s.Layer.Beta.Grad), 1e-12)
	}
}
