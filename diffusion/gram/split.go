package gram

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion"
	"gonum.org/v1/gonum/mat"
)

// SplitResult is the split-half estimate of the per-bin Gram of a batch
// (SplitFromHalves, Pass.RunSplit). Matrices are K×K, row-major and
// exactly symmetric, like Result.Gram; an empty bin has a zero row and
// column, a NaN loss and a NaN signal fraction.
type SplitResult struct {
	// K is the number of bins.
	K int
	// Gram is P(Ĝ), the nearest PSD matrix to Raw (ProjectPSD): the Gram
	// to solve Eq. 11 with and take cosines of.
	Gram []float64
	// Raw is the unbiased split-half estimate Ĝ = ½(Ĝ_AB + Ĝ_BA), which
	// need not be PSD.
	Raw []float64
	// Projection says how far the projection moved Raw.
	Projection Projection
	// Signal holds each bin's signal fraction
	// s_k = Ĝ_AB[k][k] / ½(Ĝ_AA[k][k] + Ĝ_BB[k][k]): the fraction of the
	// squared norm of a half bin's gradient (n_k/2 examples) that is the
	// true gradient rather than sampling noise.
	Signal []float64
	// PlainSignal holds Raw[k][k] / Plain[k][k]: the fraction of the plain
	// estimator's G_kk from all n_k examples that is signal (2s_k/(1 + s_k)
	// for an even n_k).
	PlainSignal []float64
	// Plain is the plain Gram ⟨ĝ_k, ĝ_l⟩ of the full bins of the same
	// batch (what Pass.Run gives, to rounding), for comparison.
	Plain []float64
	// BinLoss holds the bins' task losses L_k (NaN for an empty bin).
	BinLoss []float64
	// Halves is the pass over the 2K half-groups (set by Pass.RunSplit,
	// zero from SplitFromHalves): group 2k is bin k's half A, 2k+1 its half
	// B; its Loss, MSE and gradient buffer are those of Pass.Run.
	Halves Result
}

// Halves returns the 2K group counts of the split-half estimator for bins
// of counts[k] rows: bin k's first ⌊n_k/2⌋ rows are its half A (group 2k),
// the other ⌈n_k/2⌉ its half B (group 2k+1). The rows stay where they are
// (a batch grouped by bin is grouped by half too), so the training
// coefficients of Pass.Run apply unchanged. A non-empty bin needs ≥ 2
// rows (a half of each); an empty bin gives two empty halves.
func Halves(counts []int) ([]int, error) {
	h := make([]int, 2*len(counts))
	for k, n := range counts {
		if n < 0 || n == 1 {
			return nil, fmt.Errorf("gram: split-half Gram: bin %d has %d examples; a non-empty bin needs ≥ 2 (one per half)", k, n)
		}
		h[2*k], h[2*k+1] = n/2, n-n/2
	}
	return h, nil
}

