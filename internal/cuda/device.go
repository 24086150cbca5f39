package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Options configures Open. The zero value means the defaults documented on
// each field.
type Options struct {
	// CacheDir is the folder of the on-disk PTX cache; "" means
	// os.UserCacheDir()/paretodiff/cuda-ptx.
	CacheDir string
	// NoDiskCache turns the on-disk PTX cache off: kernels are compiled by
	// NVRTC once per Device.
	NoDiskCache bool
	// AllowTF32 lets cuBLAS round float32 GEMM inputs to TF32 (10-bit
	// mantissa) on tensor cores: several times faster on A100/H100, about
	// 1e-3 relative error. Default false: full FP32 (CUBLAS_DEFAULT_MATH).
	AllowTF32 bool
}

// Info describes a device.
type Info struct {
	Ordinal      int    // the device's index, as in cuDeviceGet
	Name         string // e.g. "NVIDIA H200"
	Major, Minor int    // compute capability, e.g. 9.0
	SMs          int    // streaming multiprocessors
	TotalMem     uint64 // bytes of device memory
	Driver       int    // CUDA version the driver supports, major·1000 + minor·10
}

// Arch is the compute capability as major·10 + minor (90 for an H100).
func (i Info) Arch() int { return i.Major*10 + i.Minor }

// String is e.g. "cuda:0 NVIDIA H200 (sm_90, 139.7 GiB, driver CUDA 13.0)".
func (i Info) String() string {
	return fmt.Sprintf("cuda:%d %s (sm_%d, %.1f GiB, driver CUDA %d.%d)", i.Ordinal, i.Name, i.Arch(),
		float64(i.TotalMem)/(1<<30), i.Driver/1000, i.Driver%1000/10)
}

// Device is one GPU, driven by a worker goroutine locked to its OS thread
// with the device's primary context current on that thread. Every CUDA call
// runs on the worker (see Do), so a Device may be used from any goroutine.
type Device struct {
	opts   Options
	info   Info
	drv    *driverAPI
	libs   libraries
	dev    int32   // CUdevice
	ctx    uintptr // the primary context
	stream uintptr // CUstream of all work; 0, the legacy default stream

	jobs   chan job
	tid    atomic.Int64 // the worker's OS thread id (0 before it starts)
	mu     sync.RWMutex // held for reading by Do while it hands over a job, for writing by Close
	closed bool

	// Owned by the worker:
	pool    *Pool
	blasAPI *cublasAPI
	blas    uintptr // cublasHandle_t, 0 until first used
	mod     *module // the compiled kernels, nil until first used
}

type job struct {
	f    func() error
	done chan<- result
}

type result struct {
	err   error
	panic any
	stack []byte
}

// Open starts device ordinal (0 for the first GPU): loads the driver if
// needed, retains the device's primary context and starts the worker that
// makes it current on its thread. Without a usable driver the error wraps
// ErrNoDriver. Kernels and cuBLAS are loaded later, on first use.
func Open(ordinal int, opts Options) (*Device, error) {
	drv, err := driver()
	if err != nil {
		return nil, err
	}
	return openWith(libraries{drv, nvrtc, cublas}, ordinal, opts)
}

// libraries are the loaded driver and the loaders of NVRTC and cuBLAS a
// Device uses: the system's (Open) or bound from Library values
// (OpenLibraries).
type libraries struct {
	drv    *driverAPI
	nvrtc  func() (*nvrtcAPI, error)
	cublas func() (*cublasAPI, error)
}

func openWith(libs libraries, ordinal int, opts Options) (*Device, error) {
	drv := libs.drv
	var n int32
	if err := drv.check("cuDeviceGetCount", drv.cuDeviceGetCount(&n)); err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= int(n) {
		if n == 0 {
			return nil, &loadError{ErrNoDriver, "the driver sees no CUDA device"}
		}
		return nil, fmt.Errorf("cuda: no device %d (the driver sees %d)", ordinal, n)
	}
	d := &Device{opts: opts, drv: drv, libs: libs, jobs: make(chan job)}
	d.pool = newPool(deviceAllocator{d})
	started := make(chan error, 1)
	go d.worker(ordinal, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return d, nil
}

// worker is the device's goroutine: it locks itself to its OS thread,
// makes the primary context current there and runs jobs until Close. It
// never unlocks the thread, so the thread ends with the goroutine.
func (d *Device) worker(ordinal int, started chan<- error) {
	runtime.LockOSThread()
	d.tid.Store(int64(gettid()))
	if err := d.setup(ordinal); err != nil {
		started <- err
		return
	}
	started <- nil
	for j := range d.jobs {
		j.done <- runJob(j.f)
	}
}

// runJob runs f, catching a panic so that Do can raise it again in the
// caller's goroutine.
func runJob(f func() error) (r result) {
	defer func() {
		if p := recover(); p != nil {
			buf := make([]byte, 8<<10)
			r = result{panic: p, stack: buf[:runtime.Stack(buf, false)]}
		}
	}()
	return result{err: f()}
}

// setup runs on the worker thread: device handle, attributes, primary
// context.
func (d *Device) setup(ordinal int) error {
	drv := d.drv
	if err := drv.check("cuDeviceGet", drv.cuDeviceGet(&d.dev, int32(ordinal))); err != nil {
		return err
	}
	info := Info{Ordinal: ordinal}
	name := make([]byte, 256)
	if err := drv.check("cuDeviceGetName", drv.cuDeviceGetName(&name[0], int32(len(name)), d.dev)); err != nil {
		return err
	}
	info.Name = goString(&name[0])
	for _, a := range []struct {
		attr int32
		dst  *int
	}{
		{attrComputeCapabilityMajor, &info.Major},
		{attrComputeCapabilityMinor, &info.Minor},
		{attrMultiprocessorCount, &info.SMs},
	} {
		var v int32
		if err := drv.check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(&v, a.attr, d.dev)); err != nil {
			return err
		}
		*a.dst = int(v)
	}
	if err := drv.check("cuDeviceTotalMem_v2", drv.cuDeviceTotalMem(&info.TotalMem, d.dev)); err != nil {
		return err
	}
	var v int32
	if err := drv.check("cuDriverGetVersion", drv.cuDriverGetVersion(&v)); err != nil {
		return err
	}
	info.Driver = int(v)
	if err := drv.check("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return err
	}
	if err := drv.check("cuCtxSetCurrent", drv.cuCtxSetCurrent(d.ctx)); err != nil {
		drv.cuDevicePrimaryCtxRelease(d.dev)
		return err
	}
	d.info = info
	return nil
}

