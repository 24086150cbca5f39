// Element-wise kernels over float32 arrays of n elements. 1-D launch,
// grid-stride loops: any grid works. Outputs may alias inputs.

// fill_f32: x[i] = v.
extern "C" __global__ void fill_f32(float* x, float v, i64 n) {
	GRID_STRIDE(i, n) { x[i] = v; }
}

// scale_f32: x[i] = a·x[i].
extern "C" __global__ void scale_f32(float* x, float a, i64 n) {
	GRID_STRIDE(i, n) { x[i] *= a; }
}

// axpy_f32: y[i] = y[i] + a·x[i].
extern "C" __global__ void axpy_f32(float* y, float a, const float* x, i64 n) {
	GRID_STRIDE(i, n) { y[i] += a * x[i]; }
}

// add_f32: out[i] = a[i] + b[i].
extern "C" __global__ void add_f32(float* out, const float* a, const float* b, i64 n) {
	GRID_STRIDE(i, n) { out[i] = a[i] + b[i]; }
}

// mul_f32: out[i] = a[i]·b[i].
extern "C" __global__ void mul_f32(float* out, const float* a, const float* b, i64 n) {
	GRID_STRIDE(i, n) { out[i] = a[i] * b[i]; }
}

// f32_to_f64: out[i] = (double)x[i].
extern "C" __global__ void f32_to_f64(double* out, const float* x, i64 n) {
	GRID_STRIDE(i, n) { out[i] = (double)x[i]; }
}

// bias_add_f32: y[r, c] += bias[c] for y (rows, cols) row-major.
extern "C" __global__ void bias_add_f32(float* y, const float* bias, int rows, int cols) {
	GRID_STRIDE(i, (i64)rows * cols) { y[i] += bias[i % cols]; }
}

// bias_grad_f32: dbias[c] += Σ_r dy[r, c] for dy (rows, cols): the bias
// gradient of a linear layer, added into dbias. Launch with blocks of
// (PD_COLS_X, PD_COLS_Y) threads; blocks stride over groups of PD_COLS_X
// columns. Each column is summed in a fixed order (deterministic).
extern "C" __global__ void bias_grad_f32(float* dbias, const float* dy, int rows, int cols) {
	__shared__ float part[PD_COLS_Y][PD_COLS_X + 1];
	for (int c0 = blockIdx.x * PD_COLS_X; c0 < cols; c0 += gridDim.x * PD_COLS_X) {
		int c = c0 + threadIdx.x;
		float s = 0.0f;
		if (c < cols) {
			for (int r = threadIdx.y; r < rows; r += PD_COLS_Y) {
				s += dy[(i64)r * cols + c];
			}
		}
		part[threadIdx.y][threadIdx.x] = s;
		__syncthreads();
		if (threadIdx.y == 0 && c < cols) {
			float t = 0.0f;
			for (int j = 0; j < PD_COLS_Y; j++) {
				t += part[j][threadIdx.x];
			}
			dbias[c] += t;
		}
		__syncthreads();
	}
}
