package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// Tests of the nn-backend operations (nnops.go) against float64
// references, on the GPU or, without one, on the emulator.

const (
	// tolDot: every product of two floats is exact in float64, so only the
	// float64 summation order differs: n·2^-53 relative to Σ|x·y| bounds it
	// (n ≤ 2^21 here: 2.3e-10); typical errors are far smaller.
	tolDot = 1e-9
	// tolEmbed64: the embedding is computed in float64 (cos, sin, exp
	// within 2 ulp of double) and rounded to float32 once, as on the CPU:
	// the two roundings can differ by one float32 ulp, 2^-23 ≤ 1.2e-7 for
	// values of magnitude ≤ 1.
	tolEmbed64 = 1.2e-7
	// tolMSE64: the row sums are float64 (1e-16 relative), then rounded to
	// float32: half an ulp, 6e-8 relative.
	tolMSE64 = 1.2e-7
)

// refStridedGemm is C = α·op(A)·op(B) + β·C on row-major matrices with row
// strides, in float64; it writes only the (m, n) part of C.
func refStridedGemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int, abs bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
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
				if abs {
					av, bv = math.Abs(av), math.Abs(bv)
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				cv := c[i*ldc+j]
				if abs {
					cv = math.Abs(cv)
				}
				c[i*ldc+j] = alpha*s + beta*cv
			}
		}
	}
}

// TestGPUGemmStrided checks row strides larger than the column counts,
// operands that start inside a buffer, every transposition, β = 0 on a
// NaN-poisoned C, β ≠ 0, k = 0, and that C's padding between rows is not
// touched.
func TestGPUGemmStrided(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 40))
	for _, sz := range [][3]int{{1, 1, 1}, {5, 7, 3}, {33, 17, 64}, {4, 6, 0}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, -0.5} {
					m, n, k := sz[0], sz[1], sz[2]
					t.Run(fmt.Sprintf("%dx%dx%d/tA=%v/tB=%v/beta=%g", m, n, k, ta, tb, beta), func(t *testing.T) {
						ar, ac, br, bc := m, k, k, n
						if ta {
							ar, ac = k, m
						}
						if tb {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+3, bc+1, n+2
						const off = 5 // operands start 5 elements into their buffers
						a := randF32(r, off+max(ar, 1)*lda, 1)
						b := randF32(r, off+max(br, 1)*ldb, 1)
						c0 := randF32(r, off+m*ldc, 1)
						if beta == 0 {
							for i := range c0 {
								c0[i] = float32(math.NaN())
							}
						}
						c := upload(t, d, c0)
						av, bv := upload(t, d, a).View(off, len(a)-off), upload(t, d, b).View(off, len(b)-off)
						require.NoError(t, d.GemmStrided(ta, tb, m, n, k, 1.5, av, lda, bv, ldb, beta, c.View(off, len(c0)-off), ldc))
						got := download(t, c)
						want, sc := f64s(c0), f64s(c0)
						refStridedGemm(ta, tb, m, n, k, 1.5, f64s(a[off:]), lda, f64s(b[off:]), ldb, float64(beta), want[off:], ldc, false)
						refStridedGemm(ta, tb, m, n, k, 1.5, f64s(a[off:]), lda, f64s(b[off:]), ldb, math.Abs(float64(beta)), sc[off:], ldc, true)
						for i := range got {
							row, col := (i-off)/ldc, (i-off)%ldc
							if i < off || col >= n { // outside C: untouched bits
								require.Equal(t, math.Float32bits(c0[i]), math.Float32bits(got[i]), "element %d outside C changed", i)
								continue
							}
							require.False(t, math.IsNaN(float64(got[i])), "C[%d, %d] is NaN", row, col)
							require.InDelta(t, want[i], float64(got[i]), tolSgemm*sc[i]+1e-30, "C[%d, %d]", row, col)
						}
					})
				}
			}
		}
	}
	x := upload(t, d, make([]float32, 12))
	require.Panics(t, func() { _ = d.GemmStrided(false, false, 2, 2, 2, 1, x, 1, x, 2, 0, x, 2) }, "lda below the columns")
	require.Panics(t, func() { _ = d.GemmStrided(false, false, 4, 4, 4, 1, x, 4, x, 4, 0, x, 4) }, "buffers too short")
}

