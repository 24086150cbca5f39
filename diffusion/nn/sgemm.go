package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The packed float32 GEMM used by the CPU backend where the CPU has AVX2 and
// FMA (elsewhere gonum's Sgemm): GotoBLAS-style blocking with a 6×16
// register micro-kernel in assembly. For each block of kc columns of op(A)
// (rows of op(B)) it packs op(B) into panels of 16 columns, then each task
// packs a block of mc rows of op(A) into panels of 6 rows and runs the
// micro-kernel over a range of B panels, adding α·tile into C (writing it,
// in the first block of a product with β = 0). A row-major op(A) or op(B)
// is read in place by the kernel instead, all but a last partial panel:
// the packing would cost about as much as the kernel on the tall, narrow
// products of token rows.
//
// Determinism: every element of C receives its kc-block contributions in
// block order, each summed over k in order by one kernel call, whatever the
// number of goroutines; tasks split only rows and column panels of C.
const (
	gemmMR = 6
	gemmNR = 16
	gemmKC = 256
	gemmMC = 72
	// gemmParFlops is the size m·n·k from which a GEMM runs on several
	// goroutines.
	gemmParFlops = 1 << 17
)

var gemmPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	p := gemmPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// sgemmPacked computes C = α·op(A)·op(B) + β·C, row-major (see Backend.Gemm),
// for k ≥ 1.
func sgemmPacked(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmPackedRagged(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// sgemmPackedRagged is sgemmPacked restricted to a ragged part of C: with
// ends non-nil, row i is computed in columns [0, ends[i]) at least (ends
// non-decreasing, ≤ n). It works in whole 6×16 tiles: a row may also
// receive the (correct) values of a few columns past its end, those its
// tile's last row needs, up to the next multiple of 16; the rest of the row
// is left untouched.
func sgemmPackedRagged(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ends []int) {
	// tileEnd is the number of columns written in row i: those its tile of
	// 6 rows needs (the last row's), rounded up to whole panels. Tiles start
	// at multiples of 6, as gemmMC is one.
	tileEnd := func(i int) int {
		if ends == nil {
			return n
		}
		last := min(i/gemmMR*gemmMR+gemmMR-1, m-1)
		return min(n, (ends[last]+gemmNR-1)/gemmNR*gemmNR)
	}
	// With β = 0 the first block of k stores its tiles instead of adding
	// them to a cleared C: one pass over C fewer, which for the tall, narrow
	// products of token rows is a good part of the time.
	overwrite := beta == 0 && alpha != 0 && m > 0 && n > 0 && k > 0
	if beta != 1 && !overwrite {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+tileEnd(i)]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if alpha == 0 || m == 0 || n == 0 || k == 0 {
		return
	}
	nPanels := (n + gemmNR - 1) / gemmNR
	mBlocks := (m + gemmMC - 1) / gemmMC
	workers := 1
	if m*n*k >= gemmParFlops {
		workers = runtime.GOMAXPROCS(0)
	}
	// Split the column panels into chunks so that there are at least about
	// two tasks per worker.
	chunks := 1
	if workers > 1 && mBlocks < 2*workers {
		chunks = min(nPanels, (2*workers+mBlocks-1)/mBlocks)
	}
	tasks := mBlocks * chunks
	workers = min(workers, tasks)

	bp := getBuf(nPanels * gemmNR * min(k, gemmKC))
	defer gemmPool.Put(bp)
	for pc := 0; pc < k; pc += gemmKC {
		kb := min(gemmKC, k-pc)
		packBBlock(*bp, tB, b, ldb, pc, kb, n, nPanels)
		run := func(next *atomic.Int64) {
			ap := getBuf(gemmMC * kb)
			defer gemmPool.Put(ap)
			var tile [gemmMR * gemmNR]float32
			lastIC := -1
			for {
				t := int(next.Add(1)) - 1
				if t >= tasks {
					return
				}
				ic := (t / chunks) * gemmMC
				ch := t % chunks
				j0, j1 := ch*nPanels/chunks, (ch+1)*nPanels/chunks
				mb := min(gemmMC, m-ic)
				if ic != lastIC {
					packABlock(*ap, tA, a, lda, ic, mb, pc, kb)
					lastIC = ic
				}
				set := b2i(overwrite && pc == 0)
				for jp := j0; jp < j1; jp++ {
					nb := min(gemmNR, n-jp*gemmNR)
					bk, bs := bPanel(*bp, tB, b, ldb, jp, nb, pc, kb)
					for ip := 0; ip*gemmMR < mb; ip++ {
						rows := min(gemmMR, mb-ip*gemmMR)
						if jp*gemmNR >= tileEnd(ic+ip*gemmMR) {
							continue // a ragged product needs no column of this tile
						}
						ak, rs, ks := aPanel(*ap, tA, a, lda, ic, ip, rows, pc, kb)
						if alpha == 1 && rows == gemmMR && nb == gemmNR {
							// A full tile: the kernel adds it into C (or writes it) itself.
							sgemmKernel6x16S(kb, ak, rs, ks, bk, bs, &c[(ic+ip*gemmMR)*ldc+jp*gemmNR], ldc, set)
							continue
						}
						sgemmKernel6x16S(kb, ak, rs, ks, bk, bs, &tile[0], gemmNR, 1)
						storeTile(c[(ic+ip*gemmMR)*ldc+jp*gemmNR:], ldc, &tile, rows, nb, alpha, set == 1)
					}
				}
			}
		}
		var next atomic.Int64
		if workers == 1 {
			run(&next)
			continue
		}
		var wg sync.WaitGroup
		for w := 1; w < workers; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); run(&next) }()
		}
		run(&next)
		wg.Wait()
	}
}

