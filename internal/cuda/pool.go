package cuda

import (
	"fmt"
	"math/bits"
	"slices"
)

// DevicePtr is an address in device memory (a CUdeviceptr).
type DevicePtr uint64

// allocator is where a Pool gets and returns device memory: the driver's
// cuMemAlloc/cuMemFree, or a fake in tests.
type allocator interface {
	alloc(bytes uint64) (DevicePtr, error)
	free(p DevicePtr) error
}

// minBlock is the smallest size class in bytes (256-byte aligned blocks
// also keep float4 loads aligned).
const minBlock = 256

// sizeClass rounds a request of n > 0 bytes up to its size class: 256
// bytes at least, powers of two up to 4 KiB, and above that four classes
// per octave, 2^k·{1, 1.25, 1.5, 1.75}, so a block wastes under 25%.
func sizeClass(n uint64) uint64 {
	if n <= minBlock {
		return minBlock
	}
	if n <= 4096 {
		return 1 << bits.Len64(n-1)
	}
	k := bits.Len64(n-1) - 1 // 2^k < n ≤ 2^(k+1)
	step := uint64(1) << (k - 2)
	return (n + step - 1) / step * step
}

// PoolStats counts a Pool's work. Tests and benchmarks read it to check
// that steady-state training does not call the driver's allocator.
type PoolStats struct {
	Allocs      int    // blocks obtained from the driver
	Reuses      int    // requests served from a free list
	Frees       int    // blocks returned to the driver (Trim, Close, or to retry a failed allocation)
	Live        int    // blocks handed out and not yet put back
	LiveBytes   uint64 // their size-class bytes
	CachedBytes uint64 // bytes held in free lists
}

// Pool caches device memory in free lists by size class, so that freeing
// and allocating again (every training step) costs no driver call. It is
// not safe for concurrent use: a Device calls it only on its worker.
type Pool struct {
	a     allocator
	free  map[uint64][]DevicePtr // size class → cached blocks
	live  map[DevicePtr]uint64   // block → its size class
	stats PoolStats
}

func newPool(a allocator) *Pool {
	return &Pool{a: a, free: map[uint64][]DevicePtr{}, live: map[DevicePtr]uint64{}}
}

// Get returns a block of at least n bytes (n > 0), from a free list if one
// of n's size class is cached, else from the allocator. If the allocator
// fails and blocks are cached, they are freed and the allocation is tried
// once more.
func (p *Pool) Get(n uint64) (DevicePtr, error) {
	if n == 0 {
		panic("cuda: Pool.Get of 0 bytes")
	}
	c := sizeClass(n)
	if list := p.free[c]; len(list) > 0 {
		ptr := list[len(list)-1]
		p.free[c] = list[:len(list)-1]
		p.stats.Reuses++
		p.stats.CachedBytes -= c
		p.hand(ptr, c)
		return ptr, nil
	}
	ptr, err := p.a.alloc(c)
	if err != nil && p.stats.CachedBytes > 0 {
		if terr := p.Trim(); terr != nil {
			return 0, terr
		}
		ptr, err = p.a.alloc(c)
	}
	if err != nil {
		return 0, err
	}
	p.stats.Allocs++
	p.hand(ptr, c)
	return ptr, nil
}

func (p *Pool) hand(ptr DevicePtr, c uint64) {
	p.live[ptr] = c
	p.stats.Live++
	p.stats.LiveBytes += c
}

// Put returns a block obtained from Get to its free list. Putting a block
// that is not live (twice, or never obtained) panics.
func (p *Pool) Put(ptr DevicePtr) {
	c, ok := p.live[ptr]
	if !ok {
		panic(fmt.Sprintf("cuda: Pool.Put of %#x, which is not a live block", uint64(ptr)))
	}
	delete(p.live, ptr)
	p.stats.Live--
	p.stats.LiveBytes -= c
	p.free[c] = append(p.free[c], ptr)
	p.stats.CachedBytes += c
}

// Trim returns every cached block to the allocator (largest first) and
// keeps the first error.
func (p *Pool) Trim() error {
	classes := make([]uint64, 0, len(p.free))
	for c := range p.free {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	slices.Reverse(classes)
	var first error
	for _, c := range classes {
		for _, ptr := range p.free[c] {
			if err := p.a.free(ptr); err != nil && first == nil {
				first = err
			}
			p.stats.Frees++
			p.stats.CachedBytes -= c
		}
		delete(p.free, c)
	}
	return first
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats { return p.stats }

// deviceAllocator allocates with the driver; it runs on the worker.
type deviceAllocator struct{ d *Device }

func (a deviceAllocator) alloc(bytes uint64) (DevicePtr, error) {
	var p uint64
	if err := a.d.drv.check("cuMemAlloc_v2", a.d.drv.cuMemAlloc(&p, bytes)); err != nil {
		return 0, err
	}
	return DevicePtr(p), nil
}

func (a deviceAllocator) free(p DevicePtr) error {
	return a.d.drv.check("cuMemFree_v2", a.d.drv.cuMemFree(uint64(p)))
}
