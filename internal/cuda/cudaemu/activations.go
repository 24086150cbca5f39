package cudaemu

// Transcriptions of kernels/activations.cu: activation functions, forward
// and backward, element-wise over n float32 values (grid-stride: any
// grid). A forward kernel(out, x, n) writes out = f(x); a backward kernel
// (dx, dy, x, n, accumulate) writes dx = dy·f'(x), or adds it into dx when
// accumulate != 0.

var activationsCU = kernelFile{"kernels/activations.cu", map[string]kernel{
	"silu_f32":               forward(silu),
	"silu_backward_f32":      backward(siluGrad),
	"gelu_tanh_f32":          forward(geluTanh),
	"gelu_tanh_backward_f32": backward(geluTanhGrad),
	"gelu_erf_f32":           forward(geluErf),
	"gelu_erf_backward_f32":  backward(geluErfGrad),
}}

// The constants of activations.cu.
const (
	sqrt2OverPi = float32(0.7978845608028654) // PD_SQRT_2_OVER_PI
	geluC       = float32(0.044715)           // PD_GELU_C
	invSqrt2    = float32(0.7071067811865476) // PD_INV_SQRT_2
	invSqrt2Pi  = float32(0.3989422804014327) // PD_INV_SQRT_2PI
)

// forward is the kernel out[i] = f(x[i]).
func forward(f func(float32) float32) kernel {
	return func(l *launch) {
		n := l.i64(2)
		out, x := l.float32s(0, n), l.float32s(1, n)
		for i := range out {
			out[i] = f(x[i])
		}
	}
}

// backward is the kernel dx[i] = dy[i]·fprime(x[i]), added into dx[i]
// when accumulate != 0.
func backward(fprime func(float32) float32) kernel {
	return func(l *launch) {
		n := l.i64(3)
		dx, dy, x := l.float32s(0, n), l.float32s(1, n), l.float32s(2, n)
		acc := l.i32(4) != 0
		for i := range dx {
			g := dy[i] * fprime(x[i])
			if acc {
				g += dx[i]
			}
			dx[i] = g
		}
	}
}

// silu is silu_f32: out = x·s(x), s(x) = 1/(1 + e^(−x)).
func silu(v float32) float32 { return v / (1 + expf(-v)) }

// siluGrad is silu_backward_f32: f'(x) = s(x)·(1 + x·(1 − s(x))).
func siluGrad(v float32) float32 {
	s := 1 / (1 + expf(-v))
	return s * (1 + v*(1-s))
}

// geluTanh is gelu_tanh_f32: f(x) = ½x(1 + tanh(u)),
// u = √(2/π)(x + 0.044715x³), evaluated as f(x) = x·σ(2u).
func geluTanh(v float32) float32 {
	u := sqrt2OverPi * (v + geluC*v*v*v)
	return v / (1 + expf(-2*u))
}

// geluTanhGrad is gelu_tanh_backward_f32:
// f'(x) = ½(1 + tanh u) + ½x(1 − tanh²u)·u'(x), u'(x) = √(2/π)(1 + 3·0.044715x²),
// evaluated as f'(x) = s + 2x·s·s̄·u'(x), s = σ(2u), s̄ = σ(−2u).
func geluTanhGrad(v float32) float32 {
	u := sqrt2OverPi * (v + geluC*v*v*v)
	s, sbar := 1/(1+expf(-2*u)), 1/(1+expf(2*u))
	du := sqrt2OverPi * (1 + 3*geluC*v*v)
	return s + 2*v*s*sbar*du
}

// geluErf is gelu_erf_f32: f(x) = x·Φ(x) = ½x(1 + erf(x/√2)).
func geluErf(v float32) float32 { return 0.5 * v * (1 + erff(v*invSqrt2)) }

// geluErfGrad is gelu_erf_backward_f32: f'(x) = Φ(x) + x·φ(x),
// φ(x) = e^(−x²/2)/√(2π).
func geluErfGrad(v float32) float32 {
	cdf := 0.5 * (1 + erff(v*invSqrt2))
	pdf := invSqrt2Pi * expf(-0.5*v*v)
	return cdf + v*pdf
}
