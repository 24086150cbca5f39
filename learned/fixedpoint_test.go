package learned

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// minimise takes steps Adam steps of lr on J = (1/B)·Σ_b ℓ(L_b, u(t_b))
// for the batches next returns, and returns e^{u(t)} averaged over the
// last avg steps at each timestep of ts.
func minimise(m Model, steps, avg int, lr float64, ts []int, next func() ([]int, []float64)) []float64 {
	opt := newAdam(len(m.Params()))
	grad := make([]float64, len(m.Params()))
	mean := make([]float64, len(ts))
	for s := 0; s < steps; s++ {
		t, L := next()
		g := make([]float64, len(t))
		for b := range t {
			_, d := UncertaintyLoss(L[b], m.U(t[b]))
			g[b] = d / float64(len(t))
		}
		clear(grad)
		m.AddGrad(grad, t, g)
		opt.update(m.Params(), grad, lr)
		if s >= steps-avg {
			for i, tt := range ts {
				mean[i] += math.Exp(m.U(tt)) / float64(avg)
			}
		}
	}
	return mean
}

// On a fixed batch, the minimiser of Σ_{b∈k} L_b·e^{−u_k} + u_k is
// u_k = ln(mean of the bin's L_b): Adam on the bins reaches it.
func TestFixedPointOnAFixedBatchIsTheBinMean(t *testing.T) {
	const tol = 1e-5 // relative, of e^{u_k}: Adam at a constant lr hovers this close
	bins := weighting.MustEqualT(40, 4)
	ts := []int{0, 3, 9, 10, 15, 22, 25, 30, 39, 31}
	L := []float64{0.001, 0.003, 0.002, 0.05, 0.15, 0.4, 0.6, 2, 1, 3}
	want := []float64{0.002, 0.1, 0.5, 2} // the bins' means
	got := minimise(NewBinModel(bins), 20000, 1, 0.01, []int{0, 10, 20, 30}, func() ([]int, []float64) { return ts, L })
	for k := range want {
		require.InDelta(t, 1, got[k]/want[k], tol, "bin %d: e^u = %g, mean loss %g", k, got[k], want[k])
	}
}

// With losses drawn with mean μ_k per bin (exponential, seeded), e^{u_k}
// settles at μ_k: the fixed point e^u = E[L].
func TestFixedPointOfNoisyLossesIsTheExpectedLoss(t *testing.T) {
	const tol = 0.05 // relative: the noise left after averaging
	bins := weighting.MustEqualT(40, 4)
	mu := []float64{0.003, 0.04, 0.3, 1.5}
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func() ([]int, []float64) {
		t, L := make([]int, 64), make([]float64, 64)
		for b := range t {
			t[b] = rng.IntN(40)
			L[b] = mu[bins.Of(t[b])] * rng.ExpFloat64()
		}
		return t, L
	}
	got := minimise(NewBinModel(bins), 8000, 4000, 0.003, []int{0, 10, 20, 30}, draw)
	for k := range mu {
		require.InDelta(t, 1, got[k]/mu[k], tol, "bin %d", k)
	}
	// The Fourier model, with one expected loss at every timestep, learns
	// the constant: its bias goes to ln μ and its features' weights to 0.
	sched := diffusion.Cosine(40)
	four := NewFourierModel(sched, 16, 3)
	got = minimise(four, 8000, 4000, 0.003, []int{0, 13, 26, 39}, func() ([]int, []float64) {
		t, L := draw()
		for b := range L {
			L[b] = 0.2 * L[b] / mu[bins.Of(t[b])]
		}
		return t, L
	})
	for i := range got {
		require.InDelta(t, 1, got[i]/0.2, tol, "timestep %d", i)
	}
}
