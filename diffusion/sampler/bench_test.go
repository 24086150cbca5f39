package sampler

import (
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// eightGaussians is the 2-D toy "8 gaussians" (modes on a circle of radius
// 2, std 0.1): its optimal denoiser is the cheap closed-form model of the
// benchmarks.
func eightGaussians() GaussianMixture {
	var g GaussianMixture
	for k := range 8 {
		a := float64(k) * math.Pi / 4
		g.Means = append(g.Means, []float64{2 * math.Cos(a), 2 * math.Sin(a)})
		g.Stds = append(g.Stds, []float64{0.1, 0.1})
	}
	return g
}

func benchSampler(b *testing.B, smp Sampler, n, steps int) {
	sc := diffusion.Cosine(1000)
	den, err := NewOptimalDenoiser(eightGaussians(), sc, weighting.V)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, n*2)
	set := &Settings{Steps: steps}
	evals, _ := smp.Evaluations(sc, set)
	for b.Loop() {
		if err := smp.Sample(x, den, sc, newRNG(1), set); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*evals), "ns/row-eval")
}

func BenchmarkDDPM_N4096_D2_K8_Steps100(b *testing.B) { benchSampler(b, DDPM{}, 4096, 100) }
func BenchmarkDDIM_N4096_D2_K8_Steps50(b *testing.B)  { benchSampler(b, DDIM{}, 4096, 50) }
func BenchmarkHeun_N4096_D2_K8_Steps18(b *testing.B)  { benchSampler(b, Heun{}, 4096, 18) }

// The denoiser alone, for the sampler's share of the time above.
func BenchmarkOptimalDenoiser_B512_D2_K8(b *testing.B) {
	sc := diffusion.Cosine(1000)
	den, _ := NewOptimalDenoiser(eightGaussians(), sc, weighting.V)
	x := make([]float32, 512*2)
	out := make([]float32, len(x))
	t := make([]int, 512)
	for i := range t {
		t[i] = 500
	}
	for b.Loop() {
		den.Predict(out, x, t)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/512, "ns/row-eval")
}
