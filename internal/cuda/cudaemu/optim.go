package cudaemu

// Transcriptions of kernels/optim.cu: optimiser kernels over flat float32
// parameter buffers of n elements (grid-stride: any grid).

var optimCU = kernelFile{"kernels/optim.cu", map[string]kernel{
	"adamw_f32": adamWF32,
	"ema_f32":   emaF32,
}}

// adamw_f32(p, grad, m, v, n, lr, beta1, beta2, omb1, omb2, eps, wd, bc1,
// bc2, gscale): one AdamW step, with g = gscale·grad:
//
//	m = β1 m + (1 − β1) g,  v = β2 v + (1 − β2) g²,
//	p = p·(1 − lr·wd) − (lr/bc1)·m / (√v/√bc2 + eps),
//
// where omb1 = 1 − β1 and omb2 = 1 − β2 come from the host.
func adamWF32(l *launch) {
	n := l.i64(4)
	p, grad, m, v := l.float32s(0, n), l.float32s(1, n), l.float32s(2, n), l.float32s(3, n)
	lr, beta1, beta2, omb1, omb2, eps := l.f32(5), l.f32(6), l.f32(7), l.f32(8), l.f32(9), l.f32(10)
	wd, bc1, bc2, gscale := l.f32(11), l.f32(12), l.f32(13), l.f32(14)
	step, sbc2, decay := lr/bc1, sqrtf(bc2), 1-lr*wd
	for i := range p {
		g := gscale * grad[i]
		mi := beta1*m[i] + omb1*g
		vi := beta2*v[i] + omb2*g*g
		m[i], v[i] = mi, vi
		p[i] = p[i]*decay - step*mi/(sqrtf(vi)/sbc2+eps)
	}
}

// ema_f32(ema, p, n, decay, omd): ema = decay·ema + omd·p, omd = 1 − decay
// from the host.
func emaF32(l *launch) {
	n := l.i64(2)
	ema, p := l.float32s(0, n), l.float32s(1, n)
	decay, omd := l.f32(3), l.f32(4)
	for i := range ema {
		ema[i] = decay*ema[i] + omd*p[i]
	}
}
