package cudaemu

import (
	"slices"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// Launch is one recorded kernel launch (see RecordLaunches).
type Launch struct {
	Kernel      string    // the kernel's name, e.g. "fill_f32"
	Grid, Block cuda.Dim3 // the launch geometry
	// Args are the launch's arguments decoded by the kernel's C parameter
	// types: a cuda.DevicePtr, float32, float64, int32 or int64 each.
	Args []any
}

// RecordLaunches turns the recording of kernel launches on or off (it is
// off in a new GPU).
func (g *GPU) RecordLaunches(on bool) {
	defer g.lock()()
	g.record = on
}

// TakeLaunches returns the launches recorded since the last call, and
// forgets them.
func (g *GPU) TakeLaunches() []Launch {
	defer g.lock()()
	l := g.launches
	g.launches = nil
	return l
}

// Calls returns how many times the function symbol (e.g.
// "cuModuleLoadData", "cublasSgemm_v2") was called, counting the driver
// and cuBLAS functions that need the context.
func (g *GPU) Calls(symbol string) int {
	defer g.lock()()
	return g.calls[symbol]
}

// Compiles returns how many times nvrtcCompileProgram was called.
func (g *GPU) Compiles() int {
	defer g.lock()()
	return g.compiles
}

// CompileOptions returns the options of the last nvrtcCompileProgram call.
func (g *GPU) CompileOptions() []string {
	defer g.lock()()
	return slices.Clone(g.options)
}

// FailCompiles makes every later compilation fail with NVRTC_ERROR_COMPILATION
// and the compilation log log; "" makes them succeed again.
func (g *GPU) FailCompiles(log string) {
	defer g.lock()()
	g.failLog = log
}

// BLASCalls lists the cuBLAS calls so far: "create", "stream N",
// "destroy", and "sgemm", "sgemm-batched" or "dgemm" for each GEMM that
// ran.
func (g *GPU) BLASCalls() []string {
	defer g.lock()()
	return slices.Clone(g.blas)
}

// MathMode returns the cuBLAS math mode last set (cublasMath_t: 0 is
// CUBLAS_DEFAULT_MATH, 3 CUBLAS_TF32_TENSOR_OP_MATH).
func (g *GPU) MathMode() int32 {
	defer g.lock()()
	return g.mathMode
}

// Contexts returns the references to the primary context now held
// (cuDevicePrimaryCtxRetain less cuDevicePrimaryCtxRelease).
func (g *GPU) Contexts() int {
	defer g.lock()()
	return g.retained
}

// LiveAllocations returns the number of cuMemAlloc blocks not yet freed.
func (g *GPU) LiveAllocations() int {
	defer g.lock()()
	return len(g.live)
}

// LimitMemory makes cuMemAlloc fail with CUDA_ERROR_OUT_OF_MEMORY once
// more than bytes would be allocated at a time (0: the whole memory).
func (g *GPU) LimitMemory(bytes uint64) {
	defer g.lock()()
	g.limit = bytes
}
