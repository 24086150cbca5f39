package gram_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

const (
	// splitTol64 bounds float64 rounding when the split-half estimate is
	// formed from explicit gradient rows (sums of a few dozen O(1)
	// products), relative to the scale of the entries.
	splitTol64 = 1e-12
	// mcSigmas is how many Monte Carlo standard errors a mean may be from
	// its expectation (fixed seeds: a 4σ miss is a real bias, not chance).
	mcSigmas = 4
)

// halfMeans averages the per-example gradient rows of each half-group
// (Halves's layout: bin k's first ⌊n/2⌋ rows, then the rest), the task-loss
// gradients of the halves as groups of their own; an empty group is a zero
// row.
func halfMeans(rows [][]float64, halves []int) [][]float64 {
	P := len(rows[0])
	out := make([][]float64, len(halves))
	off := 0
	for g, n := range halves {
		out[g] = make([]float64, P)
		for _, r := range rows[off : off+n] {
			for p, v := range r {
				out[g][p] += v / float64(n)
			}
		}
		off += n
	}
	return out
}

// pairMean is the brute force (1/(|S|·|T|))·Σ_{a∈S, b∈T} ⟨x_a, x_b⟩ over
// per-example gradient rows, S and T as [lo, hi) row ranges.
func pairMean(rows [][]float64, s0, s1, t0, t1 int) float64 {
	var sum float64
	for a := s0; a < s1; a++ {
		for b := t0; b < t1; b++ {
			for p := range rows[a] {
				sum += rows[a][p] * rows[b][p]
			}
		}
	}
	return sum / float64((s1-s0)*(t1-t0))
}