// Info describes the device.
func (d *Device) Info() Info { return d.info }

// onWorker reports whether the caller runs on the worker's OS thread, which
// only the worker goroutine can (it is locked there).
func (d *Device) onWorker() bool {
	tid := d.tid.Load()
	return tid > 0 && tid == int64(gettid())
}

// Do runs f on the device's worker thread, where the device's context is
// current, and returns f's error. It may be called from any goroutine; a
// call from inside f (any method of this package called within a Do
// closure) runs inline. Calls from different goroutines run one at a time.
// A panic in f is raised again in the caller's goroutine. After Close, Do
// returns ErrClosed without running f.
//
// Each hand-over to the worker costs a goroutine switch (microseconds), so
// code that launches many kernels should put them in one Do.
func (d *Device) Do(f func() error) error {
	if d.onWorker() {
		return f()
	}
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return ErrClosed
	}
	done := make(chan result, 1)
	d.jobs <- job{f: f, done: done}
	d.mu.RUnlock()
	r := <-done
	if r.panic != nil {
		panic(fmt.Sprintf("%v [on the CUDA worker: %s]", r.panic, r.stack))
	}
	return r.err
}

// Synchronize waits until all work queued on the device has finished and
// returns the first asynchronous error (a faulting kernel, for example).
func (d *Device) Synchronize() error {
	return d.Do(func() error {
		return d.drv.check("cuCtxSynchronize", d.drv.cuCtxSynchronize())
	})
}

// MemInfo returns the free and total device memory in bytes, as the
// driver reports them (memory cached by the pool counts as used).
func (d *Device) MemInfo() (free, total uint64, err error) {
	err = d.Do(func() error {
		return d.drv.check("cuMemGetInfo_v2", d.drv.cuMemGetInfo(&free, &total))
	})
	return free, total, err
}

// PoolStats returns the device memory pool's counters.
func (d *Device) PoolStats() (s PoolStats) {
	if err := d.Do(func() error { s = d.pool.Stats(); return nil }); err != nil {
		return PoolStats{}
	}
	return s
}

// TrimPool returns the pool's cached (free) blocks to the driver.
func (d *Device) TrimPool() error {
	return d.Do(d.pool.Trim)
}

// Close waits for the work in flight, frees the pool's cached memory, the
// kernels and the cuBLAS handle, releases the primary context and stops
// the worker. Buffers still allocated become invalid (their memory goes
// with the context). Close must not be called inside Do; a second Close
// returns nil.
func (d *Device) Close() error {
	if d.onWorker() {
		panic("cuda: Device.Close called inside Do")
	}
	var err error
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	done := make(chan result, 1)
	d.jobs <- job{f: d.teardown, done: done}
	r := <-done
	if r.panic != nil {
		err = fmt.Errorf("cuda: teardown panicked: %v", r.panic)
	} else {
		err = r.err
	}
	d.closed = true
	close(d.jobs)
	return err
}

// teardown runs on the worker and keeps the first error.
func (d *Device) teardown() error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	keep(d.drv.check("cuCtxSynchronize", d.drv.cuCtxSynchronize()))
	if d.blas != 0 {
		keep(d.blasAPI.check("cublasDestroy_v2", d.blasAPI.cublasDestroy(d.blas)))
		d.blas = 0
	}
	if d.mod != nil && d.mod.handle != 0 {
		keep(d.drv.check("cuModuleUnload", d.drv.cuModuleUnload(d.mod.handle)))
		d.mod = nil
	}
	keep(d.pool.Trim())
	keep(d.drv.check("cuDevicePrimaryCtxRelease", d.drv.cuDevicePrimaryCtxRelease(d.dev)))
	return first
}
