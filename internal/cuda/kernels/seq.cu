// Kernels of sequence models (the DiT backbone, Peebles & Xie 2023), with
// the exact semantics of the diffusion/nn Backend methods (the CUDA backend
// in internal/cuda/nncuda): the row softmax of attention and its backward
// pass, adaLN's modulation of token rows by per-example factors and its
// backward pass, and the rearrangement of images into patch tokens. All
// are row-major float32; sums are formed in a fixed order, so results do
// not vary from run to run.

// softmax_f32: y[r, :] = softmax(scale·x[r, :]) for x (rows, cols), cols ≥ 1:
//   z_c = scale·x[r, c],  m = max_c z_c,
//   y[r, c] = exp(z_c − m) / Σ_j exp(z_j − m)
// (the max trick: nothing overflows and the largest term is exactly 1).
// z is rounded before the subtraction (__fmul_rn, never fused into an FMA),
// so z_c − m is exactly 0 at the maximum. The exponentials are float32
// (expf), their sum float64, and each y is the float64 product
// exp(z_c − m)·(1/Σ) rounded once, as on the CPU. y may be x: each lane
// reads its elements before it writes them, and the maximum is formed
// before any write. One warp per row (1-D launch, blockDim a multiple of
// 32); any cols.
extern "C" __global__ void softmax_f32(float* y, const float* x, int rows, int cols, float scale) {
	int lane = threadIdx.x & 31;
	WARP_ROWS(r, rows) {
		const float* xr = x + (i64)r * cols;
		float* yr = y + (i64)r * cols;
		float m = __fmul_rn(scale, xr[0]);
		for (int c = lane; c < cols; c += 32) {
			float z = __fmul_rn(scale, xr[c]);
			m = z > m ? z : m;
		}
		m = warp_max(m);
		double s = 0.0;
		for (int c = lane; c < cols; c += 32) {
			float e = expf(__fmul_rn(scale, xr[c]) - m);
			yr[c] = e;
			s += (double)e;
		}
		double inv = 1.0 / warp_sum_f64(s);
		for (int c = lane; c < cols; c += 32) {
			yr[c] = (float)((double)yr[c] * inv);
		}
	}
}

// softmax_backward_f32: from the forward output y (rows, cols) and the
// output gradient dy,
//   dx[r, c] = scale·y[r, c]·(dy[r, c] − s_r),  s_r = Σ_j dy[r, j]·y[r, j],
// with s_r accumulated in float64 and rounded to float32 once, as on the
// CPU. dx may be dy: the row sum is complete (warp_sum_f64) before any
// lane writes, and each lane writes only the elements it read. One warp
// per row.
extern "C" __global__ void softmax_backward_f32(float* dx, const float* y, const float* dy, int rows, int cols,
                                                float scale) {
	int lane = threadIdx.x & 31;
	WARP_ROWS(r, rows) {
		const float* yr = y + (i64)r * cols;
		const float* dyr = dy + (i64)r * cols;
		float* dxr = dx + (i64)r * cols;
		double s = 0.0;
		for (int c = lane; c < cols; c += 32) {
			s += (double)dyr[c] * (double)yr[c];
		}
		float sf = (float)warp_sum_f64(s);
		for (int c = lane; c < cols; c += 32) {
			dxr[c] = scale * yr[c] * (dyr[c] - sf);
		}
	}
}

// modulate_f32: adaLN's modulation of groups of token rows: x is
// (groups·tokens, cols), group g its rows g·tokens … (g+1)·tokens − 1, and
// s, t hold one row of cols factors per group at row stride ld:
//   y[g·tokens + p, c] = x[g·tokens + p, c]·(one + s[g·ld + c]) + t[g·ld + c],
// without the shift when has_t == 0 (t is then not read). one is 1 for
// adaLN's scale and 0 for its gate. y may be x. 1-D launch, grid-stride.
extern "C" __global__ void modulate_f32(float* y, const float* x, const float* s, const float* t, int groups,
                                        int tokens, int cols, int ld, float one, int has_t) {
	GRID_STRIDE(i, (i64)groups * tokens * cols) {
		i64 k = (i / cols / tokens) * ld + i % cols;
		float v = x[i] * (one + s[k]);
		y[i] = has_t ? v + t[k] : v;
	}
}

