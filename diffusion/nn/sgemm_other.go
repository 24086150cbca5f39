//go:build !amd64

package nn

const haveFMA = false

func sgemmKernel6x16(k int, a, b, c *float32) { panic("nn: no SGEMM kernel on this architecture") }

func sgemmKernel6x16Acc(k int, a, b, c *float32, ldc int) {
	panic("nn: no SGEMM kernel on this architecture")
}
