package nncuda

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
)

// gemmLen is the number of elements a row-major (r, c) operand with row
// stride ld spans.
func gemmLen(r, c, ld int) int {
	if r == 0 || c == 0 {
		return 0
	}
	return (r-1)*ld + c
}

// gemmSpans checks the sizes and row strides of C = op(A)·op(B), op(A)
// (m, k) and op(B) (k, n), panicking at the call as the CPU backend does,
// and returns the number of elements the stored A, B and C span.
func gemmSpans(op string, tA, tB bool, m, n, k, lda, ldb, ldc int) (la, lb, lc int) {
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if m < 0 || n < 0 || k < 0 || lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1) {
		panic(fmt.Sprintf("nncuda: %s: (%d, %d, %d) with strides %d, %d, %d", op, m, n, k, lda, ldb, ldc))
	}
	return gemmLen(ar, ac, lda), gemmLen(br, bc, ldb), gemmLen(m, n, ldc)
}

// Gemm computes C = α·op(A)·op(B) + β·C with cublasSgemm in full FP32 (see
// nn.Backend.Gemm); an empty inner dimension scales C by β.
func (b *Backend) Gemm(tA, tB bool, m, n, k int, alpha float32, a nn.Tensor, lda int, bt nn.Tensor, ldb int, beta float32, c nn.Tensor, ldc int) {
	la, lb, lc := gemmSpans("Gemm", tA, tB, m, n, k, lda, ldb, ldc)
	av := b.view("Gemm", "A", a, la)
	bv := b.view("Gemm", "B", bt, lb)
	cv := b.view("Gemm", "C", c, lc)
	if cv == nil || m == 0 || n == 0 {
		return
	}
	b.enqueue(func() error { return b.dev.GemmStrided(tA, tB, m, n, k, alpha, av, lda, bv, ldb, beta, cv, ldc) })
}

// Axpy computes y += α·x over len(x) elements.
func (b *Backend) Axpy(y nn.Tensor, alpha float32, x nn.Tensor) {
	n := x.Len()
	xv, yv := b.view("Axpy", "x", x, n), b.view("Axpy", "y", y, n)
	if yv == nil {
		return
	}
	b.enqueue(func() error { return b.dev.Axpy(yv, alpha, xv) })
}

// Scale computes x *= α.
func (b *Backend) Scale(x nn.Tensor, alpha float32) {
	xv := b.view("Scale", "x", x, x.Len())
	if xv == nil {
		return
	}
	b.enqueue(func() error { return b.dev.Scale(xv, alpha) })
}

// Dot returns Σ x_i·y_i over len(x) elements, in float64 on the device,
// after the queued work; NaN after a failure.
func (b *Backend) Dot(x, y nn.Tensor) float64 {
	n := x.Len()
	xv, yv := b.view("Dot", "x", x, n), b.view("Dot", "y", y, n)
	if xv == nil {
		return math.NaN()
	}
	var v float64
	if b.run(func() error {
		var err error
		v, err = b.dev.Dot(xv, yv)
		return err
	}) != nil {
		return math.NaN()
	}
	return v
}

// Gram writes dst[i·k+j] = ⟨g_i, g_j⟩ for the k rows of g (k, p), in
// float64 on the device (float64 copies of column blocks, cublasDgemm),
// after the queued work; NaN after a failure.
func (b *Backend) Gram(dst []float64, g nn.Tensor, k, p int) {
	if k < 0 || p < 0 || len(dst) < k*k {
		panic(fmt.Sprintf("nncuda: Gram: dst has %d elements, needs %d", len(dst), k*k))
	}
	gv := b.view("Gram", "g", g, k*p)
	if gv == nil || b.run(func() error { return b.dev.Gram(dst, gv, k, p) }) != nil {
		fillNaN(dst[:k*k])
	}
}

