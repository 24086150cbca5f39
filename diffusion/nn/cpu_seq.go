package nn

import (
	"fmt"
	"math"
)

// The CPU backend's operations of sequence models (the DiT): batched GEMM,
// row softmax, adaLN modulation and patch tokens. Every output element is
// computed on its own, so the parallel loops keep the backend
// deterministic.

// GemmBatched runs Gemm on each of the batch's (A_i, B_i, C_i).
func (c *CPU[T]) GemmBatched(tA, tB bool, m, n, k int, alpha float32, a Tensor, lda, strideA int, b Tensor, ldb, strideB int, beta float32, cc Tensor, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("nn: GemmBatched: batch %d, strides %d, %d, %d", batch, strideA, strideB, strideC))
	}
	if batch == 0 {
		return
	}
	la, lb, lc := gemmSpans(tA, tB, m, n, k, lda, ldb, ldc)
	need("GemmBatched", "A", a, (batch-1)*strideA+la)
	need("GemmBatched", "B", b, (batch-1)*strideB+lb)
	need("GemmBatched", "C", cc, (batch-1)*strideC+lc)
	if batch > 1 && strideC < lc && lc > 0 {
		panic(fmt.Sprintf("nn: GemmBatched: C_i of %d elements overlap at stride %d", lc, strideC))
	}
	if m > 0 && n > 0 && k >= 1 && m <= gemmMC && k <= gemmKC && haveFMA && !c.gonumGemm {
		if as, ok := any(c.Data(a)).([]float32); ok {
			c.gemmBatchedSmall(tA, tB, m, n, k, alpha, as, lda, strideA, la, c.Data(b), ldb, strideB, lb, beta, c.Data(cc), ldc, strideC, lc, batch)
			return
		}
	}
	for i := 0; i < batch; i++ {
		c.Gemm(tA, tB, m, n, k, alpha, a.View(i*strideA, la), lda, b.View(i*strideB, lb), ldb, beta, cc.View(i*strideC, lc), ldc)
	}
}

// gemmBatchedSmall runs the batch's products, each small enough for one
// packed block, through sgemmSmall: the examples are split among goroutines
// (each product computed whole by one of them, so the bits do not depend
// on the split), and each goroutine packs into its own two buffers.
func (c *CPU[T]) gemmBatchedSmall(tA, tB bool, m, n, k int, alpha float32, a []float32, lda, strideA, la int, bt []T, ldb, strideB, lb int,
	beta float32, ct []T, ldc, strideC, lc int, batch int) {
	b, cs := any(bt).([]float32), any(ct).([]float32)
	nPanels := (n + gemmNR - 1) / gemmNR
	parFor(batch, max(1, gemmParFlops/(m*n*k)), func(lo, hi int) {
		ap, bp := getBuf(gemmMC*k), getBuf(nPanels*gemmNR*k)
		defer gemmPool.Put(ap)
		defer gemmPool.Put(bp)
		for i := lo; i < hi; i++ {
			sgemmSmall(tA, tB, m, n, k, alpha, a[i*strideA:i*strideA+la], lda, b[i*strideB:i*strideB+lb], ldb, beta,
				cs[i*strideC:i*strideC+lc], ldc, *ap, *bp)
		}
	})
}

// Softmax writes the row-wise softmax of scale·x with the row maximum
// subtracted; the float32 backend exponentiates with the vectorised exp of
// the activations, the float64 twin with math.Exp, and both normalise by a
// float64 sum.
func (c *CPU[T]) Softmax(y, x Tensor, rows, cols int, scale float32) {
	xs := c.d("Softmax", "x", x, rows*cols)
	ys := c.d("Softmax", "y", y, rows*cols)
	parFor(rows, max(1, parGrain/8/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			softmaxRow(ys[r*cols:(r+1)*cols], xs[r*cols:(r+1)*cols], T(scale))
		}
	})
}

