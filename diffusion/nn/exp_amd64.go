package nn

import "math"

//go:noescape
func expAVX2(dst, src *float32, n int, scale float32)

// expBlock writes exp(scale·src[i]) into dst[i]: 8 lanes at a time with
// AVX2 where the CPU has it, math.Exp for the rest.
func expBlock(dst, src []float32, scale float32) {
	n := len(src)
	v := 0
	if haveFMA {
		v = n &^ 7
		if v > 0 {
			expAVX2(&dst[0], &src[0], v, scale)
		}
	}
	for i := v; i < n; i++ {
		dst[i] = float32(math.Exp(float64(scale * src[i])))
	}
}

//go:noescape
func tanhFromExpAVX2(x *float32, n int)

// tanhFromExp turns e = exp(2u) into tanh(u) = 1 − 2/(e + 1) in place: 8
// lanes at a time with AVX2 where the CPU has it (the same bits).
func tanhFromExp(x []float32) {
	v := 0
	if haveFMA {
		v = len(x) &^ 7
		if v > 0 {
			tanhFromExpAVX2(&x[0], v)
		}
	}
	for i, e := range x[v:] {
		x[v+i] = 1 - 2/(e+1)
	}
}

//go:noescape
func axpyAVX2(y, x *float32, n int, a float32)

// axpy32 computes y[i] += a·x[i] over len(x) elements (y at least as long):
// 8 lanes at a time with AVX2 where the CPU has it, with a separate
// multiply and add, so the same bits as the scalar loop.
func axpy32(y, x []float32, a float32) {
	y = y[:len(x)]
	v := 0
	if haveFMA {
		v = len(x) &^ 7
		if v > 0 {
			axpyAVX2(&y[0], &x[0], v, a)
		}
	}
	for i, e := range x[v:] {
		y[v+i] += a * e
	}
}

//go:noescape
func maxAVX2(x *float32, n int) float32

// max32 returns the largest element of a non-empty x: 8 lanes at a time
// with AVX2 where the CPU has it. A NaN may be skipped (the softmax of a
// row with a NaN is NaN either way).
func max32(x []float32) float32 {
	v := 0
	m := x[0]
	if haveFMA {
		if v = len(x) &^ 7; v > 0 {
			m = maxAVX2(&x[0], v)
		}
	}
	for _, e := range x[v:] {
		if e > m {
			m = e
		}
	}
	return m
}

//go:noescape
func adamwAVX2(pp, gg, mm, vv *float32, n int, k *[8]float32)

// adamwBlock runs the AVX2 AdamW kernel over the longest multiple of 8
// elements and returns how many it did (0 without AVX2).
func adamwBlock(p, g, m, v []float32, k *[8]float32) int {
	n := len(p) &^ 7
	if !haveFMA || n == 0 {
		return 0
	}
	adamwAVX2(&p[0], &g[0], &m[0], &v[0], n, k)
	return n
}
