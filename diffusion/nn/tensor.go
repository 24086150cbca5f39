package nn

import "fmt"

// Storage is one allocation owned by a Backend: host memory for the CPU
// backend, device memory for a GPU backend. Code outside the backend that
// made it never reads it; it only passes Tensors (views of it) back to that
// backend.
type Storage interface {
	// Len returns the number of float32 elements allocated.
	Len() int
}

// Tensor is an opaque handle to n consecutive float32 elements starting at an
// offset into one Storage. It is a small value: copying it copies the handle,
// not the data. The zero Tensor is "absent" (IsZero reports true); operations
// document where they accept it (for example to skip an input gradient).
//
// A Tensor carries no shape: operations take their dimensions as arguments
// and panic when a tensor is too short for them. Views (View) address parts
// of one allocation, which is how parameters, gradients and optimiser state
// live in flat buffers with named views on any backend.
type Tensor struct {
	s      Storage
	off, n int
}

// MakeTensor returns a tensor covering all of s. Backends call it from Alloc.
func MakeTensor(s Storage) Tensor { return Tensor{s: s, n: s.Len()} }

// Storage returns the allocation the tensor views, for the backend that owns
// it.
func (t Tensor) Storage() Storage { return t.s }

// Offset returns the index of the tensor's first element in its Storage.
func (t Tensor) Offset() int { return t.off }

// Len returns the number of elements.
func (t Tensor) Len() int { return t.n }

// IsZero reports whether t is the zero (absent) Tensor.
func (t Tensor) IsZero() bool { return t.s == nil }

// View returns the n elements of t starting at element off. It panics if they
// are not inside t.
func (t Tensor) View(off, n int) Tensor {
	if off < 0 || n < 0 || off+n > t.n {
		panic(fmt.Sprintf("nn: View(%d, %d) outside a tensor of length %d", off, n, t.n))
	}
	return Tensor{s: t.s, off: t.off + off, n: n}
}

// Rows returns rows r0..r1−1 of t read as a row-major matrix with cols
// columns: View(r0·cols, (r1−r0)·cols).
func (t Tensor) Rows(r0, r1, cols int) Tensor { return t.View(r0*cols, (r1-r0)*cols) }

// String describes the handle (not the data).
func (t Tensor) String() string {
	if t.s == nil {
		return "Tensor(absent)"
	}
	return fmt.Sprintf("Tensor[%d:%d of %d]", t.off, t.off+t.n, t.s.Len())
}

// need panics unless t has at least n elements; ops use it to check shapes.
func need(op, name string, t Tensor, n int) {
	if t.s == nil {
		panic(fmt.Sprintf("nn: %s: %s is absent", op, name))
	}
	if t.n < n {
		panic(fmt.Sprintf("nn: %s: %s has %d elements, needs %d", op, name, t.n, n))
	}
}
