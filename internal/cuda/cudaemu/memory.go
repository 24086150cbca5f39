package cudaemu

import (
	"fmt"
	"unsafe"
)

// memBase is the device address of the first byte of a GPU's memory.
const memBase = 0x7000_0000_0000

// allocAlign is the alignment of every allocation, as cuMemAlloc's.
const allocAlign = 256

// alloc takes n bytes of device memory, or reports false when the limit or
// the memory is exhausted (CUDA_ERROR_OUT_OF_MEMORY). g is locked.
func (g *GPU) alloc(n uint64) (uint64, bool) {
	inUse := uint64(0)
	for _, s := range g.live {
		inUse += s
	}
	limit := g.limit
	if limit == 0 {
		limit = uint64(len(g.mem))
	}
	if inUse+n > limit || g.next+n > uint64(len(g.mem)) {
		return 0, false
	}
	p := memBase + g.next
	g.live[p] = n
	g.next += (n + allocAlign - 1) / allocAlign * allocAlign
	return p, true
}

// bytes returns the n bytes of device memory at address p. An address
// outside the memory means a wrong pointer reached the driver: it panics.
func (g *GPU) bytes(p uint64, n uint64) []byte {
	if p < memBase || p-memBase+n > uint64(len(g.mem)) {
		panic(fmt.Sprintf("cudaemu: access of %d bytes at %#x outside device memory", n, p))
	}
	return g.mem[p-memBase : p-memBase+n]
}

// deviceSlice views n elements of type T of device memory at address p.
func deviceSlice[T float32 | float64 | int32 | uint32](g *GPU, p uint64, n int) []T {
	if n == 0 {
		return nil
	}
	var z T
	b := g.bytes(p, uint64(n)*uint64(unsafe.Sizeof(z)))
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// hostBytes views n bytes of host memory handed to the driver.
func hostBytes(p unsafe.Pointer, n uint64) []byte { return unsafe.Slice((*byte)(p), n) }

// atAddress reads the value of type T at an address received in a C
// pointer array (kernel parameters, option strings): pinned Go memory,
// alive for the call.
func atAddress[T any](addr uintptr) *T { return *(**T)(unsafe.Pointer(&addr)) }

// goString copies the NUL-terminated string at p.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cString is s as a NUL-terminated C string, kept alive by the caller.
func cString(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}
