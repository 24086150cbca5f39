package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParamSetLayout(t *testing.T) {
	be := NewCPU()
	ps := &ParamSet{}
	b := ps.Add("a.bias", []int{3}, false, Const(0.5))
	w := ps.Add("a.weight", []int{2, 3}, true, Uniform(1))
	g := ps.Add("n.weight", []int{3}, false, Const(1))
	w2 := ps.Add("c.weight", []int{4}, true, Uniform(0.1))
	require.Panics(t, func() { ps.Add("a.bias", []int{1}, false, Const(0)) })
	ps.Build(be)
	// Decayed parameters first, each group in the order added.
	require.Equal(t, 0, w.Offset)
	require.Equal(t, 6, w2.Offset)
	require.Equal(t, 10, b.Offset)
	require.Equal(t, 13, g.Offset)
	require.Equal(t, 16, ps.Len())
	require.Equal(t, 10, ps.DecayLen())
	require.Same(t, g, ps.Lookup("n.weight"))
	require.Nil(t, ps.Lookup("nope"))
	require.Panics(t, func() { ps.Add("late", []int{1}, false, Const(0)) })

	ps.Init(be, rand.New(rand.NewPCG(1, 1)))
	v := download(be, ps.Flat)
	require.Equal(t, []float32{0.5, 0.5, 0.5}, v[10:13])
	require.Equal(t, []float32{1, 1, 1}, v[13:16])
	for _, x := range v[6:10] {
		require.LessOrEqual(t, math.Abs(float64(x)), 0.1)
	}
	require.Equal(t, v[13:16], download(be, g.Value))
	require.Equal(t, 3, g.Grad.Len())
	require.Equal(t, []Layout{
		{"a.bias", 10, []int{3}, false}, {"a.weight", 0, []int{2, 3}, true},
		{"n.weight", 13, []int{3}, false}, {"c.weight", 6, []int{4}, true},
	}, ps.Layout())
}

// refOptimizer is the textbook algorithm in float64, written independently
// of the kernels: PyTorch's clip_grad_norm_, then AdamW (Loshchilov & Hutter
// 2019, Algorithm 2 with PyTorch's bias corrections), then the EMA.
type refOptimizer struct {
	p, m, v, ema []float64
	decay        []bool
	cfg          OptimConfig
	step         int
}

func (o *refOptimizer) update(g []float64) {
	g = append([]float64(nil), g...)
	var ss float64
	for _, x := range g {
		ss += x * x
	}
	if norm := math.Sqrt(ss); o.cfg.ClipNorm > 0 && norm > o.cfg.ClipNorm {
		for i := range g {
			g[i] *= o.cfg.ClipNorm / (norm + 1e-6)
		}
	}
	o.step++
	s := float64(o.step)
	lr := o.cfg.LR * math.Min(1, s/float64(o.cfg.Warmup))
	b1, b2 := float64(float32(o.cfg.Beta1)), float64(float32(o.cfg.Beta2))
	for i := range o.p {
		if o.decay[i] {
			o.p[i] -= lr * o.cfg.WeightDecay * o.p[i]
		}
		o.m[i] = b1*o.m[i] + (1-b1)*g[i]
		o.v[i] = b2*o.v[i] + (1-b2)*g[i]*g[i]
		mh := o.m[i] / (1 - math.Pow(b1, s))
		vh := o.v[i] / (1 - math.Pow(b2, s))
		o.p[i] -= lr * mh / (math.Sqrt(vh) + o.cfg.Eps)
	}
	d := math.Min(o.cfg.EMADecay, (1+s)/(10+s))
	for i := range o.p {
		o.ema[i] = d*o.ema[i] + (1-d)*o.p[i]
	}
}

// optimRelTol: the kernels round the scalars (lr, β, bias corrections, eps)
// to float32 once per step, ~1e-7 relative, over a few steps.
const optimRelTol = 1e-6

func TestOptimizerAgainstReference(t *testing.T) {
	be := NewCPU64()
	ps := &ParamSet{}
	ps.Add("w", []int{3, 4}, true, Uniform(1))
	ps.Add("b", []int{4}, false, Uniform(1))
	ps.Build(be)
	rng := rand.New(rand.NewPCG(30, 1))
	ps.Init(be, rng)
	cfg := OptimConfig{LR: 0.05, WeightDecay: 0.3, Warmup: 3, ClipNorm: 1.5, EMADecay: 0.95}
	o, err := NewOptimizer(be, ps, cfg)
	require.NoError(t, err)
	ref := &refOptimizer{
		p: append([]float64(nil), be.Data(ps.Flat)...), m: make([]float64, 16), v: make([]float64, 16),
		ema: append([]float64(nil), be.Data(ps.Flat)...), decay: make([]bool, 16), cfg: o.Config(),
	}
	for i := 0; i < 12; i++ {
		ref.decay[i] = true
	}
	clipped := 0
	for step := 1; step <= 8; step++ {
		g := to64(randVals(rng, 16))
		for i := range g {
			g[i] *= float64(step) / 4 // late steps exceed the clip norm
		}
		copy(be.Data(ps.Grad), g)
		norm, lr, err := o.Update()
		require.NoError(t, err)
		if norm > 1.5 {
			clipped++
		}
		require.Equal(t, 0.05*math.Min(1, float64(step)/3), lr)
		ref.update(g)
		requireClose(t, "parameters", ref.p, be.Data(ps.Flat), optimRelTol)
		requireClose(t, "first moment", ref.m, be.Data(o.M), optimRelTol)
		requireClose(t, "second moment", ref.v, be.Data(o.V), optimRelTol)
		requireClose(t, "EMA", ref.ema, be.Data(o.EMA), optimRelTol)
	}
	require.Equal(t, 8, o.Step)
	require.Greater(t, clipped, 2, "clipping must be exercised")
	require.Less(t, clipped, 8, "so must the unclipped path")

	// A non-finite gradient is an error and changes nothing.
	before := append([]float64(nil), be.Data(ps.Flat)...)
	be.Data(ps.Grad)[3] = math.NaN()
	_, _, err = o.Update()
	require.ErrorContains(t, err, "gradient norm is NaN")
	require.Equal(t, before, be.Data(ps.Flat))
	require.Equal(t, 8, o.Step)
}

func TestOptimConfigDefaultsAndValidation(t *testing.T) {
	c := OptimConfig{}.WithDefaults()
	require.Equal(t, OptimConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, EMADecay: 0.9999}, c)
	require.NoError(t, c.Validate())
	for _, bad := range []OptimConfig{
		{LR: -1}, {LR: math.Inf(1)}, {Beta1: 1}, {Beta2: -0.1}, {WeightDecay: -1}, {Warmup: -1}, {ClipNorm: math.NaN()}, {EMADecay: 1},
	} {
		_, err := NewOptimizer(NewCPU(), &ParamSet{}, bad)
		require.Error(t, err, "%+v", bad)
	}
}
