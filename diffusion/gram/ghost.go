package gram

import "github.com/paretodiff/paretodiff/diffusion/nn"

// The ghost contribution of a Linear layer y = W a + b (+1: its bias, when
// selected) to G_kl = Σ_{n∈k, m∈l} (δ_n·δ_m)·(a_n·a_m + 1), from the pass's
// rows: the row products M_A[n,m] = a_n·a_m (+1) and M_Δ[n,m] = δ_n·δ_m
// (float32 GEMMs), the column sums of M_Δ ⊙ M_A over each bin's rows with
// the rows' factors r_n (Backend.LayerNormBackward, whose
// dγ += Σ_rows dy ⊙ x̂ is that sum given a zero mean and r_n as rstd, so
// x̂ = r_n·M_A), and on the host the columns' factors r_m and the sum over
// each block (ghostGram), which gives the task rows' r_n·r_m·(δ_n·δ_m).
//
// A layer with T rows per example (token rows) is the same computation
// over its B·T rows, bin k being rows off_k·T … e_k·T − 1 and every row
// carrying its example's factor r_n: the sums over an example's token
// pairs are sums over rows like any other.
//
// The column sums V of all ghost layers lie in one tensor, layer g's at
// its offset vOff, in one of two layouts (R = B·T rows, N = maxN·T, n_k,
// e_k in rows):
//
//   - square (SquareBlocks, or TriangleBlocks on an nn.RaggedGemmer):
//     layer g's V is (K, R) with V[k, m] = Σ_{n∈k} r_n·M_Δ[n,m]·M_A[n,m];
//     G_kl sums r_m·V[k, m] over the rows m of bin l. The ragged GEMM forms
//     row n of M, for n in bin k, only in columns [0, e_k): the lower block
//     triangle, and the only columns the host reads.
//   - triangle (TriangleBlocks without a ragged GEMM): layer g's V is
//     (K, K, N) with V[k, l, n] = Σ_{m∈l} r_m·M_Δ[m,n]·M_A[m,n] for the
//     rows n of bin k and l ≤ k; G_kl sums r_n·V[k, l, n] over n.

// ghostScratch holds the scratch tensors of the ghost products.
type ghostScratch struct {
	ma, md      nn.Tensor // M_A and M_Δ, R×R at most
	zeros, ones nn.Tensor // R zeros (the mean), R ones (γ)
	junk        nn.Tensor // the unused dβ of the column sums
}

// ghostLayout chooses the layout of the ghost layers' column sums (square
// or triangle, by Settings.Blocks and the backend) and gives each ghost
// layer its offset in V.
func (r *passRun) ghostLayout() {
	r.square = r.set.Blocks == SquareBlocks
	if rg, ok := r.be.(nn.RaggedGemmer); ok && !r.square {
		r.square, r.ragged = true, rg
	}
	for i := range r.lin {
		p := &r.lin[i]
		if !p.ghost {
			continue
		}
		p.vOff = r.vLen
		if r.square {
			r.vLen += r.K * p.rows.rows
		} else {
			r.vLen += r.K * r.K * p.rows.maxN
		}
		r.maxRows = max(r.maxRows, p.rows.rows)
	}
}

// ghostSums forms, for every ghost layer, the column sums V of its blocks
// of M_Δ ⊙ M_A in the layout of ghostLayout (ghostSquare or
// ghostTriangle), and returns V.
func (r *passRun) ghostSums() nn.Tensor {
	R := r.maxRows
	V := r.filled("V", r.vLen, 0)
	s := ghostScratch{
		ma: r.buf("ma", R*R), md: r.buf("md", R*R),
		zeros: r.filled("zeros", R, 0), ones: r.filled("ones", R, 1),
		junk: r.buf("ghostjunk", R),
	}
	for i := range r.lin {
		switch p := &r.lin[i]; {
		case !p.ghost:
		case r.square:
			r.ghostSquare(p, V, &s)
		default:
			r.ghostTriangle(p, V, &s)
		}
	}
	return V
}

// factors returns the rows' factors r_n of layout l on the backend, the
// rstd argument of the column sums (ones without rescaling). The δ rows
// stay as the pass left them.
func (r *passRun) factors(l *tokenRows, s *ghostScratch) nn.Tensor {
	if r.ratio == nil {
		return s.ones
	}
	return l.ratio
}

