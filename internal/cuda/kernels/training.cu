// Kernels with the exact semantics of the diffusion/nn Backend methods (the
// CUDA backend in internal/cuda/nncuda), where the general kernels above
// differ: a float64 dot product, the timestep embedding of float32
// timesteps computed in float64, the unweighted per-row MSE with its
// weighted gradient in one pass, the float64 copy of a block of columns
// for the Gram matrix, and the β-scaling of a strided matrix. This file
// sorts after reduce.cu, whose block_sum_f64 it uses.

// dot_partial_f32: partial[b] = Σ x[i]·y[i] over the elements block b
// visits (grid-stride), each product and the sum in float64 (a product of
// two floats is exact in double). Launch with blocks of exactly PD_BLOCK
// threads; sum_f64 adds the partials.
extern "C" __global__ void dot_partial_f32(double* partial, const float* x, const float* y, i64 n) {
	double s = 0.0;
	GRID_STRIDE(i, n) {
		s += (double)x[i] * (double)y[i];
	}
	s = block_sum_f64(s);
	if (threadIdx.x == 0) {
		partial[blockIdx.x] = s;
	}
}

// time_embedding_f32: the sinusoidal embedding of timesteps held as float32
// values t (rows), into out (rows, dim), dim even, half = dim/2:
//   out[r, i] = cos(t_r·f_i),  out[r, half + i] = sin(t_r·f_i),
//   f_i = exp(−ln(max_period)·i/half),  i < half,
// evaluated in float64 and rounded once, as the CPU backend does (in float32
// the argument t·f of t ≈ 1000 would carry an absolute error near 1e-4).
// 1-D launch over rows·half.
extern "C" __global__ void time_embedding_f32(float* out, const float* t, int rows, int dim, float max_period) {
	int half = dim / 2;
	double lp = log((double)max_period);
	GRID_STRIDE(k, (i64)rows * half) {
		int r = (int)(k / half), i = (int)(k % half);
		double arg = (double)t[r] * exp(-lp * (double)i / (double)half);
		float* row = out + (i64)r * dim;
		row[i] = (float)cos(arg);
		row[half + i] = (float)sin(arg);
	}
}

// weighted_mse_f32: for each row r of pred and target (rows, cols),
//   row_loss[r] = (1/cols)·Σ_c (pred[r, c] − target[r, c])²
// accumulated in float64, and, when grad != 0, the gradient of
// L = scale·Σ_r w[r]·row_loss[r]:
//   dpred[r, c] = k_r·(pred[r, c] − target[r, c]),  k_r = scale·w[r]·2/cols
// with k_r formed in float32 in that order (as the CPU backend). When grad
// is 0, dpred and w are not read or written. One warp per row.
extern "C" __global__ void weighted_mse_f32(float* row_loss, float* dpred, const float* pred, const float* target,
                                            const float* w, int rows, int cols, float scale, int grad) {
	int lane = threadIdx.x & 31;
	WARP_ROWS(r, rows) {
		const float* pr = pred + (i64)r * cols;
		const float* tr = target + (i64)r * cols;
		double s = 0.0;
		for (int c = lane; c < cols; c += 32) {
			double d = (double)pr[c] - (double)tr[c];
			s += d * d;
		}
		s = warp_sum_f64(s);
		if (lane == 0) {
			row_loss[r] = (float)(s / (double)cols);
		}
		if (grad) {
			float k = scale * w[r] * 2.0f / (float)cols;
			float* dr = dpred + (i64)r * cols;
			for (int c = lane; c < cols; c += 32) {
				dr[c] = k * (pr[c] - tr[c]);
			}
		}
	}
}

// f32_cols_to_f64: out (rows, w), densely packed, holds columns
// c0 … c0 + w − 1 of x (rows, ld row stride) as float64 (exact): the block
// of per-bin gradient columns the Gram matrix multiplies next. 1-D launch.
extern "C" __global__ void f32_cols_to_f64(double* out, const float* x, int rows, i64 ld, i64 c0, int w) {
	GRID_STRIDE(i, (i64)rows * w) {
		i64 r = i / w, c = i % w;
		out[i] = (double)x[r * ld + c0 + c];
	}
}

// scale_matrix_f32: c[r·ld + j] = beta·c[r·ld + j] for r < rows, j < cols,
// and 0 when beta == 0 (c is then not read, so NaN does not survive): the
// GEMM C = α·op(A)·op(B) + β·C with an empty inner dimension. 1-D launch.
extern "C" __global__ void scale_matrix_f32(float* c, int rows, int cols, i64 ld, float beta) {
	GRID_STRIDE(i, (i64)rows * cols) {
		i64 k = (i / cols) * ld + i % cols;
		c[k] = beta == 0.0f ? 0.0f : beta * c[k];
	}
}
