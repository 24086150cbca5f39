package cuda_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// tolSgemm is relative to Σ_l |a_il·b_lj|: a full-FP32 GEMM stays near 1e-7
// there, while TF32 rounding (2^-11 per input) would give ≈3e-5 at K = 256,
// so the test also shows that TF32 is off by default.
const tolSgemm = 1e-5

// tolDgemm: float64 sums of up to 1e4 terms, relative to Σ|terms|.
const tolDgemm = 1e-12

func TestGPUDeviceInfo(t *testing.T) {
	d := requireGPU(t)
	info := d.Info()
	t.Logf("device: %s, %d SMs", info, info.SMs)
	require.GreaterOrEqual(t, info.Major, 3)
	require.Positive(t, info.SMs)
	require.Positive(t, info.TotalMem)
	require.NotEmpty(t, info.Name)
	free, total, err := d.MemInfo()
	require.NoError(t, err)
	require.LessOrEqual(t, free, total)
	require.Positive(t, total)
	t.Logf("memory: %d MiB free of %d MiB (cuMemGetInfo), %d MiB (cuDeviceTotalMem)", free>>20, total>>20, info.TotalMem>>20)
	arch, version, cached, err := d.KernelInfo()
	require.NoError(t, err)
	require.False(t, cached, "the shared device does not use the disk cache")
	require.LessOrEqual(t, arch, info.Arch())
	driverPath, nvrtcPath, err := d.LibraryPaths()
	require.NoError(t, err)
	t.Logf("kernels: compute_%d by NVRTC %s (%s); driver %s", arch, version, nvrtcPath, driverPath)
	n, err := DeviceCount()
	require.NoError(t, err)
	require.Positive(t, n)
	require.NoError(t, Available())
}

