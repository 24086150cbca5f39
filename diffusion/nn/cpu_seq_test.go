package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// seqTol bounds the float32 sequence operations against float64 loops:
// a handful of roundings per element (softmax's exp is the vectorised
// float32 one, a few ulps).
const seqTol = 1e-6

func TestGemmBatchedMatchesPerBatchTripleLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 1))
	be := NewCPU()
	for _, tc := range []struct {
		tA, tB  bool
		m, n, k int
	}{{false, true, 5, 5, 3}, {false, false, 5, 3, 5}, {true, false, 3, 5, 5}} {
		batch, lda, ldb, ldc := 3, 9, 11, 7 // strided views into wider rows
		sa, sb, sc := 60, 70, 40
		a, b, c := randVals(rng, batch*sa), randVals(rng, batch*sb), randVals(rng, batch*sc)
		ct := upload(be, c)
		be.GemmBatched(tc.tA, tc.tB, tc.m, tc.n, tc.k, 0.5, upload(be, a), lda, sa, upload(be, b), ldb, sb, 1, ct, ldc, sc, batch)
		want := to64(c)
		for i := 0; i < batch; i++ {
			refGemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 0.5, to64(a[i*sa:]), lda, to64(b[i*sb:]), ldb, 1, want[i*sc:], ldc)
		}
		got := download(be, ct)
		for i := range want {
			require.InDelta(t, want[i], float64(got[i]), gemmRelTol, "element %d (%+v)", i, tc)
		}
	}
	require.Panics(t, func() { // C_i overlap
		be.GemmBatched(false, false, 2, 2, 2, 1, be.Alloc(16), 2, 4, be.Alloc(16), 2, 4, 0, be.Alloc(16), 2, 2, 3)
	})
}

// GemmBatched's path for small products (one packed block each, split over
// the batch among goroutines) gives the values of one Gemm per product (to
// the bit, up to the sign of an exact zero), for attention's shapes, partial
// tiles, α ≠ 1 and β ≠ 0, and whatever the number of threads; larger
// products take the per-product Gemm.
func TestGemmBatchedSmallIsGemmPerProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(44, 1))
	be := NewCPU()
	for _, tc := range []struct {
		tA, tB      bool
		m, n, k     int
		alpha, beta float32
	}{
		{false, true, 49, 49, 16, 1, 0}, {false, false, 49, 16, 49, 1, 0}, {true, false, 49, 16, 49, 1, 0},
		{false, true, 13, 37, 5, 0.5, 1}, {true, true, 72, 17, 256, 1, 0.25}, {false, false, 80, 9, 7, 1, 0}, // m > gemmMC
		{false, false, 6, 16, 300, 1, 1}, // k > gemmKC
	} {
		const batch = 40
		ar, ac, br, bc := tc.m, tc.k, tc.k, tc.n
		if tc.tA {
			ar, ac = ac, ar
		}
		if tc.tB {
			br, bc = bc, br
		}
		lda, ldb, ldc := ac+3, bc+1, tc.n+2
		sa, sb, sc := ar*lda+5, br*ldb, tc.m*ldc+1
		a, b, c0 := randVals(rng, batch*sa), randVals(rng, batch*sb), randVals(rng, batch*sc)
		at, bt := upload(be, a), upload(be, b)
		want := upload(be, c0)
		for i := 0; i < batch; i++ {
			be.Gemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, at.View(i*sa, gemmLen(ar, ac, lda)), lda, bt.View(i*sb, gemmLen(br, bc, ldb)), ldb,
				tc.beta, want.View(i*sc, gemmLen(tc.m, tc.n, ldc)), ldc)
		}
		for _, procs := range []int{1, 3} {
			old := runtime.GOMAXPROCS(procs)
			got := upload(be, c0)
			be.GemmBatched(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, at, lda, sa, bt, ldb, sb, tc.beta, got, ldc, sc, batch)
			runtime.GOMAXPROCS(old)
			require.Equal(t, download(be, want), download(be, got), "%+v, GOMAXPROCS %d", tc, procs)
		}
	}
}

