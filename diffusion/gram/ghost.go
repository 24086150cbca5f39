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
// The column sums V of all ghost layers lie in one tensor, in one of two
// layouts:
//
//   - square (SquareBlocks, or TriangleBlocks on an nn.RaggedGemmer):
//     V is (nGhost, K, B) with V[g, k, m] = Σ_{n∈k} r_n·M_Δ[n,m]·M_A[n,m];
//     G_kl sums r_m·V[g, k, m] over m in bin l. The ragged GEMM forms row n
//     of M, for n in bin k, only in columns [0, e_k): the lower block
//     triangle, and the only columns the host reads.
//   - triangle (TriangleBlocks without a ragged GEMM): V is
//     (nGhost, K, K, maxN) with V[g, k, l, n] = Σ_{m∈l} r_m·M_Δ[m,n]·M_A[m,n]
//     for n in bin k and l ≤ k; G_kl sums r_n·V[g, k, l, n] over n.

// ghostScratch holds the scratch tensors of the ghost products.
type ghostScratch struct {
	ma, md      nn.Tensor // M_A and M_Δ, B×B at most
	zeros, ones nn.Tensor // B zeros (the mean), B ones (γ)
	junk        nn.Tensor // the unused dβ of the column sums
	rs          nn.Tensor // the rows' factors r_n (ones without rescaling)
}

// ghostSums forms, for every ghost layer, the column sums V of its blocks
// of M_Δ ⊙ M_A in the layout the backend and Settings.Blocks call for
// (ghostSquare or ghostTriangle), and returns V.
func (r *passRun) ghostSums() nn.Tensor {
	B := r.B
	r.square = r.set.Blocks == SquareBlocks
	if rg, ok := r.be.(nn.RaggedGemmer); ok && !r.square {
		r.square, r.ragged, r.ends = true, rg, make([]int, B)
		for n := range r.ends {
			r.ends[n] = r.off[r.binOf[n]+1]
		}
	}
	V := r.filled("V", r.nGhost*r.K*max(B, r.K*r.maxN), 0)
	s := ghostScratch{
		ma: r.buf("ma", B*B), md: r.buf("md", B*B),
		zeros: r.filled("zeros", B, 0), ones: r.filled("ones", B, 1),
		junk: r.buf("ghostjunk", B),
	}
	// The δ rows stay as the pass left them; the column sums take their
	// rows' factor r_n through the rstd argument.
	s.rs = s.ones
	if r.ratio != nil {
		s.rs = r.ratioT
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

// gemmNT computes dst = x·xᵀ + β·dst for the B rows of x (width k), only
// the lower block triangle (row n in columns [0, e_k)) with a ragged GEMM.
func (r *passRun) gemmNT(k int, x nn.Tensor, beta float32, dst nn.Tensor) {
	B := r.B
	if r.ends != nil {
		r.ragged.GemmRagged(false, true, B, B, k, 1, x, k, x, k, beta, dst, B, r.ends)
		return
	}
	r.be.Gemm(false, true, B, B, k, 1, x, k, x, k, beta, dst, B)
}

// ghostSquare forms one ghost layer's B×B products M_A (+1 for the bias)
// and M_Δ with one GEMM each and, for every bin k, the column sums
// V[g, k, m] = Σ_{n∈k} r_n·M_Δ[n,m]·M_A[n,m].
func (r *passRun) ghostSquare(p *linearPlan, V nn.Tensor, s *ghostScratch) {
	B := r.B
	var beta float32
	mak, mdk := s.ma.View(0, B*B), s.md.View(0, B*B)
	if p.b {
		beta = 1 // a_n·a_m + 1: the bias's share
		r.be.Fill(mak, 1)
	}
	r.gemmNT(p.in, p.site.In, beta, mak)
	r.gemmNT(p.out, p.delta, 0, mdk)
	for k, n := range r.counts {
		if n == 0 {
			continue
		}
		lo, hi := r.off[k], r.off[k+1]
		r.be.LayerNormBackward(nn.Tensor{}, V.View((p.ghostIndex*r.K+k)*B, B), s.junk.View(0, B), mdk.Rows(lo, hi, B), mak.Rows(lo, hi, B),
			s.zeros.View(0, n), s.rs.View(lo, n), s.ones, n, B)
	}
}

// ghostTriangle forms, for every bin k, one ghost layer's products of the
// rows of bins 0…k against bin k's rows (an e_k×n_k block of M_A, +1 for
// the bias, and of M_Δ, one GEMM each) and, for every l ≤ k, the column
// sums V[g, k, l, n] = Σ_{m∈l} r_m·M_Δ[m,n]·M_A[m,n].
func (r *passRun) ghostTriangle(p *linearPlan, V nn.Tensor, s *ghostScratch) {
	I, O, A, d, K := p.in, p.out, p.site.In, p.delta, r.K
	var beta float32
	if p.b {
		beta = 1 // a_n·a_m + 1: the bias's share
	}
	for k, n := range r.counts {
		e := r.off[k+1]
		if n == 0 {
			continue
		}
		mak, mdk := s.ma.View(0, n*e), s.md.View(0, n*e)
		if p.b {
			r.be.Fill(mak, 1)
		}
		r.be.Gemm(false, true, e, n, I, 1, A, I, A.Rows(r.off[k], e, I), I, beta, mak, n)
		r.be.Gemm(false, true, e, n, O, 1, d, O, d.Rows(r.off[k], e, O), O, 0, mdk, n)
		for l := 0; l <= k; l++ {
			nl := r.counts[l]
			if nl == 0 {
				continue
			}
			r.be.LayerNormBackward(nn.Tensor{}, V.View(((p.ghostIndex*K+k)*K+l)*r.maxN, n), s.junk.View(0, n),
				mdk.Rows(r.off[l], r.off[l+1], n), mak.Rows(r.off[l], r.off[l+1], n), s.zeros.View(0, nl), s.rs.View(r.off[l], nl), s.ones.View(0, n), nl, n)
		}
	}
}

// ghostGram returns the ghost layers' share of G_kl (l ≤ k) from the
// downloaded column sums: the sum over the ghost layers of the block's
// column sums times the other factor r of M_Δ, in float64.
func (r *passRun) ghostGram(host []float32, k, l int) float64 {
	K, B := r.K, r.B
	var sum float64
	for gi := 0; gi < r.nGhost; gi++ {
		if !r.square {
			for i, v := range host[((gi*K+k)*K+l)*r.maxN:][:r.counts[k]] {
				sum += float64(v) * r.rowScale(r.off[k]+i)
			}
			continue
		}
		row := host[(gi*K+k)*B:]
		for m := r.off[l]; m < r.off[l+1]; m++ {
			sum += float64(row[m]) * r.rowScale(m)
		}
	}
	return sum
}
