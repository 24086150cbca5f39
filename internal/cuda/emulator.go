package cuda

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// fakeGPU is a CUDA driver, NVRTC and cuBLAS made of Go functions over host
// memory, so that the Device machinery (worker thread, Do, buffers, pool,
// kernel compilation and caching, argument packing, cuBLAS wiring, error
// paths) and the code above it run on machines without a GPU: the tests of
// this package, and through OpenEmulator the tests of the nn backend. Like
// the real driver it refuses calls from a thread where its context is not
// current (CUDA_ERROR_INVALID_CONTEXT), so it also checks the thread rule.
// It runs every kernel through its Go transcription (emulator_kernels.go)
// and records every launch's decoded arguments (unless noRecord).
type fakeGPU struct {
	mu       sync.Mutex
	arena    []byte            // device memory; address = fakeBase + offset
	next     uint64            // bump allocator offset
	live     map[uint64]uint64 // address → size
	current  map[int]uintptr   // OS thread → current context
	retained int               // primary context reference count
	modules  map[uintptr][]string
	launches []fakeLaunch // unless noRecord
	noRecord bool
	blas     []string // cuBLAS calls
	mathMode int32
	calls    map[string]int

	allocLimit   uint64 // cuMemAlloc fails beyond this many bytes live (0: arena size)
	failCompile  bool   // nvrtcCompileProgram reports a compilation error
	compileCount int
	options      []string // the last compile options
}

const fakeBase = 0x7000_0000_0000

// fakeLaunch is a recorded kernel launch.
type fakeLaunch struct {
	name        string
	grid, block Dim3
	args        []any // DevicePtr, float32, float64, int32 or int64 by the kernel's spec
}

func newFakeGPU(arenaBytes int) *fakeGPU {
	return &fakeGPU{arena: make([]byte, arenaBytes), live: map[uint64]uint64{}, current: map[int]uintptr{},
		modules: map[uintptr][]string{}, calls: map[string]int{}}
}

const fakeCtx = 0xC0

// ok checks the calling thread has the context current, as the driver
// requires, and counts the call.
func (f *fakeGPU) ok(call string) int32 {
	f.calls[call]++
	if f.current[gettid()] != fakeCtx {
		return 201 // CUDA_ERROR_INVALID_CONTEXT
	}
	return 0
}

// bytes returns n bytes of device memory at address p, or panics on an
// address outside the arena (a wrong pointer reached the fake driver).
func (f *fakeGPU) bytes(p uint64, n uint64) []byte {
	if p < fakeBase || p-fakeBase+n > uint64(len(f.arena)) {
		panic(fmt.Sprintf("fake GPU: access of %d bytes at %#x outside device memory", n, p))
	}
	return f.arena[p-fakeBase : p-fakeBase+n]
}

