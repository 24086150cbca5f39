package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Tiny DiTs small enough to difference every parameter: 2 channels of 4×4
// in 2×2 patches (4 tokens of 8 values), width 8, 2 heads of 4, depth 2,
// an MLP of 12 (a non-integer ratio, truncated as DiT does).
var (
	tinyDiT        = DiTConfig{Channels: 2, Side: 4, Patch: 2, Width: 8, Depth: 2, Heads: 2, MLPRatio: 1.5, FreqDim: 6}
	tinyDiTLearned = DiTConfig{Channels: 2, Side: 4, Patch: 2, Width: 8, Depth: 2, Heads: 2, MLPRatio: 1.5, FreqDim: 6, LearnedPos: true}
	tinyDiTPrecond = DiTConfig{Channels: 1, Side: 4, Patch: 2, Width: 8, Depth: 1, Heads: 2, MLPRatio: 2, FreqDim: 4,
		LearnedPos: true, SigmaData: 0.5, Skip: true}
)

// ditCase is a DiT's inputs (with skip gains when it is preconditioned)
// and an objective on its output.
type ditCase struct {
	rows int
	x, t []float32
	c, g []float32
	obj  objective
}

func newDiTCase(rng *rand.Rand, cfg DiTConfig, rows int) ditCase {
	cfg = cfg.WithDefaults()
	ts := make([]float32, rows)
	for i := range ts {
		ts[i] = float32(rng.IntN(1000))
	}
	dc := ditCase{rows: rows, x: randVals(rng, rows*cfg.Dim()), t: ts, obj: newObjective(rng, rows*cfg.Dim())}
	if cfg.Preconditioned() {
		dc.c, dc.g = randVals(rng, rows), randVals(rng, rows)
		for i := range dc.g {
			dc.g[i] *= 3
		}
	}
	return dc
}

func (dc ditCase) forward(m *DiT, out, x, ts Tensor) {
	if !m.Config().Preconditioned() {
		m.Forward(out, x, ts, dc.rows)
		return
	}
	m.ForwardPrecond(out, x, ts, upload(m.be, dc.c), upload(m.be, dc.g), dc.rows)
}

// run does Forward and Backward (dout = the objective's c) and returns the
// loss and the output.
func (dc ditCase) run(m *DiT) (float64, []float32) {
	be := m.Backend()
	x, ts, out := upload(be, dc.x), upload(be, dc.t), be.Alloc(dc.rows*m.Dim())
	dc.forward(m, out, x, ts)
	c := make([]float32, len(dc.obj.c))
	for i, v := range dc.obj.c {
		c[i] = float32(v)
	}
	m.Params().ZeroGrad(be)
	m.Backward(upload(be, c), dc.rows)
	y := download(be, out)
	return dc.obj.value(to64(y)), y
}

// randomiseParams sets every parameter to U(±scale) drawn from rng (so
// that adaLN-Zero's zeros do not hide any gradient), on the host, and
// uploads them.
func randomiseParams(be Backend, ps *ParamSet, rng *rand.Rand, scale float32) {
	v := randVals(rng, ps.Len())
	for i := range v {
		v[i] *= scale
	}
	be.Upload(ps.Flat, v)
}

func TestDiTFiniteDifferences(t *testing.T) {
	for _, cfg := range []DiTConfig{tinyDiT, tinyDiTLearned, tinyDiTPrecond} {
		be := NewCPU64()
		m, err := InitDiT(be, cfg, 7)
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(50, 1))
		randomiseParams(be, m.Params(), rng, 0.7)
		dc := newDiTCase(rng, cfg, 3)
		dc.run(m)
		grad := append([]float64(nil), be.Data(m.Params().Grad)...)
		x, ts, out := upload(be, dc.x), upload(be, dc.t), be.Alloc(dc.rows*m.Dim())
		loss := func() float64 { dc.forward(m, out, x, ts); return dc.obj.value(be.Data(out)) }
		for _, p := range m.Params().Params() {
			checkFD(t, p.Name, be.Data(p.Value), grad[p.Offset:p.Offset+p.Size], loss)
		}
	}
}