// AddBias computes y[r, c] += bias[c]; y is (rows, cols).
func (b *Backend) AddBias(y, bias nn.Tensor, rows, cols int) {
	yv, bv := b.view("AddBias", "y", y, rows*cols), b.view("AddBias", "bias", bias, cols)
	if yv == nil {
		return
	}
	b.enqueue(func() error { return b.dev.AddBias(yv, bv, rows, cols) })
}

// SumRows accumulates the column sums of x (rows, cols) into dst (cols).
func (b *Backend) SumRows(dst, x nn.Tensor, rows, cols int) {
	dv, xv := b.view("SumRows", "dst", dst, cols), b.view("SumRows", "x", x, rows*cols)
	if dv == nil {
		return
	}
	b.enqueue(func() error { return b.dev.BiasGrad(dv, xv, rows, cols) })
}

// Activate computes y = f(x) over len(x) elements (GELU is the tanh
// approximation, as nn.GELU); y may be x.
func (b *Backend) Activate(f nn.Activation, y, x nn.Tensor) {
	if f != nn.SiLU && f != nn.GELU {
		panic(fmt.Sprintf("nncuda: Activate: invalid activation %d", int(f)))
	}
	n := x.Len()
	xv, yv := b.view("Activate", "x", x, n), b.view("Activate", "y", y, n)
	if yv == nil {
		return
	}
	if f == nn.SiLU {
		b.enqueue(func() error { return b.dev.SiLU(yv, xv) })
	} else {
		b.enqueue(func() error { return b.dev.GELU(yv, xv, cuda.GELUTanh) })
	}
}

// ActivateBackward computes dx = dy ⊙ f′(x) over len(x) elements; dx may be
// dy.
func (b *Backend) ActivateBackward(f nn.Activation, dx, x, dy nn.Tensor) {
	if f != nn.SiLU && f != nn.GELU {
		panic(fmt.Sprintf("nncuda: ActivateBackward: invalid activation %d", int(f)))
	}
	n := x.Len()
	xv := b.view("ActivateBackward", "x", x, n)
	dyv, dxv := b.view("ActivateBackward", "dy", dy, n), b.view("ActivateBackward", "dx", dx, n)
	if dxv == nil {
		return
	}
	if f == nn.SiLU {
		b.enqueue(func() error { return b.dev.SiLUBackward(dxv, dyv, xv, false) })
	} else {
		b.enqueue(func() error { return b.dev.GELUBackward(dxv, dyv, xv, cuda.GELUTanh, false) })
	}
}

// LayerNorm normalises each row of x (rows, cols) and saves the row means
// and reciprocal standard deviations (see nn.Backend.LayerNorm).
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta nn.Tensor, rows, cols int, eps float32) {
	op := "LayerNorm"
	xv, yv := b.view(op, "x", x, rows*cols), b.view(op, "y", y, rows*cols)
	mv, rv := b.view(op, "mean", mean, rows), b.view(op, "rstd", rstd, rows)
	gv, bv := b.view(op, "gamma", gamma, cols), b.view(op, "beta", beta, cols)
	if yv == nil || rows == 0 {
		return
	}
	if cols == 0 {
		panic("nncuda: LayerNorm over 0 columns")
	}
	b.enqueue(func() error { return b.dev.LayerNorm(yv, mv, rv, xv, gv, bv, rows, cols, eps) })
}

// LayerNormBackward accumulates into dx (unless absent), dgamma and dbeta
// (see nn.Backend.LayerNormBackward).
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma nn.Tensor, rows, cols int) {
	op := "LayerNormBackward"
	xv, dyv := b.view(op, "x", x, rows*cols), b.view(op, "dy", dy, rows*cols)
	mv, rv := b.view(op, "mean", mean, rows), b.view(op, "rstd", rstd, rows)
	gv := b.view(op, "gamma", gamma, cols)
	dgv, dbv := b.view(op, "dgamma", dgamma, cols), b.view(op, "dbeta", dbeta, cols)
	var dxv *cuda.F32
	if !dx.IsZero() {
		dxv = b.view(op, "dx", dx, rows*cols)
	}
	if dgv == nil {
		return
	}
	if dx.IsZero() {
		b.enqueue(func() error { return b.dev.LayerNormParamGrad(dgv, dbv, dyv, xv, mv, rv, rows, cols) })
		return
	}
	b.enqueue(func() error { return b.dev.LayerNormBackward(dxv, dgv, dbv, dyv, xv, mv, rv, gv, rows, cols, true) })
}

