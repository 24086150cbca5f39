// Activation functions, forward and backward, element-wise over n float32
// values (1-D launch, grid-stride). A backward kernel writes
// dx = dy·f'(x), or adds it into dx when accumulate != 0 (dx is then read;
// otherwise it is only written, so it may hold garbage).

// silu_f32: out = x·s(x), s(x) = 1/(1 + e^(−x)).
extern "C" __global__ void silu_f32(float* out, const float* x, i64 n) {
	GRID_STRIDE(i, n) {
		float v = x[i];
		out[i] = v / (1.0f + expf(-v));
	}
}

// silu_backward_f32: f'(x) = s(x)·(1 + x·(1 − s(x))).
extern "C" __global__ void silu_backward_f32(float* dx, const float* dy, const float* x, i64 n, int accumulate) {
	GRID_STRIDE(i, n) {
		float v = x[i];
		float s = 1.0f / (1.0f + expf(-v));
		float g = dy[i] * s * (1.0f + v * (1.0f - s));
		dx[i] = accumulate ? dx[i] + g : g;
	}
}

// GELU, tanh approximation (GPT-2, PyTorch approximate="tanh"):
// f(x) = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), evaluated as
// f(x) = x·σ(2u) with σ(z) = 1/(1 + e^(−z)), since ½(1 + tanh u) = σ(2u):
// the same function without the cancellation of 1 + tanh u for x ≪ 0.
#define PD_SQRT_2_OVER_PI 0.7978845608028654f
#define PD_GELU_C 0.044715f

extern "C" __global__ void gelu_tanh_f32(float* out, const float* x, i64 n) {
	GRID_STRIDE(i, n) {
		float v = x[i];
		float u = PD_SQRT_2_OVER_PI * (v + PD_GELU_C * v * v * v);
		out[i] = v / (1.0f + expf(-2.0f * u));
	}
}

// gelu_tanh_backward_f32: f'(x) = ½(1 + tanh u) + ½x(1 − tanh²u)·u'(x),
// u'(x) = √(2/π)(1 + 3·0.044715x²), evaluated as
// f'(x) = s + 2x·s·s̄·u'(x) with s = σ(2u) and s̄ = σ(−2u) = 1 − s (so
// ½(1 − tanh²u) = 2s·s̄), each without cancellation: in the tanh form,
// 1 − tanh²u loses all its digits in float32 for |x| ≳ 3.
extern "C" __global__ void gelu_tanh_backward_f32(float* dx, const float* dy, const float* x, i64 n, int accumulate) {
	GRID_STRIDE(i, n) {
		float v = x[i];
		float u = PD_SQRT_2_OVER_PI * (v + PD_GELU_C * v * v * v);
		float s = 1.0f / (1.0f + expf(-2.0f * u));
		float sbar = 1.0f / (1.0f + expf(2.0f * u));
		float du = PD_SQRT_2_OVER_PI * (1.0f + 3.0f * PD_GELU_C * v * v);
		float g = dy[i] * (s + 2.0f * v * s * sbar * du);
		dx[i] = accumulate ? dx[i] + g : g;
	}
}

// GELU, exact (PyTorch's default): f(x) = x·Φ(x) = ½x(1 + erf(x/√2)).
#define PD_INV_SQRT_2 0.7071067811865476f
#define PD_INV_SQRT_2PI 0.3989422804014327f

extern "C" __global__ void gelu_erf_f32(float* out, const float* x, i64 n) {
	GRID_STRIDE(i, n) {
		float v = x[i];
		out[i] = 0.5f * v * (1.0f + erff(v * PD_INV_SQRT_2));
	}
}

// gelu_erf_backward_f32: f'(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
extern "C" __global__ void gelu_erf_backward_f32(float* dx, const float* dy, const float* x, i64 n, int accumulate) {
	GRID_STRIDE(i, n) {
		float v = x[i];
		float cdf = 0.5f * (1.0f + erff(v * PD_INV_SQRT_2));
		float pdf = PD_INV_SQRT_2PI * expf(-0.5f * v * v);
		float g = dy[i] * (cdf + v * pdf);
		dx[i] = accumulate ? dx[i] + g : g;
	}
}