func TestGPUMemoryRoundTrip(t *testing.T) {
	d := requireGPU(t)
	r := rand.New(rand.NewPCG(6, 20))
	for _, n := range []int{1, 63, 4097, 1 << 20} {
		f32 := randF32(r, n, 1)
		f64 := RandFloats(r, n)
		i32 := make([]int32, n)
		for i := range i32 {
			i32[i] = r.Int32() - math.MaxInt32/2
		}
		require.Equal(t, f32, download(t, upload(t, d, f32)), "float32, n = %d", n)
		require.Equal(t, f64, download(t, upload(t, d, f64)), "float64, n = %d", n)
		require.Equal(t, i32, download(t, upload(t, d, i32)), "int32, n = %d", n)
	}

	// Views read and write the parent's memory at their offset.
	x := upload(t, d, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	v := x.View(3, 4)
	require.Equal(t, []float32{3, 4, 5, 6}, download(t, v))
	require.NoError(t, v.CopyFromHost([]float32{-3, -4, -5, -6}))
	require.NoError(t, d.Scale(v.View(1, 2), 10))
	require.Equal(t, []float32{0, 1, 2, -3, -40, -50, -6, 7, 8, 9}, download(t, x))

	y := poisoned[float32](t, d, 10)
	require.NoError(t, y.CopyFrom(x))
	require.Equal(t, download(t, x), download(t, y))
	require.NoError(t, y.View(8, 2).Zero())
	require.Equal(t, []float32{0, 1, 2, -3, -40, -50, -6, 7, 0, 0}, download(t, y))

	z := poisoned[float64](t, d, 3)
	for _, v := range download(t, z) {
		require.True(t, math.IsNaN(v), "Memset32(0xFFFFFFFF) is NaN in float64 too")
	}
	require.NoError(t, z.Zero())
	require.Equal(t, []float64{0, 0, 0}, download(t, z))

	empty, err := Alloc[float32](d, 0)
	require.NoError(t, err)
	require.NoError(t, empty.CopyFromHost(nil))
	require.Empty(t, download(t, empty))
	empty.Free()

	f, err := Alloc[float32](d, 5)
	require.NoError(t, err)
	f.Free()
	require.Panics(t, func() { f.Free() }, "double free")
	require.Panics(t, func() { _ = f.Zero() }, "use after free")
}

func TestGPUPoolReuse(t *testing.T) {
	d := openGPU(t, Options{NoDiskCache: true})
	a, err := Alloc[float32](d, 1000)
	require.NoError(t, err)
	before := d.PoolStats()
	require.Equal(t, 1, before.Live)
	a.Free()
	for range 5 { // a training loop: the same sizes every step
		b, err := Alloc[float32](d, 900) // same size class (4 KiB)
		require.NoError(t, err)
		c, err := Alloc[float64](d, 3)
		require.NoError(t, err)
		require.NoError(t, c.Zero())
		b.Free()
		c.Free()
	}
	s := d.PoolStats()
	require.Equal(t, before.Allocs+1, s.Allocs, "one new block (the float64 one), then reuse")
	require.Equal(t, 9, s.Reuses)
	require.Zero(t, s.Live)
	require.NoError(t, d.TrimPool())
	s = d.PoolStats()
	require.Zero(t, s.CachedBytes)
	require.Equal(t, s.Allocs, s.Frees)
}

func TestGPUThreadRule(t *testing.T) {
	d := requireGPU(t)

	// Many goroutines at once, each on whatever thread the scheduler
	// gives it: every call is carried out on the worker.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = func() error {
				x := make([]float32, 10000)
				for i := range x {
					x[i] = float32(g*100000 + i)
				}
				for range 20 {
					b, err := Upload(d, x)
					if err != nil {
						return err
					}
					if err := d.Scale(b, 2); err != nil {
						return err
					}
					got, err := b.Download()
					b.Free()
					if err != nil {
						return err
					}
					for i := range got {
						if got[i] != 2*x[i] {
							return fmt.Errorf("goroutine %d: element %d = %g, want %g", g, i, got[i], 2*x[i])
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// Do inside Do runs inline (no deadlock), on the worker's thread.
	var outer, inner int
	require.NoError(t, d.Do(func() error {
		outer = Gettid()
		return d.Do(func() error { inner = Gettid(); return nil })
	}))
	require.Equal(t, outer, inner)
	require.Equal(t, int64(outer), d.WorkerThread())

	// A panic in a job comes back to the caller; the worker survives.
	require.Panics(t, func() { _ = d.Do(func() error { panic("boom") }) })
	require.NoError(t, d.Synchronize())

	// The rule is real: on another OS thread, where no context is current,
	// the same driver call fails (CUDA_ERROR_INVALID_CONTEXT = 201).
	var code int32
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // a thread of its own; it ends with this goroutine
		var err error
		code, err = d.MemAllocHere(256)
		done <- err
	}()
	err := <-done
	t.Logf("cuMemAlloc off the worker thread: %v", err)
	require.Equal(t, int32(201), code)
}

func TestGPUDiskCache(t *testing.T) {
	dir := t.TempDir()
	d1 := openGPU(t, Options{CacheDir: dir})
	_, _, cached, err := d1.KernelInfo()
	require.NoError(t, err)
	require.False(t, cached, "first compilation")
	files, err := filepath.Glob(filepath.Join(dir, "kernels-*.ptx"))
	require.NoError(t, err)
	require.Len(t, files, 1)

	d2 := openGPU(t, Options{CacheDir: dir})
	_, _, cached, err = d2.KernelInfo()
	require.NoError(t, err)
	require.True(t, cached, "second device reads the PTX from disk")
	requireFillWorks(t, d2)

	// A damaged cache file is compiled again and replaced.
	require.NoError(t, os.WriteFile(files[0], []byte("not PTX\x00"), 0o644))
	d3 := openGPU(t, Options{CacheDir: dir})
	_, _, cached, err = d3.KernelInfo()
	require.NoError(t, err)
	require.False(t, cached)
	requireFillWorks(t, d3)
	data, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(data), ".entry fill_f32")
}

func requireFillWorks(t *testing.T, d *Device) {
	t.Helper()
	x, err := Alloc[float32](d, 100)
	require.NoError(t, err)
	defer x.Free()
	require.NoError(t, d.Fill(x, 7))
	got, err := x.Download()
	require.NoError(t, err)
	for _, v := range got {
		require.Equal(t, float32(7), v)
	}
}

func TestGPUErrors(t *testing.T) {
	d := requireGPU(t)
	_, err := Alloc[float32](d, 1<<40) // 4 TiB
	require.Error(t, err)
	t.Logf("allocating 4 TiB: %v", err)
	var e *Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, "cuMemAlloc_v2", e.Call)
	require.Equal(t, 2, e.Code)
	require.Equal(t, "cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)", err.Error())
	requireFillWorks(t, d) // the device is still usable
}

func TestGPUClose(t *testing.T) {
	d, err := Open(0, Options{NoDiskCache: true})
	skipOrFail(t, err)
	require.Panics(t, func() { _ = d.Do(func() error { return d.Close() }) }, "Close inside Do")
	x, err := Alloc[float32](d, 10)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "second Close")
	require.ErrorIs(t, d.Do(func() error { return nil }), ErrClosed)
	require.ErrorIs(t, x.Zero(), ErrClosed)
	x.Free() // harmless after Close
}