// gemmNT computes dst = x·xᵀ + β·dst for the R rows of x (width k) of
// layout l, only the lower block triangle (row n in columns [0, e_k)) with
// a ragged GEMM.
func (r *passRun) gemmNT(l *tokenRows, k int, x nn.Tensor, beta float32, dst nn.Tensor) {
	R := l.rows
	if r.ragged != nil {
		r.ragged.GemmRagged(false, true, R, R, k, 1, x, k, x, k, beta, dst, R, l.raggedEnds())
		return
	}
	r.be.Gemm(false, true, R, R, k, 1, x, k, x, k, beta, dst, R)
}

// ghostSquare forms one ghost layer's R×R products M_A (+1 for the bias)
// and M_Δ with one GEMM each and, for every bin k, the column sums
// V[k, m] = Σ_{n∈k} r_n·M_Δ[n,m]·M_A[n,m].
func (r *passRun) ghostSquare(p *linearPlan, V nn.Tensor, s *ghostScratch) {
	l := p.rows
	R := l.rows
	var beta float32
	mak, mdk := s.ma.View(0, R*R), s.md.View(0, R*R)
	if p.b {
		beta = 1 // a_n·a_m + 1: the bias's share
		r.be.Fill(mak, 1)
	}
	r.gemmNT(l, p.in, p.site.In, beta, mak)
	r.gemmNT(l, p.out, p.delta, 0, mdk)
	rs := r.factors(l, s)
	for k, n := range l.cnt {
		if n == 0 {
			continue
		}
		lo, hi := l.off[k], l.off[k+1]
		r.be.LayerNormBackward(nn.Tensor{}, V.View(p.vOff+k*R, R), s.junk.View(0, R), mdk.Rows(lo, hi, R), mak.Rows(lo, hi, R),
			s.zeros.View(0, n), rs.View(lo, n), s.ones.View(0, R), n, R)
	}
}

// ghostTriangle forms, for every bin k, one ghost layer's products of the
// rows of bins 0…k against bin k's rows (an e_k×n_k block of M_A, +1 for
// the bias, and of M_Δ, one GEMM each) and, for every l ≤ k, the column
// sums V[k, l, n] = Σ_{m∈l} r_m·M_Δ[m,n]·M_A[m,n].
func (r *passRun) ghostTriangle(p *linearPlan, V nn.Tensor, s *ghostScratch) {
	I, O, A, d, K, lay := p.in, p.out, p.site.In, p.delta, r.K, p.rows
	var beta float32
	if p.b {
		beta = 1 // a_n·a_m + 1: the bias's share
	}
	rs := r.factors(lay, s)
	for k, n := range lay.cnt {
		e := lay.off[k+1]
		if n == 0 {
			continue
		}
		mak, mdk := s.ma.View(0, n*e), s.md.View(0, n*e)
		if p.b {
			r.be.Fill(mak, 1)
		}
		r.be.Gemm(false, true, e, n, I, 1, A, I, A.Rows(lay.off[k], e, I), I, beta, mak, n)
		r.be.Gemm(false, true, e, n, O, 1, d, O, d.Rows(lay.off[k], e, O), O, 0, mdk, n)
		for l := 0; l <= k; l++ {
			nl := lay.cnt[l]
			if nl == 0 {
				continue
			}
			r.be.LayerNormBackward(nn.Tensor{}, V.View(p.vOff+(k*K+l)*lay.maxN, n), s.junk.View(0, n),
				mdk.Rows(lay.off[l], lay.off[l+1], n), mak.Rows(lay.off[l], lay.off[l+1], n), s.zeros.View(0, nl), rs.View(lay.off[l], nl), s.ones.View(0, n), nl, n)
		}
	}
}

// ghostGram returns the ghost layers' share of G_kl (l ≤ k) from the
// downloaded column sums: the sum over the ghost layers of the block's
// column sums times the other factor r of M_Δ, in float64.
func (r *passRun) ghostGram(host []float32, k, l int) float64 {
	K := r.K
	var sum float64
	for i := range r.lin {
		p := &r.lin[i]
		if !p.ghost {
			continue
		}
		lay := p.rows
		if !r.square {
			for i, v := range host[p.vOff+(k*K+l)*lay.maxN:][:lay.cnt[k]] {
				sum += float64(v) * r.rowScale(lay, lay.off[k]+i)
			}
			continue
		}
		row := host[p.vOff+k*lay.rows:]
		for m := lay.off[l]; m < lay.off[l+1]; m++ {
			sum += float64(row[m]) * r.rowScale(lay, m)
		}
	}
	return sum
}