// softmaxRow writes y = softmax(scale·x) for one row; y may be x.
func softmaxRow[T float32 | float64](y, x []T, scale T) {
	if len(x) == 0 {
		return
	}
	var m T
	if x32, ok := any(x).([]float32); ok && scale >= 0 {
		m = scale * T(max32(x32)) // max(scale·x) = scale·max(x) for scale ≥ 0: rounding is monotone
	} else {
		m = rowMax(x, scale)
	}
	y = y[:len(x)] // equal lengths: no bounds checks
	for i, v := range x {
		y[i] = scale*v - m
	}
	if y32, ok := any(y).([]float32); ok {
		expBlock(y32, y32, 1)
	} else {
		for i, v := range y {
			y[i] = T(math.Exp(float64(v)))
		}
	}
	inv := 1 / sum64(y)
	for i, v := range y {
		y[i] = T(float64(v) * inv)
	}
}

// rowMax returns the largest scale·x[i] of a non-empty row, with plain
// comparisons in four independent chains (the builtin max orders NaNs and
// signed zeros, which costs a branch chain per element; a NaN in the row
// makes the row's softmax NaN either way).
func rowMax[T float32 | float64](x []T, scale T) T {
	m0 := scale * x[0]
	m1, m2, m3 := m0, m0, m0
	i := 0
	for ; i+4 <= len(x); i += 4 {
		q := (*[4]T)(x[i:])
		if s := scale * q[0]; s > m0 {
			m0 = s
		}
		if s := scale * q[1]; s > m1 {
			m1 = s
		}
		if s := scale * q[2]; s > m2 {
			m2 = s
		}
		if s := scale * q[3]; s > m3 {
			m3 = s
		}
	}
	for ; i < len(x); i++ {
		if s := scale * x[i]; s > m0 {
			m0 = s
		}
	}
	for _, v := range [3]T{m1, m2, m3} {
		if v > m0 {
			m0 = v
		}
	}
	return m0
}

// SoftmaxBackward writes dx = scale·y ⊙ (dy − ⟨dy, y⟩) per row.
func (c *CPU[T]) SoftmaxBackward(dx, y, dy Tensor, rows, cols int, scale float32) {
	ys := c.d("SoftmaxBackward", "y", y, rows*cols)
	dys := c.d("SoftmaxBackward", "dy", dy, rows*cols)
	dxs := c.d("SoftmaxBackward", "dx", dx, rows*cols)
	parFor(rows, max(1, parGrain/4/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, dyr, dxr := ys[r*cols:(r+1)*cols], dys[r*cols:(r+1)*cols], dxs[r*cols:(r+1)*cols]
			s := T(dot64(dyr, yr))
			for i, v := range yr {
				dxr[i] = T(scale) * v * (dyr[i] - s)
			}
		}
	})
}

// modulateLen is the number of elements a (groups, cols) factor tensor
// with row stride ld spans.
func modulateLen(groups, cols, ld int) int { return gemmLen(groups, cols, ld) }

// Modulate writes y = x·(one + s_g) + t_g for the rows of each group g.
func (c *CPU[T]) Modulate(y, x, s, t Tensor, groups, tokens, cols, ld int, one float32) {
	if ld < cols {
		panic(fmt.Sprintf("nn: Modulate: row stride %d < %d columns", ld, cols))
	}
	n := groups * tokens * cols
	xs, ys := c.d("Modulate", "x", x, n), c.d("Modulate", "y", y, n)
	ss := c.d("Modulate", "s", s, modulateLen(groups, cols, ld))
	var ts []T
	if !t.IsZero() {
		ts = c.d("Modulate", "t", t, modulateLen(groups, cols, ld))
	}
	o := T(one)
	parFor(groups*tokens, max(1, parGrain/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			g := r / tokens
			xr := xs[r*cols : (r+1)*cols]
			sg, yr := ss[g*ld:][:len(xr)], ys[r*cols:][:len(xr)] // equal lengths: no bounds checks
			if ts == nil {
				for i, v := range xr {
					yr[i] = v * (o + sg[i])
				}
				continue
			}
			tg := ts[g*ld:][:len(xr)]
			for i, v := range xr {
				yr[i] = v*(o+sg[i]) + tg[i]
			}
		}
	})
}

