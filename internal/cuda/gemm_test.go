package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// naiveGemm is C = alpha·op(A)·op(B) + beta·C on row-major matrices of
// shape s, computed in float64.
func naiveGemm(s GemmShape, alpha float64, a, b []float64, beta float64, c []float64) {
	for i := 0; i < s.M; i++ {
		for j := 0; j < s.N; j++ {
			sum := 0.0
			for l := 0; l < s.K; l++ {
				av := a[i*s.K+l]
				if s.TransA {
					av = a[l*s.M+i]
				}
				bv := b[l*s.N+j]
				if s.TransB {
					bv = b[j*s.K+l]
				}
				sum += av * bv
			}
			c[i*s.N+j] = alpha*sum + beta*c[i*s.N+j]
		}
	}
}

// colMajorGemm is the reference BLAS GEMM on column-major storage, as
// cuBLAS defines it: C = alpha·op(A)·op(B) + beta·C with C (m, n), element
// (i, j) of X at X[i + j·ldx]; C is not read when beta = 0.
func colMajorGemm(transA, transB int32, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	at := func(i, l int) float64 { // op(A)[i, l]
		if transA == cublasOpT {
			return a[l+i*lda]
		}
		return a[i+l*lda]
	}
	bt := func(l, j int) float64 { // op(B)[l, j]
		if transB == cublasOpT {
			return b[j+l*ldb]
		}
		return b[l+j*ldb]
	}
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += at(i, l) * bt(l, j)
			}
			if beta == 0 {
				c[i+j*ldc] = alpha * s
			} else {
				c[i+j*ldc] = alpha*s + beta*c[i+j*ldc]
			}
		}
	}
}

func randFloats(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

// tolGemmMapping: both sides compute the same float64 sums, only the
// storage is read differently, so they agree to rounding.
const tolGemmMapping = 1e-12

// TestRowMajorGemmMapping checks, without a GPU, that the column-major
// call built by rowMajorGemm (operands swapped, leading dimensions chosen)
// computes the row-major product, for every transposition and for
// degenerate sizes.
func TestRowMajorGemmMapping(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {8, 1, 4}, {1, 9, 2}, {6, 4, 0}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				s := GemmShape{M: sz[0], N: sz[1], K: sz[2], TransA: ta, TransB: tb}
				a, b, c0 := randFloats(r, s.M*s.K), randFloats(r, s.K*s.N), randFloats(r, s.M*s.N)
				want := append([]float64(nil), c0...)
				naiveGemm(s, 1.5, a, b, -0.5, want)

				g := rowMajorGemm(s)
				require.True(t, g.swapped)
				got := append([]float64(nil), c0...)
				colMajorGemm(g.transA, g.transB, int(g.m), int(g.n), int(g.k), 1.5, b, int(g.lda), a, int(g.ldb), -0.5, got, int(g.ldc))
				for i := range want {
					require.InDelta(t, want[i], got[i], tolGemmMapping, "%+v element %d", s, i)
				}
				// cuBLAS's argument checks: lda ≥ max(1, rows of the stored A').
				rowsA := int(g.m)
				if g.transA == cublasOpT {
					rowsA = int(g.k)
				}
				rowsB := int(g.k)
				if g.transB == cublasOpT {
					rowsB = int(g.n)
				}
				require.GreaterOrEqual(t, int(g.lda), max(1, rowsA), "%+v", s)
				require.GreaterOrEqual(t, int(g.ldb), max(1, rowsB), "%+v", s)
				require.GreaterOrEqual(t, int(g.ldc), max(1, int(g.m)), "%+v", s)
			}
		}
	}
	require.Panics(t, func() { rowMajorGemm(GemmShape{M: math.MaxInt32 + 1, N: 1, K: 1}) })
	require.Panics(t, func() { checkGemmLens(GemmShape{M: 2, N: 3, K: 4}, 1, 8, 12, 5) })
}