// TimeEmbedding writes the cos-first sinusoidal embedding of the float32
// timesteps t (rows) into dst (rows, dim), computed in float64.
func (b *Backend) TimeEmbedding(dst, t nn.Tensor, rows, dim int, maxPeriod float32) {
	if dim%2 != 0 {
		panic(fmt.Sprintf("nncuda: TimeEmbedding: dim %d is odd", dim))
	}
	tv, dv := b.view("TimeEmbedding", "t", t, rows), b.view("TimeEmbedding", "dst", dst, rows*dim)
	if dv == nil {
		return
	}
	b.enqueue(func() error { return b.dev.TimeEmbedding(dv, tv, rows, dim, maxPeriod) })
}

// RowAxpby computes dst[r, :] = a[r]·x[r, :] + b[r]·y[r, :]; dst may be x
// or y.
func (b *Backend) RowAxpby(dst, a, x, bb, y nn.Tensor, rows, cols int) {
	op := "RowAxpby"
	av, bv := b.view(op, "a", a, rows), b.view(op, "b", bb, rows)
	xv, yv := b.view(op, "x", x, rows*cols), b.view(op, "y", y, rows*cols)
	dv := b.view(op, "dst", dst, rows*cols)
	if dv == nil {
		return
	}
	b.enqueue(func() error { return b.dev.RowCombine(dv, xv, yv, av, bv, rows, cols) })
}

// WeightedMSE writes the per-row mean squared errors (accumulated in
// float64) and, unless dpred is absent, their weighted gradient (see
// nn.Backend.WeightedMSE).
func (b *Backend) WeightedMSE(rowLoss, dpred, pred, target, w nn.Tensor, rows, cols int, scale float32) {
	op := "WeightedMSE"
	pv, tv := b.view(op, "pred", pred, rows*cols), b.view(op, "target", target, rows*cols)
	lv := b.view(op, "rowLoss", rowLoss, rows)
	var dpv, wv *cuda.F32
	if !dpred.IsZero() {
		dpv, wv = b.view(op, "dpred", dpred, rows*cols), b.view(op, "w", w, rows)
	}
	if lv == nil || rows == 0 {
		return
	}
	if cols < 1 {
		panic(fmt.Sprintf("nncuda: WeightedMSE over %d columns", cols))
	}
	b.enqueue(func() error { return b.dev.WeightedMSE(lv, dpv, pv, tv, wv, rows, cols, scale) })
}

// AdamW takes one AdamW step over len(p) elements with the float32 scalars
// of h (see nn.Backend.AdamW).
func (b *Backend) AdamW(p, g, m, v nn.Tensor, h nn.AdamW) {
	n := p.Len()
	pv, gv := b.view("AdamW", "p", p, n), b.view("AdamW", "g", g, n)
	mv, vv := b.view("AdamW", "m", m, n), b.view("AdamW", "v", v, n)
	if pv == nil {
		return
	}
	h32 := cuda.AdamW32{LR: h.LR, Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps, WeightDecay: h.WeightDecay, BC1: h.BC1, BC2: h.BC2}
	b.enqueue(func() error { return b.dev.AdamWStep32(pv, gv, mv, vv, h32) })
}

// EMA computes ema ← decay·ema + (1 − decay)·p over len(p) elements.
func (b *Backend) EMA(ema, p nn.Tensor, decay float32) {
	n := p.Len()
	pv, ev := b.view("EMA", "p", p, n), b.view("EMA", "ema", ema, n)
	if ev == nil {
		return
	}
	b.enqueue(func() error { return b.dev.EMA32(ev, pv, decay) })
}