// ModulateBackward writes ds and dt (sums over each group's rows) and then
// dx, group by group, so that dx may be dy.
func (c *CPU[T]) ModulateBackward(dx, ds, dt, dy, x, s Tensor, groups, tokens, cols, ld int, one float32) {
	if ld < cols {
		panic(fmt.Sprintf("nn: ModulateBackward: row stride %d < %d columns", ld, cols))
	}
	n, m := groups*tokens*cols, modulateLen(groups, cols, ld)
	dys, xs := c.d("ModulateBackward", "dy", dy, n), c.d("ModulateBackward", "x", x, n)
	ss, dss := c.d("ModulateBackward", "s", s, m), c.d("ModulateBackward", "ds", ds, m)
	var dxs, dts []T
	if !dx.IsZero() {
		dxs = c.d("ModulateBackward", "dx", dx, n)
	}
	if !dt.IsZero() {
		dts = c.d("ModulateBackward", "dt", dt, m)
	}
	o := T(one)
	parFor(groups, max(1, parGrain/max(tokens*cols, 1)), func(lo, hi int) {
		for g := lo; g < hi; g++ {
			dsg, sg := dss[g*ld:g*ld+cols], ss[g*ld:g*ld+cols]
			clear(dsg)
			var dtg []T
			if dts != nil {
				dtg = dts[g*ld : g*ld+cols]
				clear(dtg)
			}
			for p := 0; p < tokens; p++ {
				r := (g*tokens + p) * cols
				dyr, xr := dys[r:r+cols], xs[r:r+cols]
				if dxs != nil { // one pass over the row (dx may be dy: each v is read before its dx is written)
					dxr, xr, sg, dsg := dxs[r:][:len(dyr)], xr[:len(dyr)], sg[:len(dyr)], dsg[:len(dyr)]
					if dtg != nil {
						dtg := dtg[:len(dyr)]
						for i, v := range dyr {
							dsg[i] += v * xr[i]
							dtg[i] += v
							dxr[i] = v * (o + sg[i])
						}
						continue
					}
					for i, v := range dyr {
						dsg[i] += v * xr[i]
						dxr[i] = v * (o + sg[i])
					}
					continue
				}
				for i, v := range dyr {
					dsg[i] += v * xr[i]
				}
				if dtg != nil {
					for i, v := range dyr {
						dtg[i] += v
					}
				}
			}
		}
	})
}

// Patchify copies pixels between images and patch tokens (see
// Backend.Patchify for the index map).
func (c *CPU[T]) Patchify(dst, src Tensor, n, channels, side, patch int, inverse bool) {
	if channels < 1 || patch < 1 || side < patch || side%patch != 0 || n < 0 {
		panic(fmt.Sprintf("nn: Patchify: %d images of %d channels, side %d, patch %d", n, channels, side, patch))
	}
	size := n * channels * side * side
	ds, ss := c.d("Patchify", "dst", dst, size), c.d("Patchify", "src", src, size)
	img, tok := ss, ds
	if inverse {
		img, tok = ds, ss
	}
	g, F := side/patch, patch*patch*channels
	parFor(n*g*g, max(1, parGrain/max(F, 1)), func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			b, P, Q := bt/(g*g), bt%(g*g)/g, bt%g
			for i := 0; i < patch; i++ {
				for j := 0; j < patch; j++ {
					for ch := 0; ch < channels; ch++ {
						ti := bt*F + (i*patch+j)*channels + ch
						ii := b*channels*side*side + ch*side*side + (P*patch+i)*side + Q*patch + j
						if inverse {
							img[ii] = tok[ti]
						} else {
							tok[ti] = img[ii]
						}
					}
				}
			}
		}
	})
}