func TestGPUDot(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 41))
	for _, n := range []int{0, 1, 1000, 1<<20 + 3} {
		x, y := randF32(r, n, 1), randF32(r, n+7, 1)
		got, err := d.Dot(upload(t, d, x), upload(t, d, y))
		require.NoError(t, err)
		want, sc := 0.0, 0.0
		for i := range x {
			want += float64(x[i]) * float64(y[i])
			sc += math.Abs(float64(x[i]) * float64(y[i]))
		}
		require.InDelta(t, want, got, tolDot*sc+1e-300, "n = %d", n)
		again, err := d.Dot(upload(t, d, x), upload(t, d, y))
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(got), math.Float64bits(again), "deterministic")
	}
}

// TestGPUGramBlocks forms the Gram matrix in several column blocks (the
// last one partial) and in one, against float64 sums.
func TestGPUGramBlocks(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 42))
	old := *GramBlockElems
	defer func() { *GramBlockElems = old }()
	const k, p = 5, 1001
	g := randF32(r, k*p+3, 1)
	want, sc := make([]float64, k*k), make([]float64, k*k)
	for i := range k {
		for j := range k {
			for c := range p {
				v := float64(g[i*p+c]) * float64(g[j*p+c])
				want[i*k+j] += v
				sc[i*k+j] += math.Abs(v)
			}
		}
	}
	dg := upload(t, d, g)
	for _, blk := range []int{k * 64, k * p, 1 << 22} {
		*GramBlockElems = blk
		got := make([]float64, k*k+1)
		got[k*k] = 42
		require.NoError(t, d.Gram(got, dg, k, p))
		requireNear(t, fmt.Sprintf("G, blocks of %d", blk), want, got[:k*k], scaled(sc, tolDgemm))
		require.Equal(t, 42.0, got[k*k], "dst past k·k untouched")
	}
	got := []float64{7}
	require.NoError(t, d.Gram(got, dg, 1, 0))
	require.Equal(t, []float64{0}, got, "no columns: zero")
}

func TestGPUTimeEmbeddingFloat(t *testing.T) {
	d := kernelDevice(t)
	const rows, dim = 37, 10
	ts := make([]float32, rows)
	for i := range ts {
		ts[i] = float32(i * 27)
	}
	out := poisoned[float32](t, d, rows*dim+3)
	require.NoError(t, d.TimeEmbedding(out, upload(t, d, ts), rows, dim, 10000))
	got := download(t, out)
	half := dim / 2
	for r, tv := range ts {
		for i := range half {
			arg := float64(tv) * math.Exp(-math.Log(10000)*float64(i)/float64(half))
			require.InDelta(t, math.Cos(arg), float64(got[r*dim+i]), tolEmbed64, "cos [%d, %d]", r, i)
			require.InDelta(t, math.Sin(arg), float64(got[r*dim+half+i]), tolEmbed64, "sin [%d, %d]", r, i)
		}
	}
	for _, v := range got[rows*dim:] {
		require.True(t, math.IsNaN(float64(v)), "past rows·dim untouched")
	}
	require.Panics(t, func() { _ = d.TimeEmbedding(out, upload(t, d, ts), rows, 3, 10000) }, "odd dim")
}

