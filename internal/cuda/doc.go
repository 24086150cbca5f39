// Package cuda drives NVIDIA GPUs without cgo: bindings to the CUDA driver
// API (libcuda), the NVRTC run-time compiler (libnvrtc) and cuBLAS
// (libcublas), loaded with dlopen through github.com/ebitengine/purego, a
// device-memory pool, and the float32 kernels of the diffusion training
// engine, kept as CUDA C files (kernels/*.cu) and compiled by NVRTC on
// first use.
//
// # Loading
//
// Nothing is loaded until first use, so the module builds with
// CGO_ENABLED=0 and runs everywhere; a machine without a GPU only sees an
// error when it asks for one. The driver is opened by its soname
// (libcuda.so.1, then libcuda.so, then WSL's copy) through the system loader;
// NVRTC and cuBLAS are searched for in $CUDA_HOME/lib64, $CUDA_PATH/lib64,
// the $LD_LIBRARY_PATH entries, /usr/local/cuda/lib64, /usr/local/cuda-*/lib64
// (newest first), the system library folders and pip's nvidia wheels, under
// their unversioned and versioned names (libnvrtc.so, libnvrtc.so.13, ...).
// A library that cannot be loaded gives one one-line error wrapping
// ErrNoDriver, ErrNoNVRTC or ErrNoCUBLAS, for example
//
//	cuda: no usable CUDA driver: libcuda.so.1 not found (is an NVIDIA driver installed?)
//
// and never a panic. A failed load is not remembered: the next call tries
// again. Every call's status is checked and a failure returned as an *Error
// naming the call and the status, e.g.
// "cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
//
// # The thread rule
//
// A CUDA context is current per OS thread, and calls from a thread where it
// is not current fail with CUDA_ERROR_INVALID_CONTEXT. So a Device owns one
// worker goroutine, locked to its OS thread (runtime.LockOSThread) with the
// device's primary context current there, and every CUDA call of this
// package runs on it: Device.Do(f) hands f to the worker and waits. Methods
// may therefore be called from any goroutine; inside a Do closure they run
// inline (the worker recognises its own thread), so code that issues many
// launches should wrap them in one Do and pay one goroutine hand-over.
//
// # Memory and ordering
//
// Buffer[T] (F32, F64, I32) is a typed array in device memory; Alloc takes
// it from the Device's Pool, which keeps freed blocks in free lists by size
// class (at most 25% larger than asked) and hands them out again without a
// driver call; Free returns a block to the pool, TrimPool and Close give
// the cached blocks back to the driver. View addresses part of a buffer.
// All work goes to one stream, the context's legacy default stream, so
// kernels, cuBLAS calls and copies run in the order they were issued, and
// CopyToHost returns after the work before it has finished. Launches are
// asynchronous: a fault inside a kernel is reported by the next
// synchronising call.
//
// # Kernels
//
// KernelSource is kernels/prelude.cuh followed by every kernels/*.cu file
// in name order, compiled as one NVRTC program for the device's compute
// capability (--gpu-architecture=compute_XY, or the newest virtual
// architecture NVRTC supports below it), without fast-math. The PTX is kept
// per Device and in an on-disk cache (Options.CacheDir, by default under
// os.UserCacheDir()) keyed by the SHA-256 of the source, the options and the
// NVRTC version. Kernels are float32, use grid-stride loops (any grid size
// is correct) and are launched with 256-thread blocks, or (32, 8) blocks
// for column reductions; reductions use a fixed summation order, so results
// do not vary from run to run. Backward kernels write their input gradient,
// or add into it when asked (accumulate); parameter gradients (bias, gamma,
// beta) are always added into, while the gradients of adaLN's modulation
// factors, which are activations, are written (modulate_backward_f32).
// Each kernel's parameter list is declared in kernelSpecs and checked at
// every launch.
//
// # Diffusion
//
// The kernels of kernels/diffusion.cu serve a variance-preserving
// diffusion process: an example x0 is noised to x_t = α_t·x0 + σ_t·ε, ε a
// standard normal draw, with α_t² = ᾱ_t and σ_t² = 1 − ᾱ_t for the noise
// schedule's cumulative product ᾱ_t at timestep t (package diffusion), and
// the v target is v = α_t·ε − σ_t·x0. The kernels take α_t, σ_t and the
// per-example loss weights as per-row float32 arrays computed on the host,
// and need nothing else of the schedule.
//
// # cuBLAS
//
// Sgemm, SgemmStridedBatched and Dgemm take densely packed row-major
// matrices (see GemmShape), GemmStrided and GemmBatched row-major matrices
// with explicit row strides (and, for GemmBatched, batch strides), and map
// them onto cuBLAS's column-major calls, one call per product or batch. Float32 GEMMs
// run in full FP32 (CUBLAS_DEFAULT_MATH): TF32 tensor-core rounding is off
// unless Options.AllowTF32 is set.
//
// # Tests
//
// Tests that need a GPU skip when no driver loads, unless the environment
// variable named by RequireEnv is 1, when they fail instead (scripts/gpu-check.sh
// sets it on the GPU machine, so that a broken driver cannot pass as a skip).
// Tests that run only on the emulator skip when the variable named by
// SkipEmulatorEnv is 1 (package cudatest's SkipEmulated; the GPU machine's
// check sets it: there only the tests that reach the real GPU matter, and
// the emulator's are CPU tests that run wherever `go test` runs).
// Without a GPU, the tests run on the emulator of package cudaemu, which
// only tests import: the driver, NVRTC and cuBLAS emulated in Go over host
// memory, every kernel run through a Go transcription of its CUDA C. The
// kernel tests run on it against their float64 references, and the nn
// backend (package nncuda) runs on it end to end against the CPU backend.
// It checks launch arguments, shapes, strides, the thread rule and the
// transcribed arithmetic, not the CUDA C itself. It reaches a Device
// through OpenLibraries, which opens one on Library values (Go functions
// by C symbol) in place of the system's shared libraries: the only seam
// this package offers a test double, and it holds no emulation itself.
//
// The kernels of kernels/training.cu and kernels/seq.cu and the wrappers
// in nnops.go (GemmStrided, GemmBatched, Dot, Gram, TimeEmbedding,
// WeightedMSE, LayerNormParamGrad, AdamWStep32, EMA32) and seqops.go
// (Softmax, SoftmaxBackward, Modulate, ModulateBackward, Patchify: the
// operations of the DiT backbone) have the exact semantics of the
// diffusion/nn Backend methods that package nncuda implements with them.
package cuda

// RequireEnv names the environment variable that, set to 1, turns "no CUDA
// driver" from a skip into a failure in GPU tests.
const RequireEnv = "PARETODIFF_REQUIRE_CUDA"

// SkipEmulatorEnv names the environment variable that, set to 1, skips the
// tests that run on the emulator (package cudaemu) rather than on a GPU.
const SkipEmulatorEnv = "PARETODIFF_SKIP_EMULATOR"
