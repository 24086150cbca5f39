package nn

// sgemmSmall computes one C = α·op(A)·op(B) + β·C whose op(A) fits a single
// packed block (m ≤ gemmMC rows, 1 ≤ k ≤ gemmKC), on the calling goroutine
// with the caller's packing buffers ap (≥ gemmMC·k) and bp (≥ ⌈n/16⌉·16·k),
// of which it uses what packABlock and packBBlock need. It is sgemmPacked's one-block case without the buffer pool, the task queue
// and the goroutines, which pay off only for large products: the same packs
// and kernel calls in the same order. GemmBatched runs attention's many
// small per-example products through it.
func sgemmSmall(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ap, bp []float32) {
	overwrite := beta == 0 && alpha != 0 && m > 0 && n > 0 // as sgemmPacked: the kernel writes C, no clearing pass
	if beta != 1 && !overwrite {
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
	packBBlock(bp, tB, b, ldb, 0, k, n, nPanels)
	packABlock(ap, tA, a, lda, 0, m, 0, k)
	var tile [gemmMR * gemmNR]float32
	for jp := 0; jp < nPanels; jp++ {
		nb := min(gemmNR, n-jp*gemmNR)
		bk, bs := bPanel(bp, tB, b, ldb, jp, nb, 0, k)
		for ip := 0; ip*gemmMR < m; ip++ {
			rows := min(gemmMR, m-ip*gemmMR)
			ak, rs, ks := aPanel(ap, tA, a, lda, 0, ip, rows, 0, k)
			if alpha == 1 && rows == gemmMR && nb == gemmNR {
				sgemmKernel6x16S(k, ak, rs, ks, bk, bs, &c[ip*gemmMR*ldc+jp*gemmNR], ldc, b2i(overwrite))
				continue
			}
			sgemmKernel6x16S(k, ak, rs, ks, bk, bs, &tile[0], gemmNR, 1)
			storeTile(c[ip*gemmMR*ldc+jp*gemmNR:], ldc, &tile, rows, nb, alpha, overwrite)
		}
	}
}
