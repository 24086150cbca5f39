package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// gemmRelTol bounds float32 Gemm against a float64 triple loop: k ≤ 40
// products of values ≤ 1 in size carry ≤ k·2⁻²⁴ relative rounding each.
const gemmRelTol = 1e-5

// refGemm is the plain triple loop C = α·op(A)·op(B) + β·C in float64,
// row-major with strides: the reference the BLAS path is tested against.
func refGemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				var av, bv float64
				if tA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if tB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func randVals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*rng.Float64() - 1)
	}
	return v
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// upload allocates a tensor of len(v) on be and uploads v.
func upload(be Backend, v []float32) Tensor {
	t := be.Alloc(len(v))
	be.Upload(t, v)
	return t
}

func download(be Backend, t Tensor) []float32 {
	out := make([]float32, t.Len())
	be.Download(out, t)
	return out
}

func TestGemmAgainstTripleLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, be := range []Backend{NewCPU(), NewCPU64()} {
		for _, c := range []struct {
			tA, tB      bool
			m, n, k     int
			pad         int // extra elements per row of every operand (strides)
			off         int // operands start at this offset in their allocation
			alpha, beta float32
		}{
			{false, false, 5, 7, 3, 0, 0, 1, 0},
			{false, true, 9, 4, 6, 2, 3, 0.5, 0},
			{true, false, 8, 3, 11, 1, 1, 1, 1},
			{true, true, 4, 6, 5, 0, 2, -2, 0.25},
			{false, false, 70, 65, 40, 3, 5, 1, 1}, // large enough for gonum's parallel path
			{false, true, 3, 3, 0, 0, 0, 1, 0.5},   // k = 0: C = β·C
		} {
			ar, ac := c.m, c.k
			if c.tA {
				ar, ac = c.k, c.m
			}
			br, bc := c.k, c.n
			if c.tB {
				br, bc = c.n, c.k
			}
			lda, ldb, ldc := ac+c.pad, bc+c.pad, c.n+c.pad
			av := randVals(rng, c.off+max(ar, 1)*lda)
			bv := randVals(rng, c.off+max(br, 1)*ldb)
			cv := randVals(rng, c.off+c.m*ldc)
			A, B, C := upload(be, av), upload(be, bv), upload(be, cv)
			be.Gemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, A.View(c.off, A.Len()-c.off), lda, B.View(c.off, B.Len()-c.off), ldb, c.beta, C.View(c.off, C.Len()-c.off), ldc)
			want := to64(cv)
			refGemm(c.tA, c.tB, c.m, c.n, c.k, float64(c.alpha), to64(av)[c.off:], lda, to64(bv)[c.off:], ldb, float64(c.beta), want[c.off:], ldc)
			got := download(be, C)
			for i := range got {
				require.InDelta(t, want[i], float64(got[i]), gemmRelTol*float64(c.k+1), "%s %+v at %d", be.Name(), c, i)
			}
		}
	}
}

func TestGemmShapePanics(t *testing.T) {
	be := NewCPU()
	a, b, c := be.Alloc(6), be.Alloc(6), be.Alloc(3)
	require.PanicsWithValue(t, "nn: Gemm: C has 3 elements, needs 4", func() { be.Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) })
	require.Panics(t, func() { NewCPU64().Gemm(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1) }, "a tensor of another backend")
	require.Panics(t, func() { a.View(4, 3) })
}

