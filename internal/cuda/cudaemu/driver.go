package cudaemu

import (
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// CUresult values the emulated driver returns (cuda.h).
const (
	cudaSuccess             = 0
	cudaErrorInvalidValue   = 1
	cudaErrorOutOfMemory    = 2
	cudaErrorInvalidDevice  = 101
	cudaErrorInvalidContext = 201
	cudaErrorInvalidPTX     = 218
	cudaErrorNotFound       = 500
)

// driverStatuses are the names and descriptions cuGetErrorName and
// cuGetErrorString give, as C strings.
var driverStatuses = sync.OnceValue(func() map[int32][2]*byte {
	out := map[int32][2]*byte{}
	for code, nd := range map[int32][2]string{
		cudaErrorInvalidValue:   {"CUDA_ERROR_INVALID_VALUE", "invalid argument"},
		cudaErrorOutOfMemory:    {"CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
		cudaErrorInvalidDevice:  {"CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
		cudaErrorInvalidContext: {"CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
		cudaErrorInvalidPTX:     {"CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
		cudaErrorNotFound:       {"CUDA_ERROR_NOT_FOUND", "named symbol not found"},
	} {
		out[code] = [2]*byte{cString(nd[0]), cString(nd[1])}
	}
	return out
})

// CUdevice_attribute values the emulated driver answers (cuda.h).
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

// primaryCtx is the handle of the device's primary context.
const primaryCtx = 0xC0

// inContext counts a driver call and returns CUDA_ERROR_INVALID_CONTEXT
// unless the calling thread has the context current, as the driver
// requires. g is locked.
func (g *GPU) inContext(symbol string) int32 {
	g.calls[symbol]++
	if g.current[gettid()] != primaryCtx {
		return cudaErrorInvalidContext
	}
	return cudaSuccess
}

// driver is the emulated libcuda, its functions under the symbols package
// cuda binds.
func (g *GPU) driver() cuda.Library {
	return cuda.Library{Name: "libcuda.so.1 (cudaemu)", Funcs: map[string]any{
		"cuInit":             func(flags uint32) int32 { return cudaSuccess },
		"cuDriverGetVersion": func(v *int32) int32 { *v = driverVersion; return cudaSuccess },
		"cuDeviceGetCount":   func(n *int32) int32 { *n = 1; return cudaSuccess },
		"cuDeviceGet": func(dev *int32, ordinal int32) int32 {
			if ordinal != 0 {
				return cudaErrorInvalidDevice
			}
			*dev = 0
			return cudaSuccess
		},
		"cuDeviceGetName": func(name *byte, n int32, dev int32) int32 {
			copy(unsafe.Slice(name, n), deviceName+"\x00")
			return cudaSuccess
		},
		"cuDeviceGetAttribute": func(v *int32, attr int32, dev int32) int32 {
			switch attr {
			case attrComputeCapabilityMajor:
				*v = deviceMajor
			case attrComputeCapabilityMinor:
				*v = deviceMinor
			case attrMultiprocessorCount:
				*v = deviceSMs
			default:
				return cudaErrorInvalidValue
			}
			return cudaSuccess
		},
		"cuDeviceTotalMem_v2": func(b *uint64, dev int32) int32 { *b = uint64(len(g.mem)); return cudaSuccess },
		"cuDevicePrimaryCtxRetain": func(ctx *uintptr, dev int32) int32 {
			defer g.lock()()
			g.retained++
			*ctx = primaryCtx
			return cudaSuccess
		},
		"cuDevicePrimaryCtxRelease_v2": func(dev int32) int32 {
			defer g.lock()()
			g.retained--
			return cudaSuccess
		},
		"cuCtxSetCurrent": func(ctx uintptr) int32 {
			defer g.lock()()
			g.current[gettid()] = ctx
			return cudaSuccess
		},
		"cuCtxSynchronize": func() int32 { defer g.lock()(); return g.inContext("cuCtxSynchronize") },
		"cuMemGetInfo_v2": func(free, total *uint64) int32 {
			defer g.lock()()
			*total = uint64(len(g.mem))
			*free = *total - g.next
			return g.inContext("cuMemGetInfo_v2")
		},
		"cuMemAlloc_v2": func(p *uint64, n uint64) int32 {
			defer g.lock()()
			if code := g.inContext("cuMemAlloc_v2"); code != cudaSuccess {
				return code
			}
			addr, ok := g.alloc(n)
			if !ok {
				return cudaErrorOutOfMemory
			}
			*p = addr
			return cudaSuccess
		},
		"cuMemFree_v2": func(p uint64) int32 {
			defer g.lock()()
			if code := g.inContext("cuMemFree_v2"); code != cudaSuccess {
				return code
			}
			if _, ok := g.live[p]; !ok {
				return cudaErrorInvalidValue
			}
			delete(g.live, p)
			return cudaSuccess
		},
		"cuMemcpyHtoD_v2": func(dst uint64, src unsafe.Pointer, n uint64) int32 {
			defer g.lock()()
			if code := g.inContext("cuMemcpyHtoD_v2"); code != cudaSuccess {
				return code
			}
			copy(g.bytes(dst, n), hostBytes(src, n))
			return cudaSuccess
		},
		"cuMemcpyDtoH_v2": func(dst unsafe.Pointer, src uint64, n uint64) int32 {
			defer g.lock()()
			if code := g.inContext("cuMemcpyDtoH_v2"); code != cudaSuccess {
				return code
			}
			copy(hostBytes(dst, n), g.bytes(src, n))
			return cudaSuccess
		},
		"cuMemcpyDtoD_v2": func(dst, src uint64, n uint64) int32 {
			defer g.lock()()
			if code := g.inContext("cuMemcpyDtoD_v2"); code != cudaSuccess {
				return code
			}
			copy(g.bytes(dst, n), g.bytes(src, n))
			return cudaSuccess
		},
		"cuMemsetD32_v2": func(dst uint64, v uint32, n uint64) int32 {
			defer g.lock()()
			if code := g.inContext("cuMemsetD32_v2"); code != cudaSuccess {
				return code
			}
			words := deviceSlice[uint32](g, dst, int(n))
			for i := range words {
				words[i] = v
			}
			return cudaSuccess
		},
		"cuModuleLoadData": func(m *uintptr, image unsafe.Pointer) int32 {
			defer g.lock()()
			if code := g.inContext("cuModuleLoadData"); code != cudaSuccess {
				return code
			}
			mod, ok := parsePTX(goString((*byte)(image)))
			if !ok {
				return cudaErrorInvalidPTX
			}
			h := uintptr(len(g.modules) + 1)
			g.modules[h] = mod
			*m = h
			return cudaSuccess
		},
		"cuModuleUnload": func(m uintptr) int32 {
			defer g.lock()()
			delete(g.modules, m)
			return g.inContext("cuModuleUnload")
		},
		"cuModuleGetFunction": func(fn *uintptr, m uintptr, name string) int32 {
			defer g.lock()()
			if code := g.inContext("cuModuleGetFunction"); code != cudaSuccess {
				return code
			}
			mod, ok := g.modules[m]
			if !ok {
				return cudaErrorInvalidValue
			}
			i := slices.IndexFunc(mod.entries, func(e entry) bool { return e.name == name })
			if i < 0 {
				return cudaErrorNotFound
			}
			*fn = m<<16 | uintptr(i+1)
			return cudaSuccess
		},
		"cuLaunchKernel": func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params, extra unsafe.Pointer) int32 {
			defer g.lock()()
			if code := g.inContext("cuLaunchKernel"); code != cudaSuccess {
				return code
			}
			mod, ok := g.modules[fn>>16]
			if !ok || fn&0xffff == 0 || int(fn&0xffff) > len(mod.entries) {
				return cudaErrorInvalidValue
			}
			e := mod.entries[fn&0xffff-1]
			l := &launch{g: g, kernel: e.name, grid: cuda.Dim3{X: gx, Y: gy, Z: gz}, block: cuda.Dim3{X: bx, Y: by, Z: bz},
				args: decodeArgs(e.params, params)}
			if g.record {
				g.launches = append(g.launches, Launch{Kernel: l.kernel, Grid: l.grid, Block: l.block, Args: l.args})
			}
			l.run()
			return cudaSuccess
		},
		"cuStreamCreate":      func(s *uintptr, flags uint32) int32 { *s = 1; return cudaSuccess },
		"cuStreamDestroy_v2":  func(s uintptr) int32 { return cudaSuccess },
		"cuStreamSynchronize": func(s uintptr) int32 { return cudaSuccess },
		"cuGetErrorName": func(code int32, s **byte) int32 {
			nd, ok := driverStatuses()[code]
			if !ok {
				return cudaErrorInvalidValue
			}
			*s = nd[0]
			return cudaSuccess
		},
		"cuGetErrorString": func(code int32, s **byte) int32 {
			nd, ok := driverStatuses()[code]
			if !ok {
				return cudaErrorInvalidValue
			}
			*s = nd[1]
			return cudaSuccess
		},
	}}
}

// decodeArgs reads a launch's parameters (cuLaunchKernel's void** array,
// one 8-byte slot per parameter) by the kernel's C parameter types: a
// cuda.DevicePtr, float32, float64, int32 or int64 each.
func decodeArgs(kinds []cuda.ArgKind, params unsafe.Pointer) []any {
	if len(kinds) == 0 {
		return nil
	}
	addrs := unsafe.Slice((*uintptr)(params), len(kinds))
	args := make([]any, len(kinds))
	for i, k := range kinds {
		slot := *atAddress[uint64](addrs[i])
		switch k {
		case cuda.ArgPtrF32, cuda.ArgPtrF64, cuda.ArgPtrI32:
			args[i] = cuda.DevicePtr(slot)
		case cuda.ArgF32:
			args[i] = math.Float32frombits(uint32(slot))
		case cuda.ArgF64:
			args[i] = math.Float64frombits(slot)
		case cuda.ArgI32:
			args[i] = int32(uint32(slot))
		case cuda.ArgI64:
			args[i] = int64(slot)
		}
	}
	return args
}
