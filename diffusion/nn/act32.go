package nn

// Float32 activations for the CPU backend, computed block by block with a
// vectorised exp (expBlock): SiLU through e = exp(−x), GELU's tanh through
// tanh(u) = 1 − 2/(exp(2u) + 1). They agree with the float64 formulas to a
// few float32 ulps (tested against the float64 twin).

const actBlock = 256

func silu32(y, x []float32) {
	var e [actBlock]float32
	for lo := 0; lo < len(x); lo += actBlock {
		xs := x[lo:min(lo+actBlock, len(x))]
		ys := y[lo : lo+len(xs)]
		expBlock(e[:len(xs)], xs, -1)
		for i, v := range xs {
			ys[i] = v / (1 + e[i])
		}
	}
}

func siluBackward32(dx, x, dy []float32) {
	var e [actBlock]float32
	for lo := 0; lo < len(x); lo += actBlock {
		xs := x[lo:min(lo+actBlock, len(x))]
		dxs, dys := dx[lo:lo+len(xs)], dy[lo:lo+len(xs)]
		expBlock(e[:len(xs)], xs, -1)
		for i, v := range xs {
			s := 1 / (1 + e[i])
			dxs[i] = dys[i] * s * (1 + v*(1-s))
		}
	}
}

// geluTanh writes th[i] = tanh(√(2/π)·(x + 0.044715·x³)) for a block.
func geluTanh(th, x []float32) {
	th = th[:len(x)] // equal lengths: no bounds checks
	for i, v := range x {
		th[i] = geluC * (v + geluA*v*v*v)
	}
	expBlock(th, th, 2)
	tanhFromExp(th)
}

func gelu32(y, x []float32) {
	var th [actBlock]float32
	for lo := 0; lo < len(x); lo += actBlock {
		xs := x[lo:min(lo+actBlock, len(x))]
		ys := y[lo : lo+len(xs)]
		t := th[:len(xs)]
		geluTanh(t, xs)
		for i, v := range xs {
			ys[i] = 0.5 * v * (1 + t[i])
		}
	}
}

func geluBackward32(dx, x, dy []float32) {
	var th [actBlock]float32
	for lo := 0; lo < len(x); lo += actBlock {
		xs := x[lo:min(lo+actBlock, len(x))]
		dxs, dys := dx[lo:lo+len(xs)], dy[lo:lo+len(xs)]
		ts := th[:len(xs)]
		geluTanh(ts, xs)
		for i, v := range xs {
			t := ts[i]
			d := 0.5*(1+t) + 0.5*v*(1-t*t)*geluC*(1+3*geluA*v*v)
			dxs[i] = dys[i] * d
		}
	}
}