func TestElementwiseOps(t *testing.T) {
	be := NewCPU64()
	x := upload(be, []float32{1, -2, 3, 0.5})
	y := upload(be, []float32{2, 2, 2, 2})
	be.Axpy(y, -0.5, x)
	require.Equal(t, []float64{1.5, 3, 0.5, 1.75}, be.Data(y))
	be.Scale(y, 2)
	require.Equal(t, []float64{3, 6, 1, 3.5}, be.Data(y))
	require.Equal(t, 3-12+3+1.75, be.Dot(x, y))

	g := upload(be, []float32{1, 2, 3, 4, 5, 6})
	gram := make([]float64, 4)
	be.Gram(gram, g, 2, 3)
	require.Equal(t, []float64{14, 32, 32, 77}, gram)

	yb := upload(be, []float32{1, 2, 3, 4, 5, 6})
	be.AddBias(yb, upload(be, []float32{10, 20, 30}), 2, 3)
	require.Equal(t, []float64{11, 22, 33, 14, 25, 36}, be.Data(yb))
	sum := upload(be, []float32{1, 1, 1})
	be.SumRows(sum, g, 2, 3)
	require.Equal(t, []float64{6, 8, 10}, be.Data(sum))

	// RowAxpby: forward noising of two rows with their own α, σ.
	dst := be.Alloc(4)
	be.RowAxpby(dst, upload(be, []float32{0.5, 2}), upload(be, []float32{1, 2, 3, 4}), upload(be, []float32{1, -1}), upload(be, []float32{10, 20, 30, 40}), 2, 2)
	require.Equal(t, []float64{10.5, 21, -24, -32}, be.Data(dst))

	// WeightedMSE: row 0 errors (1, 1), row 1 errors (2, 0).
	loss, dp := be.Alloc(2), be.Alloc(4)
	be.WeightedMSE(loss, dp, upload(be, []float32{1, 2, 5, 4}), upload(be, []float32{0, 1, 3, 4}), upload(be, []float32{3, 0.5}), 2, 2, 0.5)
	require.Equal(t, []float64{1, 2}, be.Data(loss))
	require.Equal(t, []float64{0.5 * 3 * 2 * 1 / 2, 0.5 * 3 * 2 * 1 / 2, 0.5 * 0.5 * 2 * 2 / 2, 0}, be.Data(dp))

	ema := upload(be, []float32{0, 10})
	be.EMA(ema, upload(be, []float32{1, 0}), 0.75)
	require.Equal(t, []float64{0.25, 7.5}, be.Data(ema))
}

// actRelTol: the activations are evaluated in float64 and compared with the
// textbook formulas in float64; only the last bits may differ.
const actRelTol = 1e-14

func TestActivationsClosedForm(t *testing.T) {
	be := NewCPU64()
	xs := []float32{-6, -1.5, -0.25, 0, 0.3, 1, 4.5}
	x := upload(be, xs)
	y := be.Alloc(len(xs))
	for _, f := range []Activation{SiLU, GELU} {
		be.Activate(f, y, x)
		for i, v := range xs {
			z := float64(v)
			want := z / (1 + math.Exp(-z))
			if f == GELU {
				want = 0.5 * z * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(z+0.044715*z*z*z)))
			}
			require.InDelta(t, want, be.Data(y)[i], actRelTol*(1+math.Abs(want)), "%v(%g)", f, z)
		}
	}
	// Well-known values: SiLU(0)=0, GELU(0)=0, SiLU(x) → x for large x.
	be.Activate(SiLU, y, upload(be, []float32{0, 40}))
	require.Equal(t, []float64{0, 40}, be.Data(y)[:2])
}

func TestTimeEmbeddingClosedForm(t *testing.T) {
	be := NewCPU64()
	ts := upload(be, []float32{0, 1, 999})
	dst := be.Alloc(3 * 6)
	be.TimeEmbedding(dst, ts, 3, 6, 10000)
	d := be.Data(dst)
	// t = 0: cos 0 = 1 and sin 0 = 0 for every frequency.
	require.Equal(t, []float64{1, 1, 1, 0, 0, 0}, d[:6])
	// Frequencies 1, 10000^(−1/3), 10000^(−2/3).
	for r, tv := range []float64{1, 999} {
		for i := 0; i < 3; i++ {
			f := math.Pow(10000, -float64(i)/3)
			require.InDelta(t, math.Cos(tv*f), d[(r+1)*6+i], 1e-12)
			require.InDelta(t, math.Sin(tv*f), d[(r+1)*6+3+i], 1e-12)
		}
	}
}

func TestLayerNormForwardStatistics(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(2, 2))
	rows, cols := 3, 17
	x := upload(be, randVals(rng, rows*cols))
	y, mean, rstd := be.Alloc(rows*cols), be.Alloc(rows), be.Alloc(rows)
	gamma, beta := upload(be, make([]float32, cols)), upload(be, make([]float32, cols))
	be.Fill(gamma, 1)
	be.LayerNorm(y, mean, rstd, x, gamma, beta, rows, cols, 0)
	// With γ = 1, β = 0 and eps = 0 every row has mean 0 and variance 1.
	for r := 0; r < rows; r++ {
		row := be.Data(y)[r*cols : (r+1)*cols]
		var s, ss float64
		for _, v := range row {
			s += v
			ss += v * v
		}
		require.InDelta(t, 0, s/float64(cols), 1e-14)
		require.InDelta(t, 1, ss/float64(cols), 1e-13)
	}
}