// adaLN-Zero in closed form: at initialisation every adaln layer and
// final.linear are zero, so the output is exactly zero (the fixed skip
// aside), every block is the identity (h_Depth = h₀), and the only
// parameters with a gradient are final.linear's:
// dW = Σ_tokens δ ⊗ LN(h₀), db = Σ_tokens δ, with δ the patch tokens of
// dout and h₀ = patch(Patchify(x)) + pos.
func TestDiTAdaLNZeroAtInit(t *testing.T) {
	be := NewCPU64()
	cfg := tinyDiT.WithDefaults()
	m, err := InitDiT(be, cfg, 3)
	require.NoError(t, err)
	dc := newDiTCase(rand.New(rand.NewPCG(51, 1)), cfg, 2)
	_, y := dc.run(m)
	require.Equal(t, make([]float32, len(y)), y, "output at init")

	B, L, W, P := dc.rows, cfg.Tokens(), cfg.Width, cfg.PatchDim()
	patchW := be.Data(m.Params().Lookup("patch.weight").Value)
	require.Equal(t, make([]float64, W), be.Data(m.Params().Lookup("patch.bias").Value))
	pos := to64(to32(SinCosPosEmbed2D(cfg.Side/cfg.Patch, W))) // uploaded as float32 values, like every parameter
	tokens := func(img []float64) []float64 { return naivePatchify(img, B, cfg.Channels, cfg.Side, cfg.Patch) }
	z, delta := tokens(to64(dc.x)), tokens(dc.obj.c)
	wantW, wantB := make([]float64, P*W), make([]float64, P)
	for n := 0; n < B*L; n++ {
		h := make([]float64, W)
		for o := range h {
			h[o] = pos[(n%L)*W+o]
			for i := 0; i < P; i++ {
				h[o] += patchW[o*P+i] * z[n*P+i]
			}
		}
		ln := naiveLayerNorm(h, ditEps)
		for o := 0; o < P; o++ {
			wantB[o] += delta[n*P+o]
			for i := 0; i < W; i++ {
				wantW[o*W+i] += delta[n*P+o] * ln[i]
			}
		}
	}
	for _, p := range m.Params().Params() {
		got := be.Data(p.Grad)
		switch p.Name {
		case "final.linear.weight":
			requireClose(t, p.Name, wantW, got, 1e-12)
		case "final.linear.bias":
			requireClose(t, p.Name, wantB, got, 1e-12)
		default:
			require.Equal(t, make([]float64, p.Size), got, "%s has a gradient at init", p.Name)
		}
	}
}

// naivePatchify is the token map of Backend.Patchify, written as the
// contract's loops over patches and pixels.
func naivePatchify(img []float64, n, C, S, p int) []float64 {
	g := S / p
	out := make([]float64, 0, len(img))
	for b := 0; b < n; b++ {
		for P := 0; P < g; P++ {
			for Q := 0; Q < g; Q++ {
				for i := 0; i < p; i++ {
					for j := 0; j < p; j++ {
						for c := 0; c < C; c++ {
							out = append(out, img[b*C*S*S+c*S*S+(P*p+i)*S+Q*p+j])
						}
					}
				}
			}
		}
	}
	return out
}

// naiveLayerNorm is (x − mean)/√(var + eps) with the biased variance.
func naiveLayerNorm(x []float64, eps float64) []float64 {
	var mu, v float64
	for _, a := range x {
		mu += a / float64(len(x))
	}
	for _, a := range x {
		v += (a - mu) * (a - mu) / float64(len(x))
	}
	out := make([]float64, len(x))
	for i, a := range x {
		out[i] = (a - mu) / math.Sqrt(v+eps)
	}
	return out
}