func (f *fakeGPU) f32s(p uint64, n int) []float32 {
	if n == 0 {
		return nil
	}
	b := f.bytes(p, uint64(n)*4)
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

// hostBytes views n bytes of host (Go) memory handed to the fake driver.
func hostBytes(p unsafe.Pointer, n uint64) []byte { return unsafe.Slice((*byte)(p), n) }

// atAddress reads the value of type T at an address C received in a
// pointer array (kernel parameters, option strings). The memory is pinned
// Go memory, alive for the call.
func atAddress[T any](addr uintptr) *T { return *(**T)(unsafe.Pointer(&addr)) }

// cstr copies a NUL-terminated string at addr.
func cstr(addr uintptr) string { return goString(atAddress[byte](addr)) }

var fakeErrorNames = map[int32][2]string{
	2:   {"CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
	201: {"CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
	218: {"CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
	500: {"CUDA_ERROR_NOT_FOUND", "named symbol not found"},
}

// fakeErrorStrings hold the C strings the fake driver hands out.
var fakeErrorStrings = sync.OnceValue(func() map[string]*byte {
	out := map[string]*byte{}
	for _, nd := range fakeErrorNames {
		for _, s := range nd {
			b := append([]byte(s), 0)
			out[s] = &b[0]
		}
	}
	return out
})

func (f *fakeGPU) driver() *driverAPI {
	lock := func() func() { f.mu.Lock(); return f.mu.Unlock }
	return &driverAPI{
		path:               "fake-libcuda.so.1",
		cuInit:             func(uint32) int32 { return 0 },
		cuDriverGetVersion: func(v *int32) int32 { *v = 12080; return 0 },
		cuDeviceGetCount:   func(n *int32) int32 { *n = 1; return 0 },
		cuDeviceGet: func(dev *int32, ordinal int32) int32 {
			if ordinal != 0 {
				return 101
			}
			*dev = 0
			return 0
		},
		cuDeviceGetName: func(name *byte, n int32, dev int32) int32 {
			copy(unsafe.Slice(name, n), "Fake GPU\x00")
			return 0
		},
		cuDeviceGetAttribute: func(v *int32, attr int32, dev int32) int32 {
			*v = map[int32]int32{attrComputeCapabilityMajor: 8, attrComputeCapabilityMinor: 6, attrMultiprocessorCount: 2}[attr]
			return 0
		},
		cuDeviceTotalMem: func(b *uint64, dev int32) int32 { *b = uint64(len(f.arena)); return 0 },
		cuDevicePrimaryCtxRetain: func(ctx *uintptr, dev int32) int32 {
			defer lock()()
			f.retained++
			*ctx = fakeCtx
			return 0
		},
		cuDevicePrimaryCtxRelease: func(dev int32) int32 {
			defer lock()()
			f.retained--
			return 0
		},
		cuCtxSetCurrent: func(ctx uintptr) int32 {
			defer lock()()
			f.current[gettid()] = ctx
			return 0
		},
		cuCtxSynchronize: func() int32 { defer lock()(); return f.ok("cuCtxSynchronize") },
		cuMemGetInfo: func(free, total *uint64) int32 {
			defer lock()()
			*total = uint64(len(f.arena))
			*free = *total - f.next
			return f.ok("cuMemGetInfo")
		},
		cuMemAlloc: func(p *uint64, n uint64) int32 {
			defer lock()()
			if code := f.ok("cuMemAlloc"); code != 0 {
				return code
			}
			inUse := uint64(0)
			for _, s := range f.live {
				inUse += s
			}
			limit := f.allocLimit
			if limit == 0 {
				limit = uint64(len(f.arena))
			}
			if inUse+n > limit || f.next+n > uint64(len(f.arena)) {
				return 2
			}
			*p = fakeBase + f.next
			f.live[*p] = n
			f.next += (n + 255) / 256 * 256
			return 0
		},
		cuMemFree: func(p uint64) int32 {
			defer lock()()
			if code := f.ok("cuMemFree"); code != 0 {
				return code
			}
			if _, ok := f.live[p]; !ok {
				return 1
			}
			delete(f.live, p)
			return 0
		},
		cuMemcpyHtoD: func(dst uint64, src unsafe.Pointer, n uint64) int32 {
			defer lock()()
			if code := f.ok("cuMemcpyHtoD"); code != 0 {
				return code
			}
			copy(f.bytes(dst, n), hostBytes(src, n))
			return 0
		},
		cuMemcpyDtoH: func(dst unsafe.Pointer, src uint64, n uint64) int32 {
			defer lock()()
			if code := f.ok("cuMemcpyDtoH"); code != 0 {
				return code
			}
			copy(hostBytes(dst, n), f.bytes(src, n))
			return 0
		},
		cuMemcpyDtoD: func(dst, src uint64, n uint64) int32 {
			defer lock()()
			if code := f.ok("cuMemcpyDtoD"); code != 0 {
				return code
			}
			copy(f.bytes(dst, n), f.bytes(src, n))
			return 0
		},
		cuMemsetD32: func(dst uint64, v uint32, n uint64) int32 {
			defer lock()()
			if code := f.ok("cuMemsetD32"); code != 0 {
				return code
			}
			b := f.bytes(dst, 4*n)
			for i := uint64(0); i < n; i++ {
				*(*uint32)(unsafe.Pointer(&b[4*i])) = v
			}
			return 0
		},
		cuModuleLoadData: func(m *uintptr, image unsafe.Pointer) int32 {
			defer lock()()
			if code := f.ok("cuModuleLoadData"); code != 0 {
				return code
			}
			ptx := goString((*byte)(image))
			if !strings.HasPrefix(ptx, "// fake PTX") {
				return 218
			}
			h := uintptr(len(f.modules) + 1)
			f.modules[h] = regexp.MustCompile(`\.entry (\w+)`).FindAllString(ptx, -1)
			for i, e := range f.modules[h] {
				f.modules[h][i] = strings.TrimPrefix(e, ".entry ")
			}
			*m = h
			return 0
		},
		cuModuleUnload: func(m uintptr) int32 {
			defer lock()()
			delete(f.modules, m)
			return f.ok("cuModuleUnload")
		},
		cuModuleGetFunction: func(fn *uintptr, m uintptr, name string) int32 {
			defer lock()()
			if code := f.ok("cuModuleGetFunction"); code != 0 {
				return code
			}
			i := slices.Index(f.modules[m], name)
			if i < 0 {
				return 500
			}
			*fn = m<<16 | uintptr(i+1)
			return 0
		},
		cuLaunchKernel: func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params, extra unsafe.Pointer) int32 {
			defer lock()()
			if code := f.ok("cuLaunchKernel"); code != 0 {
				return code
			}
			name := f.modules[fn>>16][fn&0xffff-1]
			spec := kernelSpecs[name]
			var args []any
			if len(spec) > 0 {
				addrs := unsafe.Slice((*uintptr)(params), len(spec))
				for i, k := range spec {
					slot := *atAddress[uint64](addrs[i])
					switch k {
					case ArgPtrF32, ArgPtrF64, ArgPtrI32:
						args = append(args, DevicePtr(slot))
					case ArgF32:
						args = append(args, math.Float32frombits(uint32(slot)))
					case ArgF64:
						args = append(args, math.Float64frombits(slot))
					case ArgI32:
						args = append(args, int32(uint32(slot)))
					case ArgI64:
						args = append(args, int64(slot))
					}
				}
			}
			if !f.noRecord {
				f.launches = append(f.launches, fakeLaunch{name, Dim3{gx, gy, gz}, Dim3{bx, by, bz}, args})
			}
			f.run(name, Dim3{gx, gy, gz}, Dim3{bx, by, bz}, args)
			return 0
		},
		cuStreamCreate:      func(s *uintptr, flags uint32) int32 { *s = 1; return 0 },
		cuStreamDestroy:     func(s uintptr) int32 { return 0 },
		cuStreamSynchronize: func(s uintptr) int32 { return 0 },
		cuGetErrorName: func(code int32, s **byte) int32 {
			nd, ok := fakeErrorNames[code]
			if !ok {
				return 1
			}
			*s = fakeErrorStrings()[nd[0]]
			return 0
		},
		cuGetErrorString: func(code int32, s **byte) int32 {
			nd, ok := fakeErrorNames[code]
			if !ok {
				return 1
			}
			*s = fakeErrorStrings()[nd[1]]
			return 0
		},
	}
}

func (f *fakeGPU) nvrtc() (*nvrtcAPI, error) {
	var src string
	var ptx []byte
	return &nvrtcAPI{
		path:                "fake-libnvrtc.so",
		nvrtcVersion:        func(major, minor *int32) int32 { *major, *minor = 12, 8; return 0 },
		nvrtcGetErrorString: func(code int32) string { return map[int32]string{6: "NVRTC_ERROR_COMPILATION"}[code] },
		nvrtcCreateProgram: func(prog *uintptr, s *byte, name *byte, nh int32, h, in unsafe.Pointer) int32 {
			src = goString(s)
			*prog = 1
			return 0
		},
		nvrtcCompileProgram: func(prog uintptr, n int32, options unsafe.Pointer) int32 {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.compileCount++
			f.options = nil
			if n > 0 {
				for _, addr := range unsafe.Slice((*uintptr)(options), n) {
					f.options = append(f.options, cstr(addr))
				}
			}
			if f.failCompile {
				return 6
			}
			var b strings.Builder
			b.WriteString("// fake PTX\n")
			for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
				b.WriteString(".visible .entry " + m[1] + "(\n")
			}
			ptx = append([]byte(b.String()), 0)
			return 0
		},
		nvrtcGetProgramLogSize: func(prog uintptr, size *uint64) int32 {
			*size = uint64(len("k.cu(1): error: boom\n") + 1)
			return 0
		},
		nvrtcGetProgramLog: func(prog uintptr, log *byte) int32 {
			copy(unsafe.Slice(log, 22), "k.cu(1): error: boom\n\x00")
			return 0
		},
		nvrtcGetPTXSize: func(prog uintptr, size *uint64) int32 { *size = uint64(len(ptx)); return 0 },
		nvrtcGetPTX: func(prog uintptr, out *byte) int32 {
			copy(unsafe.Slice(out, len(ptx)), ptx)
			return 0
		},
		nvrtcDestroyProgram:       func(prog *uintptr) int32 { *prog = 0; return 0 },
		nvrtcGetNumSupportedArchs: func(n *int32) int32 { *n = 3; return 0 },
		nvrtcGetSupportedArchs: func(a *int32) int32 {
			copy(unsafe.Slice(a, 3), []int32{75, 80, 90})
			return 0
		},
	}, nil
}

func (f *fakeGPU) cublas() (*cublasAPI, error) {
	rec := func(s string) { f.mu.Lock(); f.blas = append(f.blas, s); f.mu.Unlock() }
	return &cublasAPI{
		path:              "fake-libcublas.so",
		cublasCreate:      func(h *uintptr) int32 { *h = 0xB1A5; rec("create"); return 0 },
		cublasDestroy:     func(h uintptr) int32 { rec("destroy"); return 0 },
		cublasSetStream:   func(h uintptr, s uintptr) int32 { rec(fmt.Sprintf("stream %d", s)); return 0 },
		cublasSetMathMode: func(h uintptr, mode int32) int32 { f.mathMode = mode; return 0 },
		cublasGetVersion:  func(h uintptr, v *int32) int32 { *v = 120800; return 0 },
		cublasSgemm: func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32 {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.ok("cublasSgemm") != 0 {
				return 14 // CUBLAS_STATUS_INTERNAL_ERROR
			}
			if code := f.gemm32(ta, tb, m, n, k, *alpha, a, lda, 0, b, ldb, 0, *beta, c, ldc, 0, 1); code != 0 {
				return code
			}
			f.blas = append(f.blas, "sgemm")
			return 0
		},
		cublasSgemmStridedBatched: func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64, beta *float32, c uint64, ldc int32, sc int64, batch int32) int32 {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.ok("cublasSgemmStridedBatched") != 0 {
				return 14
			}
			if code := f.gemm32(ta, tb, m, n, k, *alpha, a, lda, sa, b, ldb, sb, *beta, c, ldc, sc, batch); code != 0 {
				return code
			}
			f.blas = append(f.blas, "sgemm-batched")
			return 0
		},
		cublasDgemm: func(h uintptr, ta, tb int32, m, n, k int32, alpha *float64, a uint64, lda int32, b uint64, ldb int32, beta *float64, c uint64, ldc int32) int32 {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.ok("cublasDgemm") != 0 {
				return 14
			}
			ra, ca, rb, cb, ok := gemmOperands(ta, tb, m, n, k, lda, ldb, ldc)
			if !ok {
				return 7 // CUBLAS_STATUS_INVALID_VALUE
			}
			if m > 0 && n > 0 {
				A := f.devF64(a, colSpan(ra, ca, lda))
				B := f.devF64(b, colSpan(rb, cb, ldb))
				C := f.devF64(c, colSpan(int(m), int(n), ldc))
				colMajorGemm(ta, tb, int(m), int(n), int(k), *alpha, A, int(lda), B, int(ldb), *beta, C, int(ldc))
			}
			f.blas = append(f.blas, "dgemm")
			return 0
		},
		cublasGetStatusName:   func(s int32) string { return cublasStatusNames[int(s)] },
		cublasGetStatusString: func(s int32) string { return "fake status" },
	}, nil
}

// open starts a Device on the fake.
func (f *fakeGPU) open(opts Options) (*Device, error) {
	return openWith(libraries{f.driver(), f.nvrtc, f.cublas}, 0, opts)
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
// float64 and rounds C, returning a cuBLAS status.
func (f *fakeGPU) gemm32(ta, tb int32, m, n, k int32, alpha float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64,
	beta float32, c uint64, ldc int32, sc int64, batch int32) int32 {
	ra, ca, rb, cb, ok := gemmOperands(ta, tb, m, n, k, lda, ldb, ldc)
	if !ok || batch < 0 {
		return 7 // CUBLAS_STATUS_INVALID_VALUE
	}
	if m == 0 || n == 0 {
		return 0
	}
	for i := int64(0); i < int64(batch); i++ {
		A := widen(f.f32s(a+uint64(4*i*sa), colSpan(ra, ca, lda)))
		B := widen(f.f32s(b+uint64(4*i*sb), colSpan(rb, cb, ldb)))
		C32 := f.f32s(c+uint64(4*i*sc), colSpan(int(m), int(n), ldc))
		C := widen(C32)
		colMajorGemm(ta, tb, int(m), int(n), int(k), float64(alpha), A, int(lda), B, int(ldb), float64(beta), C, int(ldc))
		for j := 0; j < int(n); j++ {
			for r := 0; r < int(m); r++ {
				C32[r+j*int(ldc)] = float32(C[r+j*int(ldc)])
			}
		}
	}
	return 0
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

// kernelDecl matches a kernel's C declaration in the sources.
var kernelDecl = regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)

// OpenEmulator returns a Device on a Go emulation of the CUDA driver, NVRTC
// and cuBLAS over memBytes of host memory, which runs every kernel of
// kernels/*.cu through a Go transcription (emulator_kernels.go) and cuBLAS's
// GEMMs in float64. It is for tests of code above this package on machines
// without a GPU: launch arguments, shapes, strides, the thread rule and the
// order of operations are exercised for real, the arithmetic only as the
// transcriptions do it. It is slow, its memory is never given back (freed
// blocks stay with the Device's pool), and it proves nothing about the CUDA
// C itself, which only a GPU checks. Its Info names a "Fake GPU".
func OpenEmulator(memBytes int, opts Options) (*Device, error) {
	f := newFakeGPU(memBytes)
	f.noRecord = true
	if opts.CacheDir == "" {
		opts.NoDiskCache = true
	}
	return f.open(opts)
}
