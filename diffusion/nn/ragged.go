package nn

import "fmt"

// RaggedGemmer is implemented by backends that can form a matrix product on
// a ragged lower part of C only, the shape of a block lower triangle: the
// per-bin Gram of gram.Pass (package diffusion/gram) needs the row products a_n·a_m only for
// pairs whose bins satisfy bin(m) ≤ bin(n), about half of them, and one
// ragged call does that work at the speed of one large GEMM where a GEMM
// per bin would repack its operands K times. Backends without it get the
// per-bin calls.
type RaggedGemmer interface {
	// GemmRagged is Gemm (same arguments and layout) restricted to columns
	// [0, ends[i]) of each row i of C, with ends non-decreasing, of length
	// m, each in [0, n]. Those columns receive exactly what Gemm would
	// write; a backend may also write other columns of a row with their
	// Gemm values, up to the next multiple of its tile width, and leaves
	// the rest of C untouched.
	GemmRagged(tA, tB bool, m, n, k int, alpha float32, a Tensor, lda int, b Tensor, ldb int, beta float32, c Tensor, ldc int, ends []int)
}

// checkEnds panics unless ends suits a ragged (m, n) product.
func checkEnds(ends []int, m, n int) {
	if len(ends) != m {
		panic(fmt.Sprintf("nn: GemmRagged: %d row ends for %d rows", len(ends), m))
	}
	prev := 0
	for i, e := range ends {
		if e < prev || e > n {
			panic(fmt.Sprintf("nn: GemmRagged: row end %d of row %d is not in [%d, %d]", e, i, prev, n))
		}
		prev = e
	}
}

// GemmRagged implements RaggedGemmer: one packed, tile-skipping GEMM on the
// float32 AVX2 path, and elsewhere one Gemm per run of rows with equal ends.
func (c *CPU[T]) GemmRagged(tA, tB bool, m, n, k int, alpha float32, a Tensor, lda int, b Tensor, ldb int, beta float32, cc Tensor, ldc int, ends []int) {
	checkEnds(ends, m, n)
	if m == 0 || n == 0 {
		return
	}
	if k > 0 && haveFMA && !c.gonumGemm {
		ar, ac, br, bc := m, k, k, n
		if tA {
			ar, ac = k, m
		}
		if tB {
			br, bc = n, k
		}
		as := c.d("GemmRagged", "A", a, gemmLen(ar, ac, lda))
		bs := c.d("GemmRagged", "B", b, gemmLen(br, bc, ldb))
		cs := c.d("GemmRagged", "C", cc, gemmLen(m, n, ldc))
		if a32, ok := any(as).([]float32); ok {
			sgemmPackedRagged(tA, tB, m, n, k, alpha, a32, lda, any(bs).([]float32), ldb, beta, any(cs).([]float32), ldc, ends)
			return
		}
	}
	for r0 := 0; r0 < m; {
		r1, e := r0+1, ends[r0]
		for r1 < m && ends[r1] == e {
			r1++
		}
		if e > 0 {
			rows := r1 - r0
			var av, bv Tensor
			if tA {
				av = a.View(r0, gemmLen(k, rows, lda))
			} else {
				av = a.View(r0*lda, gemmLen(rows, k, lda))
			}
			if tB {
				bv = b.View(0, gemmLen(e, k, ldb))
			} else {
				bv = b.View(0, gemmLen(k, e, ldb))
			}
			c.Gemm(tA, tB, rows, e, k, alpha, av, lda, bv, ldb, beta, cc.View(r0*ldc, gemmLen(rows, e, ldc)), ldc)
		}
		r0 = r1
	}
}