// A tiny linear model ŷ = wᵀx with the squared loss (ŷ − y)², whose
// per-example gradients 2(wᵀx − y)·x are written by hand: the split-half
// estimate of bins of even, odd and zero counts equals the double sums
// of per-example inner products it stands for, the plain Gram and the
// bins' losses are the full bins', and for an even bin Ĝ = Plain − D·Dᵀ,
// d_k = ½(ĝ_kA − ĝ_kB), and PlainSignal = 2s/(1 + s).
func TestSplitFromHalvesLinearModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	const P = 3
	w := []float64{0.5, -1, 2}
	counts := []int{4, 5, 0, 2, 3}
	var rows [][]float64 // per-example gradients, bin by bin
	var losses []float64
	for k, n := range counts {
		for i := 0; i < n; i++ {
			x := []float64{rng.NormFloat64(), rng.NormFloat64() + float64(k), 1}
			y := rng.NormFloat64()
			r := w[0]*x[0] + w[1]*x[1] + w[2]*x[2] - y
			rows = append(rows, []float64{2 * r * x[0], 2 * r * x[1], 2 * r * x[2]})
			losses = append(losses, r*r)
		}
	}
	halves, err := gram.Halves(counts)
	require.NoError(t, err)
	require.Equal(t, []int{2, 2, 2, 3, 0, 0, 1, 1, 1, 2}, halves)
	hm := halfMeans(rows, halves)
	halfLoss := make([]float64, len(halves))
	off := 0
	for g, n := range halves {
		halfLoss[g] = math.NaN()
		if n > 0 {
			halfLoss[g] = 0
			for _, l := range losses[off : off+n] {
				halfLoss[g] += l / float64(n)
			}
		}
		off += n
	}
	res, err := gram.SplitFromHalves(gram.FromRows(hm), halfLoss, counts)
	require.NoError(t, err)

	K := len(counts)
	start := make([]int, K+1)
	for k, n := range counts {
		start[k+1] = start[k] + n
	}
	mid := func(k int) int { return start[k] + counts[k]/2 }
	scale := 0.0
	for _, v := range res.Plain {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := 0; i < K; i++ {
		for j := 0; j < K; j++ {
			if counts[i] == 0 || counts[j] == 0 {
				require.Zero(t, res.Raw[i*K+j])
				require.Zero(t, res.Gram[i*K+j])
				require.Zero(t, res.Plain[i*K+j])
				continue
			}
			ab := pairMean(rows, start[i], mid(i), mid(j), start[j+1])
			ba := pairMean(rows, mid(i), start[i+1], start[j], mid(j))
			require.InDelta(t, (ab+ba)/2, res.Raw[i*K+j], splitTol64*scale, "Ĝ[%d][%d]", i, j)
			require.InDelta(t, pairMean(rows, start[i], start[i+1], start[j], start[j+1]), res.Plain[i*K+j], splitTol64*scale, "plain[%d][%d]", i, j)
		}
	}
	for k, n := range counts {
		if n == 0 {
			require.True(t, math.IsNaN(res.BinLoss[k]) && math.IsNaN(res.Signal[k]) && math.IsNaN(res.PlainSignal[k]), "empty bin %d", k)
			continue
		}
		var l float64
		for _, v := range losses[start[k]:start[k+1]] {
			l += v / float64(n)
		}
		require.InDelta(t, l, res.BinLoss[k], splitTol64*l)
		aa := pairMean(rows, start[k], mid(k), start[k], mid(k))
		bb := pairMean(rows, mid(k), start[k+1], mid(k), start[k+1])
		ab := pairMean(rows, start[k], mid(k), mid(k), start[k+1])
		require.InDelta(t, ab/((aa+bb)/2), res.Signal[k], splitTol64, "s_%d", k)
		require.LessOrEqual(t, res.Signal[k], 1.0)
		require.InDelta(t, res.Raw[k*K+k]/res.Plain[k*K+k], res.PlainSignal[k], splitTol64)
	}
	// Even bins 0 and 3: Ĝ = Plain − D·Dᵀ on their block, PlainSignal = 2s/(1+s).
	d := func(k int) []float64 {
		out := make([]float64, P)
		for p := range out {
			out[p] = (hm[2*k][p] - hm[2*k+1][p]) / 2
		}
		return out
	}
	for _, i := range []int{0, 3} {
		require.InDelta(t, 2*res.Signal[i]/(1+res.Signal[i]), res.PlainSignal[i], splitTol64)
		for _, j := range []int{0, 3} {
			di, dj := d(i), d(j)
			ddt := di[0]*dj[0] + di[1]*dj[1] + di[2]*dj[2]
			require.InDelta(t, res.Plain[i*K+j]-ddt, res.Raw[i*K+j], splitTol64*scale)
		}
	}
	// The projection is the projection of Raw.
	proj, st, err := gram.ProjectPSD(mat.NewSymDense(K, append([]float64(nil), res.Raw...)))
	require.NoError(t, err)
	require.Equal(t, st, res.Projection)
	for i := 0; i < K; i++ {
		for j := 0; j < K; j++ {
			require.Equal(t, proj.At(i, j), res.Gram[i*K+j])
		}
	}
}

// Bins of one example cannot be split; shapes must agree.
func TestSplitFromHalvesErrors(t *testing.T) {
	_, err := gram.Halves([]int{4, 1, 3})
	require.ErrorContains(t, err, "bin 1 has 1 examples")
	_, err = gram.Halves([]int{4, -2})
	require.Error(t, err)
	_, err = gram.SplitFromHalves(mat.NewSymDense(4, nil), make([]float64, 4), []int{2, 2, 2})
	require.ErrorContains(t, err, "want 6")
}

