package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest"
	"github.com/stretchr/testify/require"
)

// Tests of the Device machinery on the emulated GPU (package cudaemu):
// they run everywhere and check what the GPU tests cannot check without a
// GPU, by what the Device asked of the driver, NVRTC and cuBLAS.

// emulator returns a new emulated GPU with memBytes of memory, or skips
// the test where only real-GPU tests run (cudatest.SkipEmulated).
func emulator(t *testing.T, memBytes int) *cudaemu.GPU {
	t.Helper()
	cudatest.SkipEmulated(t)
	return cudaemu.New(memBytes)
}

// openEmulated opens a Device on g, closed when the test ends.
func openEmulated(t *testing.T, g *cudaemu.GPU, opts Options) *Device {
	t.Helper()
	d, err := g.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

func TestEmulatedDeviceLifecycle(t *testing.T) {
	g := emulator(t, 1<<20)
	d, err := g.Open(Options{})
	require.NoError(t, err)
	require.Equal(t, "cuda:0 Emulated GPU (sm_86, 0.0 GiB, driver CUDA 12.8)", d.Info().String())
	require.Equal(t, 86, d.Info().Arch())
	require.Equal(t, 2, d.Info().SMs)
	require.Equal(t, 1, g.Contexts())
	free, total, err := d.MemInfo()
	require.NoError(t, err)
	require.Equal(t, uint64(1<<20), total)
	require.Equal(t, total, free)

	x, err := Upload(d, []float32{1, 2, 3})
	require.NoError(t, err)
	x.Free()
	require.NoError(t, d.Close())
	require.Equal(t, 0, g.Contexts(), "the primary context is released")
	require.Zero(t, g.LiveAllocations(), "cached blocks go back to the driver")
	require.NoError(t, d.Close())
	require.ErrorIs(t, d.Do(func() error { return nil }), ErrClosed)

	driver, nvrtc, cublas := g.Libraries()
	_, err = OpenLibraries(driver, nvrtc, cublas, 1, Options{})
	require.EqualError(t, err, "cuda: no device 1 (the driver sees 1)")
}

func TestEmulatedBuffers(t *testing.T) {
	g := emulator(t, 1<<20)
	d := openEmulated(t, g, Options{})
	r := rand.New(rand.NewPCG(6, 30))
	x32 := randF32(r, 1000, 1)
	x64 := RandFloats(r, 100)
	xi := []int32{-1, 0, 1, math.MaxInt32, math.MinInt32}
	b32, err := Upload(d, x32)
	require.NoError(t, err)
	b64, err := Upload(d, x64)
	require.NoError(t, err)
	bi, err := Upload(d, xi)
	require.NoError(t, err)
	require.Equal(t, x32, download(t, b32))
	require.Equal(t, x64, download(t, b64))
	require.Equal(t, xi, download(t, bi))

	v := b32.View(10, 5)
	require.Equal(t, x32[10:15], download(t, v))
	require.NoError(t, v.Memset32(math.Float32bits(-2)))
	got := download(t, b32)
	require.Equal(t, []float32{-2, -2, -2, -2, -2}, got[10:15])
	require.Equal(t, x32[:10], got[:10])
	require.Equal(t, x32[15:], got[15:])

	c, err := Alloc[float32](d, 1000)
	require.NoError(t, err)
	require.NoError(t, c.CopyFrom(b32))
	require.Equal(t, got, download(t, c))
	require.NoError(t, b64.Zero())
	require.Equal(t, make([]float64, 100), download(t, b64))

	s := d.PoolStats()
	require.Equal(t, PoolStats{Allocs: 4, Live: 4, LiveBytes: 4096 + 1024 + 256 + 4096}, s)
	c.Free()
	again, err := Alloc[int32](d, 1024) // 4 KiB: c's block again
	require.NoError(t, err)
	require.Equal(t, 1, d.PoolStats().Reuses)
	for _, b := range []interface{ Free() }{b32, b64, bi, again} {
		b.Free()
	}
	require.NoError(t, d.TrimPool())
	require.Zero(t, g.LiveAllocations())
}

func TestEmulatedThreadRule(t *testing.T) {
	d := openEmulated(t, emulator(t, 4<<20), Options{})

	// Off the worker thread the (emulated) driver refuses, as the real one does.
	var code int32
	done := make(chan error)
	go func() {
		var err error
		code, err = d.MemAllocHere(256)
		done <- err
	}()
	require.EqualError(t, <-done, "cuda: cuMemAlloc_v2: CUDA_ERROR_INVALID_CONTEXT (invalid device context)")
	require.Equal(t, int32(201), code)

	// Through the Device, every goroutine's calls work.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = func() error {
				for i := range 20 {
					x := []float32{float32(g), float32(i)}
					b, err := Upload(d, x)
					if err != nil {
						return err
					}
					if err := d.Scale(b, 2); err != nil {
						return err
					}
					y, err := b.Download()
					b.Free()
					if err != nil {
						return err
					}
					if y[0] != 2*x[0] || y[1] != 2*x[1] {
						return fmt.Errorf("got %v for %v", y, x)
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

	// Nested Do runs inline on the worker; a panic comes back to the caller.
	var outer, inner int
	require.NoError(t, d.Do(func() error {
		outer = Gettid()
		return d.Do(func() error { inner = Gettid(); return nil })
	}))
	require.Equal(t, outer, inner)
	require.NotEqual(t, outer, 0)
	require.PanicsWithValue(t, "boom", func() {
		defer func() {
			p := recover()
			s, _ := p.(string)
			require.Contains(t, s, "[on the CUDA worker: ")
			panic("boom")
		}()
		_ = d.Do(func() error { panic("boom") })
	})
	require.NoError(t, d.Synchronize(), "the worker survives a panic")
	require.Panics(t, func() { _ = d.Do(func() error { return d.Close() }) })
}

func TestEmulatedKernelsRun(t *testing.T) {
	g := emulator(t, 1<<20)
	d := openEmulated(t, g, Options{})
	x := upload(t, d, []float32{1, 2, 3})
	y := upload(t, d, []float32{10, 20, 30})
	require.NoError(t, d.Axpy(y, 2, x))
	require.Equal(t, []float32{12, 24, 36}, download(t, y))
	require.NoError(t, d.Add(x, x, y))
	require.Equal(t, []float32{13, 26, 39}, download(t, x))
	require.NoError(t, d.Fill(x.View(1, 2), -1))
	require.Equal(t, []float32{13, -1, -1}, download(t, x))
	require.Equal(t, 1, g.Compiles(), "compiled once, on first use")
	require.Equal(t, 1, g.Calls("cuModuleLoadData"))
	require.Equal(t, 3, g.Calls("cuModuleGetFunction"), "one lookup per kernel, then cached")
}

// TestEmulatedKernelArguments checks what each wrapper hands to
// cuLaunchKernel, decoded on the far side by the kernel's C parameter
// types: kernel, grid, block and every argument in order.
func TestEmulatedKernelArguments(t *testing.T) {
	g := emulator(t, 8<<20)
	g.RecordLaunches(true)
	d := openEmulated(t, g, Options{})
	const rows, cols = 5, 7
	buf := func(n int) *F32 { return upload(t, d, make([]float32, n)) }
	m, v, x, o := buf(rows*cols), buf(rows*cols), buf(rows*cols), buf(rows*cols)
	rw, rw2, cl, cl2 := buf(rows), buf(rows), buf(cols), buf(cols)
	p := func(b *F32) DevicePtr { return b.Ptr() }
	ts := upload(t, d, []int32{1, 2, 3, 4, 5})
	o64 := upload(t, d, make([]float64, rows*cols))
	big := buf(300000)

	one, rowGrid, colGrid1 := Dim3{1, 1, 1}, Dim3{1, 1, 1}, Dim3{1, 1, 1}
	elem := func(n int) Dim3 { return Dim3{uint32(min((n+255)/256, 2*BlocksPerSM)), 1, 1} }
	cases := []struct {
		name string
		call func() error
		want []wantLaunch
	}{
		{"Scale", func() error { return d.Scale(x, 0.5) },
			[]wantLaunch{{"scale_f32", elem(35), Block1D, []any{p(x), float32(0.5), int64(35)}}}},
		{"Mul", func() error { return d.Mul(o, x, m) },
			[]wantLaunch{{"mul_f32", elem(35), Block1D, []any{p(o), p(x), p(m), int64(35)}}}},
		{"ToFloat64", func() error { return d.ToFloat64(o64, x) },
			[]wantLaunch{{"f32_to_f64", elem(35), Block1D, []any{o64.Ptr(), p(x), int64(35)}}}},
		{"AddBias", func() error { return d.AddBias(o, cl, rows, cols) },
			[]wantLaunch{{"bias_add_f32", elem(35), Block1D, []any{p(o), p(cl), int32(rows), int32(cols)}}}},
		{"BiasGrad", func() error { return d.BiasGrad(cl, o, rows, cols) },
			[]wantLaunch{{"bias_grad_f32", colGrid1, BlockCols, []any{p(cl), p(o), int32(rows), int32(cols)}}}},
		{"SiLU", func() error { return d.SiLU(o, x) },
			[]wantLaunch{{"silu_f32", elem(35), Block1D, []any{p(o), p(x), int64(35)}}}},
		{"SiLUBackward", func() error { return d.SiLUBackward(o, m, x, true) },
			[]wantLaunch{{"silu_backward_f32", elem(35), Block1D, []any{p(o), p(m), p(x), int64(35), int32(1)}}}},
		{"GELU erf", func() error { return d.GELU(o, x, GELUErf) },
			[]wantLaunch{{"gelu_erf_f32", elem(35), Block1D, []any{p(o), p(x), int64(35)}}}},
		{"GELU tanh backward", func() error { return d.GELUBackward(o, m, x, GELUTanh, false) },
			[]wantLaunch{{"gelu_tanh_backward_f32", elem(35), Block1D, []any{p(o), p(m), p(x), int64(35), int32(0)}}}},
		{"LayerNorm", func() error { return d.LayerNorm(o, rw, rw2, x, cl, cl2, rows, cols, 1e-5) },
			[]wantLaunch{{"layernorm_f32", rowGrid, Block1D, []any{p(o), p(rw), p(rw2), p(x), p(cl), p(cl2), int32(rows), int32(cols), float32(1e-5)}}}},
		{"LayerNormBackward", func() error { return d.LayerNormBackward(o, cl, cl2, m, x, rw, rw2, v, rows, cols, false) },
			nil}, // shape mismatch: v is not gamma-sized; checked below
		{"TimestepEmbedding", func() error { return d.TimestepEmbedding(o, ts, cols, 10000, 0.5) },
			[]wantLaunch{{"timestep_embedding_f32", elem(35), Block1D, []any{p(o), ts.Ptr(), int32(rows), int32(cols), float32(10000), float32(0.5)}}}},
		{"Noise", func() error { return d.Noise(o, x, m, rw, rw2, rows, cols) },
			[]wantLaunch{{"row_combine_f32", elem(35), Block1D, []any{p(o), p(x), p(m), p(rw), p(rw2), int32(rows), int32(cols)}}}},
		{"MSERows", func() error { return d.MSERows(rw, x, m, rw2, rows, cols) },
			[]wantLaunch{{"mse_rows_f32", rowGrid, Block1D, []any{p(rw), p(x), p(m), p(rw2), int32(rows), int32(cols)}}}},
		{"MSEGrad", func() error { return d.MSEGrad(o, x, m, rw, rows, cols, 0.2) },
			[]wantLaunch{{"mse_grad_f32", elem(35), Block1D, []any{p(o), p(x), p(m), p(rw), int32(rows), int32(cols), float32(0.2)}}}},
		{"AdamWStep", func() error {
			return d.AdamWStep(x, m, v, o, AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, Step: 3})
		}, []wantLaunch{{"adamw_f32", elem(35), Block1D, []any{p(x), p(m), p(v), p(o), int64(35),
			float32(1e-3), float32(0.9), float32(0.999), float32(1 - 0.9), float32(1 - 0.999), float32(1e-8), float32(0.1),
			float32(1 - math.Pow(0.9, 3)), float32(1 - math.Pow(0.999, 3)), float32(1)}}}},
		{"EMA", func() error { return d.EMA(x, m, 0.9999) },
			[]wantLaunch{{"ema_f32", elem(35), Block1D, []any{p(x), p(m), int64(35), float32(0.9999), float32(1 - 0.9999)}}}},
		{"SumSquares one block", func() error { _, err := d.SumSquares(x); return err },
			[]wantLaunch{{"sumsq_partial_f32", one, Block1D, []any{anyPtr{}, p(x), int64(35)}}}},
		{"SumSquares two stages", func() error { _, err := d.SumSquares(big); return err },
			[]wantLaunch{
				{"sumsq_partial_f32", Dim3{MaxPartials, 1, 1}, Block1D, []any{anyPtr{}, p(big), int64(300000)}},
				{"sum_f64", one, Block1D, []any{anyPtr{}, anyPtr{}, int32(MaxPartials)}},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == nil {
				require.Panics(t, func() { _ = c.call() })
				return
			}
			g.TakeLaunches()
			require.NoError(t, c.call())
			requireLaunches(t, c.want, g.TakeLaunches())
		})
	}

	// LayerNormBackward launches the input and the parameter gradients.
	g.TakeLaunches()
	require.NoError(t, d.LayerNormBackward(o, cl, cl2, m, x, rw, rw2, cl, rows, cols, true))
	launches := g.TakeLaunches()
	require.Len(t, launches, 2)
	require.Equal(t, []any{p(o), p(m), p(x), p(rw), p(rw2), p(cl), int32(rows), int32(cols), int32(1)}, launches[0].Args)
	require.Equal(t, "layernorm_param_grad_f32", launches[1].Kernel)
	require.Equal(t, []any{p(cl), p(cl2), p(m), p(x), p(rw), p(rw2), int32(rows), int32(cols)}, launches[1].Args)
	require.Equal(t, BlockCols, launches[1].Block)

	// Empty inputs launch nothing.
	e := upload(t, d, []float32{})
	require.NoError(t, d.Fill(e, 1))
	require.NoError(t, d.MSERows(e, e, e, e, 0, 3))
	require.Empty(t, g.TakeLaunches())

	// Shape mismatches are programmer errors: they panic before launching.
	require.Panics(t, func() { _ = d.Add(o, x, rw) })
	require.Panics(t, func() { _ = d.AddBias(o, rw, rows, cols) })
	require.Panics(t, func() { _ = d.LayerNorm(o, rw, rw2, x, cl, cl2, cols, rows, 1e-5) })
	require.Panics(t, func() { _ = d.AdamWStep(x, m, v, o, AdamW{}) }, "step 0")
	require.Panics(t, func() { _ = d.GELU(o, x, GELUKind(7)) })
}

// wantLaunch is an expected kernel launch.
type wantLaunch struct {
	kernel      string
	grid, block Dim3
	args        []any
}

// anyPtr in an expected argument list accepts any device pointer (scratch
// buffers whose address the test does not know).
type anyPtr struct{}

func TestEmulatedCompileAndCache(t *testing.T) {
	g := emulator(t, 1<<20)
	dir := t.TempDir()
	d1 := openEmulated(t, g, Options{CacheDir: dir})
	arch, version, cached, err := d1.KernelInfo()
	require.NoError(t, err)
	require.Equal(t, 80, arch, "NVRTC supports 75, 80, 90: compute_80 for an sm_86 GPU")
	require.Equal(t, "12.8", version)
	require.False(t, cached)
	require.Equal(t, []string{"--gpu-architecture=compute_80", "--std=c++17", "--fmad=true"}, g.CompileOptions())
	files, err := filepath.Glob(filepath.Join(dir, "kernels-*.ptx"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.Equal(t, filepath.Join(dir, "kernels-"+PTXCacheKey(KernelSource(), g.CompileOptions(), "12.8")+".ptx"), files[0])

	d2 := openEmulated(t, g, Options{CacheDir: dir})
	_, _, cached, err = d2.KernelInfo()
	require.NoError(t, err)
	require.True(t, cached)
	require.Equal(t, 1, g.Compiles(), "the second device reads the cache")
	x := upload(t, d2, []float32{1})
	require.NoError(t, d2.Fill(x, 3))
	require.Equal(t, []float32{3}, download(t, x))

	require.NoError(t, os.WriteFile(files[0], []byte("garbage\x00"), 0o644))
	d3 := openEmulated(t, g, Options{CacheDir: dir})
	_, _, cached, err = d3.KernelInfo()
	require.NoError(t, err)
	require.False(t, cached, "a damaged cache file is compiled again")
	require.Equal(t, 2, g.Compiles())
	data, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(data), "// cudaemu PTX")

	// The key changes with the source, the options and NVRTC's version.
	k := PTXCacheKey("src", []string{"a"}, "12.8")
	require.NotEqual(t, k, PTXCacheKey("src2", []string{"a"}, "12.8"))
	require.NotEqual(t, k, PTXCacheKey("src", []string{"b"}, "12.8"))
	require.NotEqual(t, k, PTXCacheKey("src", []string{"a"}, "13.0"))
	require.NotEqual(t, PTXCacheKey("ab", nil, "c"), PTXCacheKey("a", nil, "bc"), "parts are separated")
}

func TestEmulatedCompileError(t *testing.T) {
	g := emulator(t, 1<<20)
	g.FailCompiles("k.cu(1): error: boom\n")
	d := openEmulated(t, g, Options{})
	x := upload(t, d, []float32{1})
	err := d.Fill(x, 3)
	require.EqualError(t, err, "cuda: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION: k.cu(1): error: boom")
	g.FailCompiles("")
	require.NoError(t, d.Fill(x, 3), "a failed compilation is tried again")
	require.Equal(t, []float32{3}, download(t, x))
}

func TestEmulatedSgemm(t *testing.T) {
	g := emulator(t, 1<<20)
	d := openEmulated(t, g, Options{})
	r := rand.New(rand.NewPCG(6, 31))
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			s := GemmShape{M: 3, N: 4, K: 5, TransA: ta, TransB: tb}
			a, b, c0 := randF32(r, s.M*s.K, 1), randF32(r, s.K*s.N, 1), randF32(r, s.M*s.N, 1)
			c := upload(t, d, c0)
			require.NoError(t, d.Sgemm(c, s, 2, upload(t, d, a), upload(t, d, b), 0.5))
			want := f64s(c0)
			NaiveGemm(s, 2, f64s(a), f64s(b), 0.5, want)
			requireNear(t, fmt.Sprintf("%+v", s), want, download(t, c), mixed(want, 1e-5, 1e-5))
		}
	}
	require.Equal(t, int32(CublasDefaultMath), g.MathMode(), "full FP32 by default")
	require.Equal(t, []string{"create", "stream 0", "sgemm", "sgemm", "sgemm", "sgemm"}, g.BLASCalls())
	require.Panics(t, func() {
		_ = d.Sgemm(upload(t, d, make([]float32, 4)), GemmShape{M: 2, N: 2, K: 2}, 1, upload(t, d, make([]float32, 3)), upload(t, d, make([]float32, 4)), 0)
	})

	g2 := emulator(t, 1<<20)
	d2 := openEmulated(t, g2, Options{AllowTF32: true})
	x := upload(t, d2, []float32{1})
	require.NoError(t, d2.Sgemm(x, GemmShape{M: 1, N: 1, K: 1}, 1, x, x, 0))
	require.Equal(t, int32(CublasTF32TensorOpMath), g2.MathMode())
}

func TestEmulatedOutOfMemory(t *testing.T) {
	g := emulator(t, 1<<20)
	g.LimitMemory(64 << 10)
	d := openEmulated(t, g, Options{})
	_, err := Alloc[float32](d, 1<<20)
	require.EqualError(t, err, "cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)")

	a, err := Alloc[float32](d, 8<<10) // 32 KiB
	require.NoError(t, err)
	b, err := Alloc[float32](d, 7<<10) // 28 KiB
	require.NoError(t, err)
	a.Free()
	b.Free()
	c, err := Alloc[float32](d, 12<<10) // 48 KiB: fits once the cached blocks are returned
	require.NoError(t, err)
	require.Equal(t, 2, d.PoolStats().Frees)
	c.Free()
}
