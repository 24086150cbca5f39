package cudaemu

// Transcriptions of kernels/diffusion.cu: diffusion-specific kernels over
// row-major (rows, cols) batches, one row per example.

var diffusionCU = kernelFile{"kernels/diffusion.cu", map[string]kernel{
	"timestep_embedding_f32": timestepEmbeddingF32,
	"row_combine_f32":        rowCombineF32,
	"mse_rows_f32":           mseRowsF32,
	"mse_grad_f32":           mseGradF32,
}}

// timestep_embedding_f32(out, t, rows, dim, max_period, t_scale): for out
// (rows, dim), half = dim/2, f_j = exp(−ln(max_period)·j/half):
//
//	out[r, j] = cos(s·t[r]·f_j),  out[r, half + j] = sin(s·t[r]·f_j),  j < half,
//
// with s = t_scale, and out[r, dim − 1] = 0 when dim is odd.
func timestepEmbeddingF32(l *launch) {
	rows, dim, maxPeriod, tScale := l.i32(2), l.i32(3), l.f32(4), l.f32(5)
	out, t := l.float32s(0, rows*dim), l.int32s(1, rows)
	half := dim / 2
	lnp := logf(maxPeriod)
	for i := range out {
		r, c := i/dim, i%dim
		if c >= 2*half {
			out[i] = 0
			continue
		}
		j := c
		if c >= half {
			j = c - half
		}
		arg := tScale * float32(t[r]) * expf(-lnp*float32(j)/float32(half))
		if c < half {
			out[i] = cosf(arg)
		} else {
			out[i] = sinf(arg)
		}
	}
}

// row_combine_f32(out, x, y, a, b, rows, cols):
// out[r, c] = a[r]·x[r, c] + b[r]·y[r, c], with a and b (rows).
func rowCombineF32(l *launch) {
	rows, cols := l.i32(5), l.i32(6)
	out, x, y := l.float32s(0, rows*cols), l.float32s(1, rows*cols), l.float32s(2, rows*cols)
	a, b := l.float32s(3, rows), l.float32s(4, rows)
	for i := range out {
		r := i / cols
		out[i] = a[r]*x[i] + b[r]*y[i]
	}
}

// mse_rows_f32(loss, pred, target, w, rows, cols):
// loss[r] = w[r]·(1/cols)·Σ_c (pred[r,c] − target[r,c])². One warp per row.
func mseRowsF32(l *launch) {
	l.needWarps()
	rows, cols := l.i32(4), l.i32(5)
	loss, pred, target, w := l.float32s(0, rows), l.float32s(1, rows*cols), l.float32s(2, rows*cols), l.float32s(3, rows)
	for r := range loss {
		var s float32
		for c := r * cols; c < (r+1)*cols; c++ {
			d := pred[c] - target[c]
			s += d * d
		}
		loss[r] = w[r] * s / float32(cols)
	}
}

// mse_grad_f32(dpred, pred, target, w, rows, cols, scale):
// dpred[r,c] = scale·w[r]·2(pred[r,c] − target[r,c])/cols, formed as
// k·w[r]·(pred − target) with k = 2·scale/cols.
func mseGradF32(l *launch) {
	rows, cols, scale := l.i32(4), l.i32(5), l.f32(6)
	dpred, pred, target, w := l.float32s(0, rows*cols), l.float32s(1, rows*cols), l.float32s(2, rows*cols), l.float32s(3, rows)
	k := 2 * scale / float32(cols)
	for i := range dpred {
		dpred[i] = k * w[i/cols] * (pred[i] - target[i])
	}
}