func TestAdamWFirstStepAndDecay(t *testing.T) {
	be := NewCPU64()
	// First step with bias correction: m̂ = g, v̂ = g², so the update is
	// lr·g/(|g| + eps) — lr·sign(g) up to eps — after the decay p·(1 − lr·wd).
	p := upload(be, []float32{1, -2, 0.5})
	g := upload(be, []float32{0.3, -4, 0})
	m, v := be.Alloc(3), be.Alloc(3)
	b1, b2 := float32(0.9), float32(0.999)
	h := AdamW{LR: 0.125, Beta1: b1, Beta2: b2, Eps: 1e-8, WeightDecay: 0.5, BC1: 1 - b1, BC2: 1 - b2}
	be.AdamW(p, g, m, v, h)
	lr, wd, eps := 0.125, 0.5, float64(float32(1e-8))
	want := []float64{
		1*(1-lr*wd) - lr*0.3/(0.3+eps),
		-2*(1-lr*wd) + lr*4/(4+eps),
		0.5 * (1 - lr*wd),
	}
	for i := range want {
		// With bias corrections made from the same float32 β's, m̂ = g and
		// v̂ = g² exactly; what is left is float64 rounding.
		require.InDelta(t, want[i], be.Data(p)[i], 1e-14, "element %d", i)
	}
}

// Random shapes around the packed GEMM's block edges (6-row and 16-column
// panels, 72-row blocks, 256-deep k blocks), both transposes, strides,
// α and β, on the parallel and serial paths.
func TestPackedGemmRandomShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	be := NewCPU()
	for trial := 0; trial < 60; trial++ {
		tA, tB := rng.IntN(2) == 1, rng.IntN(2) == 1
		m, n, k := 1+rng.IntN(160), 1+rng.IntN(90), 1+rng.IntN(600)
		pad := rng.IntN(3)
		alpha := []float32{1, -0.5, 2}[rng.IntN(3)]
		beta := []float32{0, 1, 0.5}[rng.IntN(3)]
		ar, ac := m, k
		if tA {
			ar, ac = k, m
		}
		br, bc := k, n
		if tB {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+pad, bc+pad, n+pad
		av, bv, cv := randVals(rng, ar*lda), randVals(rng, br*ldb), randVals(rng, m*ldc)
		C := upload(be, cv)
		be.Gemm(tA, tB, m, n, k, alpha, upload(be, av), lda, upload(be, bv), ldb, beta, C, ldc)
		want := to64(cv)
		refGemm(tA, tB, m, n, k, float64(alpha), to64(av), lda, to64(bv), ldb, float64(beta), want, ldc)
		got := download(be, C)
		for i := 0; i < m; i++ {
			for j := 0; j < ldc; j++ {
				w := want[i*ldc+j]
				if j >= n {
					w = float64(cv[i*ldc+j]) // padding is left alone
				}
				require.InDelta(t, w, float64(got[i*ldc+j]), gemmRelTol*float64(k+1), "trial %d (%v %v %d×%d×%d) at %d,%d", trial, tA, tB, m, n, k, i, j)
			}
		}
	}
}

// act32RelTol: the float32 activations (vectorised exp, ≤ 2 ulp, then a few
// float32 operations) against the float64 formulas, relative to max(1, |f|).
const act32RelTol = 1e-6

func TestFloat32ActivationsMatchFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	n := 3*actBlock + 13 // several blocks and a scalar tail
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(12 * (2*rng.Float64() - 1))
	}
	xs[0], xs[1], xs[2] = 0, 95, -95 // zero and beyond exp's clamp
	dys := randVals(rng, n)
	b32, b64 := NewCPU(), NewCPU64()
	for _, f := range []Activation{SiLU, GELU} {
		y32, y64 := b32.Alloc(n), b64.Alloc(n)
		b32.Activate(f, y32, upload(b32, xs))
		b64.Activate(f, y64, upload(b64, xs))
		d32, d64 := b32.Alloc(n), b64.Alloc(n)
		b32.ActivateBackward(f, d32, upload(b32, xs), upload(b32, dys))
		b64.ActivateBackward(f, d64, upload(b64, xs), upload(b64, dys))
		for i := range xs {
			w := b64.Data(y64)[i]
			require.InDelta(t, w, float64(b32.Data(y32)[i]), act32RelTol*math.Max(1, math.Abs(w)), "%v(%g)", f, xs[i])
			w = b64.Data(d64)[i]
			require.InDelta(t, w, float64(b32.Data(d32)[i]), act32RelTol*math.Max(1, math.Abs(w)), "%v'(%g)", f, xs[i])
		}
	}
	// Non-finite inputs stay non-finite (in the vector lanes and the tail),
	// so a diverging run is caught.
	bad := make([]float32, 19)
	bad[3], bad[17] = float32(math.NaN()), float32(math.NaN())
	bad[5], bad[18] = float32(math.Inf(1)), float32(math.Inf(1))
	for _, f := range []Activation{SiLU, GELU} {
		y := b32.Alloc(len(bad))
		b32.Activate(f, y, upload(b32, bad))
		out := b32.Data(y)
		require.True(t, math.IsNaN(float64(out[3])) && math.IsNaN(float64(out[17])), "%v: %v", f, out)
		require.True(t, math.IsInf(float64(out[5]), 1) && math.IsInf(float64(out[18]), 1), "%v: %v", f, out)
	}
}

