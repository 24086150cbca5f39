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
