// Reductions to a scalar, in two deterministic stages: a first kernel
// leaves one partial sum per block, sum_f64 adds the partials. Launch both
// with blocks of exactly PD_BLOCK threads.

// block_sum_f64 returns the sum of v over the block to thread 0, by a
// fixed-order tree in shared memory.
static __device__ __forceinline__ double block_sum_f64(double v) {
	__shared__ double buf[PD_BLOCK];
	buf[threadIdx.x] = v;
	__syncthreads();
	for (int s = PD_BLOCK / 2; s > 0; s >>= 1) {
		if ((int)threadIdx.x < s) {
			buf[threadIdx.x] += buf[threadIdx.x + s];
		}
		__syncthreads();
	}
	return buf[0];
}

// sumsq_partial_f32: partial[b] = Σ x[i]² over the elements block b visits
// (grid-stride), accumulated in float64. partial has gridDim.x elements.
extern "C" __global__ void sumsq_partial_f32(double* partial, const float* x, i64 n) {
	double s = 0.0;
	GRID_STRIDE(i, n) {
		double v = (double)x[i];
		s += v * v;
	}
	s = block_sum_f64(s);
	if (threadIdx.x == 0) {
		partial[blockIdx.x] = s;
	}
}

// sum_f64: out[0] = Σ x[i] over n elements. Launch one block.
extern "C" __global__ void sum_f64(double* out, const double* x, int n) {
	double s = 0.0;
	for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x) {
		s += x[i];
	}
	s = block_sum_f64(s);
	if (threadIdx.x == 0) {
		out[0] = s;
	}
}
