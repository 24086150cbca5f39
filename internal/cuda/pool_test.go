package cuda

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeAllocator hands out increasing addresses and fails when the bytes it
// has out would exceed limit (0: no limit).
type fakeAllocator struct {
	next, out, limit uint64
	live             map[DevicePtr]uint64
	allocs, frees    int
}

func newFakeAllocator(limit uint64) *fakeAllocator {
	return &fakeAllocator{next: 0x10000, limit: limit, live: map[DevicePtr]uint64{}}
}

var errFakeOOM = errors.New("fake: out of memory")

func (f *fakeAllocator) alloc(n uint64) (DevicePtr, error) {
	if f.limit > 0 && f.out+n > f.limit {
		return 0, errFakeOOM
	}
	p := DevicePtr(f.next)
	f.next += n
	f.out += n
	f.live[p] = n
	f.allocs++
	return p, nil
}

func (f *fakeAllocator) free(p DevicePtr) error {
	n, ok := f.live[p]
	if !ok {
		return errors.New("fake: free of an unknown block")
	}
	delete(f.live, p)
	f.out -= n
	f.frees++
	return nil
}

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want uint64 }{
		{1, 256}, {256, 256}, {257, 512}, {1000, 1024}, {4096, 4096},
		{4097, 5120}, {5120, 5120}, {5121, 6144}, {7169, 8192}, {8192, 8192},
		{1<<20 + 1, 1<<20 + 1<<18}, {100 << 20, 112 << 20},
	} {
		require.Equal(t, c.want, sizeClass(c.n), "n = %d", c.n)
	}
	prev := uint64(0)
	for n := uint64(1); n < 1<<22; n = n*9/8 + 1 {
		c := sizeClass(n)
		require.GreaterOrEqual(t, c, n)
		require.GreaterOrEqual(t, c, prev, "monotone")
		if n > 4096 {
			require.Less(t, float64(c), 1.25*float64(n), "waste under 25%% at n = %d", n)
		}
		prev = c
	}
}

func TestPoolReuse(t *testing.T) {
	f := newFakeAllocator(0)
	p := newPool(f)
	a, err := p.Get(1000)
	require.NoError(t, err)
	b, err := p.Get(3000)
	require.NoError(t, err)
	require.Equal(t, PoolStats{Allocs: 2, Live: 2, LiveBytes: 1024 + 4096}, p.Stats())

	p.Put(a)
	require.Equal(t, PoolStats{Allocs: 2, Live: 1, LiveBytes: 4096, CachedBytes: 1024}, p.Stats())
	c, err := p.Get(900) // same size class as a
	require.NoError(t, err)
	require.Equal(t, a, c)
	require.Equal(t, 2, f.allocs, "served from the free list")
	require.Equal(t, PoolStats{Allocs: 2, Reuses: 1, Live: 2, LiveBytes: 1024 + 4096}, p.Stats())

	require.Panics(t, func() { p.Put(0xdead) }, "not a live block")
	p.Put(b)
	require.Panics(t, func() { p.Put(b) }, "double free")
	p.Put(c)
	require.NoError(t, p.Trim())
	require.Equal(t, PoolStats{Allocs: 2, Reuses: 1, Frees: 2}, p.Stats())
	require.Empty(t, f.live)
	require.Panics(t, func() { _, _ = p.Get(0) })
}

func TestPoolTrimsAndRetriesWhenFull(t *testing.T) {
	f := newFakeAllocator(8192)
	p := newPool(f)
	a, err := p.Get(4096)
	require.NoError(t, err)
	b, err := p.Get(4096)
	require.NoError(t, err)
	p.Put(a)
	p.Put(b)
	// 8 KiB are cached in the 4 KiB class; a 6 KiB block only fits after
	// they go back to the allocator.
	c, err := p.Get(6000)
	require.NoError(t, err)
	s := p.Stats()
	require.Equal(t, 2, s.Frees)
	require.Equal(t, uint64(0), s.CachedBytes)
	require.Equal(t, uint64(6144), s.LiveBytes)

	_, err = p.Get(4096) // nothing cached to give back: the error comes through
	require.ErrorIs(t, err, errFakeOOM)
	p.Put(c)
	require.Equal(t, PoolStats{Allocs: 3, Frees: 2, CachedBytes: 6144}, p.Stats())
}
