package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// Tests of the sequence operations (seqops.go, GemmBatched in nnops.go)
// against the float64 references of ref_seq_test.go, on the GPU or,
// without one, on the emulator.

// tolSoftmaxRounding bounds the float32 rounding of softmax_f32 relative to
// each output, per unit of the row's magnitudes (|z| + |m|, z = scale·x, m
// the row maximum): z and m are rounded (2^-24 relative each), z − m too
// (2^-24·|z − m| ≤ 2^-24·(|z| + |m|)), so exp(z − m) carries
// 3·2^-24·(|z| + |m|) ≤ 2e-7·(|z| + |m|) relative error, and the
// normalisation adds the largest of them over the row; tolMathRel covers
// expf's 2 ulp and the final rounding.
const tolSoftmaxRounding = 4e-7

// softmaxTol is the tolerance of each softmax output: want[i] times
// tolMathRel plus tolSoftmaxRounding·(max_c |z_c| + |m|) of its row.
func softmaxTol(x []float32, rows, cols int, scale float64, want []float64) func(int) float64 {
	rowMag := make([]float64, rows)
	for r := range rows {
		zmax, m := 0.0, math.Inf(-1)
		for c := range cols {
			z := scale * float64(x[r*cols+c])
			zmax, m = math.Max(zmax, math.Abs(z)), math.Max(m, z)
		}
		rowMag[r] = zmax + math.Abs(m)
	}
	return func(i int) float64 {
		return want[i]*(tolMathRel+2*tolSoftmaxRounding*rowMag[i/cols]) + 1e-30
	}
}

// TestGPUGemmBatched checks the batched GEMM against one float64 product
// per batch element: every transposition, row strides wider than the
// matrices, batch strides with gaps between the operands, a B shared by
// every element (stride 0), β = 0 on a NaN-poisoned C and β ≠ 0, k = 0,
// and that nothing of C outside the C_i (row padding, the gaps) changes.
func TestGPUGemmBatched(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 62))
	for _, sz := range [][4]int{{1, 1, 1, 1}, {5, 7, 3, 3}, {33, 17, 64, 4}, {4, 6, 0, 3}} {
		m, n, k, batch := sz[0], sz[1], sz[2], sz[3]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, -0.5} {
					t.Run(fmt.Sprintf("%dx%dx%d×%d/tA=%v/tB=%v/beta=%g", m, n, k, batch, ta, tb, beta), func(t *testing.T) {
						checkGemmBatched(t, d, r, m, n, k, batch, ta, tb, beta)
					})
				}
			}
		}
	}
	x := upload(t, d, make([]float32, 64))
	require.Panics(t, func() { _ = d.GemmBatched(false, false, 2, 2, 2, 1, x, 2, 4, x, 2, 4, 0, x, 2, 3, 3) }, "C_i overlap")
	require.Panics(t, func() { _ = d.GemmBatched(false, false, 2, 2, 2, 1, x, 2, 40, x, 2, 4, 0, x, 2, 4, 3) }, "A too short")
	require.Panics(t, func() { _ = d.GemmBatched(false, false, 2, 2, 2, 1, x, 2, -1, x, 2, 4, 0, x, 2, 4, 3) }, "negative stride")
}