// Synthetic per-bin gradients g_k + noise with a known G and a known noise
// covariance Σ_k = σ_k²·I_P: over many draws the mean of the plain
// estimator's diagonal is G_kk + tr Σ_k/n_k (biased, beyond its standard
// error) and the split estimator's is G_kk; both off-diagonals are G_ij.
// With g = 0 the off-diagonal variances are tr(Σ_iΣ_j)/n² (plain) and
// twice that (split), as SplitFromHalves's doc says.
func TestSplitUnbiased(t *testing.T) {
	const P, draws = 5, 20000
	g := [][]float64{{1, 0, 0.5, 0, 0}, {0.6, 0.8, 0, 0, 0}, {-0.3, 0.2, 0.1, 0.4, 0}}
	sigma := []float64{0.8, 1.2, 0.5}
	counts := []int{4, 6, 5} // bin 2 odd: halves of 2 and 3
	K := len(counts)
	halves, err := gram.Halves(counts)
	require.NoError(t, err)
	trueG := gram.FromRows(g)

	run := func(signal bool, seed uint64) (plain, split [][]moments) {
		rng := rand.New(rand.NewPCG(seed, 2))
		plain, split = newMoments(K), newMoments(K)
		for d := 0; d < draws; d++ {
			var rows [][]float64
			for k, n := range counts {
				for i := 0; i < n; i++ {
					r := make([]float64, P)
					for p := range r {
						r[p] = sigma[k] * rng.NormFloat64()
						if signal {
							r[p] += g[k][p]
						}
					}
					rows = append(rows, r)
				}
			}
			res, err := gram.SplitFromHalves(gram.FromRows(halfMeans(rows, halves)), make([]float64, 2*K), counts)
			require.NoError(t, err)
			for i := 0; i < K; i++ {
				for j := i; j < K; j++ {
					plain[i][j].add(res.Plain[i*K+j])
					split[i][j].add(res.Raw[i*K+j])
				}
			}
		}
		return plain, split
	}

	plain, split := run(true, 1)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			want := trueG.At(i, j)
			m, se := split[i][j].meanSE()
			require.InDelta(t, want, m, mcSigmas*se, "split [%d][%d]", i, j)
			if i != j {
				m, se = plain[i][j].meanSE()
				require.InDelta(t, want, m, mcSigmas*se, "plain [%d][%d]", i, j)
				continue
			}
			noise := P * sigma[i] * sigma[i] / float64(counts[i]) // tr Σ_k / n_k
			m, se = plain[i][i].meanSE()
			require.InDelta(t, want+noise, m, mcSigmas*se, "plain [%d][%d] = G_kk + tr Σ/n", i, i)
			require.Greater(t, m-want, 10*se, "the plain diagonal's bias is resolved")
		}
	}

	plain, split = run(false, 2)
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			if counts[i]%2 != 0 || counts[j]%2 != 0 {
				continue // the doc's variances are for even n
			}
			// tr(Σ_iΣ_j)/(n_i n_j) for the plain; the split's halves have
			// covariances 2Σ/n each, and the two cross terms are independent.
			vp := P * sigma[i] * sigma[i] * sigma[j] * sigma[j] / float64(counts[i]*counts[j])
			v, se := plain[i][j].varSE()
			require.InDelta(t, vp, v, mcSigmas*se, "plain variance [%d][%d]", i, j)
			v, se = split[i][j].varSE()
			require.InDelta(t, 2*vp, v, mcSigmas*se, "split variance [%d][%d]", i, j)
		}
	}
}

// moments accumulates the draws of one estimator's entry.
type moments struct{ x []float64 }

func newMoments(K int) [][]moments {
	m := make([][]moments, K)
	for i := range m {
		m[i] = make([]moments, K)
	}
	return m
}

func (m *moments) add(v float64) { m.x = append(m.x, v) }

