package nncuda

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// GemmBatched runs one GemmStrided per batch element (see
// nn.Backend.GemmBatched).
func (b *Backend) GemmBatched(tA, tB bool, m, n, k int, alpha float32, a nn.Tensor, lda, strideA int, bt nn.Tensor, ldb, strideB int, beta float32, c nn.Tensor, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("nncuda: GemmBatched: batch %d, strides %d, %d, %d", batch, strideA, strideB, strideC))
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	la, lb, lc := gemmLen(ar, ac, lda), gemmLen(br, bc, ldb), gemmLen(m, n, ldc)
	for i := 0; i < batch; i++ {
		b.Gemm(tA, tB, m, n, k, alpha, a.View(i*strideA, la), lda, bt.View(i*strideB, lb), ldb, beta, c.View(i*strideC, lc), ldc)
	}
}

// notYet fails the backend: the sequence kernels are being written.
func (b *Backend) notYet(op string) {
	b.enqueue(func() error { return fmt.Errorf("cuda: %s: no CUDA kernel yet", op) })
}

// Softmax is not implemented on the GPU yet; it fails the backend.
func (b *Backend) Softmax(y, x nn.Tensor, rows, cols int, scale float32) { b.notYet("Softmax") }

// SoftmaxBackward is not implemented on the GPU yet; it fails the backend.
func (b *Backend) SoftmaxBackward(dx, y, dy nn.Tensor, rows, cols int, scale float32) {
	b.notYet("SoftmaxBackward")
}

// Modulate is not implemented on the GPU yet; it fails the backend.
func (b *Backend) Modulate(y, x, s, t nn.Tensor, groups, tokens, cols, ld int, one float32) {
	b.notYet("Modulate")
}

// ModulateBackward is not implemented on the GPU yet; it fails the backend.
func (b *Backend) ModulateBackward(dx, ds, dt, dy, x, s nn.Tensor, groups, tokens, cols, ld int, one float32) {
	b.notYet("ModulateBackward")
}

// Patchify is not implemented on the GPU yet; it fails the backend.
func (b *Backend) Patchify(dst, src nn.Tensor, n, channels, side, patch int, inverse bool) {
	b.notYet("Patchify")
}