func checkGemmBatched(t *testing.T, d *Device, r *rand.Rand, m, n, k, batch int, ta, tb bool, beta float32) {
	ar, ac, br, bc := m, k, k, n
	if ta {
		ar, ac = k, m
	}
	if tb {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+3, bc+1, n+2
	span := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	la, lb, lc := span(ar, ac, lda), span(br, bc, ldb), span(m, n, ldc)
	sa, sb, sc := la+2, 0, lc+3 // gaps between the A_i and the C_i; one B for all
	if ta == tb {
		sb = lb + 5
	}
	const off = 5 // operands start 5 elements into their buffers
	a := randF32(r, off+(batch-1)*sa+max(la, 1), 1)
	b := randF32(r, off+(batch-1)*sb+max(lb, 1), 1)
	c0 := randF32(r, off+(batch-1)*sc+lc+4, 1)
	if beta == 0 {
		for i := range c0 {
			c0[i] = float32(math.NaN())
		}
	}
	c := upload(t, d, c0)
	av, bv := upload(t, d, a).View(off, len(a)-off), upload(t, d, b).View(off, len(b)-off)
	require.NoError(t, d.GemmBatched(ta, tb, m, n, k, 1.5, av, lda, sa, bv, ldb, sb, beta, c.View(off, len(c0)-off), ldc, sc, batch))
	got := download(t, c)
	want, mag := f64s(c0), f64s(c0)
	inC := make([]bool, len(c0))
	for i := range batch {
		ai, bi, ci := f64s(a[off+i*sa:]), f64s(b[off+i*sb:]), off+i*sc
		refStridedGemm(ta, tb, m, n, k, 1.5, ai, lda, bi, ldb, float64(beta), want[ci:], ldc, false)
		refStridedGemm(ta, tb, m, n, k, 1.5, ai, lda, bi, ldb, math.Abs(float64(beta)), mag[ci:], ldc, true)
		for row := range m {
			for col := range n {
				inC[ci+row*ldc+col] = true
			}
		}
	}
	for i := range got {
		if !inC[i] {
			require.Equal(t, math.Float32bits(c0[i]), math.Float32bits(got[i]), "element %d outside the C_i changed", i)
			continue
		}
		require.False(t, math.IsNaN(float64(got[i])), "C element %d is NaN", i)
		require.InDelta(t, want[i], float64(got[i]), tolSgemm*mag[i]+1e-30, "C element %d", i)
	}
}

// seqRows are (rows, cols) shapes for the row softmax: matShapes (odd
// sizes, more rows than one pass of the grid) and rows far longer than a
// warp.
var seqRows = append(append([][2]int{}, matShapes...), [2]int{3, 40000})

func TestGPUSoftmax(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 63))
	const scale = 0.25
	for _, sh := range seqRows {
		rows, cols := sh[0], sh[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			x := randF32(r, rows*cols, 8)
			x[0] = 3e4 // scale·x = 7500: exp overflows float32 without the max trick
			want := refSoftmax(f64s(x), rows, cols, scale)
			dx := upload(t, d, x)
			y := poisoned[float32](t, d, rows*cols)
			require.NoError(t, d.Softmax(y, dx, rows, cols, scale))
			got := download(t, y)
			requireNear(t, "y", want, got, softmaxTol(x, rows, cols, scale, want))
			require.Equal(t, float32(1), got[0], "the row maximum's own term is exactly 1, the others underflow")

			// In place, the same bits; again, the same bits.
			require.NoError(t, d.Softmax(dx, dx, rows, cols, scale))
			require.Equal(t, got, download(t, dx), "y = x")
			again := poisoned[float32](t, d, rows*cols)
			require.NoError(t, d.Softmax(again, upload(t, d, x), rows, cols, scale))
			require.Equal(t, got, download(t, again), "deterministic")
		})
	}
}

func TestGPUSoftmaxBackward(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 64))
	const scale = -0.5
	for _, sh := range seqRows {
		rows, cols := sh[0], sh[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			y64 := refSoftmax(f64s(randF32(r, rows*cols, 2)), rows, cols, 1)
			y := make([]float32, len(y64))
			for i, v := range y64 {
				y[i] = float32(v)
			}
			dy := randF32(r, rows*cols, 1)
			// s is a float64 sum rounded once; dy − s, scale·y and the
			// product round once each: ≈ 4·2^-24 of the terms.
			want, mag := refSoftmaxBackward(f64s(y), f64s(dy), rows, cols, scale)
			dyd, yd := upload(t, d, dy), upload(t, d, y)
			dx := poisoned[float32](t, d, rows*cols)
			require.NoError(t, d.SoftmaxBackward(dx, yd, dyd, rows, cols, scale))
			got := download(t, dx)
			requireNear(t, "dx", want, got, scaled(mag, tolArith))

			require.NoError(t, d.SoftmaxBackward(dyd, yd, dyd, rows, cols, scale))
			require.Equal(t, got, download(t, dyd), "dx = dy")
		})
	}
}

// modCase is one modulation shape; chunked puts s and t (or ds and dt) in
// chunks 1 and 2 of one (groups, ld) tensor of 6·cols + 1 columns, as
// adaLN's modulation tensor holds them, else each in its own dense buffer.
type modCase struct {
	groups, tokens, cols int
	chunked              bool
}

// modCases have odd sizes, one token, more columns than a column block
// (32) and more tokens than its rows (8).
var modCases = []modCase{{1, 1, 1, false}, {3, 5, 7, true}, {2, 70, 40, true}, {4, 1, 33, false}, {1, 300, 5, true}, {5, 9, 2, false}}

