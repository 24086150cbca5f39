package cuda

// What the external tests (package cuda_test, which can import the
// emulator in package cudaemu) use from inside the package and its
// internal tests.

// Launch geometry (kernels.go).
const (
	BlocksPerSM = blocksPerSM
	MaxPartials = maxPartials
)

var (
	Block1D   = block1D
	BlockCols = blockCols
)

// cuBLAS math modes (cublas.go).
const (
	CublasDefaultMath      = cublasDefaultMath
	CublasTF32TensorOpMath = cublasTF32TensorOpMath
)

var (
	PTXCacheKey = ptxCacheKey
	Gettid      = gettid
	// GramBlockElems is the column-block size of Device.Gram, for tests
	// that vary it.
	GramBlockElems = &gramBlockElems
	// NaiveGemm and RandFloats are the helpers of gemm_test.go.
	NaiveGemm  = naiveGemm
	RandFloats = randFloats
)

// WorkerThread is the OS thread id of d's worker.
func (d *Device) WorkerThread() int64 { return d.tid.Load() }

// LibraryPaths names the driver d uses and the NVRTC it compiles with.
func (d *Device) LibraryPaths() (driver, nvrtc string, err error) {
	err = d.Do(func() error {
		n, err := d.libs.nvrtc()
		if err == nil {
			nvrtc = n.path
		}
		return err
	})
	return d.drv.path, nvrtc, err
}

// MemAllocHere calls cuMemAlloc_v2 for n bytes on the calling goroutine's
// thread, not on d's worker, frees the block if that worked, and returns
// the driver's status and the error it makes.
func (d *Device) MemAllocHere(n uint64) (int32, error) {
	var p uint64
	code := d.drv.cuMemAlloc(&p, n)
	if code == 0 {
		d.drv.cuMemFree(p)
	}
	return code, d.drv.check("cuMemAlloc_v2", code)
}
