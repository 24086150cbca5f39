package diffusion

import (
	"fmt"

	"github.com/paretodiff/paretodiff/weighting"
)

// Vectors are float32 slices holding a batch row-major: x is (B, D), so
// example b is x[b*D : (b+1)*D]. Coefficients are float64 (from the
// schedule) and rounded to float32 once per call.

// Noise writes x_t = α x0 + σ ε into dst; every slice has the same length.
func Noise(dst, x0, eps []float32, alpha, sigma float64) {
	checkLen("Noise", len(dst), len(x0), len(eps))
	a, s := float32(alpha), float32(sigma)
	for i := range dst {
		dst[i] = a*x0[i] + s*eps[i]
	}
}

// TargetOf writes the regression target of a model predicting target into
// dst: ε, x0, or v = α ε − σ x0 (Salimans & Ho 2022).
func TargetOf(dst []float32, target weighting.Target, x0, eps []float32, alpha, sigma float64) {
	checkLen("TargetOf", len(dst), len(x0), len(eps))
	switch target {
	case weighting.Eps:
		copy(dst, eps)
	case weighting.X0:
		copy(dst, x0)
	case weighting.V:
		a, s := float32(alpha), float32(sigma)
		for i := range dst {
			dst[i] = a*eps[i] - s*x0[i]
		}
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
}

// ToX0 converts a model output pred for target at x_t into the predicted
// clean sample x̂0: x̂0 = (x_t − σ ε̂)/α for ε, x̂0 = x0̂ for x0, and
// x̂0 = α x_t − σ v̂ for v. ε-prediction is ill-posed where α = 0 (the last
// step of a zero-terminal schedule); there the result is ±Inf or NaN, and
// samplers must not ask for it.
func ToX0(dst []float32, target weighting.Target, pred, xt []float32, alpha, sigma float64) {
	checkLen("ToX0", len(dst), len(pred), len(xt))
	switch target {
	case weighting.Eps:
		for i := range dst {
			dst[i] = float32((float64(xt[i]) - sigma*float64(pred[i])) / alpha)
		}
	case weighting.X0:
		copy(dst, pred)
	case weighting.V:
		for i := range dst {
			dst[i] = float32(alpha*float64(xt[i]) - sigma*float64(pred[i]))
		}
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
}

// ToEps converts a model output pred for target at x_t into the predicted
// noise ε̂: ε̂ for ε, ε̂ = (x_t − α x̂0)/σ for x0, and ε̂ = σ x_t + α v̂ for v.
// x0-prediction is ill-posed where σ = 0, which no VP schedule reaches.
func ToEps(dst []float32, target weighting.Target, pred, xt []float32, alpha, sigma float64) {
	checkLen("ToEps", len(dst), len(pred), len(xt))
	switch target {
	case weighting.Eps:
		copy(dst, pred)
	case weighting.X0:
		for i := range dst {
			dst[i] = float32((float64(xt[i]) - alpha*float64(pred[i])) / sigma)
		}
	case weighting.V:
		for i := range dst {
			dst[i] = float32(sigma*float64(xt[i]) + alpha*float64(pred[i]))
		}
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
}

func checkLen(fn string, n int, others ...int) {
	for _, m := range others {
		if m != n {
			panic(fmt.Sprintf("diffusion: %s: slice lengths differ (%d and %d)", fn, n, m))
		}
	}
}