func (mc modCase) shape() modShape {
	ld := mc.cols
	if mc.chunked {
		ld = 6*mc.cols + 1
	}
	return modShape{mc.groups, mc.tokens, mc.cols, ld}
}

// factors holds s and t (or ds and dt) on the device as modCase lays them
// out: chunks 1 and 2 of one buffer, or views 0 and 1 elements into two
// copies of one buffer. host is the buffers' contents end to end, so and
// to the offsets of s and t in it.
type factors struct {
	s, t   *F32
	host   []float32
	so, to int
	bufs   []*F32
}

func (mc modCase) factors(t *testing.T, d *Device, host []float32) factors {
	sh := mc.shape()
	span := (sh.groups-1)*sh.ld + sh.cols
	if mc.chunked {
		buf := upload(t, d, host)
		return factors{buf.View(mc.cols, span), buf.View(2*mc.cols, span), host, mc.cols, 2 * mc.cols, []*F32{buf}}
	}
	b1, b2 := upload(t, d, host), upload(t, d, host)
	return factors{b1.View(0, span), b2.View(1, span), append(append([]float32{}, host...), host...), 0, len(host) + 1, []*F32{b1, b2}}
}

// download returns the buffers' contents end to end.
func (f factors) download(t *testing.T) []float32 {
	var out []float32
	for _, b := range f.bufs {
		out = append(out, download(t, b)...)
	}
	return out
}

// layout returns the buffers' expected contents after ModulateBackward
// wrote ds and dt (groups, cols) into buffers of NaN (dt nil: not
// written), and the magnitudes of their terms.
func (f factors) layout(sh modShape, ds, dt, dsMag, dtMag []float64) (want, mag []float64) {
	want, mag = make([]float64, len(f.host)), make([]float64, len(f.host))
	for i := range want {
		want[i] = math.NaN()
	}
	for g := range sh.groups {
		for c := range sh.cols {
			want[f.so+g*sh.ld+c], mag[f.so+g*sh.ld+c] = ds[g*sh.cols+c], dsMag[g*sh.cols+c]
			if dt != nil {
				want[f.to+g*sh.ld+c], mag[f.to+g*sh.ld+c] = dt[g*sh.cols+c], dtMag[g*sh.cols+c]
			}
		}
	}
	return
}

// requireNearOrNaN is requireNear where want may be NaN, which got must
// match (elements no kernel may write).
func requireNearOrNaN(t *testing.T, what string, want []float64, got []float32, tol func(i int) float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if math.IsNaN(want[i]) {
			require.True(t, math.IsNaN(float64(got[i])), "%s[%d] = %g written", what, i, got[i])
			continue
		}
		require.False(t, math.IsNaN(float64(got[i])), "%s[%d] not written", what, i)
		require.InDelta(t, want[i], float64(got[i]), tol(i), "%s[%d]", what, i)
	}
}

func TestGPUModulate(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 65))
	for _, mc := range modCases {
		for _, one := range []float32{1, 0} {
			t.Run(fmt.Sprintf("%+v/one=%g", mc, one), func(t *testing.T) {
				sh := mc.shape()
				n := sh.rows() * sh.cols
				x := randF32(r, n, 1)
				f := mc.factors(t, d, randF32(r, sh.groups*sh.ld+3, 1))
				xd := upload(t, d, x)
				for _, shift := range []bool{true, false} {
					var tv *F32
					var th []float64
					if shift {
						tv, th = f.t, f64s(f.host[f.to:])
					}
					want, mag := refModulate(sh, f64s(x), f64s(f.host[f.so:]), th, float64(one))
					y := poisoned[float32](t, d, n)
					require.NoError(t, d.Modulate(y, xd, f.s, tv, sh.groups, sh.tokens, sh.cols, sh.ld, one))
					got := download(t, y)
					requireNear(t, fmt.Sprintf("y (shift %v)", shift), want, got, scaled(mag, tolArith))

					inPlace := upload(t, d, x)
					require.NoError(t, d.Modulate(inPlace, inPlace, f.s, tv, sh.groups, sh.tokens, sh.cols, sh.ld, one))
					require.Equal(t, got, download(t, inPlace), "y = x")
				}
			})
		}
	}
	x := upload(t, d, make([]float32, 12))
	require.Panics(t, func() { _ = d.Modulate(x, x, x, nil, 2, 2, 3, 2, 1) }, "ld below cols")
	require.Panics(t, func() { _ = d.Modulate(x, x, x.View(0, 5), nil, 2, 2, 3, 3, 1) }, "factors too short")
}

