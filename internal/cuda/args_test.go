package cuda

import (
	"math"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestKernelArgsPacking(t *testing.T) {
	x := &F32{ptr: 0x7f00_0000_1000, n: 4}
	y := &F64{ptr: 0x7f00_0000_2000, n: 4}
	ts := &I32{ptr: 0x7f00_0000_3000, n: 4}
	a := NewKernelArgs(8).F32Ptr(x).F64Ptr(y).I32Ptr(ts).F32(-1.5).F64(math.Pi).I32(-7).I64(-1 << 40).Bool(true)

	require.Equal(t, []ArgKind{ArgPtrF32, ArgPtrF64, ArgPtrI32, ArgF32, ArgF64, ArgI32, ArgI64, ArgI32}, a.Kinds())
	require.Equal(t, "(float*, double*, int*, float, double, int, i64, int)", signature(a.Kinds()))

	p := a.pack()
	defer p.unpin(a)
	require.Len(t, p.params, 8)
	require.Equal(t, unsafe.Pointer(&p.params[0]), p.ptr())
	for i := range p.params {
		require.Equal(t, uintptr(unsafe.Pointer(&a.slots[i])), p.params[i], "params[%d] points at slot %d", i, i)
	}
	// What the kernel reads at each address: 8 bytes for pointers, double
	// and long long; the low 4 bytes (little-endian) for float and int.
	low := func(i int) uint32 { return *(*uint32)(unsafe.Pointer(&a.slots[i])) }
	require.Equal(t, uint64(0x7f00_0000_1000), a.slots[0])
	require.Equal(t, uint64(0x7f00_0000_2000), a.slots[1])
	require.Equal(t, uint64(0x7f00_0000_3000), a.slots[2])
	require.Equal(t, float32(-1.5), math.Float32frombits(low(3)))
	require.Equal(t, math.Pi, math.Float64frombits(a.slots[4]))
	require.Equal(t, int32(-7), int32(low(5)))
	require.Equal(t, int64(-1<<40), int64(a.slots[6]))
	require.Equal(t, int32(1), int32(low(7)))
	require.Zero(t, a.slots[3]>>32, "the high half of a 4-byte slot is zero")

	require.Nil(t, NewKernelArgs(0).pack().ptr())
}

func TestKernelArgsIntRange(t *testing.T) {
	require.Panics(t, func() { NewKernelArgs(1).Int(math.MaxInt32 + 1) })
	require.NotPanics(t, func() { NewKernelArgs(1).Int(math.MinInt32) })
}

func TestLaunchChecksSignature(t *testing.T) {
	var d *Device // the checks come before any use of the device
	x := &F32{ptr: 0x1000, n: 4}
	require.PanicsWithValue(t, "cuda: kernel fill_f32 takes (float*, float, i64), called with (float*, float, int)", func() {
		_ = d.Launch("fill_f32", Dim3{1, 1, 1}, Dim3{256, 1, 1}, 0, NewKernelArgs(3).F32Ptr(x).F32(1).I32(4))
	})
	require.PanicsWithValue(t, `cuda: unknown kernel "nope"`, func() {
		_ = d.Launch("nope", Dim3{1, 1, 1}, Dim3{256, 1, 1}, 0, NewKernelArgs(0))
	})
	require.Panics(t, func() {
		_ = d.Launch("fill_f32", Dim3{0, 1, 1}, Dim3{256, 1, 1}, 0, NewKernelArgs(3).F32Ptr(x).F32(1).I64(4))
	})
}

func TestCStringArray(t *testing.T) {
	a := newCStringArray([]string{"--gpu-architecture=compute_90", ""})
	defer a.free()
	require.Len(t, a.ptrs, 2)
	for i, s := range []string{"--gpu-architecture=compute_90", ""} {
		require.Equal(t, uintptr(unsafe.Pointer(&a.bufs[i][0])), a.ptrs[i])
		require.Equal(t, s, goString(&a.bufs[i][0]), "NUL-terminated copy")
	}
	require.Nil(t, newCStringArray(nil).ptr())
	require.Equal(t, "", goString(nil))
}

func TestBufferBookkeepingWithoutDevice(t *testing.T) {
	b := &F32{ptr: 0x1000, n: 10}
	v := b.View(2, 5)
	require.Equal(t, DevicePtr(0x1000+2*4), v.Ptr())
	require.Equal(t, 5, v.Len())
	require.Equal(t, uint64(20), v.Bytes())
	w := (&F64{ptr: 0x2000, n: 10}).View(3, 0)
	require.Equal(t, DevicePtr(0x2000+3*8), w.Ptr())
	require.Panics(t, func() { b.View(6, 5) })
	require.Panics(t, func() { b.View(-1, 1) })
	require.Panics(t, func() { v.Free() }, "views are not freed")
	require.Panics(t, func() { _ = b.CopyFromHost(make([]float32, 3)) }, "length mismatch")
}
