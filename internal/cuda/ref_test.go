package cuda_test

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// CPU references of the kernels, in float64 from float32 inputs. The GPU
// tests compare the kernels against them; the tests in this file check the
// references themselves against closed forms and finite differences, so
// that a formula error cannot hide in both.

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func refSiLU(x float64) float64     { return x * sigmoid(x) }
func refSiLUGrad(x float64) float64 { s := sigmoid(x); return s * (1 + x*(1-s)) }

func refGELUErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
func refGELUErfGrad(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

const geluC = 0.044715

func refGELUTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+geluC*x*x*x)))
}
func refGELUTanhGrad(x float64) float64 {
	k := math.Sqrt(2 / math.Pi)
	th := math.Tanh(k * (x + geluC*x*x*x))
	return 0.5*(1+th) + 0.5*x*(1-th*th)*k*(1+3*geluC*x*x)
}

// refLayerNorm writes out (rows, cols), mean and rstd (rows).
func refLayerNorm(out, mean, rstd []float64, x, gamma, beta []float32, rows, cols int, eps float64) {
	for r := range rows {
		xr := x[r*cols : (r+1)*cols]
		mu := 0.0
		for _, v := range xr {
			mu += float64(v)
		}
		mu /= float64(cols)
		vr := 0.0
		for _, v := range xr {
			vr += (float64(v) - mu) * (float64(v) - mu)
		}
		rs := 1 / math.Sqrt(vr/float64(cols)+eps)
		for c, v := range xr {
			out[r*cols+c] = (float64(v)-mu)*rs*float64(gamma[c]) + float64(beta[c])
		}
		mean[r], rstd[r] = mu, rs
	}
}

// refLayerNormBackward returns dx (rows, cols), dgamma and dbeta (cols)
// from the saved mean and rstd.
func refLayerNormBackward(dy, x, gamma, mean, rstd []float32, rows, cols int) (dx, dgamma, dbeta []float64) {
	dx, dgamma, dbeta = make([]float64, rows*cols), make([]float64, cols), make([]float64, cols)
	for r := range rows {
		mu, rs := float64(mean[r]), float64(rstd[r])
		var mg, mgx float64
		for c := range cols {
			k := r*cols + c
			xh := (float64(x[k]) - mu) * rs
			g := float64(dy[k]) * float64(gamma[c])
			mg += g
			mgx += g * xh
			dgamma[c] += float64(dy[k]) * xh
			dbeta[c] += float64(dy[k])
		}
		mg /= float64(cols)
		mgx /= float64(cols)
		for c := range cols {
			k := r*cols + c
			xh := (float64(x[k]) - mu) * rs
			dx[k] = rs * (float64(dy[k])*float64(gamma[c]) - mg - xh*mgx)
		}
	}
	return
}

// refTimestepEmbedding is the guided-diffusion embedding (cos first).
func refTimestepEmbedding(t []int32, dim int, maxPeriod, tScale float64) []float64 {
	out := make([]float64, len(t)*dim)
	half := dim / 2
	for r, tv := range t {
		for j := range half {
			arg := tScale * float64(tv) * math.Exp(-math.Log(maxPeriod)*float64(j)/float64(half))
			out[r*dim+j] = math.Cos(arg)
			out[r*dim+half+j] = math.Sin(arg)
		}
	}
	return out
}

// refMSERows is loss[r] = w[r]·mean_c (pred − target)².
func refMSERows(pred, target, w []float32, rows, cols int) []float64 {
	out := make([]float64, rows)
	for r := range rows {
		s := 0.0
		for c := range cols {
			d := float64(pred[r*cols+c]) - float64(target[r*cols+c])
			s += d * d
		}
		out[r] = float64(w[r]) * s / float64(cols)
	}
	return out
}