// The float32 backend computes the same loss and gradient as the float64
// twin, on a DiT with MNIST's geometry.
func TestDiTFloat32MatchesFloat64(t *testing.T) {
	for _, cfg := range []DiTConfig{
		{Side: 8, Patch: 2, Width: 16, Depth: 2, Heads: 2, FreqDim: 16},
		{Channels: 3, Side: 6, Patch: 3, Width: 12, Depth: 1, Heads: 3, FreqDim: 8, LearnedPos: true, SigmaData: 0.5, Skip: true},
	} {
		m32, err := InitDiT(NewCPU(), cfg, 3)
		require.NoError(t, err)
		m64, err := InitDiT(NewCPU64(), cfg, 3)
		require.NoError(t, err)
		randomiseParams(m32.be, m32.Params(), rand.New(rand.NewPCG(52, 1)), 0.5)
		randomiseParams(m64.be, m64.Params(), rand.New(rand.NewPCG(52, 1)), 0.5)
		dc := newDiTCase(rand.New(rand.NewPCG(53, 1)), cfg, 5)
		l32, _ := dc.run(m32)
		l64, _ := dc.run(m64)
		require.InDelta(t, l64, l32, f32RelTol*math.Abs(l64))
		requireClose(t, "float32 gradient", to64(download(m64.be, m64.Params().Grad)), to64(download(m32.be, m32.Params().Grad)), f32RelTol)
	}
}

func TestDiTDeterministic(t *testing.T) {
	cfg := DiTConfig{Side: 12, Patch: 2, Width: 32, Depth: 2, Heads: 4, LearnedPos: true}
	var grads [2][]float32
	for i := range grads {
		m, err := InitDiT(NewCPU(), cfg, 5)
		require.NoError(t, err)
		randomiseParams(m.be, m.Params(), rand.New(rand.NewPCG(54, 1)), 0.3)
		newDiTCase(rand.New(rand.NewPCG(55, 1)), cfg, 40).run(m)
		grads[i] = download(m.be, m.Params().Grad)
	}
	require.Equal(t, grads[0], grads[1])
}

// The rows LinearSites and ParamSites hand out are the per-example factors
// of every gradient: Σ over a layer's rows of δᵀa is its weight gradient and
// Σ δ its bias gradient; Σ over examples of the position site's rows is the
// table's gradient.
func TestDiTSitesFactorTheGradients(t *testing.T) {
	be := NewCPU64()
	cfg := tinyDiTPrecond.WithDefaults()
	m, err := InitDiT(be, cfg, 2)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(56, 1))
	randomiseParams(be, m.Params(), rng, 0.5)
	dc := newDiTCase(rng, cfg, 3)
	dc.run(m)
	sites := m.LinearSites()
	var names []string
	for _, s := range sites {
		names = append(names, s.Layer.Name)
	}
	require.Equal(t, []string{"patch", "time1", "time2", "block0.adaln", "block0.qkv", "block0.proj", "block0.fc1", "block0.fc2",
		"final.adaln", "final.linear", "skip"}, names)
	L := cfg.Tokens()
	for _, s := range sites {
		perExample := map[string]bool{"time1": true, "time2": true, "block0.adaln": true, "final.adaln": true, "skip": true}
		if perExample[s.Layer.Name] {
			require.Equal(t, 1, s.Tokens, s.Layer.Name)
		} else {
			require.Equal(t, L, s.Tokens, s.Layer.Name)
		}
		rows := dc.rows * s.Tokens
		a, d := be.Data(s.In), be.Data(s.OutGrad)
		in, out := s.Layer.In, s.Layer.Out
		require.Len(t, a, rows*in, s.Layer.Name)
		require.Len(t, d, rows*out, s.Layer.Name)
		gw, gb := make([]float64, out*in), make([]float64, out)
		for n := 0; n < rows; n++ {
			for o := 0; o < out; o++ {
				gb[o] += d[n*out+o]
				for i := 0; i < in; i++ {
					gw[o*in+i] += d[n*out+o] * a[n*in+i]
				}
			}
		}
		requireClose(t, s.Layer.Name+" weight from sites", gw, be.Data(s.Layer.W.Grad), 1e-12)
		requireClose(t, s.Layer.Name+" bias from sites", gb, be.Data(s.Layer.B.Grad), 1e-12)
	}
	require.Empty(t, m.NormSites())
	ps := m.ParamSites()
	require.Len(t, ps, 1)
	require.Equal(t, "pos", ps[0].Param.Name)
	d, size := be.Data(ps[0].OutGrad), ps[0].Param.Size
	require.Len(t, d, dc.rows*size)
	gp := make([]float64, size)
	for n := 0; n < dc.rows; n++ {
		for j := range gp {
			gp[j] += d[n*size+j]
		}
	}
	requireClose(t, "pos from its site", gp, be.Data(ps[0].Param.Grad), 1e-12)
}

