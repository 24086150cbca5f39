package cudaemu

import "math"

// Transcriptions of kernels/training.cu: the kernels with the exact
// semantics of the diffusion/nn Backend methods (package nncuda), where
// the general kernels differ.

var trainingCU = kernelFile{"kernels/training.cu", map[string]kernel{
	"dot_partial_f32":    dotPartialF32,
	"time_embedding_f32": timeEmbeddingF32,
	"weighted_mse_f32":   weightedMSEF32,
	"f32_cols_to_f64":    f32ColsToF64,
	"scale_matrix_f32":   scaleMatrixF32,
}}

// dot_partial_f32(partial, x, y, n): partial[b] = Σ x[i]·y[i] over the
// elements block b visits (grid-stride), each product and the sum in
// float64; blocks of exactly PD_BLOCK threads (see reduce.go).
func dotPartialF32(l *launch) {
	n := l.i64(3)
	x, y := l.float32s(1, n), l.float32s(2, n)
	blockPartials(l, n, func(i int) float64 { return float64(x[i]) * float64(y[i]) })
}

// time_embedding_f32(out, t, rows, dim, max_period): for float32 timesteps
// t (rows), out (rows, dim), dim even, half = dim/2:
//
//	out[r, i] = cos(t_r·f_i),  out[r, half + i] = sin(t_r·f_i),
//	f_i = exp(−ln(max_period)·i/half),  i < half,
//
// evaluated in float64 and rounded once.
func timeEmbeddingF32(l *launch) {
	rows, dim, maxPeriod := l.i32(2), l.i32(3), l.f32(4)
	out, t := l.float32s(0, rows*dim), l.float32s(1, rows)
	half := dim / 2
	lp := math.Log(float64(maxPeriod))
	for r := 0; r < rows; r++ {
		for i := 0; i < half; i++ {
			arg := float64(t[r]) * math.Exp(-lp*float64(i)/float64(half))
			out[r*dim+i] = float32(math.Cos(arg))
			out[r*dim+half+i] = float32(math.Sin(arg))
		}
	}
}

// weighted_mse_f32(row_loss, dpred, pred, target, w, rows, cols, scale,
// grad): row_loss[r] = (1/cols)·Σ_c (pred[r, c] − target[r, c])² in
// float64, and, when grad != 0, the gradient of L = scale·Σ_r w[r]·row_loss[r]:
//
//	dpred[r, c] = k_r·(pred[r, c] − target[r, c]),  k_r = scale·w[r]·2/cols
//
// with k_r formed in float32 in that order; when grad is 0, dpred and w
// are not touched. One warp per row.
func weightedMSEF32(l *launch) {
	l.needWarps()
	rows, cols, scale, grad := l.i32(5), l.i32(6), l.f32(7), l.i32(8) != 0
	loss, pred, target := l.float32s(0, rows), l.float32s(2, rows*cols), l.float32s(3, rows*cols)
	var dpred, w []float32
	if grad {
		dpred, w = l.float32s(1, rows*cols), l.float32s(4, rows)
	}
	for r := 0; r < rows; r++ {
		s := 0.0
		for c := r * cols; c < (r+1)*cols; c++ {
			d := float64(pred[c]) - float64(target[c])
			s += d * d
		}
		loss[r] = float32(s / float64(cols))
		if grad {
			k := scale * w[r] * 2 / float32(cols)
			for c := r * cols; c < (r+1)*cols; c++ {
				dpred[c] = k * (pred[c] - target[c])
			}
		}
	}
}

// f32_cols_to_f64(out, x, rows, ld, c0, w): out (rows, w), densely packed,
// holds columns c0 … c0 + w − 1 of x (rows, ld row stride) as float64.
func f32ColsToF64(l *launch) {
	rows, ld, c0, w := l.i32(2), l.i64(3), l.i64(4), l.i32(5)
	out := l.float64s(0, rows*w)
	x := l.float32s(1, max(0, (rows-1)*ld+c0+w))
	for r := 0; r < rows; r++ {
		for c := 0; c < w; c++ {
			out[r*w+c] = float64(x[r*ld+c0+c])
		}
	}
}

// scale_matrix_f32(c, rows, cols, ld, beta): c[r·ld + j] = beta·c[r·ld + j]
// for r < rows, j < cols, and 0 when beta == 0 (c is then not read).
func scaleMatrixF32(l *launch) {
	rows, cols, ld, beta := l.i32(1), l.i32(2), l.i64(3), l.f32(4)
	c := l.float32s(0, max(0, (rows-1)*ld+cols))
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			if beta == 0 {
				c[r*ld+j] = 0
			} else {
				c[r*ld+j] *= beta
			}
		}
	}
}