// modulate_backward_f32: the gradients of modulate_f32 from the output
// gradient dy and the forward's x and s:
//   dx[g·tokens + p, c] = dy[g·tokens + p, c]·(one + s[g·ld + c])   (when has_dx),
//   ds[g·ld + c] = Σ_p dy[g·tokens + p, c]·x[g·tokens + p, c],
//   dt[g·ld + c] = Σ_p dy[g·tokens + p, c]                          (when has_dt),
// ds and dt OVERWRITTEN (the columns c ≥ cols of their rows untouched); dx
// and dt are not touched when their flag is 0. dx may be dy: each element
// is read and then written by the one thread that owns it. Launch with
// blocks of (PD_COLS_X, PD_COLS_Y) threads on a 2-D grid: blocks stride
// over groups of PD_COLS_X columns in x and over the groups in y. Thread
// row j sums the tokens p ≡ j mod PD_COLS_Y in order, then the PD_COLS_Y
// partial sums are added in order (deterministic).
extern "C" __global__ void modulate_backward_f32(float* dx, float* ds, float* dt, const float* dy, const float* x,
                                                 const float* s, int groups, int tokens, int cols, int ld, float one,
                                                 int has_dx, int has_dt) {
	__shared__ float ps[PD_COLS_Y][PD_COLS_X + 1];
	__shared__ float pt[PD_COLS_Y][PD_COLS_X + 1];
	for (int g = blockIdx.y; g < groups; g += gridDim.y) {
		for (int c0 = blockIdx.x * PD_COLS_X; c0 < cols; c0 += gridDim.x * PD_COLS_X) {
			int c = c0 + threadIdx.x;
			float ss = 0.0f, st = 0.0f;
			if (c < cols) {
				float f = one + s[(i64)g * ld + c];
				for (int p = threadIdx.y; p < tokens; p += PD_COLS_Y) {
					i64 k = ((i64)g * tokens + p) * cols + c;
					float v = dy[k];
					ss += v * x[k];
					st += v;
					if (has_dx) {
						dx[k] = v * f;
					}
				}
			}
			ps[threadIdx.y][threadIdx.x] = ss;
			pt[threadIdx.y][threadIdx.x] = st;
			__syncthreads();
			if (threadIdx.y == 0 && c < cols) {
				float ts = 0.0f, tt = 0.0f;
				for (int j = 0; j < PD_COLS_Y; j++) {
					ts += ps[j][threadIdx.x];
					tt += pt[j][threadIdx.x];
				}
				ds[(i64)g * ld + c] = ts;
				if (has_dt) {
					dt[(i64)g * ld + c] = tt;
				}
			}
			__syncthreads();
		}
	}
}

// patchify_f32: n channels-first images (channels, side, side) and their
// patch tokens (L, F), L = (side/patch)² patches in row-major order,
// F = patch²·channels features ordered (i, j, c) (DiT's unpatchify order):
//   tok[(b·L + P·side/patch + Q)·F + (i·patch + j)·channels + c]
//     = img[b·channels·side² + c·side² + (P·patch + i)·side + Q·patch + j].
// inverse == 0 writes dst = tok from src = img, inverse != 0 dst = img
// from src = tok; side is a multiple of patch. A permutation: dst must not
// overlap src. 1-D launch over the token elements, grid-stride.
extern "C" __global__ void patchify_f32(float* dst, const float* src, int n, int channels, int side, int patch,
                                        int inverse) {
	int g = side / patch, f = patch * patch * channels;
	GRID_STRIDE(ti, (i64)n * channels * side * side) {
		i64 bt = ti / f;
		int e = (int)(ti % f);
		int i = e / (patch * channels), j = e / channels % patch, c = e % channels;
		i64 b = bt / ((i64)g * g);
		int pq = (int)(bt % ((i64)g * g));
		int P = pq / g, Q = pq % g;
		i64 ii = (b * channels + c) * side * side + (i64)(P * patch + i) * side + Q * patch + j;
		if (inverse) {
			dst[ii] = src[ti];
		} else {
			dst[ti] = src[ii];
		}
	}
}
