package reproduce

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
)

// DrawGram draws a batch stratified into the bins, perBin examples each,
// with rng (diffusion.DrawBins) and returns the K×K Gram matrix of the
// bins' task-loss gradients from one pass of bg (gram.Pass, exact)
// and the bins' task losses. It overwrites the network's gradients.
func DrawGram(bg *gram.Pass, data diffusion.Dataset, bins weighting.Bins, perBin int, rng *rand.Rand) (*mat.SymDense, []float64, error) {
	K := bins.K()
	b := diffusion.DrawBins(rng, data, bins, perBin)
	counts := make([]int, K)
	for k := range counts {
		counts[k] = perBin
	}
	res, err := bg.Run(b, counts, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reproduce: %w", err)
	}
	return mat.NewSymDense(K, res.Gram), res.BinLoss, nil
}

// SignalFractions estimates, for each bin, how much of the squared norm of
// its gradient estimate from perBin examples is the true gradient rather
// than sampling noise: with ĝ_A and ĝ_B the gradients of two independent
// halves of perBin examples each,
//
//	s_k = ⟨ĝ_A, ĝ_B⟩ / ½(‖ĝ_A‖² + ‖ĝ_B‖²),
//
// whose numerator estimates ‖g_k‖² without bias (the halves' noise is
// independent) and whose denominator estimates E‖ĝ‖² = ‖g_k‖² + tr Σ_k/n.
// s_k near 1 means the Gram entries of that bin are signal; near 0 (or
// negative, by chance) that they are mostly noise. It draws 2·perBin
// examples per bin and makes one pass of the split-half estimator over
// them (gram.Pass.RunSplit; s_k is its SplitResult.Signal).
func SignalFractions(bg *gram.Pass, data diffusion.Dataset, bins weighting.Bins, perBin int, rng *rand.Rand) ([]float64, error) {
	b := diffusion.DrawBins(rng, data, bins, 2*perBin) // bin k is rows 2k·n … 2(k+1)·n − 1
	counts := make([]int, bins.K())
	for k := range counts {
		counts[k] = 2 * perBin
	}
	res, err := bg.RunSplit(b, counts, nil)
	if err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	return res.Signal, nil
}

// MedianDiag returns the median of a Gram matrix's diagonal: the median
// squared per-bin gradient norm, the scale fig3 and fig4 give λ (λ = ρ ×
// MedianDiag), so that λ is comparable to a typical bin's G_kk whatever
// the units of the loss. The median, not the mean, because the diagonal
// of the x0 task losses spans several decades.
func MedianDiag(g mat.Symmetric) float64 {
	K := g.SymmetricDim()
	d := make([]float64, K)
	for k := range d {
		d[k] = g.At(k, k)
	}
	sort.Float64s(d)
	return (d[(K-1)/2] + d[K/2]) / 2
}

// MeanGram returns the entry-wise mean of Gram matrices of one size.
func MeanGram(gs []*mat.SymDense) *mat.SymDense {
	K := gs[0].SymmetricDim()
	m := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			s := 0.0
			for _, g := range gs {
				s += g.At(i, j)
			}
			m.SetSym(i, j, s/float64(len(gs)))
		}
	}
	return m
}

// ParetoWeights solves Eq. 11, min_{w∈Δ} wᵀ(G + λI)w, with a solver and
// returns its result (W on the simplex, F the objective, Gap the
// certificate F − f* ≤ Gap).
func ParetoWeights(g mat.Symmetric, lambda float64, method solvers.Method) (solvers.Result, error) {
	p, err := pareto.NewFromGram(g, pareto.Config{Lambda: lambda})
	if err != nil {
		return solvers.Result{}, fmt.Errorf("reproduce: %w", err)
	}
	r, err := solvers.Solve(p, method, nil)
	if err != nil {
		return r, fmt.Errorf("reproduce: %w", err)
	}
	return r, nil
}

// Dispersion measures how far apart weight vectors from independent draws
// are: the mean over pairs i < j of the L1 distance Σ_k |w_ik − w_jk|
// (between 0, identical, and 2, disjoint supports), and its jackknife
// standard error over the draws,
//
//	SE = √((D − 1)/D · Σ_i (θ₋ᵢ − θ̄)²),
//
// θ₋ᵢ the mean distance without draw i and θ̄ their mean (the jackknife
// handles the dependence between pairs that share a draw). It needs at
// least 3 draws (SE is NaN for fewer).
func Dispersion(ws [][]float64) (mean, se float64) {
	D := len(ws)
	if D < 2 {
		panic(fmt.Sprintf("reproduce: Dispersion needs ≥ 2 draws, got %d", D))
	}
	dist := make([][]float64, D)
	for i := range dist {
		dist[i] = make([]float64, D)
	}
	for i := 0; i < D; i++ {
		for j := i + 1; j < D; j++ {
			if len(ws[i]) != len(ws[j]) {
				panic("reproduce: Dispersion: weight vectors of different lengths")
			}
			s := 0.0
			for k := range ws[i] {
				s += math.Abs(ws[i][k] - ws[j][k])
			}
			dist[i][j], dist[j][i] = s, s
		}
	}
	meanWithout := func(skip int) float64 {
		s, n := 0.0, 0
		for i := 0; i < D; i++ {
			for j := i + 1; j < D; j++ {
				if i != skip && j != skip {
					s += dist[i][j]
					n++
				}
			}
		}
		return s / float64(n)
	}
	mean = meanWithout(-1)
	if D < 3 {
		return mean, math.NaN()
	}
	loo := make([]float64, D)
	bar := 0.0
	for i := range loo {
		loo[i] = meanWithout(i)
		bar += loo[i] / float64(D)
	}
	for _, v := range loo {
		se += (v - bar) * (v - bar)
	}
	return mean, math.Sqrt(float64(D-1) / float64(D) * se)
}