// TestGPUModulateBackward writes ds and dt into NaN-poisoned buffers laid
// out as the modulation's (chunks of one tensor, or views into two), with
// and without dx and dt, and with dx = dy.
func TestGPUModulateBackward(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 66))
	for _, mc := range modCases {
		t.Run(fmt.Sprintf("%+v", mc), func(t *testing.T) {
			sh := mc.shape()
			n, m := sh.rows()*sh.cols, sh.groups*sh.ld+3
			const one = 1
			x, dy := randF32(r, n, 1), randF32(r, n, 1)
			sf := mc.factors(t, d, randF32(r, m, 1))
			w := refModulateBackward(sh, f64s(dy), f64s(x), f64s(sf.host[sf.so:]), one)
			xd, dyd := upload(t, d, x), upload(t, d, dy)

			run := func(dx *F32, withDT bool) factors {
				g := mc.factors(t, d, nanSlice(m))
				dt := g.t
				if !withDT {
					dt = nil
				}
				require.NoError(t, d.ModulateBackward(dx, g.s, dt, dyd, xd, sf.s, sh.groups, sh.tokens, sh.cols, sh.ld, one))
				return g
			}
			dx := poisoned[float32](t, d, n)
			g := run(dx, true)
			gotDX, gotG := download(t, dx), g.download(t)
			requireNear(t, "dx", w.dx, gotDX, scaled(w.dxMag, tolArith))
			want, mag := g.layout(sh, w.ds, w.dt, w.dsMag, w.dtMag)
			requireNearOrNaN(t, "ds, dt", want, gotG, scaled(mag, tolSum))

			// Without dx, the same ds and dt; without dt, the same ds and dt
			// not written.
			require.Equal(t, bitsOf(gotG), bitsOf(run(nil, true).download(t)), "no dx")
			noDT := run(poisoned[float32](t, d, n), false).download(t)
			wantNoDT, _ := g.layout(sh, w.ds, nil, w.dsMag, nil)
			for i, v := range wantNoDT {
				if math.IsNaN(v) {
					require.True(t, math.IsNaN(float64(noDT[i])), "no dt: element %d written", i)
				} else {
					require.Equal(t, math.Float32bits(gotG[i]), math.Float32bits(noDT[i]), "no dt: ds element %d", i)
				}
			}

			// dx = dy: the same bits.
			alias := upload(t, d, dy)
			require.Equal(t, bitsOf(gotG), bitsOf(run(alias, true).download(t)), "dx = dy: ds, dt")
			require.Equal(t, gotDX, download(t, alias), "dx = dy")
		})
	}
}

// bitsOf returns the bits of x, so that NaN compares equal to itself.
func bitsOf(x []float32) []uint32 {
	out := make([]uint32, len(x))
	for i, v := range x {
		out[i] = math.Float32bits(v)
	}
	return out
}

func nanSlice(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

func TestGPUPatchify(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 67))
	for _, sh := range [][4]int{{2, 3, 8, 2}, {1, 1, 6, 3}, {3, 4, 4, 4}, {2, 3, 5, 1}, {5, 3, 32, 4}} {
		n, ch, side, patch := sh[0], sh[1], sh[2], sh[3]
		t.Run(fmt.Sprintf("%d×(%d,%d,%d)/patch%d", n, ch, side, side, patch), func(t *testing.T) {
			size := n * ch * side * side
			img := randF32(r, size, 1)
			tok := poisoned[float32](t, d, size)
			require.NoError(t, d.Patchify(tok, upload(t, d, img), n, ch, side, patch, false))
			require.Equal(t, refPatchify(img, n, ch, side, patch), download(t, tok), "tokens")
			back := poisoned[float32](t, d, size)
			require.NoError(t, d.Patchify(back, tok, n, ch, side, patch, true))
			require.Equal(t, img, download(t, back), "the inverse restores the images")
		})
	}
	x := upload(t, d, make([]float32, 2*5*5))
	require.Panics(t, func() { _ = d.Patchify(x, x, 1, 2, 5, 2, false) }, "side not a multiple of patch")
	require.Panics(t, func() { _ = d.Patchify(x, x.View(0, 49), 1, 2, 5, 5, false) }, "lengths differ")
}
