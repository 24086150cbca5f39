package nncuda

import (
	"fmt"
	"math"
	"sync"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
)

func init() {
	nn.Register("cuda", func() (nn.Backend, error) { return New() })
}

var _ nn.Backend = (*Backend)(nil)

// Backend is the CUDA implementation of nn.Backend on one cuda.Device (see
// the package documentation for its semantics, queue and errors).
type Backend struct {
	dev *cuda.Device
	// queue holds launches not yet handed to the device's worker; stage
	// the host copies of the queued uploads.
	queue []func() error
	stage []float32
	// err is the first failure; it is sticky.
	err error
	// handovers counts the hand-overs to the device's worker (tests).
	handovers int
}

// maxQueue is the longest queue before it is handed over without waiting
// for a result (a ResMLP training step queues about 60 launches).
const maxQueue = 1024

// bigUpload is the size (elements) from which Upload copies at once instead
// of staging a copy of the source.
const bigUpload = 1 << 20

var shared struct {
	mu  sync.Mutex
	dev *cuda.Device
}

// Device returns the process's shared GPU, device 0, opening it on first
// use with the default cuda.Options (full FP32, the on-disk PTX cache) and
// loading NVRTC's kernels and cuBLAS, so that a missing library is an
// error here. Without a usable driver the error wraps cuda.ErrNoDriver and
// is one line. A failed open is tried again on the next call. The device
// stays open until the process ends.
func Device() (*cuda.Device, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dev != nil {
		return shared.dev, nil
	}
	d, err := cuda.Open(0, cuda.Options{})
	if err != nil {
		return nil, err
	}
	if err := d.Warm(); err != nil {
		d.Close()
		return nil, err
	}
	shared.dev = d
	return d, nil
}

// New returns a backend on the shared GPU (see Device). It is the
// constructor registered as "cuda".
func New() (*Backend, error) {
	d, err := Device()
	if err != nil {
		return nil, err
	}
	return NewOn(d), nil
}

// NewOn returns a backend on d, which stays the caller's to close after
// the backend's last use (for example a cuda.Open with other Options, or
// cudaemu.Open in tests).
func NewOn(d *cuda.Device) *Backend { return &Backend{dev: d} }

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Device returns the device the backend runs on.
func (b *Backend) Device() *cuda.Device { return b.dev }

// String describes the device, e.g.
// "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 79.2 GiB, driver CUDA 13.0)".
func (b *Backend) String() string { return b.dev.Info().String() }

// storage is one device allocation. buf is nil when the allocation failed
// (the backend has then failed, and nothing reads it).
type storage struct {
	be    *Backend
	buf   *cuda.F32
	n     int
	freed bool
}

func (s *storage) Len() int { return s.n }

// view returns the first n elements of t as a device buffer, panicking
// (programmer errors, as on the CPU) if t is absent, of another backend or
// too short. It returns nil once the backend has failed.
func (b *Backend) view(op, name string, t nn.Tensor, n int) *cuda.F32 {
	if t.IsZero() {
		panic(fmt.Sprintf("nncuda: %s: %s is absent", op, name))
	}
	s, ok := t.Storage().(*storage)
	if !ok || s.be != b {
		panic(fmt.Sprintf("nncuda: %s: %s is %v of another backend", op, name, t))
	}
	if s.freed {
		panic(fmt.Sprintf("nncuda: %s: %s was freed", op, name))
	}
	if t.Len() < n {
		panic(fmt.Sprintf("nncuda: %s: %s has %d elements, needs %d", op, name, t.Len(), n))
	}
	if b.err != nil || s.buf == nil {
		return nil
	}
	return s.buf.View(t.Offset(), n)
}

// enqueue appends a launch to the queue, or drops it once the backend has
// failed.
func (b *Backend) enqueue(f func() error) {
	if b.err != nil {
		return
	}
	b.queue = append(b.queue, f)
	if len(b.queue) >= maxQueue {
		b.run(nil)
	}
}

