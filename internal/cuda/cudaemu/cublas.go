package cudaemu

import (
	"fmt"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// cublasStatus_t and cublasOperation_t values (cublas_api.h).
const (
	cublasSuccess       = 0
	cublasInvalidValue  = 7
	cublasInternalError = 14
	cublasOpT           = 1
)

// cublasVersion is what cublasGetVersion reports (12.8.0).
const cublasVersion = 120800

// cublasHandle is the handle cublasCreate hands out.
const cublasHandle = 0xB1A5

// cublas is the emulated libcublas, its functions under the symbols
// package cuda binds. It records its calls (BLASCalls) and leaves the
// status names to package cuda (no cublasGetStatusName).
func (g *GPU) cublas() cuda.Library {
	rec := func(s string) { defer g.lock()(); g.blas = append(g.blas, s) }
	return cuda.Library{Name: "libcublas.so (cudaemu)", Funcs: map[string]any{
		"cublasCreate_v2":    func(h *uintptr) int32 { *h = cublasHandle; rec("create"); return cublasSuccess },
		"cublasDestroy_v2":   func(h uintptr) int32 { rec("destroy"); return cublasSuccess },
		"cublasSetStream_v2": func(h uintptr, s uintptr) int32 { rec(fmt.Sprintf("stream %d", s)); return cublasSuccess },
		"cublasSetMathMode": func(h uintptr, mode int32) int32 {
			defer g.lock()()
			g.mathMode = mode
			return cublasSuccess
		},
		"cublasGetVersion_v2": func(h uintptr, v *int32) int32 { *v = cublasVersion; return cublasSuccess },
		"cublasSgemm_v2": func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32,
			beta *float32, c uint64, ldc int32) int32 {
			defer g.lock()()
			if g.inContext("cublasSgemm_v2") != cudaSuccess {
				return cublasInternalError
			}
			if code := g.gemm32(ta, tb, m, n, k, *alpha, a, lda, 0, b, ldb, 0, *beta, c, ldc, 0, 1); code != cublasSuccess {
				return code
			}
			g.blas = append(g.blas, "sgemm")
			return cublasSuccess
		},
		"cublasSgemmStridedBatched": func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, sa int64,
			b uint64, ldb int32, sb int64, beta *float32, c uint64, ldc int32, sc int64, batch int32) int32 {
			defer g.lock()()
			if g.inContext("cublasSgemmStridedBatched") != cudaSuccess {
				return cublasInternalError
			}
			if code := g.gemm32(ta, tb, m, n, k, *alpha, a, lda, sa, b, ldb, sb, *beta, c, ldc, sc, batch); code != cublasSuccess {
				return code
			}
			g.blas = append(g.blas, "sgemm-batched")
			return cublasSuccess
		},
		"cublasDgemm_v2": func(h uintptr, ta, tb int32, m, n, k int32, alpha *float64, a uint64, lda int32, b uint64, ldb int32,
			beta *float64, c uint64, ldc int32) int32 {
			defer g.lock()()
			if g.inContext("cublasDgemm_v2") != cudaSuccess {
				return cublasInternalError
			}
			ra, ca, rb, cb, ok := gemmOperands(ta, tb, m, n, k, lda, ldb, ldc)
			if !ok {
				return cublasInvalidValue
			}
			if m > 0 && n > 0 {
				A := deviceSlice[float64](g, a, colSpan(ra, ca, lda))
				B := deviceSlice[float64](g, b, colSpan(rb, cb, ldb))
				C := deviceSlice[float64](g, c, colSpan(int(m), int(n), ldc))
				colMajorGemm(ta, tb, int(m), int(n), int(k), *alpha, A, int(lda), B, int(ldb), *beta, C, int(ldc))
			}
			g.blas = append(g.blas, "dgemm")
			return cublasSuccess
		},
	}}
}

// gemmOperands returns the stored (column-major) shapes of A and B of a
// cuBLAS GEMM and whether the arguments are valid as cuBLAS checks them.
func gemmOperands(ta, tb int32, m, n, k, lda, ldb, ldc int32) (ra, ca, rb, cb int, ok bool) {
	ra, ca, rb, cb = int(m), int(k), int(k), int(n)
	if ta == cublasOpT {
		ra, ca = int(k), int(m)
	}
	if tb == cublasOpT {
		rb, cb = int(n), int(k)
	}
	ok = m >= 0 && n >= 0 && k >= 0 && int(lda) >= max(1, ra) && int(ldb) >= max(1, rb) && ldc >= max(1, m)
	return
}

// colSpan is the number of elements a column-major (rows, cols) matrix
// with leading dimension ld spans.
func colSpan(rows, cols int, ld int32) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (cols-1)*int(ld) + rows
}

// gemm32 runs batch float32 GEMMs (strides sa, sb, sc elements apart) in
// float64 and rounds C, returning a cuBLAS status. g is locked.
func (g *GPU) gemm32(ta, tb int32, m, n, k int32, alpha float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64,
	beta float32, c uint64, ldc int32, sc int64, batch int32) int32 {
	ra, ca, rb, cb, ok := gemmOperands(ta, tb, m, n, k, lda, ldb, ldc)
	if !ok || batch < 0 {
		return cublasInvalidValue
	}
	if m == 0 || n == 0 {
		return cublasSuccess
	}
	for i := int64(0); i < int64(batch); i++ {
		A := widen(deviceSlice[float32](g, a+uint64(4*i*sa), colSpan(ra, ca, lda)))
		B := widen(deviceSlice[float32](g, b+uint64(4*i*sb), colSpan(rb, cb, ldb)))
		C32 := deviceSlice[float32](g, c+uint64(4*i*sc), colSpan(int(m), int(n), ldc))
		C := widen(C32)
		colMajorGemm(ta, tb, int(m), int(n), int(k), float64(alpha), A, int(lda), B, int(ldb), float64(beta), C, int(ldc))
		for j := 0; j < int(n); j++ {
			for r := 0; r < int(m); r++ {
				C32[r+j*int(ldc)] = float32(C[r+j*int(ldc)])
			}
		}
	}
	return cublasSuccess
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
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
			if beta == 0 { // BLAS: C is not read when beta = 0
				c[i+j*ldc] = alpha * s
			} else {
				c[i+j*ldc] = alpha*s + beta*c[i+j*ldc]
			}
		}
	}
}
