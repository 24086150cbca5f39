package sampler

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// PosteriorMean against numerical integration of
// E[x0 | x_t] = ∫ x0 p(x0) N(x_t; α x0, σ²) dx0 / ∫ p(x0) N(x_t; α x0, σ²) dx0
// for a 1-D mixture (trapezoid rule on a fine grid).
func TestPosteriorMeanQuadrature(t *testing.T) {
	const quadTol = 1e-7 // trapezoid with h = 1e-4 on smooth integrands: error ≪ 1e-7
	mix := GaussianMixture{Weights: []float64{0.2, 0.5, 0.3}, Means: [][]float64{{-2}, {0.3}, {1.8}}, Stds: [][]float64{{0.4}, {0.2}, {0.6}}}
	pdf := func(x float64) float64 {
		p := 0.0
		for k, w := range []float64{0.2, 0.5, 0.3} {
			m, s := mix.Means[k][0], mix.Stds[k][0]
			p += w * math.Exp(-0.5*(x-m)*(x-m)/(s*s)) / (s * math.Sqrt(2*math.Pi))
		}
		return p
	}
	sc := diffusion.Cosine(1000)
	for _, tt := range []int{0, 200, 500, 800, 999} {
		al, sg := sc.Alpha(tt), sc.Sigma(tt)
		for _, xt := range []float32{-2.5, -0.3, 0, 0.7, 2.2} {
			num, den := 0.0, 0.0
			const lo, hi, h = -6.0, 6.0, 1e-4
			for i := 0; ; i++ {
				x0 := lo + float64(i)*h
				if x0 > hi {
					break
				}
				r := float64(xt) - al*x0
				w := pdf(x0) * math.Exp(-0.5*r*r/(sg*sg))
				if i == 0 || x0+h > hi {
					w /= 2
				}
				num += x0 * w
				den += w
			}
			got := make([]float64, 1)
			mix.PosteriorMean(got, []float32{xt}, al, sg)
			require.InDelta(t, num/den, got[0], quadTol, "t=%d x_t=%g", tt, xt)
		}
	}
	// At α = 0 the posterior mean is the mixture mean.
	got := make([]float64, 1)
	mix.PosteriorMean(got, []float32{3}, 0, 1)
	require.InDelta(t, 0.2*-2+0.5*0.3+0.3*1.8, got[0], 1e-15)
}

// Every target's prediction converts back to the same x̂0 (diffusion.ToX0).
func TestOptimalDenoiserTargetsAgree(t *testing.T) {
	const roundoff = 1e-5 // float32 rounding of ε̂ and v̂, amplified by 1/α ≤ 25 at t ≤ 950
	sc := diffusion.Cosine(1000)
	xt := []float32{0.3, -1.2, 2.0, 0.1, -0.4, 0.9}
	ts := []int{10, 500, 950}
	ref := make([]float32, len(xt))
	mixtureDenoiser(t, sc, weighting.X0).Predict(ref, xt, ts)
	for _, tg := range []weighting.Target{weighting.Eps, weighting.V} {
		pred := make([]float32, len(xt))
		mixtureDenoiser(t, sc, tg).Predict(pred, xt, ts)
		for r, tt := range ts {
			got := make([]float32, 2)
			diffusion.ToX0(got, tg, pred[2*r:2*r+2], xt[2*r:2*r+2], sc.Alpha(tt), sc.Sigma(tt))
			require.InDeltaSlice(t, ref[2*r:2*r+2], got, roundoff, "%v t=%d", tg, tt)
		}
	}
}

func TestDrawMatchesMixture(t *testing.T) {
	const N = 20000
	x := make([]float32, N*2)
	testMixture.Draw(x, newRNG(9))
	// Mixture moments per dimension: E = Σπμ, Var = Σπ(s² + μ²) − E².
	for d := range 2 {
		m, v := 0.0, 0.0
		for k, w := range []float64{1.0 / 3, 2.0 / 3} {
			mu, s := testMixture.Means[k][d], testMixture.Stds[k][d]
			m += w * mu
			v += w * (s*s + mu*mu)
		}
		v -= m * m
		gm, gv := sampleStats(x, 2, d)
		// Not Gaussian: SE(variance) uses the fourth moment; 0.05·v is > 5 SE here.
		require.InDelta(t, m, gm, zSample*math.Sqrt(v/N), "mean %d", d)
		require.InDelta(t, v, gv, 0.05*v, "variance %d", d)
	}
}

func TestValidate(t *testing.T) {
	require.NoError(t, testMixture.Validate())
	require.NoError(t, Gaussian([]float64{0}, []float64{1}).Validate())
	for _, bad := range []GaussianMixture{
		{},
		{Means: [][]float64{{0}}, Stds: [][]float64{{0}}},
		{Means: [][]float64{{0}}, Stds: [][]float64{{1, 1}}},
		{Means: [][]float64{{0}}, Stds: [][]float64{{1}}, Weights: []float64{1, 1}},
		{Means: [][]float64{{0}}, Stds: [][]float64{{1}}, Weights: []float64{0}},
		{Means: [][]float64{{math.NaN()}}, Stds: [][]float64{{1}}},
		{Means: [][]float64{{0}, {1}}, Stds: [][]float64{{1}, {1}}, Weights: []float64{1, -1}},
	} {
		require.Error(t, bad.Validate(), "%+v", bad)
		_, err := NewOptimalDenoiser(bad, diffusion.Cosine(10), weighting.X0)
		require.Error(t, err)
	}
	_, err := NewOptimalDenoiser(testMixture, diffusion.Cosine(10), weighting.Target(9))
	require.Error(t, err)
}
