// prelude.cuh — prepended to the kernels (see KernelSource in the Go code).
//
// Under NVRTC, the CUDA built-ins (threadIdx, expf, __shfl_xor_sync, ...)
// exist already. The syntax check with clang (-x cuda -nocudainc, see
// source_test.go) defines PARETODIFF_CLANG_CHECK and gets declarations of
// the few built-ins the kernels use from the block below; NVRTC never sees it.
#ifdef PARETODIFF_CLANG_CHECK
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
#include <__clang_cuda_builtin_vars.h>
extern "C" __device__ float expf(float);
extern "C" __device__ float logf(float);
extern "C" __device__ float tanhf(float);
extern "C" __device__ float erff(float);
extern "C" __device__ float sqrtf(float);
extern "C" __device__ float rsqrtf(float);
extern "C" __device__ float sinf(float);
extern "C" __device__ float cosf(float);
extern "C" __device__ double exp(double);
extern "C" __device__ double log(double);
extern "C" __device__ double sin(double);
extern "C" __device__ double cos(double);
extern "C" __device__ float __fmul_rn(float, float);
static __device__ __forceinline__ float __shfl_xor_sync(unsigned mask, float v, int lane) {
	return __nvvm_shfl_sync_bfly_f32(mask, v, lane, 0x1f);
}
static __device__ __forceinline__ __attribute__((unused)) double __shfl_xor_sync(unsigned mask, double v, int lane) {
	union {
		double d;
		int i[2];
	} u;
	u.d = v;
	u.i[0] = __nvvm_shfl_sync_bfly_i32(mask, u.i[0], lane, 0x1f);
	u.i[1] = __nvvm_shfl_sync_bfly_i32(mask, u.i[1], lane, 0x1f);
	return u.d;
}
// The check also compiles this prelude alone, where helpers that only
// some kernel files use would be unused functions (-Werror).
#define PD_SHARED_HELPER __attribute__((unused))
#else
#define PD_SHARED_HELPER
#endif

typedef long long i64;

// Block shapes the kernels assume; the Go launch code uses the same numbers.
#define PD_BLOCK 256  // threads of a 1-D block; reductions over a block need exactly this
#define PD_COLS_X 32  // column-reduction blocks are (PD_COLS_X, PD_COLS_Y)
#define PD_COLS_Y 8

// GRID_STRIDE loops i over [0, n) with every thread of the grid.
#define GRID_STRIDE(i, n) \
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// WARP_ROWS loops r over the rows [0, rows), one warp per row: every lane
// of a warp sees the same r. blockDim.x must be a multiple of 32.
#define WARP_ROWS(r, rows)                                                        \
	for (int r = (int)(((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5); r < (rows); \
	     r += (int)(((i64)gridDim.x * blockDim.x) >> 5))

// warp_sum returns the sum of v over the 32 lanes of a warp, to every lane,
// in a fixed order (deterministic).
static __device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) {
		v += __shfl_xor_sync(0xffffffffu, v, o);
	}
	return v;
}

// warp_sum_f64 is warp_sum in float64.
static __device__ __forceinline__ PD_SHARED_HELPER double warp_sum_f64(double v) {
	for (int o = 16; o > 0; o >>= 1) {
		v += __shfl_xor_sync(0xffffffffu, v, o);
	}
	return v;
}

// warp_max returns the largest v over the 32 lanes of a warp, to every
// lane (the order does not matter: max is exact).
static __device__ __forceinline__ PD_SHARED_HELPER float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1) {
		float w = __shfl_xor_sync(0xffffffffu, v, o);
		v = w > v ? w : v;
	}
	return v;
}