func TestGPUSgemm(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 21))
	shapes := [][3]int{{1, 1, 1}, {7, 5, 3}, {33, 65, 256}, {128, 96, 100}, {64, 48, 1024}}
	for _, sz := range shapes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				s := GemmShape{M: sz[0], N: sz[1], K: sz[2], TransA: ta, TransB: tb}
				t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
					a, b, c0 := randF32(r, s.M*s.K, 1), randF32(r, s.K*s.N, 1), randF32(r, s.M*s.N, 1)
					da, db := upload(t, d, a), upload(t, d, b)
					absProd := make([]float64, s.M*s.N)
					NaiveGemm(s, 1, abs64(f64s(a)), abs64(f64s(b)), 0, absProd)

					// beta = 0: C is not read, NaN poison does not propagate.
					c := poisoned[float32](t, d, s.M*s.N)
					require.NoError(t, d.Sgemm(c, s, 1.5, da, db, 0))
					want := make([]float64, s.M*s.N)
					NaiveGemm(s, 1.5, f64s(a), f64s(b), 0, want)
					requireNear(t, "C", want, download(t, c), func(i int) float64 { return tolSgemm*1.5*absProd[i] + 1e-30 })

					cc := upload(t, d, c0)
					require.NoError(t, d.Sgemm(cc, s, -1, da, db, 0.5))
					want = f64s(c0)
					NaiveGemm(s, -1, f64s(a), f64s(b), 0.5, want)
					requireNear(t, "C with beta", want, download(t, cc), func(i int) float64 {
						return tolSgemm*(absProd[i]+0.5*math.Abs(float64(c0[i]))) + 1e-30
					})
				})
			}
		}
	}
}

func TestGPUSgemmStridedBatched(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 22))
	const batch = 3
	for _, s := range []GemmShape{{M: 4, N: 6, K: 5}, {M: 17, N: 3, K: 40, TransA: true}, {M: 8, N: 8, K: 8, TransB: true}} {
		a, b := randF32(r, batch*s.M*s.K, 1), randF32(r, batch*s.K*s.N, 1)
		c := poisoned[float32](t, d, batch*s.M*s.N)
		require.NoError(t, d.SgemmStridedBatched(c, s, batch, 2, upload(t, d, a), upload(t, d, b), 0))
		got := download(t, c)
		for i := range batch {
			ai, bi := a[i*s.M*s.K:(i+1)*s.M*s.K], b[i*s.K*s.N:(i+1)*s.K*s.N]
			want, absProd := make([]float64, s.M*s.N), make([]float64, s.M*s.N)
			NaiveGemm(s, 2, f64s(ai), f64s(bi), 0, want)
			NaiveGemm(s, 2, abs64(f64s(ai)), abs64(f64s(bi)), 0, absProd)
			requireNear(t, fmt.Sprintf("%+v batch %d", s, i), want, got[i*s.M*s.N:(i+1)*s.M*s.N], scaled(absProd, tolSgemm))
		}
	}
}

// TestGPUGram forms the K×K Gram matrix of K per-bin float32 gradients on
// the device, G = A·Aᵀ in float64 (ToFloat64, then Dgemm), as the
// conflict measurement will.
func TestGPUGram(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 23))
	const k, p = 32, 10007
	a := randF32(r, k*p, 1)
	a64 := poisoned[float64](t, d, k*p)
	require.NoError(t, d.ToFloat64(a64, upload(t, d, a)))
	g := poisoned[float64](t, d, k*k)
	s := GemmShape{M: k, N: k, K: p, TransB: true}
	require.NoError(t, d.Dgemm(g, s, 1, a64, a64, 0))
	want, absProd := make([]float64, k*k), make([]float64, k*k)
	NaiveGemm(s, 1, f64s(a), f64s(a), 0, want)
	NaiveGemm(s, 1, abs64(f64s(a)), abs64(f64s(a)), 0, absProd)
	requireNear(t, "G", want, download(t, g), scaled(absProd, tolDgemm))

	// Dgemm with beta reads C.
	c0 := RandFloats(r, k*k)
	cc := upload(t, d, c0)
	require.NoError(t, d.Dgemm(cc, s, 0.5, a64, a64, -2))
	for i := range want {
		want[i] = 0.5*want[i] - 2*c0[i]
		absProd[i] = 0.5*absProd[i] + 2*math.Abs(c0[i])
	}
	requireNear(t, "G with beta", want, download(t, cc), scaled(absProd, tolDgemm))
}

func BenchmarkGPUDoRoundTrip(b *testing.B) {
	d := requireGPU(b)
	for b.Loop() {
		_ = d.Do(func() error { return nil })
	}
}

func BenchmarkGPUSgemm1024(b *testing.B) {
	d := requireGPU(b)
	const n = 1024
	s := GemmShape{M: n, N: n, K: n}
	x := upload(b, d, make([]float32, n*n))
	c := upload(b, d, make([]float32, n*n))
	b.SetBytes(2 * n * n * n) // "bytes" = flops, so MB/s reads as MFLOP/s
	for b.Loop() {
		if err := d.Sgemm(c, s, 1, x, x, 0); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, d.Synchronize())
}

func BenchmarkGPUAdamW1M(b *testing.B) {
	d := requireGPU(b)
	const n = 1 << 20
	p, g, m, v := upload(b, d, make([]float32, n)), upload(b, d, make([]float32, n)), upload(b, d, make([]float32, n)), upload(b, d, make([]float32, n))
	h := AdamW{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	for b.Loop() {
		if err := d.AdamWStep(p, g, m, v, h); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, d.Synchronize())
}
