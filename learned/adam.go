package learned

import "math"

// Adam's constants for u: those of the networks' default (nn.OptimConfig).
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// adam is Adam (Kingma & Ba 2015, Algorithm 1) on u's few float64
// parameters, without decay, warm-up or clipping. It is its own, not the
// network's nn.Optimizer: that one runs float32 tensors on the network's
// backend with an EMA and gradient clipping over the network's parameters,
// and u's gradient must neither be clipped with theirs nor averaged.
type adam struct {
	M, V []float64 // first and second moments
	Step int       // updates taken
}

func newAdam(n int) adam { return adam{M: make([]float64, n), V: make([]float64, n)} }

// update takes one step of learning rate lr on theta from its gradient g:
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², θ ← θ − lr·m̂/(√v̂ + ε) with
// m̂ = m/(1−β1^s) and v̂ = v/(1−β2^s) at step s.
func (a *adam) update(theta, g []float64, lr float64) {
	a.Step++
	c1 := 1 - math.Pow(adamBeta1, float64(a.Step))
	c2 := 1 - math.Pow(adamBeta2, float64(a.Step))
	for i, gi := range g {
		a.M[i] = adamBeta1*a.M[i] + (1-adamBeta1)*gi
		a.V[i] = adamBeta2*a.V[i] + (1-adamBeta2)*gi*gi
		theta[i] -= lr * (a.M[i] / c1) / (math.Sqrt(a.V[i]/c2) + adamEps)
	}
}
