package sampler

import (
	"math"

	"github.com/paretodiff/paretodiff/diffusion"
)

// The samplers are affine in x for Gaussian data (the optimal denoiser is
// affine), so each output dimension is Gaussian and its mean and variance
// can be propagated exactly, step by step, in float64: x' = A x + B + C ξ
// gives m' = A m + B, v' = A² v + C². The reference below writes each
// update in a different but equivalent form from the package's code
// (ε-form of Ho et al. Algorithm 2 for DDPM, Song et al. Eq. 12 for DDIM,
// EDM Algorithm 1 with d = (x̃ − D)/σ for Heun; the flow samplers step
// x ← x + h·û with û = ε̂ − x̂0 written as one affine map, flow_test.go).

// aff is the map x ↦ a x + b.
type aff struct{ a, b float64 }

func (f aff) of(g aff) aff        { return aff{f.a * g.a, f.a*g.b + f.b} }
func (f aff) plus(g aff) aff      { return aff{f.a + g.a, f.b + g.b} }
func (f aff) times(c float64) aff { return aff{c * f.a, c * f.b} }

var ident = aff{1, 0}

// gaussX0 is x ↦ E[x0 | x_t = x] for x0 ~ N(mu, s²): μ + α s²/(α²s² + σ²)(x − αμ).
func gaussX0(mu, s, alpha, sigma float64) aff {
	p := alpha * s * s / (alpha*alpha*s*s + sigma*sigma)
	return aff{p, mu - p*alpha*mu}
}

// gaussEps is x ↦ ε̂ = (x − α x̂0(x))/σ.
func gaussEps(mu, s, alpha, sigma float64) aff {
	return ident.plus(gaussX0(mu, s, alpha, sigma).times(-alpha)).times(1 / sigma)
}

type moments struct{ m, v float64 }

func (mo moments) apply(f aff, noiseVar float64) moments {
	return moments{f.a*mo.m + f.b, f.a*f.a*mo.v + noiseVar}
}

func refDDPM(sc *diffusion.Schedule, ts []int, mu, s float64, variance Variance) moments {
	mo := moments{0, 1}
	for i, t := range ts {
		al, sg := sc.Alpha(t), sc.Sigma(t)
		if i == len(ts)-1 {
			return mo.apply(gaussX0(mu, s, al, sg), 0)
		}
		abT, abS := sc.AlphaBar(t), sc.AlphaBar(ts[i+1])
		alphaT := abT / abS // respaced α'_t
		betaT := 1 - alphaT
		v := betaT
		if variance == BetaTilde {
			v = (1 - abS) / (1 - abT) * betaT
		}
		if abT == 0 { // posterior mean at ᾱ_t = 0 is √ᾱ_s x̂0 (and x̂0 = μ)
			mo = mo.apply(gaussX0(mu, s, 0, 1).times(math.Sqrt(abS)), v)
			continue
		}
		// Algorithm 2: x_s = (x_t − β'/√(1−ᾱ_t) ε̂)/√α'_t + √v z.
		step := ident.plus(gaussEps(mu, s, al, sg).times(-betaT / math.Sqrt(1-abT))).times(1 / math.Sqrt(alphaT))
		mo = mo.apply(step, v)
	}
	return mo
}

func refDDIM(sc *diffusion.Schedule, ts []int, mu, s, eta float64) moments {
	mo := moments{0, 1}
	for i, t := range ts {
		al, sg := sc.Alpha(t), sc.Sigma(t)
		x0 := gaussX0(mu, s, al, sg)
		if i == len(ts)-1 {
			return mo.apply(x0, 0)
		}
		abT, abS := sc.AlphaBar(t), sc.AlphaBar(ts[i+1])
		sig2 := eta * eta * (1 - abS) / (1 - abT) * (1 - abT/abS)
		// Eq. 12: √ᾱ_s "predicted x0" + √(1 − ᾱ_s − σ²) ε̂ + σ ξ, with ε̂ = (x − α x̂0)/σ_t.
		epsHat := ident.plus(x0.times(-al)).times(1 / sg)
		step := x0.times(math.Sqrt(abS)).plus(epsHat.times(math.Sqrt(1 - abS - sig2)))
		mo = mo.apply(step, sig2)
	}
	return mo
}

func refHeun(sc *diffusion.Schedule, ts []int, mu, s, sigmaMax float64) moments {
	sigmaOf := func(t int) float64 { return sc.Sigma(t) / sc.Alpha(t) } // 1/√SNR on any schedule
	// D(x̃; σ_t) = x̂0(α_t x̃), as a map of x̃.
	den := func(t int) aff {
		return gaussX0(mu, s, sc.Alpha(t), sc.Sigma(t)).of(aff{sc.Alpha(t), 0})
	}
	var mo moments
	if sc.AlphaBar(ts[0]) == 0 {
		// x_{T−1} = n and x̂0 = μ; the σ → ∞ Euler step lands on
		// x̃ = D + σ_2 ε̂ = μ + σ_2 n.
		if len(ts) == 1 {
			return moments{mu, 0}
		}
		mo = moments{mu, sigmaOf(ts[1]) * sigmaOf(ts[1])}
		ts = ts[1:]
	} else {
		mo = moments{0, sigmaOf(ts[0]) * sigmaOf(ts[0])}
	}
	for i, t := range ts {
		sg := sigmaOf(t)
		d := ident.plus(den(t).times(-1)).times(1 / sg) // (x̃ − D)/σ
		if i == len(ts)-1 {
			return mo.apply(ident.plus(d.times(-sg)), 0) // x̃ + (0 − σ) d
		}
		sg2 := sigmaOf(ts[i+1])
		h := sg2 - sg
		xe := ident.plus(d.times(h))
		if sg > sigmaMax { // Euler only
			mo = mo.apply(xe, 0)
			continue
		}
		d2 := ident.plus(den(ts[i+1]).times(-1)).times(1 / sg2).of(xe)
		mo = mo.apply(ident.plus(d.plus(d2).times(h/2)), 0)
	}
	return mo
}
