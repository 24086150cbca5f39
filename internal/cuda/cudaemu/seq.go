package cudaemu

// Transcriptions of kernels/seq.cu: the operations of sequence models (the
// DiT backbone) with the diffusion/nn Backend's semantics, row-major
// float32. Aliased outputs (y = x, dx = dy) alias here too: the slices
// view the same device memory.

var seqCU = kernelFile{"kernels/seq.cu", map[string]kernel{
	"softmax_f32":           softmaxF32,
	"softmax_backward_f32":  softmaxBackwardF32,
	"modulate_f32":          modulateF32,
	"modulate_backward_f32": modulateBackwardF32,
	"patchify_f32":          patchifyF32,
}}

// softmax_f32(y, x, rows, cols, scale): y[r, :] = softmax(scale·x[r, :]),
// cols ≥ 1:
//
//	z_c = scale·x[r, c],  m = max_c z_c,
//	y[r, c] = exp(z_c − m) / Σ_j exp(z_j − m),
//
// z rounded before the subtraction (__fmul_rn: float32(·) here, which Go
// never fuses), float32 exponentials, their sum in float64, and each y the
// float64 product exp(z_c − m)·(1/Σ) rounded once. One warp per row.
func softmaxF32(l *launch) {
	l.needWarps()
	rows, cols, scale := l.i32(2), l.i32(3), l.f32(4)
	y, x := l.float32s(0, rows*cols), l.float32s(1, rows*cols)
	for r := 0; r < rows; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		m := float32(scale * xr[0])
		for c := range xr {
			if z := float32(scale * xr[c]); z > m {
				m = z
			}
		}
		s := 0.0
		for c := range xr {
			e := expf(float32(scale*xr[c]) - m)
			yr[c] = e
			s += float64(e)
		}
		inv := 1.0 / s
		for c := range yr {
			yr[c] = float32(float64(yr[c]) * inv)
		}
	}
}

// softmax_backward_f32(dx, y, dy, rows, cols, scale):
//
//	dx[r, c] = scale·y[r, c]·(dy[r, c] − s_r),  s_r = Σ_j dy[r, j]·y[r, j],
//
// s_r in float64, rounded to float32 once. One warp per row.
func softmaxBackwardF32(l *launch) {
	l.needWarps()
	rows, cols, scale := l.i32(3), l.i32(4), l.f32(5)
	dx, y, dy := l.float32s(0, rows*cols), l.float32s(1, rows*cols), l.float32s(2, rows*cols)
	for r := 0; r < rows; r++ {
		yr, dyr, dxr := y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		s := 0.0
		for c := range yr {
			s += float64(dyr[c]) * float64(yr[c])
		}
		sf := float32(s)
		for c := range yr {
			dxr[c] = scale * yr[c] * (dyr[c] - sf)
		}
	}
}

// factorSpan is the number of elements (groups, cols) factor rows at
// stride ld span.
func factorSpan(groups, cols, ld int) int {
	if groups == 0 || cols == 0 {
		return 0
	}
	return (groups-1)*ld + cols
}

// modulate_f32(y, x, s, t, groups, tokens, cols, ld, one, has_t):
//
//	y[g·tokens + p, c] = x[g·tokens + p, c]·(one + s[g·ld + c]) + t[g·ld + c],
//
// without the shift when has_t == 0 (t not read). Grid-stride.
func modulateF32(l *launch) {
	groups, tokens, cols, ld, one, hasT := l.i32(4), l.i32(5), l.i32(6), l.i32(7), l.f32(8), l.i32(9) != 0
	n, m := groups*tokens*cols, factorSpan(groups, cols, ld)
	y, x, s := l.float32s(0, n), l.float32s(1, n), l.float32s(2, m)
	var t []float32
	if hasT {
		t = l.float32s(3, m)
	}
	for i := range y {
		k := i/cols/tokens*ld + i%cols
		v := x[i] * (one + s[k])
		if hasT {
			y[i] = v + t[k]
		} else {
			y[i] = v
		}
	}
}

// modulate_backward_f32(dx, ds, dt, dy, x, s, groups, tokens, cols, ld,
// one, has_dx, has_dt):
//
//	dx[g·tokens + p, c] = dy[g·tokens + p, c]·(one + s[g·ld + c])   (when has_dx),
//	ds[g·ld + c] = Σ_p dy[g·tokens + p, c]·x[g·tokens + p, c],
//	dt[g·ld + c] = Σ_p dy[g·tokens + p, c]                          (when has_dt),
//
// ds and dt overwritten. In (PD_COLS_X, PD_COLS_Y) blocks: thread row j
// sums the tokens p ≡ j mod PD_COLS_Y, then the PD_COLS_Y partial sums are
// added in order.
func modulateBackwardF32(l *launch) {
	l.needBlock(blockCols)
	groups, tokens, cols, ld, one := l.i32(6), l.i32(7), l.i32(8), l.i32(9), l.f32(10)
	hasDX, hasDT := l.i32(11) != 0, l.i32(12) != 0
	n, m := groups*tokens*cols, factorSpan(groups, cols, ld)
	ds, dy, x, s := l.float32s(1, m), l.float32s(3, n), l.float32s(4, n), l.float32s(5, m)
	var dx, dt []float32
	if hasDX {
		dx = l.float32s(0, n)
	}
	if hasDT {
		dt = l.float32s(2, m)
	}
	for g := 0; g < groups; g++ {
		for c := 0; c < cols; c++ {
			f := one + s[g*ld+c]
			var ps, pt [colsY]float32
			for p := 0; p < tokens; p++ {
				k := (g*tokens+p)*cols + c
				v := dy[k]
				ps[p%colsY] += v * x[k]
				pt[p%colsY] += v
				if hasDX {
					dx[k] = v * f
				}
			}
			var ts, tt float32
			for j := range ps {
				ts += ps[j]
				tt += pt[j]
			}
			ds[g*ld+c] = ts
			if hasDT {
				dt[g*ld+c] = tt
			}
		}
	}
}

// patchify_f32(dst, src, n, channels, side, patch, inverse): with
// L = (side/patch)² and F = patch²·channels,
//
//	tok[(b·L + P·side/patch + Q)·F + (i·patch + j)·channels + c]
//	  = img[b·channels·side² + c·side² + (P·patch + i)·side + Q·patch + j],
//
// dst = tok from src = img, or dst = img from src = tok when inverse != 0.
// Grid-stride over the token elements.
func patchifyF32(l *launch) {
	n, channels, side, patch, inverse := l.i32(2), l.i32(3), l.i32(4), l.i32(5), l.i32(6) != 0
	size := n * channels * side * side
	dst, src := l.float32s(0, size), l.float32s(1, size)
	g, f := side/patch, patch*patch*channels
	for ti := 0; ti < size; ti++ {
		bt, e := ti/f, ti%f
		i, j, c := e/(patch*channels), e/channels%patch, e%channels
		b, pq := bt/(g*g), bt%(g*g)
		P, Q := pq/g, pq%g
		ii := (b*channels+c)*side*side + (P*patch+i)*side + Q*patch + j
		if inverse {
			dst[ii] = src[ti]
		} else {
			dst[ti] = src[ii]
		}
	}
}