// The vectorised AdamW does the scalar loop's operations in the same order
// with the same roundings: every element (vector lanes and scalar tail)
// equals a plain float32 loop bit for bit.
func TestAdamWVectorMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	n := 8*parGrain/4 + 5 // parallel split, vector body and a scalar tail
	be := NewCPU()
	pv, gv, mv, vv := randVals(rng, n), randVals(rng, n), randVals(rng, n), randVals(rng, n)
	for i := range vv {
		vv[i] *= vv[i] // second moments are ≥ 0
	}
	P, G, M, V := upload(be, pv), upload(be, gv), upload(be, mv), upload(be, vv)
	h := AdamW{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, BC1: 0.3, BC2: 0.02}
	be.AdamW(P, G, M, V, h)
	b1, b2, eps := h.Beta1, h.Beta2, h.Eps
	decay := 1 - h.LR*h.WeightDecay
	step := h.LR / h.BC1
	sbc2 := float32(math.Sqrt(float64(h.BC2)))
	for i := 0; i < n; i++ {
		m := b1*mv[i] + (1-b1)*gv[i]
		v := b2*vv[i] + (1-b2)*gv[i]*gv[i]
		p := pv[i]*decay - step*m/(float32(math.Sqrt(float64(v)))/sbc2+eps)
		require.Equal(t, m, be.Data(M)[i], "m[%d]", i)
		require.Equal(t, v, be.Data(V)[i], "v[%d]", i)
		require.Equal(t, p, be.Data(P)[i], "p[%d]", i)
	}
}

// Gram's parallel split over entries against the plain double loop.
func TestGramMatchesDoubleLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, kp := range [][2]int{{1, 5}, {7, 3000}, {33, 700}} {
		k, p := kp[0], kp[1]
		be := NewCPU()
		g := randVals(rng, k*p)
		got := make([]float64, k*k)
		be.Gram(got, upload(be, g), k, p)
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				require.Equal(t, dot64(g[i*p:(i+1)*p], g[j*p:(j+1)*p]), got[i*k+j], "k=%d (%d,%d)", k, i, j)
			}
		}
	}
}

// LayerNormBackward splits rows (for dx) and columns (for dγ, dβ) among
// goroutines when it has several and makes one pass on one: the same bits
// either way.
func TestLayerNormBackwardSameBitsOnAnyThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 1))
	const rows, cols = 3000, 24 // enough rows for several goroutines
	be := NewCPU()
	x, dy, gamma := upload(be, randVals(rng, rows*cols)), upload(be, randVals(rng, rows*cols)), upload(be, randVals(rng, cols))
	y, mean, rstd := be.Alloc(rows*cols), be.Alloc(rows), be.Alloc(rows)
	be.LayerNorm(y, mean, rstd, x, gamma, be.Alloc(cols), rows, cols, 1e-5)
	var got [2][]float32
	for i, procs := range []int{1, 3} {
		old := runtime.GOMAXPROCS(procs)
		dx, dg, db := upload(be, randVals(rand.New(rand.NewPCG(46, 1)), rows*cols)), be.Alloc(cols), be.Alloc(cols)
		be.LayerNormBackward(dx, dg, db, dy, x, mean, rstd, gamma, rows, cols)
		runtime.GOMAXPROCS(old)
		got[i] = append(append(download(be, dx), download(be, dg)...), download(be, db)...)
	}
	require.Equal(t, got[0], got[1])
}
