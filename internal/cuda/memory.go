package cuda

import (
	"fmt"
	"unsafe"
)

// Elem is an element type a Buffer can hold.
type Elem interface{ ~float32 | ~float64 | ~int32 }

// Buffer is a typed array of n elements in device memory, owned by a Device.
// A Buffer from Alloc owns a pool block; a view (View) shares its parent's
// memory and must not outlive it. Methods may be called from any goroutine
// (they go through Device.Do); using a freed buffer panics.
type Buffer[T Elem] struct {
	dev   *Device
	ptr   DevicePtr
	n     int
	view  bool
	freed bool
}

// F32, F64 and I32 are the buffer types the kernels use.
type (
	F32 = Buffer[float32]
	F64 = Buffer[float64]
	I32 = Buffer[int32]
)

func elemSize[T Elem]() uint64 {
	var z T
	return uint64(unsafe.Sizeof(z))
}

// Alloc returns an uninitialised buffer of n elements from d's pool.
func Alloc[T Elem](d *Device, n int) (*Buffer[T], error) {
	if n < 0 {
		panic(fmt.Sprintf("cuda: Alloc of %d elements", n))
	}
	b := &Buffer[T]{dev: d, n: n}
	if n == 0 {
		return b, nil
	}
	err := d.Do(func() error {
		p, err := d.pool.Get(uint64(n) * elemSize[T]())
		b.ptr = p
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Upload allocates a buffer holding a copy of src.
func Upload[T Elem](d *Device, src []T) (*Buffer[T], error) {
	b, err := Alloc[T](d, len(src))
	if err != nil {
		return nil, err
	}
	if err := b.CopyFromHost(src); err != nil {
		b.Free()
		return nil, err
	}
	return b, nil
}

// Len is the number of elements.
func (b *Buffer[T]) Len() int { return b.n }

// Bytes is the buffer's size in bytes.
func (b *Buffer[T]) Bytes() uint64 { return uint64(b.n) * elemSize[T]() }

// Device is the device the buffer lives on.
func (b *Buffer[T]) Device() *Device { return b.dev }

// Ptr is the device address of the first element (0 for an empty buffer).
func (b *Buffer[T]) Ptr() DevicePtr {
	b.mustLive()
	return b.ptr
}

func (b *Buffer[T]) mustLive() {
	if b.freed {
		panic("cuda: use of a freed buffer")
	}
}

// View returns the n elements starting at element off, sharing b's memory.
// A view is never freed; it is valid while b is.
func (b *Buffer[T]) View(off, n int) *Buffer[T] {
	b.mustLive()
	if off < 0 || n < 0 || off+n > b.n {
		panic(fmt.Sprintf("cuda: View(%d, %d) of a buffer of %d elements", off, n, b.n))
	}
	return &Buffer[T]{dev: b.dev, ptr: b.ptr + DevicePtr(uint64(off)*elemSize[T]()), n: n, view: true}
}

// Free returns the buffer's memory to the device's pool. Freeing a view
// or freeing twice panics.
func (b *Buffer[T]) Free() {
	if b.view {
		panic("cuda: Free of a view")
	}
	b.mustLive()
	b.freed = true
	if b.n == 0 {
		return
	}
	ptr := b.ptr
	b.ptr = 0
	// A closed device released its memory with its context.
	_ = b.dev.Do(func() error { b.dev.pool.Put(ptr); return nil })
}

// CopyFromHost copies src (len(src) == Len()) into the buffer.
func (b *Buffer[T]) CopyFromHost(src []T) error {
	b.mustLive()
	if len(src) != b.n {
		panic(fmt.Sprintf("cuda: CopyFromHost of %d elements into a buffer of %d", len(src), b.n))
	}
	if b.n == 0 {
		return nil
	}
	d := b.dev
	return d.Do(func() error {
		return d.drv.check("cuMemcpyHtoD_v2", d.drv.cuMemcpyHtoD(uint64(b.ptr), unsafe.Pointer(&src[0]), b.Bytes()))
	})
}

// CopyToHost copies the buffer into dst (len(dst) == Len()). It waits for
// the work queued before it on the device.
func (b *Buffer[T]) CopyToHost(dst []T) error {
	b.mustLive()
	if len(dst) != b.n {
		panic(fmt.Sprintf("cuda: CopyToHost of a buffer of %d elements into %d", b.n, len(dst)))
	}
	if b.n == 0 {
		return nil
	}
	d := b.dev
	return d.Do(func() error {
		return d.drv.check("cuMemcpyDtoH_v2", d.drv.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), uint64(b.ptr), b.Bytes()))
	})
}

// Download returns a new slice holding the buffer's elements.
func (b *Buffer[T]) Download() ([]T, error) {
	out := make([]T, b.n)
	if err := b.CopyToHost(out); err != nil {
		return nil, err
	}
	return out, nil
}

// CopyFrom copies src (same length, same device) into b on the device.
func (b *Buffer[T]) CopyFrom(src *Buffer[T]) error {
	b.mustLive()
	src.mustLive()
	if src.n != b.n || src.dev != b.dev {
		panic(fmt.Sprintf("cuda: CopyFrom of %d elements into %d (or across devices)", src.n, b.n))
	}
	if b.n == 0 {
		return nil
	}
	d := b.dev
	return d.Do(func() error {
		return d.drv.check("cuMemcpyDtoD_v2", d.drv.cuMemcpyDtoD(uint64(b.ptr), uint64(src.ptr), b.Bytes()))
	})
}

// Memset32 sets every 32-bit word of the buffer to v: Memset32(0) zeroes
// any buffer, and Memset32(0xFFFFFFFF) fills float32 and float64 buffers
// with NaN (tests poison outputs so that unwritten elements show).
func (b *Buffer[T]) Memset32(v uint32) error {
	b.mustLive()
	if b.n == 0 {
		return nil
	}
	d := b.dev
	return d.Do(func() error {
		return d.drv.check("cuMemsetD32_v2", d.drv.cuMemsetD32(uint64(b.ptr), v, b.Bytes()/4))
	})
}

// Zero sets every element to 0.
func (b *Buffer[T]) Zero() error { return b.Memset32(0) }
