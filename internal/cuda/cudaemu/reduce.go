package cudaemu

// Transcriptions of kernels/reduce.cu: reductions to a scalar in two
// stages, a first kernel leaving one partial sum per block and sum_f64
// adding the partials, each launched with blocks of exactly PD_BLOCK
// threads. The partial sums depend on the grid, so they are formed block
// by block, over the elements each block visits.

var reduceCU = kernelFile{"kernels/reduce.cu", map[string]kernel{
	"sumsq_partial_f32": sumsqPartialF32,
	"sum_f64":           sumF64,
}}

// sumsq_partial_f32(partial, x, n): partial[b] = Σ x[i]² over the elements
// block b visits (grid-stride), accumulated in float64; partial has
// gridDim.x elements.
func sumsqPartialF32(l *launch) {
	n := l.i64(2)
	x := l.float32s(1, n)
	blockPartials(l, n, func(i int) float64 { v := float64(x[i]); return v * v })
}

// blockPartials writes partial[b] (argument 0, gridDim.x doubles) = the
// float64 sum of term(i) over the elements i < n that block b of a 1-D
// grid-stride launch visits.
func blockPartials(l *launch, n int, term func(i int) float64) {
	l.needBlock(block1D)
	partial := l.float64s(0, int(l.grid.X))
	stride := int(l.grid.X) * blockThreads
	for b := range partial {
		s := 0.0
		for start := b * blockThreads; start < n; start += stride {
			for i := start; i < min(start+blockThreads, n); i++ {
				s += term(i)
			}
		}
		partial[b] = s
	}
}

// sum_f64(out, x, n): out[0] = Σ x[i] over n elements. One block.
func sumF64(l *launch) {
	l.needBlock(block1D)
	l.needGrid(oneBlock)
	n := l.i32(2)
	out, x := l.float64s(0, 1), l.float64s(1, n)
	s := 0.0
	for _, v := range x {
		s += v
	}
	out[0] = s
}