// The 2-D sin-cos table against values printed by DiT's own numpy
// get_2d_sincos_pos_embed(8, 3) (tokens 1 = row 0, column 1; 5 = row 1,
// column 2; 7 = row 2, column 1), and the closed form at one entry of a
// wider table.
func TestSinCosPosEmbed2D(t *testing.T) {
	const tol = 1e-15
	e := SinCosPosEmbed2D(3, 8)
	require.Len(t, e, 9*8)
	for tok, want := range map[int][]float64{
		1: {0.8414709848078965, 0.009999833334166664, 0.5403023058681397, 0.9999500004166654, 0, 0, 1, 1},
		5: {0.9092974268256816, 0.01999866669333308, -0.4161468365471424, 0.999800006666578,
			0.8414709848078965, 0.009999833334166664, 0.5403023058681397, 0.9999500004166654},
		7: {0.8414709848078965, 0.009999833334166664, 0.5403023058681397, 0.9999500004166654,
			0.9092974268256816, 0.01999866669333308, -0.4161468365471424, 0.999800006666578},
	} {
		for j, w := range want {
			require.InDelta(t, w, e[tok*8+j], tol, "token %d feature %d", tok, j)
		}
	}
	// width 64, grid 7: token (row 5, column 3), feature 3W/4 + 2 = cos(5·10000^(−2/16)).
	w := SinCosPosEmbed2D(7, 64)
	require.InDelta(t, math.Cos(5*math.Pow(10000, -2.0/16)), w[(5*7+3)*64+48+2], tol)
	require.Panics(t, func() { SinCosPosEmbed2D(3, 6) })
}

// The attention layer alone against a naive float64 loop of
// softmax(q kᵀ/√dh) v per example and head, and its gradient against
// finite differences.
func TestAttentionAgainstLoopsAndFiniteDifferences(t *testing.T) {
	const B, L, W, H = 3, 5, 12, 3
	rng := rand.New(rand.NewPCG(57, 1))
	qkv := to64(randVals(rng, B*L*3*W))
	for i := range qkv {
		qkv[i] *= 2 // sharper weights
	}
	want := naiveAttention(qkv, B, L, W, H)
	for _, be := range []Backend{NewCPU(), NewCPU64()} {
		a := NewAttention(be, L, W, H)
		out, probs := be.Alloc(B*L*W), be.Alloc(a.ProbsLen(B))
		a.Forward(out, probs, upload(be, to32(qkv)), B)
		requireClose(t, be.Name()+" attention", want, to64(download(be, out)), 1e-6)
	}
	be := NewCPU64()
	a := NewAttention(be, L, W, H)
	x, out, probs := set64(be, qkv), be.Alloc(B*L*W), be.Alloc(a.ProbsLen(B))
	obj := newObjective(rng, B*L*W)
	loss := func() float64 { a.Forward(out, probs, x, B); return obj.value(be.Data(out)) }
	loss()
	dqkv := be.Alloc(B * L * 3 * W)
	a.Backward(dqkv, be.Alloc(a.ProbsLen(B)), set64(be, obj.c), x, probs, B)
	checkFD(t, "attention dqkv", be.Data(x), be.Data(dqkv), loss)
}

