package cuda

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"
)

// ArgKind is the C type of one kernel parameter.
type ArgKind uint8

// Kernel parameter types. Every value occupies one 8-byte slot; a 4-byte
// value sits in the slot's low bytes (little-endian), where a kernel reads it.
const (
	ArgPtrF32 ArgKind = iota + 1 // float* or const float*
	ArgPtrF64                    // double*
	ArgPtrI32                    // int*
	ArgF32                       // float
	ArgF64                       // double
	ArgI32                       // int
	ArgI64                       // long long (i64)
)

var argKindNames = [...]string{ArgPtrF32: "float*", ArgPtrF64: "double*", ArgPtrI32: "int*",
	ArgF32: "float", ArgF64: "double", ArgI32: "int", ArgI64: "i64"}

// String is the C type, e.g. "float*", or "i64" for long long.
func (k ArgKind) String() string {
	if int(k) < len(argKindNames) && argKindNames[k] != "" {
		return argKindNames[k]
	}
	return fmt.Sprintf("ArgKind(%d)", uint8(k))
}

// KernelArgs packs the parameters of one kernel launch the way
// cuLaunchKernel takes them: an array of pointers (void**), the i-th
// pointing at the value of parameter i. Values live in one Go array of
// 8-byte slots; at launch that array is pinned (runtime.Pinner) so that
// the pointer array, which refers to it, may be passed to C.
type KernelArgs struct {
	slots []uint64
	kinds []ArgKind
}

// NewKernelArgs returns an empty argument list with room for n parameters.
func NewKernelArgs(n int) *KernelArgs {
	return &KernelArgs{slots: make([]uint64, 0, n), kinds: make([]ArgKind, 0, n)}
}

func (a *KernelArgs) add(k ArgKind, v uint64) *KernelArgs {
	a.slots = append(a.slots, v)
	a.kinds = append(a.kinds, k)
	return a
}

// F32Ptr appends a float* parameter.
func (a *KernelArgs) F32Ptr(b *F32) *KernelArgs { return a.add(ArgPtrF32, uint64(b.Ptr())) }

// F64Ptr appends a double* parameter.
func (a *KernelArgs) F64Ptr(b *F64) *KernelArgs { return a.add(ArgPtrF64, uint64(b.Ptr())) }

// I32Ptr appends an int* parameter.
func (a *KernelArgs) I32Ptr(b *I32) *KernelArgs { return a.add(ArgPtrI32, uint64(b.Ptr())) }

// F32 appends a float parameter.
func (a *KernelArgs) F32(v float32) *KernelArgs { return a.add(ArgF32, uint64(math.Float32bits(v))) }

// F64 appends a double parameter.
func (a *KernelArgs) F64(v float64) *KernelArgs { return a.add(ArgF64, math.Float64bits(v)) }

// I32 appends an int parameter.
func (a *KernelArgs) I32(v int32) *KernelArgs { return a.add(ArgI32, uint64(uint32(v))) }

// Int appends an int parameter from a Go int, panicking if it does not fit.
func (a *KernelArgs) Int(v int) *KernelArgs {
	if v < math.MinInt32 || v > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: kernel argument %d does not fit a C int", v))
	}
	return a.I32(int32(v))
}

// I64 appends a long long parameter.
func (a *KernelArgs) I64(v int64) *KernelArgs { return a.add(ArgI64, uint64(v)) }

// Bool appends an int parameter, 1 for true and 0 for false.
func (a *KernelArgs) Bool(v bool) *KernelArgs {
	if v {
		return a.I32(1)
	}
	return a.I32(0)
}

// Kinds returns the parameter types appended so far.
func (a *KernelArgs) Kinds() []ArgKind { return a.kinds }

// signature is e.g. "(float*, float, i64)".
func signature(kinds []ArgKind) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = k.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// packed is KernelArgs ready for C: params[i] is the address of slot i.
type packed struct {
	params []uintptr
	pin    runtime.Pinner
}

// pack pins the slots and builds the void** array. The caller must call
// unpin after the C call.
func (a *KernelArgs) pack() *packed {
	p := &packed{params: make([]uintptr, len(a.slots))}
	if len(a.slots) > 0 {
		p.pin.Pin(&a.slots[0]) // pins the whole backing array
	}
	for i := range a.slots {
		p.params[i] = uintptr(unsafe.Pointer(&a.slots[i]))
	}
	return p
}

// ptr is the void** for cuLaunchKernel (nil when there are no parameters).
func (p *packed) ptr() unsafe.Pointer {
	if len(p.params) == 0 {
		return nil
	}
	return unsafe.Pointer(&p.params[0])
}

func (p *packed) unpin(a *KernelArgs) {
	p.pin.Unpin()
	runtime.KeepAlive(a.slots)
	runtime.KeepAlive(p.params)
}
