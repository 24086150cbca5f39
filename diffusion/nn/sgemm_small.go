package nn

// sgemmSmall computes one C = α·op(A)·op(B) + β·C whose op(A) fits a single
// packed block (m ≤ gemmMC rows, 1 ≤ k ≤ gemmKC), on the calling goroutine
// with the caller's packing buffers ap (≥ gemmMC·k) and bp (≥ ⌈n/16⌉·16·k).
// It is sgemmPacked's one-block case without the buffer pool, the task queue
// and the goroutines, which pay off only for large products: the same packs
// and kernel calls in the same order. GemmBatched runs attention's many
// small per-example products through it.
func sgemmSmall(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ap, bp []float32) {
	// Unlike sgemmPacked, C is cleared first even when β = 0: a small C
	// stays in cache, and the kernel that adds into C beats a copy of the
	// tile (so the bits differ from Gemm's only in the sign of a zero).
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if alpha == 0 || m == 0 || n == 0 {
		return
	}
	nPanels := (n + gemmNR - 1) / gemmNR
	packB(bp, tB, b, ldb, 0, k, n, nPanels)
	packA(ap, tA, a, lda, 0, m, 0, k)
	var tile [gemmMR * gemmNR]float32
	for jp := 0; jp < nPanels; jp++ {
		bpan := bp[jp*gemmNR*k:]
		nb := min(gemmNR, n-jp*gemmNR)
		for ip := 0; ip*gemmMR < m; ip++ {
			rows := min(gemmMR, m-ip*gemmMR)
			if alpha == 1 && rows == gemmMR && nb == gemmNR {
				sgemmKernel6x16Acc(k, &ap[ip*gemmMR*k], &bpan[0], &c[ip*gemmMR*ldc+jp*gemmNR], ldc)
				continue
			}
			sgemmKernel6x16(k, &ap[ip*gemmMR*k], &bpan[0], &tile[0])
			storeTile(c[ip*gemmMR*ldc+jp*gemmNR:], ldc, &tile, rows, nb, alpha, false)
		}
	}
}