// Falls judges whether a sequence of measurements v (with standard errors
// se, independent between entries) falls monotonically within noise:
//   - overall is Supports if v[last] < v[0] by more than twice the
//     standard error of the difference, Contradicts if it is larger by more
//     than that, WithinNoise otherwise;
//   - rises lists the i for which v[i+1] − v[i] exceeds twice the standard
//     error of that difference (a significant step up).
func Falls(v, se []float64) (overall Outcome, rises []int) {
	n := len(v)
	if n < 2 || len(se) != n {
		panic("reproduce: Falls needs ≥ 2 values with their standard errors")
	}
	d, noise := v[n-1]-v[0], 2*math.Hypot(se[0], se[n-1])
	switch {
	case d < -noise:
		overall = Supports
	case d > noise:
		overall = Contradicts
	default:
		overall = WithinNoise
	}
	for i := 0; i+1 < n; i++ {
		if v[i+1]-v[i] > 2*math.Hypot(se[i], se[i+1]) {
			rises = append(rises, i)
		}
	}
	return overall, rises
}

// Slope returns the least-squares slope of y against x.
func Slope(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		panic("reproduce: Slope needs ≥ 2 points")
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(x))
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	return sxy / sxx
}

// CosineDistanceSlope fits a line through the cosines of all bin pairs
// i < j of a cosine matrix against their distance j − i (pairs with an
// undefined cosine left out) and returns its slope: the change of the
// cosine per bin of distance. Negative means distant bins agree less
// (conflict more) than neighbouring ones. Every pair counts once, so
// distance d weighs K − d pairs.
func CosineDistanceSlope(c mat.Symmetric) float64 {
	K := c.SymmetricDim()
	var x, y []float64
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			if v := c.At(i, j); !math.IsNaN(v) {
				x, y = append(x, float64(j-i)), append(y, v)
			}
		}
	}
	if len(x) < 2 {
		return math.NaN()
	}
	return Slope(x, y)
}

// meanSE is the mean of v and its standard error sd/√n (NaN for n < 2).
func meanSE(v []float64) (mean, se float64) {
	m, sd := meanSD(v)
	if len(v) < 2 {
		return m, math.NaN()
	}
	return m, sd / math.Sqrt(float64(len(v)))
}

// outcomeOf classifies a measured difference d with standard error se
// against 0: Supports if d < −2·se when lowerSupports (d > 2·se
// otherwise), Contradicts if beyond 2·se the other way, WithinNoise
// otherwise.
func outcomeOf(d, se float64, lowerSupports bool) Outcome {
	if !lowerSupports {
		d = -d
	}
	switch {
	case d < -2*se:
		return Supports
	case d > 2*se:
		return Contradicts
	}
	return WithinNoise
}

// analysisLimits is the common "what this scale can show" of the gradient
// analyses (fig3, fig4, conflict).
func analysisLimits(s Scale, sz ModelSizes) string {
	switch s {
	case Smoke:
		return "Smoke scale only checks that the pipeline runs: a few dozen training steps and a handful of examples per bin, so every number above is noise. Nothing here bears on the paper."
	case Quick:
		return fmt.Sprintf("Quick scale analyses %s trained on the 2-D %s distribution for %d steps on the CPU, %d seeds per training weighting (so the probes' draws, not the seeds, are the units of the standard errors: the margins cover the probes' sampling noise, not the spread between training runs). Their per-bin gradients are exact (one pass per batch, checked against one backward pass per bin in package diffusion), so what the numbers show about these models is measured, not approximated; but a small MLP of 2-D data has far fewer parameters and shared features than the paper's ViT and UNet image models, so the size of every effect, and the sample sizes at which it appears, need not carry over. A verdict here is about this toy setting.",
			sz.NetPhrase(true), strings.TrimPrefix(sz.Data, "toy:"), sz.Steps, sz.Seeds)
	case Medium:
		return fmt.Sprintf("Medium scale analyses %s trained on %s for %d steps (batch %d) on the CPU, with %s-prediction as in the paper's main comparison and %d seeds per training weighting, so the seeds are the units of the standard errors. The per-bin Grams are exact for their batches but estimated from %d examples per bin: the plain estimate's diagonal carries each bin's sampling noise, an extra, bin-dependent λ (fig3 studies that noise), which the split-half estimate of fig4 and conflict removes in expectation (their reports say how much of each G_kk is signal). It is %s on 28×28 digits trained for a small fraction of the paper's steps, not its ViT or UNet on ImageNet or CelebA: it can show whether the gradient structure seen on toy data holds on images at a small size, not reproduce the paper's figures.",
			sz.NetPhrase(true), sz.Data, sz.Steps, sz.Batch, sz.Probes.Target, sz.Seeds, sz.Probes.PerBin, sz.NetNoun())
	}
	return fmt.Sprintf("Paper scale analyses %s trained on %s for %d steps with the paper's optimiser settings, %d seeds per training weighting. It is still %s on MNIST, not the paper's ViT on ImageNet: it can show whether the gradient structure seen on toy data holds on images, not reproduce the paper's exact figures.",
		sz.NetPhrase(true), sz.Data, sz.Steps, sz.Seeds, sz.NetNoun())
}