// naiveAttention is multi-head attention in plain loops (timm's qkv layout).
func naiveAttention(qkv []float64, B, L, W, H int) []float64 {
	dh := W / H
	out := make([]float64, B*L*W)
	at := func(b, tok, chunk, h, j int) float64 { return qkv[(b*L+tok)*3*W+chunk*W+h*dh+j] }
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			for i := 0; i < L; i++ {
				s := make([]float64, L)
				var z float64
				for j := range s {
					for d := 0; d < dh; d++ {
						s[j] += at(b, i, 0, h, d) * at(b, j, 1, h, d)
					}
					s[j] = math.Exp(s[j] / math.Sqrt(float64(dh)))
					z += s[j]
				}
				for d := 0; d < dh; d++ {
					for j := range s {
						out[(b*L+i)*W+h*dh+d] += s[j] / z * at(b, j, 2, h, d)
					}
				}
			}
		}
	}
	return out
}

// Build, Layout, the parameter count and JSON agree for DiT specs, and a
// ResMLP spec reads back unchanged.
func TestDiTSpecLayoutAndJSON(t *testing.T) {
	small, err := DiTPreset("small")
	require.NoError(t, err)
	small.Side = 28
	s, err := DiTPreset("s")
	require.NoError(t, err)
	s.Side, s.Channels = 32, 4
	for _, c := range []DiTConfig{tinyDiT, tinyDiTLearned, tinyDiTPrecond, small, s} {
		spec := Spec{Kind: "dit", DiT: &c}
		l, err := spec.Layout()
		require.NoError(t, err)
		n, ok := c.WithDefaults().paramCount()
		require.True(t, ok)
		total := 0
		for _, p := range l {
			sz := 1
			for _, d := range p.Shape {
				sz *= d
			}
			total += sz
		}
		require.Equal(t, n, total, "%+v", c)
		b, err := json.Marshal(spec)
		require.NoError(t, err)
		var back Spec
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, spec, back)
		if n < 1<<16 {
			net, err := Build(NewCPU(), spec)
			require.NoError(t, err)
			require.Equal(t, l, net.Params().Layout())
			require.Equal(t, Spec{Kind: "dit", DiT: ptr(c.WithDefaults())}, net.Spec())
		}
	}
	// DiT-S/2 on 32×32×4 latents, counted by hand: 12 blocks of
	// 887 040 (adaln) + 443 520 (qkv) + 147 840 (proj) + 591 360 (fc1) +
	// 590 208 (fc2), plus patch 6 528, time1 98 688, time2 147 840,
	// final.adaln 295 680 and final.linear 6 160. (DiT's 33 M adds its
	// class table, 1001·384, and a learned-sigma output, 6 160 more.)
	n, _ := s.WithDefaults().paramCount()
	require.Equal(t, 12*(887040+443520+147840+591360+590208)+6528+98688+147840+295680+6160, n)
	// A ResMLP spec is untouched by the new field.
	var r Spec
	require.NoError(t, json.Unmarshal([]byte(`{"kind":"resmlp","resmlp":{"dim":2,"width":8}}`), &r))
	require.Nil(t, r.DiT)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(b), "dit")
	_, err = DiTPreset("xl")
	require.ErrorContains(t, err, `unknown DiT preset "xl"`)
}

func ptr[T any](v T) *T { return &v }

