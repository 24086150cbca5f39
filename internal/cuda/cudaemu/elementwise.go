package cudaemu

// Transcriptions of kernels/elementwise.cu: element-wise kernels over
// float32 arrays of n elements (grid-stride: any grid), and the bias of a
// linear layer.

var elementwiseCU = kernelFile{"kernels/elementwise.cu", map[string]kernel{
	"fill_f32":      fillF32,
	"scale_f32":     scaleF32,
	"axpy_f32":      axpyF32,
	"add_f32":       addF32,
	"mul_f32":       mulF32,
	"f32_to_f64":    f32ToF64,
	"bias_add_f32":  biasAddF32,
	"bias_grad_f32": biasGradF32,
}}

// fill_f32(x, v, n): x[i] = v.
func fillF32(l *launch) {
	x, v := l.float32s(0, l.i64(2)), l.f32(1)
	for i := range x {
		x[i] = v
	}
}

// scale_f32(x, a, n): x[i] = a·x[i].
func scaleF32(l *launch) {
	x, a := l.float32s(0, l.i64(2)), l.f32(1)
	for i := range x {
		x[i] *= a
	}
}

// axpy_f32(y, a, x, n): y[i] = y[i] + a·x[i].
func axpyF32(l *launch) {
	n := l.i64(3)
	y, a, x := l.float32s(0, n), l.f32(1), l.float32s(2, n)
	for i := range y {
		y[i] += a * x[i]
	}
}

// add_f32(out, a, b, n): out[i] = a[i] + b[i].
func addF32(l *launch) {
	n := l.i64(3)
	out, a, b := l.float32s(0, n), l.float32s(1, n), l.float32s(2, n)
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

// mul_f32(out, a, b, n): out[i] = a[i]·b[i].
func mulF32(l *launch) {
	n := l.i64(3)
	out, a, b := l.float32s(0, n), l.float32s(1, n), l.float32s(2, n)
	for i := range out {
		out[i] = a[i] * b[i]
	}
}

// f32_to_f64(out, x, n): out[i] = (double)x[i].
func f32ToF64(l *launch) {
	n := l.i64(2)
	out, x := l.float64s(0, n), l.float32s(1, n)
	for i := range out {
		out[i] = float64(x[i])
	}
}

// bias_add_f32(y, bias, rows, cols): y[r, c] += bias[c] for y (rows, cols)
// row-major.
func biasAddF32(l *launch) {
	rows, cols := l.i32(2), l.i32(3)
	y, bias := l.float32s(0, rows*cols), l.float32s(1, cols)
	for i := range y {
		y[i] += bias[i%cols]
	}
}

// bias_grad_f32(dbias, dy, rows, cols): dbias[c] += Σ_r dy[r, c], in
// (PD_COLS_X, PD_COLS_Y) blocks: thread row j sums the rows r ≡ j mod
// PD_COLS_Y, then the PD_COLS_Y partial sums are added in order.
func biasGradF32(l *launch) {
	l.needBlock(blockCols)
	rows, cols := l.i32(2), l.i32(3)
	dbias, dy := l.float32s(0, cols), l.float32s(1, rows*cols)
	for c := range dbias {
		var part [colsY]float32
		for r := 0; r < rows; r++ {
			part[r%colsY] += dy[r*cols+c]
		}
		var t float32
		for _, p := range part {
			t += p
		}
		dbias[c] += t
	}
}