// packABlock packs what the kernel cannot read in place of rows ic..ic+mb−1,
// columns pc..pc+kb−1 of op(A) into dst (see packA): every panel of a
// transposed op(A), and only the partial last panel (fewer than 6 rows) of
// a row-major one, whose whole panels aPanel hands to the kernel in place.
func packABlock(dst []float32, tA bool, a []float32, lda, ic, mb, pc, kb int) {
	if tA {
		packA(dst, true, a, lda, ic, mb, pc, kb)
		return
	}
	if full := mb / gemmMR; full*gemmMR < mb {
		packA(dst[full*gemmMR*kb:], false, a, lda, ic+full*gemmMR, mb-full*gemmMR, pc, kb)
	}
}

// aPanel returns panel ip of the block packABlock prepared, as the strided
// kernel's A, its row stride and its step stride: six rows of a row-major
// op(A) in place (stride lda, step 1; no copy), or a packed panel (stride
// 1, step 6).
func aPanel(ap []float32, tA bool, a []float32, lda, ic, ip, rows, pc, kb int) (*float32, int, int) {
	if !tA && rows == gemmMR {
		return &a[(ic+ip*gemmMR)*lda+pc], lda, 1
	}
	return &ap[ip*gemmMR*kb], 1, gemmMR
}

// packBBlock packs what the kernel cannot read in place of rows
// pc..pc+kb−1 of op(B) into dst (see packB): every panel of a transposed
// op(B), only the partial last panel (fewer than 16 columns) of a
// row-major one.
func packBBlock(dst []float32, tB bool, b []float32, ldb, pc, kb, n, nPanels int) {
	if tB {
		packB(dst, true, b, ldb, pc, kb, n, nPanels)
		return
	}
	if full := n / gemmNR; full < nPanels {
		packB(dst[full*gemmNR*kb:], false, b[full*gemmNR:], ldb, pc, kb, n-full*gemmNR, 1)
	}
}

// bPanel returns column panel jp (nb columns) of the block packBBlock
// prepared, as the kernel's B and its step stride: 16 columns of a
// row-major op(B) in place (stride ldb), or a packed panel (stride 16).
func bPanel(bp []float32, tB bool, b []float32, ldb, jp, nb, pc, kb int) (*float32, int) {
	if !tB && nb == gemmNR {
		return &b[pc*ldb+jp*gemmNR], ldb
	}
	return &bp[jp*gemmNR*kb], gemmNR
}

// b2i is 1 for true and 0 for false.
func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// storeTile writes α·tile into the rows × nb corner of C (row stride ldc),
// adding to it, or overwriting it when set (the first block of k of a
// product with β = 0).
func storeTile(c []float32, ldc int, tile *[gemmMR * gemmNR]float32, rows, nb int, alpha float32, set bool) {
	for i := 0; i < rows; i++ {
		crow, trow := c[i*ldc:i*ldc+nb], tile[i*gemmNR:i*gemmNR+nb]
		switch {
		case set && alpha == 1:
			copy(crow, trow)
		case set:
			for j, v := range trow {
				crow[j] = alpha * v
			}
		case alpha == 1:
			for j, v := range trow {
				crow[j] += v
			}
		default:
			for j, v := range trow {
				crow[j] += alpha * v
			}
		}
	}
}