// refMSEGrad is ∂(scale·Σ_r loss[r])/∂pred.
func refMSEGrad(pred, target, w []float32, rows, cols int, scale float64) []float64 {
	out := make([]float64, rows*cols)
	for r := range rows {
		for c := range cols {
			k := r*cols + c
			out[k] = scale * float64(w[r]) * 2 * (float64(pred[k]) - float64(target[k])) / float64(cols)
		}
	}
	return out
}

// refAdamW applies one AdamW step in float64 (torch.optim.AdamW).
func refAdamW(p, g, m, v []float64, h AdamW) {
	scale := h.ClipScale
	if scale == 0 {
		scale = 1
	}
	bc1 := 1 - math.Pow(h.Beta1, float64(h.Step))
	bc2 := 1 - math.Pow(h.Beta2, float64(h.Step))
	for i := range p {
		gi := scale * g[i]
		m[i] = h.Beta1*m[i] + (1-h.Beta1)*gi
		v[i] = h.Beta2*v[i] + (1-h.Beta2)*gi*gi
		p[i] = p[i]*(1-h.LR*h.WeightDecay) - h.LR/bc1*m[i]/(math.Sqrt(v[i])/math.Sqrt(bc2)+h.Eps)
	}
}

// Tolerances for checking the references.
const (
	// tolFD: central differences with step fdStep in float64 have
	// truncation error O(h²)·f''' ≈ 1e-10 and rounding error ε/h ≈ 1e-11.
	tolFD  = 1e-8
	fdStep = 1e-5
	// tolGELUApprox: the tanh approximation of GELU stays within about
	// 5e-4 of the exact function; the doc comment promises 1e-3.
	tolGELUApprox = 1e-3
)

func centralDiff(f func(float64) float64, x float64) float64 {
	return (f(x+fdStep) - f(x-fdStep)) / (2 * fdStep)
}

func TestReferenceActivationGradients(t *testing.T) {
	cases := []struct {
		name    string
		f, grad func(float64) float64
	}{
		{"silu", refSiLU, refSiLUGrad},
		{"gelu_erf", refGELUErf, refGELUErfGrad},
		{"gelu_tanh", refGELUTanh, refGELUTanhGrad},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for x := -8.0; x <= 8.0; x += 0.125 {
				require.InDelta(t, centralDiff(c.f, x), c.grad(x), tolFD, "x = %g", x)
			}
		})
	}
	for x := -8.0; x <= 8.0; x += 0.01 {
		require.InDelta(t, refGELUErf(x), refGELUTanh(x), tolGELUApprox, "x = %g", x)
	}
	require.Equal(t, 0.0, refSiLU(0))
	require.InDelta(t, 0.8413447460685429, refGELUErf(1), 1e-15, "Φ(1)")
}

func TestReferenceLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 2))
	const rows, cols = 3, 7
	const eps = 1e-5
	x, gamma, beta, dy := randF32(r, rows*cols, 2), randF32(r, cols, 1), randF32(r, cols, 1), randF32(r, rows*cols, 1)
	out, mean, rstd := make([]float64, rows*cols), make([]float64, rows), make([]float64, rows)
	refLayerNorm(out, mean, rstd, x, gamma, beta, rows, cols, eps)
	// With gamma = 1, beta = 0 each row has mean 0 and variance 1/(1 + eps/σ²).
	ones, zeros := make([]float32, cols), make([]float32, cols)
	for i := range ones {
		ones[i] = 1
	}
	norm := make([]float64, rows*cols)
	refLayerNorm(norm, make([]float64, rows), make([]float64, rows), x, ones, zeros, rows, cols, 0)
	for row := range rows {
		s, ss := 0.0, 0.0
		for c := range cols {
			s += norm[row*cols+c]
			ss += norm[row*cols+c] * norm[row*cols+c]
		}
		require.InDelta(t, 0, s/cols, 1e-12)
		require.InDelta(t, 1, ss/cols, 1e-12)
	}

	// Backward against finite differences of L = Σ dy·LN(x).
	loss := func(x, gamma, beta []float32) float64 {
		o := make([]float64, rows*cols)
		refLayerNorm(o, make([]float64, rows), make([]float64, rows), x, gamma, beta, rows, cols, eps)
		l := 0.0
		for i := range o {
			l += float64(dy[i]) * o[i]
		}
		return l
	}
	// Finite differences in float32 inputs: perturb by a float32-exact step.
	const h = 1.0 / 1024
	const tolLNFD = 1e-4 // step h: truncation error O(h²) ≈ 1e-6 times third derivatives of order 10
	m32, r32 := make([]float32, rows), make([]float32, rows)
	for i := range m32 {
		m32[i], r32[i] = float32(mean[i]), float32(rstd[i])
	}
	dx, dgamma, dbeta := refLayerNormBackward(dy, x, gamma, m32, r32, rows, cols)
	const tolSaved = 1e-5 // the saved mean and rstd were rounded to float32
	fd := func(v []float32, i int) float64 {
		old := v[i]
		v[i] = old + h
		lp := loss(x, gamma, beta)
		v[i] = old - h
		lm := loss(x, gamma, beta)
		v[i] = old
		return (lp - lm) / (2 * h)
	}
	for i := range x {
		require.InDelta(t, fd(x, i), dx[i], tolLNFD+tolSaved, "dx[%d]", i)
	}
	for c := range cols {
		require.InDelta(t, fd(gamma, c), dgamma[c], tolLNFD+tolSaved, "dgamma[%d]", c)
		require.InDelta(t, fd(beta, c), dbeta[c], tolLNFD+tolSaved, "dbeta[%d]", c)
	}
}

func TestReferenceTimestepEmbedding(t *testing.T) {
	e := refTimestepEmbedding([]int32{0, 5}, 7, 10000, 1)
	// t = 0: cos = 1, sin = 0; the odd last column is 0.
	require.Equal(t, []float64{1, 1, 1, 0, 0, 0, 0}, e[:7])
	// j = 0 has frequency 1; j = 2 has 10000^(−2/3).
	require.InDelta(t, math.Cos(5), e[7], 1e-15)
	require.InDelta(t, math.Sin(5), e[7+3], 1e-15)
	require.InDelta(t, math.Cos(5*math.Pow(10000, -2.0/3)), e[7+2], 1e-15)
	require.Equal(t, 0.0, e[13])
}

func TestReferenceMSEGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 3))
	const rows, cols = 4, 5
	pred, target, w := randF32(r, rows*cols, 1), randF32(r, rows*cols, 1), randF32(r, rows, 1)
	grad := refMSEGrad(pred, target, w, rows, cols, 0.25)
	const h = 1.0 / 1024
	const tolMSEFD = 1e-12 // the loss is quadratic: central differences are exact up to rounding
	for i := range pred {
		old := pred[i]
		sum := func() float64 {
			s := 0.0
			for _, l := range refMSERows(pred, target, w, rows, cols) {
				s += l
			}
			return 0.25 * s
		}
		pred[i] = old + h
		lp := sum()
		pred[i] = old - h
		lm := sum()
		pred[i] = old
		require.InDelta(t, (lp-lm)/(2*h), grad[i], tolMSEFD, "element %d", i)
	}
}

func TestReferenceAdamWFirstStep(t *testing.T) {
	// From m = v = 0, the bias-corrected moments are g and g², so the first
	// step moves each parameter by lr·g/(|g| + eps) after the decay.
	h := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, Step: 1}
	p, g := []float64{1, -2, 0.5}, []float64{0.3, -4, 1e-3}
	want := make([]float64, 3)
	for i := range p {
		want[i] = p[i]*(1-h.LR*h.WeightDecay) - h.LR*g[i]/(math.Abs(g[i])+h.Eps)
	}
	refAdamW(p, g, make([]float64, 3), make([]float64, 3), h)
	for i := range p {
		require.InDelta(t, want[i], p[i], 1e-15)
	}
}

// randF32 returns n float32 values, normal with standard deviation sd.
func randF32(r *rand.Rand, n int, sd float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(sd * r.NormFloat64())
	}
	return x
}
