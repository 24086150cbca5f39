package cudaemu

// Transcriptions of kernels/layernorm.cu: layer normalisation over the
// last axis of x (rows, cols), row-major:
//
//	μ_r = mean_c x[r,c],  σ²_r = mean_c (x[r,c] − μ_r)²  (biased),
//	rstd_r = 1/√(σ²_r + eps),  x̂ = (x − μ)·rstd,  out = x̂·γ[c] + β[c].

var layernormCU = kernelFile{"kernels/layernorm.cu", map[string]kernel{
	"layernorm_f32":            layerNormF32,
	"layernorm_backward_f32":   layerNormBackwardF32,
	"layernorm_param_grad_f32": layerNormParamGradF32,
}}

// layernorm_f32(out, mean, rstd, x, gamma, beta, rows, cols, eps): out as
// above, and mean (rows) and rstd (rows) saved for the backward pass; the
// variance in a second pass over the row. One warp per row.
func layerNormF32(l *launch) {
	l.needWarps()
	rows, cols, eps := l.i32(6), l.i32(7), l.f32(8)
	out, mean, rstd := l.float32s(0, rows*cols), l.float32s(1, rows), l.float32s(2, rows)
	x, gamma, beta := l.float32s(3, rows*cols), l.float32s(4, cols), l.float32s(5, cols)
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		var s float32
		for _, v := range xr {
			s += v
		}
		mu := s / float32(cols)
		var vs float32
		for _, v := range xr {
			vs += (v - mu) * (v - mu)
		}
		rs := 1 / sqrtf(vs/float32(cols)+eps)
		for c, v := range xr {
			out[r*cols+c] = (v-mu)*rs*gamma[c] + beta[c]
		}
		mean[r], rstd[r] = mu, rs
	}
}

// layernorm_backward_f32(dx, dy, x, mean, rstd, gamma, rows, cols,
// accumulate): with g = dy·γ,
//
//	dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)),
//
// written to dx, or added into it when accumulate != 0. One warp per row.
func layerNormBackwardF32(l *launch) {
	l.needWarps()
	rows, cols, acc := l.i32(6), l.i32(7), l.i32(8) != 0
	dx, dy, x := l.float32s(0, rows*cols), l.float32s(1, rows*cols), l.float32s(2, rows*cols)
	mean, rstd, gamma := l.float32s(3, rows), l.float32s(4, rows), l.float32s(5, cols)
	for r := 0; r < rows; r++ {
		mu, rs := mean[r], rstd[r]
		var sg, sgx float32
		for c := 0; c < cols; c++ {
			g := dy[r*cols+c] * gamma[c]
			sg += g
			sgx += g * (x[r*cols+c] - mu) * rs
		}
		mg, mgx := sg/float32(cols), sgx/float32(cols)
		for c := 0; c < cols; c++ {
			k := r*cols + c
			xh := (x[k] - mu) * rs
			v := rs * (dy[k]*gamma[c] - mg - xh*mgx)
			if acc {
				v += dx[k]
			}
			dx[k] = v
		}
	}
}

// layernorm_param_grad_f32(dgamma, dbeta, dy, x, mean, rstd, rows, cols):
// the parameter gradients summed over rows, added into dgamma and dbeta:
//
//	dgamma[c] += Σ_r dy[r,c]·x̂[r,c],  dbeta[c] += Σ_r dy[r,c].
//
// Launched with (PD_COLS_X, PD_COLS_Y) blocks, as bias_grad_f32; the
// rows are summed in order here.
func layerNormParamGradF32(l *launch) {
	l.needBlock(blockCols)
	rows, cols := l.i32(6), l.i32(7)
	dgamma, dbeta := l.float32s(0, cols), l.float32s(1, cols)
	dy, x := l.float32s(2, rows*cols), l.float32s(3, rows*cols)
	mean, rstd := l.float32s(4, rows), l.float32s(5, rows)
	for c := 0; c < cols; c++ {
		var sg, sb float32
		for r := 0; r < rows; r++ {
			k := r*cols + c
			sg += dy[k] * (x[k] - mean[r]) * rstd[r]
			sb += dy[k]
		}
		dgamma[c] += sg
		dbeta[c] += sb
	}
}