// Every impossible DiT spec is an error from Build and Layout alike, never a
// panic.
func TestDiTRefusesImpossibleConfigs(t *testing.T) {
	d := func(c DiTConfig) Spec { return Spec{Kind: "dit", DiT: &c} }
	for _, c := range []struct {
		name string
		spec Spec
		msg  string
	}{
		{"no config", Spec{Kind: "dit"}, "dit spec without a configuration"},
		{"no side", d(DiTConfig{}), "side, patch, width, depth and heads ≥ 1"},
		{"negative channels", d(DiTConfig{Side: 8, Channels: -1}), "≥ 1"},
		{"negative heads", d(DiTConfig{Side: 8, Heads: -2}), "≥ 1"},
		{"patch does not divide", d(DiTConfig{Side: 10, Patch: 4}), "patch that divides the side"},
		{"patch > side", d(DiTConfig{Side: 2, Patch: 4}), "patch that divides the side"},
		{"heads do not divide", d(DiTConfig{Side: 8, Width: 64, Heads: 3}), "width divisible by heads"},
		{"width not ×4", d(DiTConfig{Side: 8, Width: 6, Heads: 2}), "divisible by 4"},
		{"mlp ratio nan", d(DiTConfig{Side: 8, MLPRatio: math.NaN()}), "mlp_ratio > 0"},
		{"mlp ratio negative", d(DiTConfig{Side: 8, MLPRatio: -1}), "mlp_ratio > 0"},
		{"mlp ratio tiny", d(DiTConfig{Side: 8, MLPRatio: 1e-3}), "mlp_ratio > 0"},
		{"mlp ratio inf", d(DiTConfig{Side: 8, MLPRatio: math.Inf(1)}), "mlp_ratio > 0"},
		{"odd freq_dim", d(DiTConfig{Side: 8, FreqDim: 5}), "even freq_dim"},
		{"max_period", d(DiTConfig{Side: 8, MaxPeriod: 1}), "max_period > 1"},
		{"sigma_data", d(DiTConfig{Side: 8, SigmaData: math.Inf(1)}), "sigma_data ≥ 0"},
		{"huge side", d(DiTConfig{Side: 1 << 40, Patch: 1 << 20}), "parameters"},
		{"huge attention", d(DiTConfig{Side: 1 << 10, Patch: 1}), "parameters"}, // L² = 2⁴⁰
		{"huge width", d(DiTConfig{Side: 8, Width: 1 << 28, Heads: 1}), "parameters"},
		{"huger width", d(DiTConfig{Side: 8, Width: 1 << 40, Heads: 1}), "mlp_ratio"}, // M > MaxParams
		{"huge depth", d(DiTConfig{Side: 8, Depth: math.MaxInt}), "parameters"},
		{"huge mlp", d(DiTConfig{Side: 8, MLPRatio: 1e12}), "mlp_ratio"},
		{"huge skip", d(DiTConfig{Side: 256, Patch: 16, Skip: true}), "parameters"}, // D² = 2³²
		{"huge channels", d(DiTConfig{Side: 8, Channels: math.MaxInt}), "parameters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			net, err := Build(NewCPU(), c.spec)
			require.Nil(t, net)
			require.ErrorContains(t, err, c.msg)
			require.True(t, strings.HasPrefix(err.Error(), "nn: "), err.Error())
			l, err2 := c.spec.Layout()
			require.Nil(t, l)
			require.Equal(t, err, err2)
		})
	}
}

