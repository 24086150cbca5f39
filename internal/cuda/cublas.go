package cuda

import (
	"fmt"
	"math"
)

// cublasAPI holds the cuBLAS functions this package calls. A
// cublasHandle_t is a uintptr and every cublasStatus_t is int32. Scalars
// alpha and beta are passed by pointer to host memory (cuBLAS's default
// pointer mode), so no argument travels in a floating-point register.
type cublasAPI struct {
	path string

	cublasCreate              func(handle *uintptr) int32
	cublasDestroy             func(handle uintptr) int32
	cublasSetStream           func(handle uintptr, stream uintptr) int32
	cublasSetMathMode         func(handle uintptr, mode int32) int32
	cublasGetVersion          func(handle uintptr, version *int32) int32
	cublasSgemm               func(handle uintptr, transA, transB int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
	cublasSgemmStridedBatched func(handle uintptr, transA, transB int32, m, n, k int32, alpha *float32, a uint64, lda int32, strideA int64, b uint64, ldb int32, strideB int64, beta *float32, c uint64, ldc int32, strideC int64, batch int32) int32
	cublasDgemm               func(handle uintptr, transA, transB int32, m, n, k int32, alpha *float64, a uint64, lda int32, b uint64, ldb int32, beta *float64, c uint64, ldc int32) int32
	cublasGetStatusName       func(status int32) string // optional (cuBLAS ≥ 11.4)
	cublasGetStatusString     func(status int32) string // optional (cuBLAS ≥ 11.4)
}

// cublasMath_t values.
const (
	// cublasDefaultMath: float32 GEMMs compute in full FP32 (no TF32).
	cublasDefaultMath = 0
	// cublasTF32TensorOpMath lets float32 GEMMs round their inputs to TF32
	// (10-bit mantissa) on tensor cores.
	cublasTF32TensorOpMath = 3
)

// cublasOperation_t values.
const (
	cublasOpN = 0
	cublasOpT = 1
)

var theCUBLAS = lazyLib[cublasAPI]{load: func() (*cublasAPI, error) {
	return loadCUBLAS(systemSearchEnv(), systemDlopen)
}}

// cublas returns the loaded cuBLAS library, loading it on first use.
func cublas() (*cublasAPI, error) { return theCUBLAS.get() }

func loadCUBLAS(env searchEnv, open dlopenFunc) (*cublasAPI, error) {
	h, path, err := openFirst(libCandidates(cublasLib, env), open)
	if err != nil {
		return nil, &loadError{ErrNoCUBLAS, fmt.Sprintf("%s: %s; install the CUDA toolkit or set CUDA_HOME", cublasLib, searchedWhere)}
	}
	return bindCUBLAS(&symbols{name: path, lookup: dlsymBinder(h)})
}

// bindCUBLAS binds cuBLAS's functions from s.
func bindCUBLAS(s *symbols) (*cublasAPI, error) {
	c := &cublasAPI{path: s.name}
	s.bind(&c.cublasCreate, true, "cublasCreate_v2")
	s.bind(&c.cublasDestroy, true, "cublasDestroy_v2")
	s.bind(&c.cublasSetStream, true, "cublasSetStream_v2")
	s.bind(&c.cublasSetMathMode, true, "cublasSetMathMode")
	s.bind(&c.cublasGetVersion, true, "cublasGetVersion_v2")
	s.bind(&c.cublasSgemm, true, "cublasSgemm_v2")
	s.bind(&c.cublasSgemmStridedBatched, true, "cublasSgemmStridedBatched")
	s.bind(&c.cublasDgemm, true, "cublasDgemm_v2")
	s.bind(&c.cublasGetStatusName, false, "cublasGetStatusName")
	s.bind(&c.cublasGetStatusString, false, "cublasGetStatusString")
	if err := s.err(ErrNoCUBLAS, "cuBLAS older than CUDA 11"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cublasAPI) check(call string, status int32) error {
	if status == 0 {
		return nil
	}
	e := &Error{Call: call, Code: int(status), Name: cublasStatusNames[int(status)]}
	if c.cublasGetStatusName != nil {
		if n := c.cublasGetStatusName(status); n != "" {
			e.Name = n
		}
	}
	if c.cublasGetStatusString != nil {
		e.Desc = c.cublasGetStatusString(status)
	}
	return e
}

// GemmShape states a row-major matrix product C = op(A)·op(B): op(A) is
// (M, K), op(B) is (K, N) and C is (M, N). TransA means A is stored as its
// transpose, (K, M) row-major; likewise TransB, B stored (N, K). Every
// matrix is densely packed (row stride = its column count).
type GemmShape struct {
	M, N, K        int
	TransA, TransB bool
}

// gemmCall is one column-major cuBLAS GEMM call: C' = op(A')·op(B') with
// C' (m, n) column-major. swapped reports that A' is the caller's B and B'
// the caller's A.
type gemmCall struct {
	transA, transB int32
	m, n, k        int32
	lda, ldb, ldc  int32
	swapped        bool
}

// rowMajorGemm maps a row-major product onto cuBLAS's column-major GEMM.
// A row-major (r, c) matrix read column-major is its (c, r) transpose, so
// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets (B, A) in
// that order, m = N, n = M, the same transposition flags, lda = the row
// stride of the stored B (K if TransB else N), ldb = that of the stored A
// (M if TransA else K) and ldc = N.
func rowMajorGemm(s GemmShape) gemmCall {
	if s.M < 0 || s.N < 0 || s.K < 0 || s.M > math.MaxInt32 || s.N > math.MaxInt32 || s.K > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: GEMM shape %+v out of range", s))
	}
	ldB, ldA := s.N, s.K
	if s.TransB {
		ldB = s.K
	}
	if s.TransA {
		ldA = s.M
	}
	return gemmCall{
		transA: blasOp(s.TransB), transB: blasOp(s.TransA),
		m: int32(s.N), n: int32(s.M), k: int32(s.K),
		lda: int32(max(ldB, 1)), ldb: int32(max(ldA, 1)), ldc: int32(max(s.N, 1)),
		swapped: true,
	}
}

// blasHandle returns the device's cuBLAS handle, creating it on first use
// (on the worker thread, with the device's context current) with the math
// mode chosen in Options: full FP32 unless AllowTF32.
func (d *Device) blasHandle() (*cublasAPI, uintptr, error) {
	if d.blas != 0 {
		return d.blasAPI, d.blas, nil
	}
	c, err := d.libs.cublas()
	if err != nil {
		return nil, 0, err
	}
	var h uintptr
	if err := c.check("cublasCreate_v2", c.cublasCreate(&h)); err != nil {
		return nil, 0, err
	}
	mode := int32(cublasDefaultMath)
	if d.opts.AllowTF32 {
		mode = cublasTF32TensorOpMath
	}
	if err := c.check("cublasSetMathMode", c.cublasSetMathMode(h, mode)); err != nil {
		c.cublasDestroy(h)
		return nil, 0, err
	}
	if err := c.check("cublasSetStream_v2", c.cublasSetStream(h, d.stream)); err != nil {
		c.cublasDestroy(h)
		return nil, 0, err
	}
	d.blasAPI, d.blas = c, h
	return c, h, nil
}

// checkGemmLens panics unless a, b and c hold exactly batch products of
// shape s.
func checkGemmLens(s GemmShape, batch, la, lb, lc int) {
	if la != batch*s.M*s.K || lb != batch*s.K*s.N || lc != batch*s.M*s.N {
		panic(fmt.Sprintf("cuda: GEMM %+v ×%d: buffers of length %d, %d, %d, want %d, %d, %d",
			s, batch, la, lb, lc, batch*s.M*s.K, batch*s.K*s.N, batch*s.M*s.N))
	}
}

// Sgemm computes c = alpha·op(a)·op(b) + beta·c on row-major float32
// matrices of shape s (see GemmShape): a holds M·K values, b K·N, c M·N.
// With beta = 0, c is not read (NaN in c does not propagate). Float32
// products use full FP32 arithmetic unless the device was opened with
// Options.AllowTF32.
func (d *Device) Sgemm(c *Buffer[float32], s GemmShape, alpha float32, a, b *Buffer[float32], beta float32) error {
	checkGemmLens(s, 1, a.Len(), b.Len(), c.Len())
	g := rowMajorGemm(s)
	return d.Do(func() error {
		api, h, err := d.blasHandle()
		if err != nil {
			return err
		}
		if s.M == 0 || s.N == 0 {
			return nil
		}
		return api.check("cublasSgemm_v2", api.cublasSgemm(h, g.transA, g.transB, g.m, g.n, g.k,
			&alpha, uint64(b.Ptr()), g.lda, uint64(a.Ptr()), g.ldb, &beta, uint64(c.Ptr()), g.ldc))
	})
}

// SgemmStridedBatched computes batch independent products of shape s:
// c[i] = alpha·op(a[i])·op(b[i]) + beta·c[i], where a[i] is the i-th block
// of M·K values of a, b[i] of K·N values of b and c[i] of M·N values of c.
func (d *Device) SgemmStridedBatched(c *Buffer[float32], s GemmShape, batch int, alpha float32, a, b *Buffer[float32], beta float32) error {
	if batch < 0 || batch > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: batch %d out of range", batch))
	}
	checkGemmLens(s, batch, a.Len(), b.Len(), c.Len())
	g := rowMajorGemm(s)
	return d.Do(func() error {
		api, h, err := d.blasHandle()
		if err != nil {
			return err
		}
		if s.M == 0 || s.N == 0 || batch == 0 {
			return nil
		}
		return api.check("cublasSgemmStridedBatched", api.cublasSgemmStridedBatched(h, g.transA, g.transB, g.m, g.n, g.k,
			&alpha, uint64(b.Ptr()), g.lda, int64(s.K*s.N), uint64(a.Ptr()), g.ldb, int64(s.M*s.K),
			&beta, uint64(c.Ptr()), g.ldc, int64(s.M*s.N), int32(batch)))
	})
}

// Dgemm is Sgemm in float64, for example the K×K Gram matrix G = A·Aᵀ of K
// per-bin gradients A (K, P): Dgemm(g, GemmShape{M: K, N: K, K: P, TransB: true}, 1, a, a, 0).
func (d *Device) Dgemm(c *Buffer[float64], s GemmShape, alpha float64, a, b *Buffer[float64], beta float64) error {
	checkGemmLens(s, 1, a.Len(), b.Len(), c.Len())
	g := rowMajorGemm(s)
	return d.Do(func() error {
		api, h, err := d.blasHandle()
		if err != nil {
			return err
		}
		if s.M == 0 || s.N == 0 {
			return nil
		}
		return api.check("cublasDgemm_v2", api.cublasDgemm(h, g.transA, g.transB, g.m, g.n, g.k,
			&alpha, uint64(b.Ptr()), g.lda, uint64(a.Ptr()), g.ldb, &beta, uint64(c.Ptr()), g.ldc))
	})
}
