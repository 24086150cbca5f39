package cuda

import (
	"runtime"
	"unsafe"
)

// goString copies the NUL-terminated C string at p (memory owned by C, for
// example a status name from cuGetErrorName) into a Go string. nil gives "".
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

// cStringArray is a C array of NUL-terminated strings (const char* const*)
// built from Go memory. The strings are pinned (runtime.Pinner), which is
// what allows Go memory that holds pointers to Go memory to be handed to C;
// call free after the C call that reads them has returned.
type cStringArray struct {
	bufs [][]byte
	ptrs []uintptr // ptrs[i] is the address of bufs[i][0]
	pin  runtime.Pinner
}

func newCStringArray(ss []string) *cStringArray {
	a := &cStringArray{bufs: make([][]byte, len(ss)), ptrs: make([]uintptr, len(ss))}
	for i, s := range ss {
		b := make([]byte, len(s)+1)
		copy(b, s)
		a.pin.Pin(&b[0])
		a.bufs[i] = b
		a.ptrs[i] = uintptr(unsafe.Pointer(&b[0]))
	}
	return a
}

// ptr is the array's address for C, or nil when it is empty.
func (a *cStringArray) ptr() unsafe.Pointer {
	if len(a.ptrs) == 0 {
		return nil
	}
	return unsafe.Pointer(&a.ptrs[0])
}

func (a *cStringArray) free() {
	a.pin.Unpin()
	runtime.KeepAlive(a.bufs)
}