// run hands the queue and then f (if not nil) to the device's worker in
// one Do, and returns the backend's error, which it records.
func (b *Backend) run(f func() error) error {
	if b.err != nil {
		b.reset()
		return b.err
	}
	q := b.queue
	defer b.reset()
	b.handovers++
	err := b.dev.Do(func() error {
		for _, op := range q {
			if err := op(); err != nil {
				return err
			}
		}
		if f != nil {
			return f()
		}
		return nil
	})
	if err != nil {
		b.err = err
	}
	return b.err
}

func (b *Backend) reset() {
	clear(b.queue) // drop the closures' references
	b.queue = b.queue[:0]
	b.stage = b.stage[:0]
}

// stageCopy copies src into the staging area, which keeps it until the
// queue has run. Growing allocates a new area; queued slices of the old one
// stay valid.
func (b *Backend) stageCopy(src []float32) []float32 {
	if cap(b.stage)-len(b.stage) < len(src) {
		b.stage = make([]float32, 0, max(2*cap(b.stage), len(src), 4096))
	}
	n := len(b.stage)
	b.stage = append(b.stage, src...)
	return b.stage[n : n+len(src) : n+len(src)]
}

func fillNaN[T float32 | float64](x []T) {
	for i := range x {
		x[i] = T(math.NaN())
	}
}

// Alloc returns a new zeroed tensor of n elements from the device's memory
// pool. A failed allocation fails the backend (see the package
// documentation) and returns a tensor that nothing reads.
func (b *Backend) Alloc(n int) nn.Tensor {
	if n < 0 {
		panic(fmt.Sprintf("nncuda: Alloc(%d)", n))
	}
	s := &storage{be: b, n: n}
	b.run(func() error {
		buf, err := cuda.Alloc[float32](b.dev, n)
		if err != nil {
			return err
		}
		s.buf = buf
		return buf.Zero()
	})
	return nn.MakeTensor(s)
}

// Free returns a tensor from Alloc to the device's memory pool once the
// queued work has used it.
func (b *Backend) Free(t nn.Tensor) {
	b.view("Free", "t", t, 0)
	s := t.Storage().(*storage)
	if t.Offset() != 0 || t.Len() != s.n {
		panic(fmt.Sprintf("nncuda: Free of a view %v", t))
	}
	buf := s.buf
	s.buf, s.freed = nil, true
	if buf == nil || b.err != nil {
		return // after a failure the device's memory is not reused
	}
	b.enqueue(func() error { buf.Free(); return nil })
}

// Upload copies src into the start of dst. The source is copied before
// Upload returns; the transfer to the device runs with the queue.
func (b *Backend) Upload(dst nn.Tensor, src []float32) {
	d := b.view("Upload", "dst", dst, len(src))
	if d == nil || len(src) == 0 {
		return
	}
	if len(src) >= bigUpload {
		b.run(func() error { return d.CopyFromHost(src) })
		return
	}
	c := b.stageCopy(src)
	b.enqueue(func() error { return d.CopyFromHost(c) })
}

// Download copies the first len(dst) elements of src to dst after the
// queued work; after a failure it writes NaN.
func (b *Backend) Download(dst []float32, src nn.Tensor) {
	s := b.view("Download", "src", src, len(dst))
	if len(dst) == 0 {
		return
	}
	if s == nil || b.run(func() error { return s.CopyToHost(dst) }) != nil {
		fillNaN(dst)
	}
}

// Copy copies src into the start of dst on the device.
func (b *Backend) Copy(dst, src nn.Tensor) {
	n := src.Len()
	s := b.view("Copy", "src", src, n)
	d := b.view("Copy", "dst", dst, n)
	if d == nil || n == 0 {
		return
	}
	b.enqueue(func() error { return d.CopyFrom(s) })
}

// Fill sets every element of x to v.
func (b *Backend) Fill(x nn.Tensor, v float32) {
	d := b.view("Fill", "x", x, x.Len())
	if d == nil {
		return
	}
	b.enqueue(func() error { return b.dev.Fill(d, v) })
}

// Sync runs the queued work, waits for the device and returns the
// backend's error, if any.
func (b *Backend) Sync() error {
	return b.run(func() error { return b.dev.Synchronize() })
}

// Close runs the queued work and waits for it. The backend's tensors stay
// valid (their memory belongs to the device); the device itself is not
// closed.
func (b *Backend) Close() error { return b.Sync() }