// SplitFromHalves forms the split-half estimate of the K×K Gram of the
// bins' task-loss gradients from H, the 2K×2K Gram of the gradients of
// their halves (Halves(counts) gives the groups; group 2k is bin k's half
// A, 2k+1 its half B), and halfLoss, the 2K halves' task losses.
//
// # The estimator
//
// Bin k's n = n_k examples are independent draws; their per-example
// task-loss gradients have mean g_k (the bin's true gradient) and
// covariance Σ_k. A half's gradient ĝ_kA = (1/n_A)·Σ_{m∈A} ∇(u_m·mse_m) is
// a mean over its n_A = ⌊n/2⌋ examples (the task loss of the half as a
// group of its own, which is what H holds), ĝ_kB over the other
// n_B = ⌈n/2⌉, and the full bin's is their weighted mean
// ĝ_k = (n_A·ĝ_kA + n_B·ĝ_kB)/n (½(ĝ_kA + ĝ_kB) for even n). Hence
//
//	Plain_ij = ⟨ĝ_i, ĝ_j⟩ = Σ_{h,h'∈{A,B}} (n_ih/n_i)(n_jh'/n_j)·⟨ĝ_ih, ĝ_jh'⟩
//	Ĝ_ij     = ½(Ĝ_AB[i][j] + Ĝ_BA[i][j]),  Ĝ_AB[i][j] = ⟨ĝ_iA, ĝ_jB⟩.
//
// Scale: every half-gradient is a mean, E ĝ_ih = g_i, and ĝ_iA and ĝ_jB
// are built from disjoint, independent examples for every i, j (i = j
// included), so E Ĝ_AB[i][j] = ⟨g_i, g_j⟩ = G_ij with factor 1, the G the
// plain estimator estimates. (The cross term of
// ‖ĝ_k‖² = ¼(‖ĝ_kA‖² + ‖ĝ_kB‖² + 2⟨ĝ_kA, ĝ_kB⟩) carries a ½, but it is the
// half-means whose products estimate G, not the halves' shares of ĝ_k.)
//
// Diagonal: E Plain_kk = ‖g_k‖² + tr Σ_k/n, the noise term being the
// extra, bin-dependent λ in Eq. 11 of Hang et al. (ICCV 2023),
// min_{w∈Δ} wᵀ(G + λI)w, whereas E Ĝ_kk = E⟨ĝ_kA, ĝ_kB⟩ = ‖g_k‖²: the
// halves' noises are independent with mean 0, so their product has mean 0.
// For even n, Ĝ = Plain − D·Dᵀ with d_k = ½(ĝ_kA − ĝ_kB) and
// E‖d_k‖² = tr Σ_k/n: the estimator subtracts an estimate of the noise.
//
// Off-diagonal: for independent bins i ≠ j, Plain_ij is unbiased already
// and Ĝ_ij is too. With ĝ_ih = g_i + e_ih and even n, both errors have the
// same first-order term ⟨ε_i, g_j⟩ + ⟨g_i, ε_j⟩ (ε_i = ½(e_iA + e_iB) the
// full bin's noise), so Ĝ keeps the plain estimator's precision to first
// order in the noise; the second-order term ½(⟨e_iA, e_jB⟩ + ⟨e_iB, e_jA⟩)
// has variance 2·tr(Σ_iΣ_j)/n² against ⟨ε_i, ε_j⟩'s tr(Σ_iΣ_j)/n² (bins
// of equal n; the two orders are uncorrelated), which matters only for
// bins whose gradients are mostly noise. For odd n the halves differ by one example and the
// first-order noise of Ĝ is slightly larger (¼(1/n_A + 1/n_B) against 1/n
// times that of one example).
//
// Ĝ need not be PSD (a noise-dominated bin can even have Ĝ_kk < 0), so
// Gram is its projection P(Ĝ) (ProjectPSD) and Projection how far that
// moved it. P(Ĝ) − Ĝ is PSD, so E P(Ĝ) ⪰ G: the projection brings back a
// bias of at most E‖P(Ĝ) − Ĝ‖_F, which Projection.Shift measures relative
// to ‖Ĝ‖_F.
//
// Signal fractions: s_k = Ĝ_AB[k][k] / ½(Ĝ_AA[k][k] + Ĝ_BB[k][k]) has an
// unbiased numerator ‖g_k‖² and a denominator of mean
// ‖g_k‖² + ½(1/n_A + 1/n_B)·tr Σ_k, the squared norm of a half bin's
// gradient; s_k ≤ 1 (⟨a, b⟩ ≤ ½(‖a‖² + ‖b‖²)) and may be negative by
// chance. The bin's loss is (n_A·L_kA + n_B·L_kB)/n.
//
// An error: H not 2K×2K, halfLoss not 2K long, a count negative or 1.
func SplitFromHalves(h mat.Symmetric, halfLoss []float64, counts []int) (SplitResult, error) {
	K := len(counts)
	halves, err := Halves(counts)
	if err != nil {
		return SplitResult{}, err
	}
	if h.SymmetricDim() != 2*K || len(halfLoss) != 2*K {
		return SplitResult{}, fmt.Errorf("gram: split-half Gram: a %d×%d Gram and %d losses of halves for %d bins; want %d of each", h.SymmetricDim(), h.SymmetricDim(), len(halfLoss), K, 2*K)
	}
	res := SplitResult{K: K, Raw: make([]float64, K*K), Plain: make([]float64, K*K), BinLoss: make([]float64, K),
		Signal: make([]float64, K), PlainSignal: make([]float64, K)}
	share := halfShares(halves, counts)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			raw := (h.At(2*i, 2*j+1) + h.At(2*i+1, 2*j)) / 2
			var plain float64
			for a := 2 * i; a < 2*i+2; a++ {
				for b := 2 * j; b < 2*j+2; b++ {
					plain += share[a] * share[b] * h.At(a, b)
				}
			}
			res.Raw[i*K+j], res.Raw[j*K+i] = raw, raw
			res.Plain[i*K+j], res.Plain[j*K+i] = plain, plain
		}
	}
	for k, n := range counts {
		a, b := 2*k, 2*k+1
		res.BinLoss[k] = share[a]*halfLoss[a] + share[b]*halfLoss[b]
		res.Signal[k] = h.At(a, b) / ((h.At(a, a) + h.At(b, b)) / 2)
		res.PlainSignal[k] = res.Raw[k*K+k] / res.Plain[k*K+k]
		if n == 0 {
			res.BinLoss[k], res.Signal[k], res.PlainSignal[k] = math.NaN(), math.NaN(), math.NaN()
		}
	}
	proj, p, err := ProjectPSD(mat.NewSymDense(K, res.Raw))
	if err != nil {
		return SplitResult{}, err
	}
	res.Gram, res.Projection = rowMajor(proj), p
	return res, nil
}

// halfShares returns n_kh/n_k for every half-group (0 for an empty bin):
// the weight of a half's gradient and loss in its bin's.
func halfShares(halves, counts []int) []float64 {
	share := make([]float64, len(halves))
	for g, n := range halves {
		if c := counts[g/2]; c > 0 {
			share[g] = float64(n) / float64(c)
		}
	}
	return share
}

// rowMajor returns a symmetric matrix as K×K row-major values.
func rowMajor(s mat.Symmetric) []float64 {
	K := s.SymmetricDim()
	out := make([]float64, K*K)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			out[i*K+j], out[j*K+i] = s.At(i, j), s.At(i, j)
		}
	}
	return out
}

// RunSplit is Pass.Run with the split-half estimator: one forward and one
// backward pass over b, whose rows are grouped into K = len(counts) bins,
// as a pass over the 2K halves of Halves(counts), and the estimate of
// SplitFromHalves. c is Pass.Run's (the gradient buffer then holds
// ∇θ Σ_n c_n·mse_n; with c nil it holds Σ of the 2K halves' task-loss
// gradients). A non-empty bin needs ≥ 2 rows; Run's panics apply.
func (g *Pass) RunSplit(b diffusion.Batch, counts []int, c []float64) (SplitResult, error) {
	halves, err := Halves(counts)
	if err != nil {
		return SplitResult{}, err
	}
	r, err := g.Run(b, halves, c)
	if err != nil {
		return SplitResult{}, err
	}
	res, err := SplitFromHalves(mat.NewSymDense(2*len(counts), r.Gram), r.BinLoss, counts)
	if err != nil {
		return SplitResult{}, err
	}
	res.Halves = r
	return res, nil
}