// meanSE is the mean and its standard error sd/√n.
func (m *moments) meanSE() (mean, se float64) {
	n := float64(len(m.x))
	for _, v := range m.x {
		mean += v / n
	}
	var ss float64
	for _, v := range m.x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

// varSE is the variance about the mean and its standard error, the
// standard error of the mean of the squared deviations.
func (m *moments) varSE() (variance, se float64) {
	mean, _ := m.meanSE()
	sq := moments{}
	for _, v := range m.x {
		sq.add((v - mean) * (v - mean))
	}
	return sq.meanSE()
}

// Through Pass.RunSplit on a real ResMLP: the estimate equals
// SplitFromHalves of the brute-force Gram of the halves (one backward pass
// per half-group, gram.BinGradientRows), its Plain equals the brute-force
// Gram of the full bins and Pass.Run's, and the pass leaves Pass.Run's training gradient
// bit for bit.
func TestRunSplitMatchesBruteForce(t *testing.T) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("swissroll")
	for _, be32 := range []bool{false, true} {
		var be nn.Backend = nn.NewCPU64()
		tol := gramRelTol64
		if be32 {
			be, tol = nn.NewCPU(), gramRelTol32
		}
		net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 2, Hidden: 12, TimeDim: 6}, 5)
		require.NoError(t, err)
		obj := diffusion.NewObjective(net, sched, weighting.V)
		counts := []int{6, 7, 4, 5}
		b := gramBatch(toy, counts, 3)
		halves, err := gram.Halves(counts)
		require.NoError(t, err)
		wantHalves, wantHalfLoss := bruteGram(t, obj, b, halves, nil, nil)
		want, err := gram.SplitFromHalves(wantHalves, wantHalfLoss, counts)
		require.NoError(t, err)
		wantPlain, wantLoss := bruteGram(t, obj, b, counts, nil, nil)

		g, err := gram.NewPass(obj, gram.Config{})
		require.NoError(t, err)
		c := make([]float64, b.Len())
		for r, tt := range b.T {
			c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.V, sched.SNR(tt)) / float64(b.Len())
		}
		res, err := g.RunSplit(b, counts, c)
		require.NoError(t, err)
		grad := make([]float32, net.Params().Len())
		be.Download(grad, net.Params().Grad)

		K := len(counts)
		gramClose(t, "plain", wantPlain, res.Plain, tol)
		// Ĝ's entries are differences of the halves' products: their error
		// is relative to the halves' scale, which the plain diagonal bounds.
		for i := 0; i < K; i++ {
			for j := 0; j < K; j++ {
				s := math.Sqrt(wantPlain.At(i, i) * wantPlain.At(j, j))
				require.InDelta(t, want.Raw[i*K+j], res.Raw[i*K+j], 4*tol*s, "Ĝ[%d][%d]", i, j)
				require.InDelta(t, want.Gram[i*K+j], res.Gram[i*K+j], 4*tol*s, "P(Ĝ)[%d][%d]", i, j)
			}
			require.InDelta(t, want.Signal[i], res.Signal[i], 4*tol, "s_%d", i)
			require.InDelta(t, wantLoss[i], res.BinLoss[i], 1e-6*wantLoss[i])
		}
		require.Len(t, res.Halves.Gram, 4*K*K)

		pr, err := g.Run(b, counts, c)
		require.NoError(t, err)
		gramClose(t, "plain against Pass.Run", mat.NewSymDense(K, pr.Gram), res.Plain, tol)
		plainGrad := make([]float32, net.Params().Len())
		be.Download(plainGrad, net.Params().Grad)
		require.Equal(t, plainGrad, grad, "the training gradient does not depend on the grouping")

		_, err = g.RunSplit(b, []int{6, 7, 1, 8}, nil)
		require.ErrorContains(t, err, "bin 2 has 1 examples")
	}
}

// An empty bin through Pass.RunSplit: a zero row and column and a NaN loss
// and signal fraction, as for Pass.Run.
func TestRunSplitEmptyBin(t *testing.T) {
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 2)
	require.NoError(t, err)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.Eps)
	toy, _ := data.NewToy("moons")
	counts := []int{4, 0, 3}
	g, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	res, err := g.RunSplit(gramBatch(toy, counts, 4), counts, nil)
	require.NoError(t, err)
	for j := 0; j < 3; j++ {
		require.Zero(t, res.Gram[3+j])
		require.Zero(t, res.Raw[j*3+1])
	}
	require.True(t, math.IsNaN(res.BinLoss[1]) && math.IsNaN(res.Signal[1]))
	require.False(t, math.IsNaN(res.BinLoss[0]) || math.IsNaN(res.Signal[2]))
}
