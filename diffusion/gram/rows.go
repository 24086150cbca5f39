package gram

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// binRows is the layout of a batch of B examples grouped into K bins: bin
// k is examples off[k] … off[k+1] − 1 (n_k = counts[k] examples,
// e_k = off[k+1]).
type binRows struct {
	B, K   int
	counts []int
	off    []int // length K + 1, off[0] = 0, off[K] = B
	binOf  []int // the bin of each example
	maxN   int   // the largest n_k
}

// tokenRows is the layout of the rows of a layer that has T rows per
// example (a sequence model's token rows; T = 1 for a layer applied once
// per example): example n has rows n·T … (n+1)·T − 1, so bin k has rows
// off_k·T … e_k·T − 1. Every per-example quantity of the pass (the
// factors r_n) is repeated over an example's T rows.
type tokenRows struct {
	T    int
	rows int   // B·T
	cnt  []int // n_k·T
	off  []int // off_k·T, length K + 1
	maxN int   // the largest n_k·T
	// ratio holds r_n for every row (the example's factor, repeated T
	// times) and zero B·T zeros, on the backend; both absent without
	// rescaling (c nil).
	ratio, zero nn.Tensor
	// ends holds, for the ragged ghost GEMM, e_k·T for every row of bin k
	// (nil until ghostSums needs it).
	ends []int
}

// tokens returns the layout of the rows of layers with T rows per example,
// made (and its factors uploaded) on first use in this run.
func (r *passRun) tokens(T int) *tokenRows {
	if l, ok := r.layouts[T]; ok {
		return l
	}
	l := &tokenRows{T: T, rows: r.B * T, cnt: make([]int, r.K), off: make([]int, r.K+1), maxN: r.maxN * T}
	for k, n := range r.counts {
		l.cnt[k], l.off[k+1] = n*T, r.off[k+1]*T
	}
	if r.ratio != nil {
		host := make([]float32, l.rows)
		for i := range host {
			host[i] = r.ratio[i/T]
		}
		l.ratio, l.zero = r.buf(fmt.Sprintf("ratio/%d", T), l.rows), r.filled(fmt.Sprintf("zero/%d", T), l.rows, 0)
		r.be.Upload(l.ratio, host)
	}
	r.layouts[T] = l
	return l
}

// raggedEnds returns l.ends, making it on first use: e_k·T for every row
// of bin k, the columns of the lower block triangle.
func (l *tokenRows) raggedEnds() []int {
	if l.ends == nil {
		l.ends = make([]int, l.rows)
		for k := range l.cnt {
			for i := l.off[k]; i < l.off[k+1]; i++ {
				l.ends[i] = l.off[k+1]
			}
		}
	}
	return l.ends
}

// rowScale returns the factor r_n of row i of layout l, that of its
// example n = ⌊i/T⌋, as a float64 (1 without rescaling).
func (r *passRun) rowScale(l *tokenRows, i int) float64 {
	if r.ratio == nil {
		return 1
	}
	return float64(r.ratio[i/l.T])
}

// rescaled returns the rows d (l.rows, cols) of the pass scaled row by row
// by their examples' r_n (Backend.RowAxpby into the named scratch tensor),
// the rows of the task losses; d itself when there is no rescaling.
func (r *passRun) rescaled(name string, d nn.Tensor, l *tokenRows, cols int) nn.Tensor {
	if r.ratio == nil {
		return d
	}
	dst := r.buf(name, l.rows*cols)
	r.be.RowAxpby(dst, l.ratio, d, l.zero, d, l.rows, cols)
	return dst
}