func TestSoftmaxClosedFormAndMaxTrick(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 1))
	rows, cols := 4, 13
	x := randVals(rng, rows*cols)
	for i := range x {
		x[i] *= 8
	}
	x[3] = 3e4 // exp(scale·x) overflows without the max trick
	for _, be := range []Backend{NewCPU(), NewCPU64()} {
		y := be.Alloc(rows * cols)
		be.Softmax(y, upload(be, x), rows, cols, 0.25)
		got := download(be, y)
		for r := 0; r < rows; r++ {
			var z float64
			m := math.Inf(-1)
			for c := 0; c < cols; c++ {
				m = math.Max(m, 0.25*float64(x[r*cols+c]))
			}
			for c := 0; c < cols; c++ {
				z += math.Exp(0.25*float64(x[r*cols+c]) - m)
			}
			for c := 0; c < cols; c++ {
				want := math.Exp(0.25*float64(x[r*cols+c])-m) / z
				require.InDelta(t, want, float64(got[r*cols+c]), seqTol, "%s row %d col %d", be.Name(), r, c)
			}
		}
	}
}

func TestSoftmaxBackwardFiniteDifferences(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(42, 1))
	rows, cols, scale := 3, 6, float32(0.7)
	xv := to64(randVals(rng, rows*cols))
	x, y, dx := set64(be, xv), be.Alloc(rows*cols), be.Alloc(rows*cols)
	obj := newObjective(rng, rows*cols)
	loss := func() float64 { be.Softmax(y, x, rows, cols, scale); return obj.value(be.Data(y)) }
	loss()
	be.SoftmaxBackward(dx, y, set64(be, obj.c), rows, cols, scale)
	checkFD(t, "softmax dx", be.Data(x), be.Data(dx), loss)
}

func TestModulateFiniteDifferences(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(43, 1))
	groups, tokens, cols, ld := 3, 4, 5, 12 // s and t are chunks of (groups, 12) rows
	for _, one := range []float32{1, 0} {
		for _, shift := range []bool{true, false} {
			x := set64(be, to64(randVals(rng, groups*tokens*cols)))
			mod := set64(be, to64(randVals(rng, groups*ld)))
			s, tt := mod.View(0, mod.Len()), nn0()
			if shift {
				tt = mod.View(cols, mod.Len()-cols)
			}
			y, dx, dmod := be.Alloc(groups*tokens*cols), be.Alloc(groups*tokens*cols), be.Alloc(groups*ld)
			obj := newObjective(rng, groups*tokens*cols)
			loss := func() float64 {
				be.Modulate(y, x, s, tt, groups, tokens, cols, ld, one)
				return obj.value(be.Data(y))
			}
			loss()
			ds, dt := dmod.View(0, dmod.Len()), nn0()
			if shift {
				dt = dmod.View(cols, dmod.Len()-cols)
			}
			be.ModulateBackward(dx, ds, dt, set64(be, obj.c), x, s, groups, tokens, cols, ld, one)
			checkFD(t, "modulate dx", be.Data(x), be.Data(dx), loss)
			// The modulation's gradient lives in the used columns of each row.
			checkFD(t, "modulate ds, dt", be.Data(mod), be.Data(dmod), loss)
		}
	}
}

// nn0 is the absent tensor.
func nn0() Tensor { return Tensor{} }

func TestPatchifyIndexMapAndInverse(t *testing.T) {
	be := NewCPU()
	n, ch, side, p := 2, 3, 6, 2
	size := n * ch * side * side
	img := make([]float32, size)
	for i := range img {
		img[i] = float32(i)
	}
	tok := be.Alloc(size)
	be.Patchify(tok, upload(be, img), n, ch, side, p, false)
	got := download(be, tok)
	g, F := side/p, p*p*ch
	// Brute force: walk the image and place each pixel by the documented map.
	seen := make([]bool, size)
	for b := 0; b < n; b++ {
		for c := 0; c < ch; c++ {
			for row := 0; row < side; row++ {
				for col := 0; col < side; col++ {
					P, i, Q, j := row/p, row%p, col/p, col%p
					ti := (b*g*g+P*g+Q)*F + (i*p+j)*ch + c
					require.Equal(t, img[b*ch*side*side+c*side*side+row*side+col], got[ti])
					seen[ti] = true
				}
			}
		}
	}
	for i, s := range seen {
		require.True(t, s, "token element %d never written", i)
	}
	back := be.Alloc(size)
	be.Patchify(back, tok, n, ch, side, p, true)
	require.Equal(t, img, download(be, back))
	require.Panics(t, func() { be.Patchify(back, tok, n, ch, 7, 2, false) })
}
