package nncuda

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
)

// The Backend methods of sequence models (the DiT backbone): each checks
// its arguments as the CPU backend does and queues one operation of
// internal/cuda (kernels/seq.cu, cublasSgemmStridedBatched).

// GemmBatched computes C_i = α·op(A_i)·op(B_i) + β·C_i for i < batch with
// one cublasSgemmStridedBatched call in full FP32 (see
// nn.Backend.GemmBatched); an empty inner dimension scales every C_i by β.
func (b *Backend) GemmBatched(tA, tB bool, m, n, k int, alpha float32, a nn.Tensor, lda, strideA int, bt nn.Tensor, ldb, strideB int, beta float32, c nn.Tensor, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("nncuda: GemmBatched: batch %d, strides %d, %d, %d", batch, strideA, strideB, strideC))
	}
	la, lb, lc := gemmSpans("GemmBatched", tA, tB, m, n, k, lda, ldb, ldc)
	if batch == 0 {
		return
	}
	if batch > 1 && strideC < lc && lc > 0 {
		panic(fmt.Sprintf("nncuda: GemmBatched: C_i of %d elements overlap at stride %d", lc, strideC))
	}
	av := b.view("GemmBatched", "A", a, batchLen(batch, strideA, la))
	bv := b.view("GemmBatched", "B", bt, batchLen(batch, strideB, lb))
	cv := b.view("GemmBatched", "C", c, batchLen(batch, strideC, lc))
	if cv == nil || m == 0 || n == 0 {
		return
	}
	b.enqueue(func() error {
		return b.dev.GemmBatched(tA, tB, m, n, k, alpha, av, lda, strideA, bv, ldb, strideB, beta, cv, ldc, strideC, batch)
	})
}

// batchLen is the number of elements batch operands of span elements,
// stride apart, span together: (batch − 1)·stride + span, which the CPU
// backend requires even of empty operands (k = 0).
func batchLen(batch, stride, span int) int { return (batch-1)*stride + span }

// Softmax writes y[r, :] = softmax(scale·x[r, :]) with the max trick, the
// exponentials normalised by their float64 sum (see nn.Backend.Softmax);
// y may be x.
func (b *Backend) Softmax(y, x nn.Tensor, rows, cols int, scale float32) {
	xv, yv := b.view("Softmax", "x", x, rows*cols), b.view("Softmax", "y", y, rows*cols)
	if yv == nil || rows*cols == 0 {
		return
	}
	b.enqueue(func() error { return b.dev.Softmax(yv, xv, rows, cols, scale) })
}

// SoftmaxBackward writes dx = scale·y ⊙ (dy − ⟨dy, y⟩) per row, the row sum
// in float64 (see nn.Backend.SoftmaxBackward); dx may be dy.
func (b *Backend) SoftmaxBackward(dx, y, dy nn.Tensor, rows, cols int, scale float32) {
	op := "SoftmaxBackward"
	yv, dyv, dxv := b.view(op, "y", y, rows*cols), b.view(op, "dy", dy, rows*cols), b.view(op, "dx", dx, rows*cols)
	if dxv == nil || rows*cols == 0 {
		return
	}
	b.enqueue(func() error { return b.dev.SoftmaxBackward(dxv, yv, dyv, rows, cols, scale) })
}

// factorLen is the number of elements a (groups, cols) factor tensor with
// row stride ld spans.
func factorLen(groups, cols, ld int) int { return gemmLen(groups, cols, ld) }

// optional is the view of t as view gives it, or nil when t is absent.
func (b *Backend) optional(op, name string, t nn.Tensor, n int) *cuda.F32 {
	if t.IsZero() {
		return nil
	}
	return b.view(op, name, t, n)
}

// Modulate writes y = x·(one + s_g) + t_g for the token rows of each group
// g (see nn.Backend.Modulate); t may be absent and y may be x.
func (b *Backend) Modulate(y, x, s, t nn.Tensor, groups, tokens, cols, ld int, one float32) {
	op := "Modulate"
	if groups < 0 || tokens < 0 || cols < 0 || ld < cols {
		panic(fmt.Sprintf("nncuda: %s: %d groups of %d tokens, %d columns at row stride %d", op, groups, tokens, cols, ld))
	}
	n, m := groups*tokens*cols, factorLen(groups, cols, ld)
	xv, yv := b.view(op, "x", x, n), b.view(op, "y", y, n)
	sv, tv := b.view(op, "s", s, m), b.optional(op, "t", t, m)
	if yv == nil || n == 0 {
		return
	}
	b.enqueue(func() error { return b.dev.Modulate(yv, xv, sv, tv, groups, tokens, cols, ld, one) })
}

// ModulateBackward writes dx = dy·(one + s_g) (unless dx is absent) and
// overwrites ds and dt (unless absent) with the sums over each group's
// tokens of dy·x and dy (see nn.Backend.ModulateBackward); dx may be dy.
func (b *Backend) ModulateBackward(dx, ds, dt, dy, x, s nn.Tensor, groups, tokens, cols, ld int, one float32) {
	op := "ModulateBackward"
	if groups < 0 || tokens < 0 || cols < 0 || ld < cols {
		panic(fmt.Sprintf("nncuda: %s: %d groups of %d tokens, %d columns at row stride %d", op, groups, tokens, cols, ld))
	}
	n, m := groups*tokens*cols, factorLen(groups, cols, ld)
	dyv, xv := b.view(op, "dy", dy, n), b.view(op, "x", x, n)
	sv, dsv := b.view(op, "s", s, m), b.view(op, "ds", ds, m)
	dxv, dtv := b.optional(op, "dx", dx, n), b.optional(op, "dt", dt, m)
	if dsv == nil || m == 0 {
		return
	}
	b.enqueue(func() error { return b.dev.ModulateBackward(dxv, dsv, dtv, dyv, xv, sv, groups, tokens, cols, ld, one) })
}

// Patchify rearranges n images into patch tokens, or back when inverse is
// set (see nn.Backend.Patchify).
func (b *Backend) Patchify(dst, src nn.Tensor, n, channels, side, patch int, inverse bool) {
	if channels < 1 || patch < 1 || side < patch || side%patch != 0 || n < 0 {
		panic(fmt.Sprintf("nncuda: Patchify: %d images of %d channels, side %d, patch %d", n, channels, side, patch))
	}
	size := n * channels * side * side
	dv, sv := b.view("Patchify", "dst", dst, size), b.view("Patchify", "src", src, size)
	if dv == nil || size == 0 {
		return
	}
	b.enqueue(func() error { return b.dev.Patchify(dv, sv, n, channels, side, patch, inverse) })
}