func TestGPUWeightedMSE(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 43))
	for _, sh := range [][2]int{{1, 1}, {3, 33}, {130, 784}} {
		rows, cols := sh[0], sh[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			pred, target, w := randF32(r, rows*cols, 1), randF32(r, rows*cols, 1), randF32(r, rows, 1)
			dp, dt, dw := upload(t, d, pred), upload(t, d, target), upload(t, d, w)
			loss := poisoned[float32](t, d, rows)
			grad := poisoned[float32](t, d, rows*cols)
			const scale = 0.25
			require.NoError(t, d.WeightedMSE(loss, grad, dp, dt, dw, rows, cols, scale))
			ones := make([]float32, rows)
			for i := range ones {
				ones[i] = 1
			}
			wl := refMSERows(pred, target, ones, rows, cols)
			requireNear(t, "row loss", wl, download(t, loss), mixed(wl, 1e-30, tolMSE64))
			wg := refMSEGrad(pred, target, w, rows, cols, scale)
			requireNear(t, "grad", wg, download(t, grad), mixed(wg, 1e-30, tolArith))

			loss2 := poisoned[float32](t, d, rows)
			grad2 := poisoned[float32](t, d, rows*cols)
			require.NoError(t, d.WeightedMSE(loss2, nil, dp, dt, nil, rows, cols, scale))
			require.Equal(t, download(t, loss), download(t, loss2), "the loss does not depend on the gradient")
			for _, v := range download(t, grad2) {
				require.True(t, math.IsNaN(float64(v)), "no gradient written")
			}
		})
	}
}

func TestGPUAdamWStep32AndEMA32(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 44))
	const n = 4099
	// The float64 reference gets the float32 scalars the kernel gets, so
	// only the arithmetic differs.
	h32 := AdamW32{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01,
		BC1: float32(1 - math.Pow(float64(float32(0.9)), 3)), BC2: float32(1 - math.Pow(float64(float32(0.999)), 3))}
	h := AdamW{LR: float64(h32.LR), Beta1: float64(h32.Beta1), Beta2: float64(h32.Beta2), Eps: float64(h32.Eps),
		WeightDecay: float64(h32.WeightDecay), Step: 3}
	p, g, m, v := randF32(r, n, 1), randF32(r, n, 1), randF32(r, n, 0.1), randF32(r, n, 0.1)
	for i := range v {
		v[i] *= v[i]
	}
	dp, dm, dv := upload(t, d, p), upload(t, d, m), upload(t, d, v)
	require.NoError(t, d.AdamWStep32(dp, upload(t, d, g), dm, dv, h32))
	wp, wm, wv := f64s(p), f64s(m), f64s(v)
	refAdamW(wp, f64s(g), wm, wv, h)
	// The step moves p by ≈ lr·m̂/√v̂ after a dozen float32 operations
	// (≈1e-6 relative): 1e-5·lr absolute; a formula error would be ≈ lr.
	requireNear(t, "p", wp, download(t, dp), mixed(wp, 1e-5*h.LR, tolArith))
	// m and v are sums of two terms that may cancel: relative to the terms.
	ms, vs := make([]float64, n), make([]float64, n)
	for i := range ms {
		gi := float64(g[i])
		ms[i] = h.Beta1*math.Abs(float64(m[i])) + (1-h.Beta1)*math.Abs(gi)
		vs[i] = h.Beta2*float64(v[i]) + (1-h.Beta2)*gi*gi
	}
	requireNear(t, "m", wm, download(t, dm), scaled(ms, tolArith))
	requireNear(t, "v", wv, download(t, dv), scaled(vs, tolArith))

	e := randF32(r, n, 1)
	de := upload(t, d, e)
	const decay = float32(2) / 11
	require.NoError(t, d.EMA32(de, upload(t, d, p), decay))
	we, es := make([]float64, n), make([]float64, n)
	for i := range we {
		we[i] = float64(decay)*float64(e[i]) + float64(1-decay)*float64(p[i])
		es[i] = math.Abs(float64(decay)*float64(e[i])) + math.Abs(float64(1-decay)*float64(p[i]))
	}
	requireNear(t, "ema", we, download(t, de), scaled(es, tolArith))
}
