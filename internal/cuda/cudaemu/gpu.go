package cudaemu

import (
	"sync"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// GPU is one emulated GPU: its memory, contexts, loaded modules and cuBLAS
// state, and the driver, NVRTC and cuBLAS functions that act on them
// (Libraries). Devices opened on one GPU share all of it. Its methods may
// be called from any goroutine.
type GPU struct {
	mu sync.Mutex

	mem      []byte            // device memory; address = memBase + offset
	next     uint64            // bump allocator offset
	live     map[uint64]uint64 // address → size of each allocation
	limit    uint64            // cuMemAlloc fails beyond this many bytes live (0: all of mem)
	current  map[int]uintptr   // OS thread → its current context
	retained int               // primary context references
	calls    map[string]int    // driver calls by symbol

	modules  map[uintptr]*module // loaded modules by handle
	programs map[uintptr]*program
	compiles int      // nvrtcCompileProgram calls
	options  []string // the options of the last compilation
	failLog  string   // when not "", compilations fail with this log

	record   bool
	launches []Launch

	blas     []string // cuBLAS calls, for BLASCalls
	mathMode int32
}

// The emulated device: what cuDeviceGetName, cuDeviceGetAttribute and
// cuDriverGetVersion report.
const (
	deviceName    = "Emulated GPU"
	deviceMajor   = 8 // compute capability 8.6
	deviceMinor   = 6
	deviceSMs     = 2
	driverVersion = 12080 // CUDA 12.8
)

// New returns an emulated GPU with memBytes of device memory.
func New(memBytes int) *GPU {
	return &GPU{
		mem: make([]byte, memBytes), live: map[uint64]uint64{}, current: map[int]uintptr{},
		calls: map[string]int{}, modules: map[uintptr]*module{}, programs: map[uintptr]*program{},
	}
}

// Libraries returns g's driver, NVRTC and cuBLAS, for cuda.OpenLibraries.
func (g *GPU) Libraries() (driver, nvrtc, cublas cuda.Library) {
	return g.driver(), g.nvrtc(), g.cublas()
}

// Open opens device 0 of g with opts. Unless opts.CacheDir names a folder,
// the on-disk PTX cache is off, so that the emulator's PTX never lands in
// the user's cache.
func (g *GPU) Open(opts cuda.Options) (*cuda.Device, error) {
	if opts.CacheDir == "" {
		opts.NoDiskCache = true
	}
	driver, nvrtc, cublas := g.Libraries()
	return cuda.OpenLibraries(driver, nvrtc, cublas, 0, opts)
}

// Open returns a Device on a new emulated GPU with memBytes of memory,
// which runs every kernel of package cuda through its Go transcription
// and cuBLAS's GEMMs in float64: for tests of code above package cuda on
// machines without a GPU. It is slow, its memory is never given back
// (freed blocks stay with the Device's pool), and its Info names an
// "Emulated GPU". See the package documentation for what it checks.
func Open(memBytes int, opts cuda.Options) (*cuda.Device, error) {
	return New(memBytes).Open(opts)
}

// lock locks g and returns its unlock, for defer g.lock()().
func (g *GPU) lock() func() {
	g.mu.Lock()
	return g.mu.Unlock
}
