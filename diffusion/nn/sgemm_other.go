//go:build !amd64

package nn

import "math"

const haveFMA = false

func sgemmKernel6x16S(k int, a *float32, rs, ks int, b *float32, bs int, c *float32, ldc int, store int) {
	panic("nn: no SGEMM kernel on this architecture")
}

// expBlock writes exp(scale·src[i]) into dst[i].
func expBlock(dst, src []float32, scale float32) {
	for i, v := range src {
		dst[i] = float32(math.Exp(float64(scale * v)))
	}
}

// tanhFromExp turns e = exp(2u) into tanh(u) = 1 − 2/(e + 1) in place.
func tanhFromExp(x []float32) {
	for i, e := range x {
		x[i] = 1 - 2/(e+1)
	}
}

// axpy32 computes y[i] += a·x[i] over len(x) elements.
func axpy32(y, x []float32, a float32) {
	y = y[:len(x)]
	for i, e := range x {
		y[i] += a * e
	}
}

// max32 returns the largest element of a non-empty x.
func max32(x []float32) float32 {
	m := x[0]
	for _, e := range x[1:] {
		if e > m {
			m = e
		}
	}
	return m
}

func adamwBlock(p, g, m, v []float32, k *[8]float32) int { return 0 }
