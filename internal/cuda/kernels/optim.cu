// Optimiser kernels over flat float32 parameter buffers of n elements
// (1-D launch, grid-stride).

// adamw_f32: one AdamW step (Loshchilov & Hutter, decoupled weight decay),
// as torch.optim.AdamW computes it. With g = gscale·grad (gscale folds in
// gradient-norm clipping), bc1 = 1 − β1^step and bc2 = 1 − β2^step:
//   m = β1 m + (1 − β1) g,  v = β2 v + (1 − β2) g²,
//   p = p·(1 − lr·wd) − (lr/bc1)·m / (√v/√bc2 + eps).
// omb1 = 1 − β1 and omb2 = 1 − β2 come from the host, computed in float64
// (as PyTorch does): 1 − (float)β2 in float32 would be off by 1e-5
// relative for β2 = 0.999.
extern "C" __global__ void adamw_f32(float* p, const float* grad, float* m, float* v, i64 n, float lr, float beta1,
                                     float beta2, float omb1, float omb2, float eps, float wd, float bc1, float bc2,
                                     float gscale) {
	float step = lr / bc1;
	float sbc2 = sqrtf(bc2);
	float decay = 1.0f - lr * wd;
	GRID_STRIDE(i, n) {
		float g = gscale * grad[i];
		float mi = beta1 * m[i] + omb1 * g;
		float vi = beta2 * v[i] + omb2 * g * g;
		m[i] = mi;
		v[i] = vi;
		p[i] = p[i] * decay - step * mi / (sqrtf(vi) / sbc2 + eps);
	}
}

// ema_f32: ema = decay·ema + omd·p with omd = 1 − decay from the host (in
// float64, for the reason given at adamw_f32), the exponential moving
// average of the parameters.
extern "C" __global__ void ema_f32(float* ema, const float* p, i64 n, float decay, float omd) {
	GRID_STRIDE(i, n) { ema[i] = decay * ema[i] + omd * p[i]; }
}