// The input skips add exactly c_r·x_r + g_r·(S x_r + b_S) to the output of
// the same DiT without them; the learned skip starts at zero; and a
// preconditioned DiT refuses the plain Forward.
func TestDiTPrecondOutput(t *testing.T) {
	be := NewCPU64()
	base := tinyDiTPrecond
	base.SigmaData, base.Skip = 0, false
	plain, err := InitDiT(be, base, 9)
	require.NoError(t, err)
	pre, err := InitDiT(be, tinyDiTPrecond, 9)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(58, 1))
	randomiseParams(be, plain.Params(), rng, 0.5)
	skipW, skipB := pre.Params().Lookup("skip.weight"), pre.Params().Lookup("skip.bias")
	require.Equal(t, make([]float64, skipW.Size), be.Data(skipW.Value))
	require.Equal(t, make([]float64, skipB.Size), be.Data(skipB.Value))
	for _, p := range plain.Params().Params() {
		copy(be.Data(pre.Params().Lookup(p.Name).Value), be.Data(p.Value))
	}
	D := pre.Dim()
	S, bS := to64(randVals(rng, D*D)), to64(randVals(rng, D))
	copy(be.Data(skipW.Value), S)
	copy(be.Data(skipB.Value), bS)

	dc := newDiTCase(rng, tinyDiTPrecond, 3)
	x, ts := upload(be, dc.x), upload(be, dc.t)
	want, got := be.Alloc(dc.rows*D), be.Alloc(dc.rows*D)
	plain.Forward(want, x, ts, dc.rows)
	dc.forward(pre, got, x, ts)
	w := be.Data(want)
	for r := 0; r < dc.rows; r++ {
		for j := 0; j < D; j++ {
			sx := bS[j]
			for k := 0; k < D; k++ {
				sx += S[j*D+k] * float64(dc.x[r*D+k])
			}
			w[r*D+j] += float64(dc.c[r])*float64(dc.x[r*D+j]) + float64(dc.g[r])*sx
		}
	}
	requireClose(t, "precond output", w, be.Data(got), 1e-12)
	require.Panics(t, func() { pre.Forward(got, x, ts, dc.rows) })
	require.Panics(t, func() { pre.Backward(got, dc.rows+1) })
}

// A DiT that has only predicted holds no gradient buffers: its sites have
// their input rows and absent output gradients until a Backward.
func TestDiTForwardOnlySites(t *testing.T) {
	be := NewCPU64()
	m, err := InitDiT(be, tinyDiTLearned, 1)
	require.NoError(t, err)
	require.Zero(t, m.LinearSites()[0].In.Len()) // no pass yet
	dc := newDiTCase(rand.New(rand.NewPCG(59, 1)), tinyDiTLearned, 2)
	out := be.Alloc(dc.rows * m.Dim())
	dc.forward(m, out, upload(be, dc.x), upload(be, dc.t))
	for _, s := range m.LinearSites() {
		require.Equal(t, dc.rows*max(s.Tokens, 1)*s.Layer.In, s.In.Len(), s.Layer.Name)
		require.True(t, s.OutGrad.IsZero(), s.Layer.Name)
	}
	require.True(t, m.ParamSites()[0].OutGrad.IsZero())
	dc.run(m)
	for _, s := range m.LinearSites() {
		require.Equal(t, dc.rows*max(s.Tokens, 1)*s.Layer.Out, s.OutGrad.Len(), s.Layer.Name)
	}
}

// An example's output does not depend on the batch it is in, nor on the
// buffers growing between passes (Reserve), with or without input skips;
// nor do the gradients after a regrowth.
func TestDiTOutputIndependentOfBatch(t *testing.T) {
	for _, cfg := range []DiTConfig{tinyDiT, tinyDiTPrecond} {
		be := NewCPU64()
		m, err := InitDiT(be, cfg, 4)
		require.NoError(t, err)
		randomiseParams(be, m.Params(), rand.New(rand.NewPCG(60, 1)), 0.5)
		big := newDiTCase(rand.New(rand.NewPCG(61, 1)), cfg, 7)
		small := big
		small.rows, small.x, small.t = 2, big.x[:2*m.Dim()], big.t[:2]
		if big.c != nil {
			small.c, small.g = big.c[:2], big.g[:2]
		}
		small.obj = objective{c: big.obj.c[:2*m.Dim()]}
		_, first := small.run(m)
		g1 := append([]float64(nil), be.Data(m.Params().Grad)...)
		_, all := big.run(m) // grows the buffers
		_, again := small.run(m)
		requireClose(t, "first two rows in a batch of 7", to64(first), to64(all[:len(first)]), 1e-12)
		require.Equal(t, first, again)
		require.Equal(t, g1, be.Data(m.Params().Grad))
	}
}
