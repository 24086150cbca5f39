// Layer normalisation over the last axis of x (rows, cols), row-major:
//   μ_r = mean_c x[r,c],  σ²_r = mean_c (x[r,c] − μ_r)²  (biased),
//   rstd_r = 1/√(σ²_r + eps),  x̂ = (x − μ)·rstd,  out = x̂·γ[c] + β[c].

// layernorm_f32 writes out (rows, cols) and saves mean (rows) and rstd
// (rows) for the backward pass. One warp per row (1-D launch, blockDim a
// multiple of 32); the variance is computed in a second pass over the row.
extern "C" __global__ void layernorm_f32(float* out, float* mean, float* rstd, const float* x,
                                         const float* gamma, const float* beta, int rows, int cols, float eps) {
	int lane = threadIdx.x & 31;
	WARP_ROWS(r, rows) {
		const float* xr = x + (i64)r * cols;
		float s = 0.0f;
		for (int c = lane; c < cols; c += 32) {
			s += xr[c];
		}
		float mu = warp_sum(s) / cols;
		float v = 0.0f;
		for (int c = lane; c < cols; c += 32) {
			float d = xr[c] - mu;
			v += d * d;
		}
		float rs = rsqrtf(warp_sum(v) / cols + eps);
		float* outr = out + (i64)r * cols;
		for (int c = lane; c < cols; c += 32) {
			outr[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
		}
		if (lane == 0) {
			mean[r] = mu;
			rstd[r] = rs;
		}
	}
}

// layernorm_backward_f32 computes the input gradient of each row from the
// saved mean and rstd: with g = dy·γ,
//   dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)),
// written to dx, or added into it when accumulate != 0. One warp per row.
extern "C" __global__ void layernorm_backward_f32(float* dx, const float* dy, const float* x, const float* mean,
                                                  const float* rstd, const float* gamma, int rows, int cols,
                                                  int accumulate) {
	int lane = threadIdx.x & 31;
	WARP_ROWS(r, rows) {
		const float* xr = x + (i64)r * cols;
		const float* dyr = dy + (i64)r * cols;
		float mu = mean[r], rs = rstd[r];
		float sg = 0.0f, sgx = 0.0f;
		for (int c = lane; c < cols; c += 32) {
			float g = dyr[c] * gamma[c];
			sg += g;
			sgx += g * (xr[c] - mu) * rs;
		}
		float mg = warp_sum(sg) / cols;
		float mgx = warp_sum(sgx) / cols;
		float* dxr = dx + (i64)r * cols;
		for (int c = lane; c < cols; c += 32) {
			float xh = (xr[c] - mu) * rs;
			float v = rs * (dyr[c] * gamma[c] - mg - xh * mgx);
			dxr[c] = accumulate ? dxr[c] + v : v;
		}
	}
}

// layernorm_param_grad_f32 adds the parameter gradients, summed over rows:
//   dgamma[c] += Σ_r dy[r,c]·x̂[r,c],  dbeta[c] += Σ_r dy[r,c].
// Launch with blocks of (PD_COLS_X, PD_COLS_Y) threads, as bias_grad_f32.
extern "C" __global__ void layernorm_param_grad_f32(float* dgamma, float* dbeta, const float* dy, const float* x,
                                                    const float* mean, const float* rstd, int rows, int cols) {
	__shared__ float pg[PD_COLS_Y][PD_COLS_X + 1];
	__shared__ float pb[PD_COLS_Y][PD_COLS_X + 1];
	for (int c0 = blockIdx.x * PD_COLS_X; c0 < cols; c0 += gridDim.x * PD_COLS_X) {
		int c = c0 + threadIdx.x;
		float sg = 0.0f, sb = 0.0f;
		if (c < cols) {
			for (int r = threadIdx.y; r < rows; r += PD_COLS_Y) {
				i64 k = (i64)r * cols + c;
				sg += dy[k] * (x[k] - mean[r]) * rstd[r];
				sb += dy[k];
			}
		}
		pg[threadIdx.y][threadIdx.x] = sg;
		pb[threadIdx.y][threadIdx.x] = sb;
		__syncthreads();
		if (threadIdx.y == 0 && c < cols) {
			float tg = 0.0f, tb = 0.0f;
			for (int j = 0; j < PD_COLS_Y; j++) {
				tg += pg[j][threadIdx.x];
				tb += pb[j][threadIdx.x];
			}
			dgamma[c] += tg;
			dbeta[c] += tb;
		}
		__syncthreads();
	}
}
