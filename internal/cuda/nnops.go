package cuda

import (
	"fmt"
	"math"
)

// Operations with the exact semantics of the diffusion/nn Backend methods
// where the general wrappers in kernels.go differ (kernels/training.cu and
// cuBLAS with explicit row strides). The CUDA backend of the training
// engine (package nncuda) is built on them; each is one kernel launch or
// one cuBLAS call except Dot and Gram, which also copy their result to the
// host.

// Warm loads what the first kernel launch and the first GEMM would load
// (NVRTC compiles the kernels or reads them from the disk cache; cuBLAS is
// opened and its handle created), so that a missing NVRTC or cuBLAS shows
// as an error here rather than at the first launch.
func (d *Device) Warm() error {
	return d.Do(func() error {
		if _, err := d.loadModule(); err != nil {
			return err
		}
		_, _, err := d.blasHandle()
		return err
	})
}

// gemmSpan is the number of elements a row-major (rows, cols) operand with
// row stride ld spans: (rows − 1)·ld + cols, or 0 when it is empty.
func gemmSpan(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// GemmStrided computes C = α·op(A)·op(B) + β·C on row-major float32
// matrices with explicit row strides (elements): op(A) is (m, k), op(B) is
// (k, n), C is (m, n); op transposes when tA (tB) is set, so A is stored
// (k, m) then. lda, ldb and ldc must be at least the stored column counts,
// and each buffer must hold the span of its operand, (rows − 1)·ld + cols
// elements (longer is allowed). β = 0 writes C without reading it. It maps
// onto one column-major cublasSgemm as Sgemm does (Cᵀ = op(B)ᵀ·op(A)ᵀ)
// with the strides as leading dimensions; an empty inner dimension (k = 0)
// scales C by β with a kernel instead.
func (d *Device) GemmStrided(tA, tB bool, m, n, k int, alpha float32, a *F32, lda int, b *F32, ldb int, beta float32, c *F32, ldc int) error {
	checkStridedGemm("GemmStrided", tA, tB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	if m == 0 || n == 0 {
		return nil
	}
	if k == 0 {
		return d.scaleMatrix(c, m, n, ldc, beta)
	}
	return d.Do(func() error {
		api, h, err := d.blasHandle()
		if err != nil {
			return err
		}
		return api.check("cublasSgemm_v2", api.cublasSgemm(h, blasOp(tB), blasOp(tA), int32(n), int32(m), int32(k),
			&alpha, uint64(b.Ptr()), int32(ldb), uint64(a.Ptr()), int32(lda), &beta, uint64(c.Ptr()), int32(ldc)))
	})
}

// GemmBatched computes, for every i < batch, C_i = α·op(A_i)·op(B_i) + β·C_i
// as GemmStrided does, where A_i starts i·strideA elements into a (likewise
// B_i and C_i; a stride may be 0 to share one operand): attention's
// per-example and per-head products of token rows, in one
// cublasSgemmStridedBatched call with the row strides as leading
// dimensions and the batch strides as cuBLAS's strides. Each buffer must
// hold (batch − 1)·stride + the span of its operand; the C_i must not
// overlap (strideC at least C's span). k = 0 scales every C_i by β with a
// kernel instead.
func (d *Device) GemmBatched(tA, tB bool, m, n, k int, alpha float32, a *F32, lda, strideA int, b *F32, ldb, strideB int,
	beta float32, c *F32, ldc, strideC, batch int) error {
	checkStridedGemm("GemmBatched", tA, tB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch)
	if m == 0 || n == 0 || batch == 0 {
		return nil
	}
	if k == 0 {
		return d.Do(func() error {
			for i := 0; i < batch; i++ {
				if err := d.scaleMatrix(c.View(i*strideC, gemmSpan(m, n, ldc)), m, n, ldc, beta); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return d.Do(func() error {
		api, h, err := d.blasHandle()
		if err != nil {
			return err
		}
		return api.check("cublasSgemmStridedBatched", api.cublasSgemmStridedBatched(h, blasOp(tB), blasOp(tA),
			int32(n), int32(m), int32(k), &alpha, uint64(b.Ptr()), int32(ldb), int64(strideB),
			uint64(a.Ptr()), int32(lda), int64(strideA), &beta, uint64(c.Ptr()), int32(ldc), int64(strideC), int32(batch)))
	})
}

// checkStridedGemm panics unless the operands of batch strided GEMMs (see
// GemmBatched; GemmStrided is one with strides 0) are consistent: sizes
// that fit a C int, row strides at least the stored column counts, buffers
// that hold every operand, and C_i that do not overlap.
func checkStridedGemm(op string, tA, tB bool, m, n, k int, a *F32, lda, strideA int, b *F32, ldb, strideB int, c *F32, ldc, strideC, batch int) {
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	for _, v := range []int{m, n, k, lda, ldb, ldc, batch} {
		if v < 0 || v > math.MaxInt32 {
			panic(fmt.Sprintf("cuda: %s: size %d out of range", op, v))
		}
	}
	if strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("cuda: %s: batch strides %d, %d, %d", op, strideA, strideB, strideC))
	}
	if lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1) {
		panic(fmt.Sprintf("cuda: %s: strides %d, %d, %d below the column counts %d, %d, %d", op, lda, ldb, ldc, ac, bc, n))
	}
	if batch == 0 {
		return
	}
	la, lb, lc := gemmSpan(ar, ac, lda), gemmSpan(br, bc, ldb), gemmSpan(m, n, ldc)
	need := func(span, stride int) int {
		if span == 0 {
			return 0
		}
		return (batch-1)*stride + span
	}
	if a.Len() < need(la, strideA) || b.Len() < need(lb, strideB) || c.Len() < need(lc, strideC) {
		panic(fmt.Sprintf("cuda: %s: buffers of %d, %d, %d elements for %d operands of spans %d, %d, %d at strides %d, %d, %d",
			op, a.Len(), b.Len(), c.Len(), batch, la, lb, lc, strideA, strideB, strideC))
	}
	if batch > 1 && lc > 0 && strideC < lc {
		panic(fmt.Sprintf("cuda: %s: C_i of span %d overlap at stride %d", op, lc, strideC))
	}
}

// blasOp is the cublasOperation_t of a transposition flag.
func blasOp(t bool) int32 {
	if t {
		return cublasOpT
	}
	return cublasOpN
}

// scaleMatrix sets the (rows, cols) matrix at c with row stride ld to β·c,
// or to 0 when β = 0: the GEMM with an empty inner dimension.
func (d *Device) scaleMatrix(c *F32, rows, cols, ld int, beta float32) error {
	return d.Launch("scale_matrix_f32", d.elemGrid(int64(rows)*int64(cols)), block1D, 0,
		NewKernelArgs(5).F32Ptr(c).Int(rows).Int(cols).I64(int64(ld)).F32(beta))
}

// Dot returns Σ x_i·y_i over len(x) elements (y may be longer), every
// product and the sum in float64 on the device, in a fixed order (the same
// result for the same input and device). It waits for the result.
func (d *Device) Dot(x, y *F32) (float64, error) {
	n := x.Len()
	if y.Len() < n {
		panic(fmt.Sprintf("cuda: Dot of %d elements with a buffer of %d", n, y.Len()))
	}
	if n == 0 {
		return 0, nil
	}
	var out [1]float64
	err := d.Do(func() error {
		nb := int(min(ceilDiv(int64(n), blockThreads), maxPartials, d.gridCap()))
		partial, err := Alloc[float64](d, nb+1)
		if err != nil {
			return err
		}
		defer partial.Free()
		total := partial.View(nb, 1)
		if err := d.Launch("dot_partial_f32", Dim3{uint32(nb), 1, 1}, block1D, 0,
			NewKernelArgs(4).F64Ptr(partial).F32Ptr(x).F32Ptr(y).I64(int64(n))); err != nil {
			return err
		}
		if err := d.Launch("sum_f64", Dim3{1, 1, 1}, block1D, 0,
			NewKernelArgs(3).F64Ptr(total).F64Ptr(partial).Int(nb)); err != nil {
			return err
		}
		return total.CopyToHost(out[:])
	})
	return out[0], err
}

// gramBlockElems bounds the float64 scratch of Gram (elements): the
// columns of g are converted and multiplied in blocks of at most
// gramBlockElems/k columns (32 MiB of scratch).
var gramBlockElems = 1 << 22

// Gram writes dst[i·k + j] = ⟨g_i, g_j⟩ = Σ_c g[i, c]·g[j, c] for the k
// rows of g (k, p) row-major, in float64: blocks of columns are copied to
// float64 (exactly) and multiplied by cublasDgemm, G += B·Bᵀ, so every
// product is exact and the sums are float64. dst gets k·k values and is
// symmetric up to the summation order of cuBLAS. It waits for the result.
func (d *Device) Gram(dst []float64, g *F32, k, p int) error {
	if k < 0 || p < 0 || k > math.MaxInt32 || g.Len() < k*p || len(dst) < k*k {
		panic(fmt.Sprintf("cuda: Gram of (%d, %d) from %d elements into %d", k, p, g.Len(), len(dst)))
	}
	if k == 0 {
		return nil
	}
	if p == 0 {
		clear(dst[:k*k])
		return nil
	}
	w := max(1, min(p, gramBlockElems/k))
	return d.Do(func() error {
		blk, err := Alloc[float64](d, k*w)
		if err != nil {
			return err
		}
		defer blk.Free()
		G, err := Alloc[float64](d, k*k)
		if err != nil {
			return err
		}
		defer G.Free()
		for c0 := 0; c0 < p; c0 += w {
			cw := min(w, p-c0)
			b := blk.View(0, k*cw)
			if err := d.Launch("f32_cols_to_f64", d.elemGrid(int64(k)*int64(cw)), block1D, 0,
				NewKernelArgs(6).F64Ptr(b).F32Ptr(g).Int(k).I64(int64(p)).I64(int64(c0)).Int(cw)); err != nil {
				return err
			}
			beta := 1.0
			if c0 == 0 {
				beta = 0
			}
			if err := d.Dgemm(G, GemmShape{M: k, N: k, K: cw, TransB: true}, 1, b, b, beta); err != nil {
				return err
			}
		}
		return G.CopyToHost(dst[:k*k])
	})
}

// TimeEmbedding writes the sinusoidal embedding of the timesteps t (rows,
// float32 values) into out (rows, dim), dim even, half = dim/2:
// out[r, i] = cos(t_r·f_i), out[r, half+i] = sin(t_r·f_i) with
// f_i = exp(−ln(maxPeriod)·i/half), evaluated in float64 (the nn Backend's
// TimeEmbedding; TimestepEmbedding takes int32 timesteps and float32
// arithmetic). Buffers may be longer than rows·dim and rows.
func (d *Device) TimeEmbedding(out, t *F32, rows, dim int, maxPeriod float32) error {
	if dim%2 != 0 || rows < 0 || dim < 0 || out.Len() < rows*dim || t.Len() < rows {
		panic(fmt.Sprintf("cuda: TimeEmbedding: (%d, %d) into %d elements from %d timesteps", rows, dim, out.Len(), t.Len()))
	}
	if rows*dim == 0 {
		return nil
	}
	return d.Launch("time_embedding_f32", d.elemGrid(int64(rows)*int64(dim/2)), block1D, 0,
		NewKernelArgs(5).F32Ptr(out).F32Ptr(t).Int(rows).Int(dim).F32(maxPeriod))
}

// WeightedMSE writes rowLoss[r] = (1/cols)·Σ_c (pred[r, c] − target[r, c])²
// (accumulated in float64) for (rows, cols) pred and target and, unless
// dpred is nil, dpred[r, c] = scale·w[r]·2·(pred[r, c] − target[r, c])/cols,
// the gradient of scale·Σ_r w[r]·rowLoss[r] (the nn Backend's
// WeightedMSE). Buffers may be longer than needed; w is not read when
// dpred is nil and may then be nil.
func (d *Device) WeightedMSE(rowLoss, dpred, pred, target, w *F32, rows, cols int, scale float32) error {
	if rows < 0 || cols < 1 || rowLoss.Len() < rows || pred.Len() < rows*cols || target.Len() < rows*cols {
		panic(fmt.Sprintf("cuda: WeightedMSE of (%d, %d)", rows, cols))
	}
	grad := dpred != nil
	if grad && (dpred.Len() < rows*cols || w == nil || w.Len() < rows) {
		panic(fmt.Sprintf("cuda: WeightedMSE of (%d, %d): gradient buffers too short", rows, cols))
	}
	if rows == 0 {
		return nil
	}
	if !grad {
		dpred, w = rowLoss, rowLoss // not dereferenced when grad is 0
	}
	return d.Launch("weighted_mse_f32", d.rowGrid(rows), block1D, 0,
		NewKernelArgs(9).F32Ptr(rowLoss).F32Ptr(dpred).F32Ptr(pred).F32Ptr(target).F32Ptr(w).
			Int(rows).Int(cols).F32(scale).Bool(grad))
}

// LayerNormParamGrad adds the parameter gradients of LayerNorm from the
// output gradient dy (rows, cols) and the forward's x, mean and rstd:
// dgamma[c] += Σ_r dy[r, c]·x̂[r, c] and dbeta[c] += Σ_r dy[r, c]. It is
// the second half of LayerNormBackward, for callers that skip the input
// gradient.
func (d *Device) LayerNormParamGrad(dgamma, dbeta, dy, x, mean, rstd *F32, rows, cols int) error {
	matrix("LayerNormParamGrad", rows, cols, dy, x)
	sameLen("LayerNormParamGrad", rows, mean, rstd)
	sameLen("LayerNormParamGrad", cols, dgamma, dbeta)
	if rows == 0 || cols == 0 {
		return nil
	}
	return d.Launch("layernorm_param_grad_f32", colGrid(cols), blockCols, 0,
		NewKernelArgs(8).F32Ptr(dgamma).F32Ptr(dbeta).F32Ptr(dy).F32Ptr(x).F32Ptr(mean).F32Ptr(rstd).
			Int(rows).Int(cols))
}

// AdamW32 holds the float32 scalars of one AdamW step exactly as the nn
// Backend receives them (nn.AdamW): the bias corrections BC1 = 1 − β1^t
// and BC2 = 1 − β2^t are given, not computed.
type AdamW32 struct {
	// LR is the learning rate, Beta1 and Beta2 the moment decays, Eps the
	// denominator's ε and WeightDecay the decoupled decay wd.
	LR, Beta1, Beta2, Eps, WeightDecay float32
	// BC1 and BC2 are the bias corrections 1 − β1^t and 1 − β2^t of step t.
	BC1, BC2 float32
}

// AdamWStep32 updates p with its gradient g and moments m and v (all of
// p's length) by one AdamW step with the float32 scalars h:
// m = β1 m + (1−β1) g, v = β2 v + (1−β2) g², p = p·(1 − lr·wd) −
// (lr/bc1)·m/(√v/√bc2 + eps), with 1 − β formed in float32 as the CPU
// backend does.
func (d *Device) AdamWStep32(p, g, m, v *F32, h AdamW32) error {
	sameLen("AdamWStep32", p.Len(), g, m, v)
	if p.Len() == 0 {
		return nil
	}
	return d.Launch("adamw_f32", d.elemGrid(int64(p.Len())), block1D, 0,
		NewKernelArgs(15).F32Ptr(p).F32Ptr(g).F32Ptr(m).F32Ptr(v).I64(int64(p.Len())).
			F32(h.LR).F32(h.Beta1).F32(h.Beta2).F32(1-h.Beta1).F32(1-h.Beta2).F32(h.Eps).
			F32(h.WeightDecay).F32(h.BC1).F32(h.BC2).F32(1))
}

// EMA32 sets ema = decay·ema + (1 − decay)·p with 1 − decay formed in
// float32 from the float32 decay, as the CPU backend does.
func (d *Device) EMA32(ema, p *F32, decay float32) error {
	sameLen("EMA32", ema.Len(), p)
	if ema.Len() == 0 {
		return nil
	}
	return d.Launch("ema_f32", d.elemGrid(int64(ema.Len())), block1D, 0,
		NewKernelArgs(5).F32Ptr(ema).F32Ptr(p).I64(int64(ema.Len())).F32(decay).F32(1-decay))
}
