// Diffusion-specific kernels over row-major (rows, cols) batches: one row
// per example, per-row coefficients gathered on the host from the schedule.

// timestep_embedding_f32: the sinusoidal embedding of guided-diffusion /
// DDPM. For out (rows, dim), half = dim/2, f_j = exp(−ln(max_period)·j/half):
//   out[r, j] = cos(s·t[r]·f_j),  out[r, half + j] = sin(s·t[r]·f_j),  j < half,
// with s = t_scale, and out[r, dim − 1] = 0 when dim is odd. 1-D launch.
extern "C" __global__ void timestep_embedding_f32(float* out, const int* t, int rows, int dim, float max_period,
                                                  float t_scale) {
	int half = dim / 2;
	float lnp = logf(max_period);
	GRID_STRIDE(i, (i64)rows * dim) {
		int r = (int)(i / dim), c = (int)(i % dim);
		if (c >= 2 * half) {
			out[i] = 0.0f;
		} else {
			int j = c < half ? c : c - half;
			float arg = t_scale * (float)t[r] * expf(-lnp * (float)j / (float)half);
			out[i] = c < half ? cosf(arg) : sinf(arg);
		}
	}
}

// row_combine_f32: out[r, c] = a[r]·x[r, c] + b[r]·y[r, c], with a and b
// (rows). Forward noising is row_combine(x_t; x0, ε; α_t, σ_t), x_t = α_t x0 + σ_t ε,
// and the v target is row_combine(v; x0, ε; −σ_t, α_t). 1-D launch.
extern "C" __global__ void row_combine_f32(float* out, const float* x, const float* y, const float* a,
                                           const float* b, int rows, int cols) {
	GRID_STRIDE(i, (i64)rows * cols) {
		int r = (int)(i / cols);
		out[i] = a[r] * x[i] + b[r] * y[i];
	}
}

// mse_rows_f32: loss[r] = w[r]·(1/cols)·Σ_c (pred[r,c] − target[r,c])², the
// weighted per-example mean squared error. One warp per row.
extern "C" __global__ void mse_rows_f32(float* loss, const float* pred, const float* target, const float* w, int rows,
                                        int cols) {
	int lane = threadIdx.x & 31;
	WARP_ROWS(r, rows) {
		const float* pr = pred + (i64)r * cols;
		const float* tr = target + (i64)r * cols;
		float s = 0.0f;
		for (int c = lane; c < cols; c += 32) {
			float d = pr[c] - tr[c];
			s += d * d;
		}
		s = warp_sum(s);
		if (lane == 0) {
			loss[r] = w[r] * s / cols;
		}
	}
}

// mse_grad_f32: dpred[r,c] = scale·w[r]·2(pred[r,c] − target[r,c])/cols, the
// gradient of scale·Σ_r loss[r] (scale = 1/rows for the batch mean). 1-D launch.
extern "C" __global__ void mse_grad_f32(float* dpred, const float* pred, const float* target, const float* w,
                                        int rows, int cols, float scale) {
	float k = 2.0f * scale / cols;
	GRID_STRIDE(i, (i64)rows * cols) {
		int r = (int)(i / cols);
		dpred[i] = k * w[r] * (pred[i] - target[i]);
	}
}
