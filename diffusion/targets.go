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
// dst: ε, x0, v = α ε − σ x0 (Salimans & Ho 2022), or the flow-matching
// velocity u = ε − x0 (Lipman et al. 2023).
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
	case weighting.Flow:
		for i := range dst {
			dst[i] = eps[i] - x0[i]
		}
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
}

// ToX0 converts a model output pred for target at x_t into the predicted
// clean sample x̂0: x̂0 = (x_t − σ ε̂)/α for ε, x̂0 = x0̂ for x0,
// x̂0 = α x_t − σ v̂ for v (which assumes α² + σ² = 1: v is a VP target, see
// Schedule.CheckTarget), and x̂0 = (x_t − σ û)/(α + σ) for flow, which is
// x_t − t·û on the flow schedule (x_t = α x0 + σ ε and u = ε − x0 give
// x_t = (α + σ)x0 + σ u). ε-prediction is ill-posed where α = 0 (the last
// step of a zero-terminal or flow schedule); there the result is ±Inf or
// NaN, and samplers must not ask for it.
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
	case weighting.Flow:
		for i := range dst {
			dst[i] = float32((float64(xt[i]) - sigma*float64(pred[i])) / (alpha + sigma))
		}
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
}

// ToEps converts a model output pred for target at x_t into the predicted
// noise ε̂: ε̂ for ε, ε̂ = (x_t − α x̂0)/σ for x0, ε̂ = σ x_t + α v̂ for v
// (α² + σ² = 1), and ε̂ = (x_t + α û)/(α + σ) for flow, so that
// ε̂ − x̂0 = û. x0-prediction is ill-posed where σ = 0, which no schedule
// reaches.
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
	case weighting.Flow:
		for i := range dst {
			dst[i] = float32((float64(xt[i]) + alpha*float64(pred[i])) / (alpha + sigma))
		}
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
}

// CheckTarget returns an error unless a model predicting target can be
// trained and sampled on the schedule. Every target works on a VP schedule;
// on the flow schedule ε, x0 and flow do, and v does not: v = α ε − σ x0
// is the velocity of a VP process (d x_φ/dφ for α = cos φ, σ = sin φ), its
// conversions and its loss identity ‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖² need
// α² + σ² = 1, and the flow schedule's own velocity is the flow target.
func (s *Schedule) CheckTarget(target weighting.Target) error {
	switch target {
	case weighting.Eps, weighting.X0, weighting.Flow:
		return nil
	case weighting.V:
		if s.VariancePreserving() {
			return nil
		}
		return fmt.Errorf("diffusion: v-prediction needs a variance-preserving schedule (α² + σ² = 1), not %s; predict the flow velocity u = ε − x0 (target flow) instead", s)
	}
	return fmt.Errorf("diffusion: invalid target %d", int(target))
}

// Targets returns the three targets the toolkit's weight figures and tables
// show for the schedule: ε, x0 and the schedule's own velocity — v on a VP
// schedule (weighting.Targets), the flow velocity on the flow schedule.
func (s *Schedule) Targets() []weighting.Target {
	if s.VariancePreserving() {
		return weighting.Targets
	}
	return []weighting.Target{weighting.Eps, weighting.X0, weighting.Flow}
}

func checkLen(fn string, n int, others ...int) {
	for _, m := range others {
		if m != n {
			panic(fmt.Sprintf("diffusion: %s: slice lengths differ (%d and %d)", fn, n, m))
		}
	}
}