// packB packs rows pc..pc+kb−1 of op(B) (k, n) into nPanels panels of 16
// columns, each kb×16 k-major, zero-padding past column n.
func packB(dst []float32, tB bool, b []float32, ldb, pc, kb, n, nPanels int) {
	for jp := 0; jp < nPanels; jp++ {
		j0 := jp * gemmNR
		nb := min(gemmNR, n-j0)
		p := dst[jp*gemmNR*kb : (jp+1)*gemmNR*kb]
		if tB && nb == gemmNR { // a full panel: gather the 16 rows of b, writing p in order
			var rows [gemmNR][]float32
			for j := range rows {
				rows[j] = b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kb]
			}
			for kk := 0; kk < kb; kk++ {
				q := (*[gemmNR]float32)(p[kk*gemmNR:])
				for j := range q {
					q[j] = rows[j][kk]
				}
			}
			continue
		}
		if tB { // op(B)[kk][j] = b[j·ldb + kk]: read along the rows of b
			for j := 0; j < nb; j++ {
				src := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kb]
				for kk, v := range src {
					p[kk*gemmNR+j] = v
				}
			}
			if nb < gemmNR {
				for kk := 0; kk < kb; kk++ {
					clear(p[kk*gemmNR+nb : (kk+1)*gemmNR])
				}
			}
			continue
		}
		for kk := 0; kk < kb; kk++ {
			row := p[kk*gemmNR : (kk+1)*gemmNR]
			copy(row[:nb], b[(pc+kk)*ldb+j0:(pc+kk)*ldb+j0+nb])
			clear(row[nb:])
		}
	}
}

// packAFullT packs the whole 6-row panels of a transposed op(A) (see
// packA) and returns their number: row kk of a holds op(A)'s column kk
// contiguously, so each row segment is read once, in order, and dealt out
// to the panels (reading it again per panel, kb rows apart, waits on the
// cache for every 6 values).
func packAFullT(dst []float32, a []float32, lda, ic, mb, pc, kb int) int {
	full := mb / gemmMR
	if full == 0 {
		return 0
	}
	for kk := 0; kk < kb; kk++ {
		src := a[(pc+kk)*lda+ic : (pc+kk)*lda+ic+full*gemmMR]
		for ip := 0; ip < full; ip++ {
			q, s := (*[gemmMR]float32)(dst[(ip*kb+kk)*gemmMR:]), (*[gemmMR]float32)(src[ip*gemmMR:])
			q[0], q[1], q[2], q[3], q[4], q[5] = s[0], s[1], s[2], s[3], s[4], s[5]
		}
	}
	return full
}

// packA packs rows ic..ic+mb−1, columns pc..pc+kb−1 of op(A) (m, k) into
// panels of 6 rows, each kb×6 k-major, zero-padding past row mb.
func packA(dst []float32, tA bool, a []float32, lda, ic, mb, pc, kb int) {
	full := 0 // panels already packed
	if tA {
		full = packAFullT(dst, a, lda, ic, mb, pc, kb)
	}
	for ip := full; ip*gemmMR < mb; ip++ {
		i0 := ic + ip*gemmMR
		rows := min(gemmMR, mb-ip*gemmMR)
		p := dst[ip*gemmMR*kb : (ip+1)*gemmMR*kb]
		if tA { // op(A)[i][kk] = a[kk·lda + i]: rows of a are contiguous in i
			for kk := 0; kk < kb; kk++ {
				src := a[(pc+kk)*lda+i0:]
				q := p[kk*gemmMR : (kk+1)*gemmMR]
				copy(q[:rows], src[:rows])
				clear(q[rows:])
			}
			continue
		}
		if rows == gemmMR { // a full panel: gather the 6 rows of a, writing p in order
			r0 := a[i0*lda+pc : i0*lda+pc+kb]
			// Equal lengths let the compiler drop the bounds checks.
			r1, r2, r3 := a[(i0+1)*lda+pc:][:len(r0)], a[(i0+2)*lda+pc:][:len(r0)], a[(i0+3)*lda+pc:][:len(r0)]
			r4, r5, p := a[(i0+4)*lda+pc:][:len(r0)], a[(i0+5)*lda+pc:][:len(r0)], p[:gemmMR*len(r0)]
			for kk, v := range r0 {
				q := p[kk*gemmMR : kk*gemmMR+gemmMR : kk*gemmMR+gemmMR]
				q[0], q[1], q[2], q[3], q[4], q[5] = v, r1[kk], r2[kk], r3[kk], r4[kk], r5[kk]
			}
			continue
		}
		for i := 0; i < gemmMR; i++ {
			if i >= rows {
				for kk := 0; kk < kb; kk++ {
					p[kk*gemmMR+i] = 0
				}
				continue
			}
			src := a[(i0+i)*lda+pc : (i0+i)*lda+pc+kb]
			for kk, v := range src {
				p[kk*gemmMR+i] = v
			}
		}
	}
}
