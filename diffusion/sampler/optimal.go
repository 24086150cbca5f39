package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// GaussianMixture is the data distribution
//
//	p(x0) = Σ_k π_k N(x0; μ_k, diag(s_k²))
//
// whose optimal (minimum-MSE) denoiser is closed form (OptimalDenoiser). A
// single component is a Gaussian (see Gaussian). It is a reference for
// testing samplers and metrics, and a stand-in for a perfectly trained model
// in demos and benchmarks.
type GaussianMixture struct {
	// Weights holds π_k, (K); they are normalised to sum 1. Nil means 1/K.
	Weights []float64
	// Means holds μ_k, (K) rows of length D.
	Means [][]float64
	// Stds holds s_k, (K) rows of length D, every entry positive.
	Stds [][]float64
}

// Gaussian returns the one-component mixture N(mean, diag(std²)).
func Gaussian(mean, std []float64) GaussianMixture {
	return GaussianMixture{Means: [][]float64{mean}, Stds: [][]float64{std}}
}

// Dim returns D, the length of one sample.
func (g GaussianMixture) Dim() int {
	if len(g.Means) == 0 {
		return 0
	}
	return len(g.Means[0])
}

// Validate returns an error unless the mixture has at least one component,
// every mean and standard deviation row has length D ≥ 1, the standard
// deviations are positive and finite, and the weights (if given) are one
// per component, non-negative, finite and not all zero.
func (g GaussianMixture) Validate() error {
	K, D := len(g.Means), g.Dim()
	if K == 0 || D == 0 {
		return fmt.Errorf("sampler: Gaussian mixture needs at least one component of dimension ≥ 1")
	}
	if len(g.Stds) != K || (g.Weights != nil && len(g.Weights) != K) {
		return fmt.Errorf("sampler: Gaussian mixture has %d means, %d stds and %d weights", K, len(g.Stds), len(g.Weights))
	}
	sum := 0.0
	for k := range K {
		if len(g.Means[k]) != D || len(g.Stds[k]) != D {
			return fmt.Errorf("sampler: Gaussian mixture component %d is not of dimension %d", k, D)
		}
		for d := range D {
			if s, m := g.Stds[k][d], g.Means[k][d]; !(s > 0 && s < math.Inf(1)) || math.IsNaN(m) || math.IsInf(m, 0) {
				return fmt.Errorf("sampler: Gaussian mixture component %d: mean %g or std %g is invalid", k, m, s)
			}
		}
		if g.Weights != nil {
			w := g.Weights[k]
			if !(w >= 0 && w < math.Inf(1)) {
				return fmt.Errorf("sampler: Gaussian mixture weight %d = %g is invalid", k, w)
			}
			sum += w
		}
	}
	if g.Weights != nil && sum == 0 {
		return fmt.Errorf("sampler: Gaussian mixture weights are all zero")
	}
	return nil
}

// logWeights returns ln π_k, normalised.
func (g GaussianMixture) logWeights() []float64 {
	K := len(g.Means)
	lw := make([]float64, K)
	if g.Weights == nil {
		for k := range lw {
			lw[k] = -math.Log(float64(K))
		}
		return lw
	}
	sum := 0.0
	for _, w := range g.Weights {
		sum += w
	}
	for k, w := range g.Weights {
		lw[k] = math.Log(w / sum)
	}
	return lw
}

// Draw writes independent samples of the mixture into dst, which is (N, D).
// The mixture must be valid.
func (g GaussianMixture) Draw(dst []float32, rng *rand.Rand) {
	D := g.Dim()
	if D == 0 || len(dst)%D != 0 {
		panic(fmt.Sprintf("sampler: Draw: len(dst) = %d is not a multiple of D = %d", len(dst), D))
	}
	lw := g.logWeights()
	cum := make([]float64, len(lw)) // cumulative π
	acc := 0.0
	for k, l := range lw {
		acc += math.Exp(l)
		cum[k] = acc
	}
	for r := 0; r < len(dst)/D; r++ {
		u := rng.Float64() * acc
		k := 0
		for k < len(cum)-1 && u >= cum[k] {
			k++
		}
		row := dst[r*D : (r+1)*D]
		for d := range row {
			row[d] = float32(g.Means[k][d] + g.Stds[k][d]*rng.NormFloat64())
		}
	}
}

// PosteriorMean writes E[x0 | x_t = x] into dst (D) for x_t = α x0 + σ ε:
//
//	E[x0 | x_t] = Σ_k p(k | x_t) (μ_k + α s_k²/(α² s_k² + σ²) ⊙ (x_t − α μ_k)),
//	p(k | x_t) ∝ π_k N(x_t; α μ_k, diag(α² s_k² + σ²)),
//
// the Gaussian conditional of each component weighted by its posterior
// responsibility (computed with log-sum-exp). At α = 0 it is the mixture
// mean. The mixture must be valid.
func (g GaussianMixture) PosteriorMean(dst []float64, x []float32, alpha, sigma float64) {
	if len(dst) != g.Dim() || len(x) != g.Dim() {
		panic(fmt.Sprintf("sampler: PosteriorMean: lengths %d and %d, want %d", len(dst), len(x), g.Dim()))
	}
	var c posterior
	c.set(g, g.logWeights(), alpha, sigma)
	c.mean(dst, x, make([]float64, len(g.Means)))
}

// posterior holds the per-(α, σ) coefficients of PosteriorMean.
type posterior struct {
	g      GaussianMixture
	alpha  float64
	logC   []float64   // ln π_k − ½ Σ_d ln v_kd, (K)
	invV   [][]float64 // 1/v_kd with v_kd = α² s_kd² + σ², (K)(D)
	gain   [][]float64 // α s_kd²/v_kd, (K)(D)
	cached bool
	t      int
}

func (c *posterior) set(g GaussianMixture, lw []float64, alpha, sigma float64) {
	K, D := len(g.Means), g.Dim()
	if c.logC == nil {
		c.logC = make([]float64, K)
		c.invV, c.gain = make([][]float64, K), make([][]float64, K)
		for k := range K {
			c.invV[k], c.gain[k] = make([]float64, D), make([]float64, D)
		}
	}
	c.g, c.alpha = g, alpha
	for k := range K {
		l := lw[k]
		for d := range D {
			sk2 := g.Stds[k][d] * g.Stds[k][d]
			v := alpha*alpha*sk2 + sigma*sigma
			l -= 0.5 * math.Log(v)
			c.invV[k][d] = 1 / v
			c.gain[k][d] = alpha * sk2 / v
		}
		c.logC[k] = l
	}
}

// mean writes E[x0 | x_t = x] into dst; resp is scratch of length K.
func (c *posterior) mean(dst []float64, x []float32, resp []float64) {
	g, a := c.g, c.alpha
	if len(g.Means) == 1 { // one Gaussian: no responsibilities
		for d, m := range g.Means[0] {
			dst[d] = m + c.gain[0][d]*(float64(x[d])-a*m)
		}
		return
	}
	top := math.Inf(-1)
	for k, mk := range g.Means {
		l := c.logC[k]
		for d, m := range mk {
			r := float64(x[d]) - a*m
			l -= 0.5 * r * r * c.invV[k][d]
		}
		resp[k] = l
		top = max(top, l)
	}
	sum := 0.0
	for k := range resp {
		resp[k] = math.Exp(resp[k] - top)
		sum += resp[k]
	}
	clear(dst)
	for k, mk := range g.Means {
		p := resp[k] / sum
		for d, m := range mk {
			dst[d] += p * (m + c.gain[k][d]*(float64(x[d])-a*m))
		}
	}
}

// OptimalDenoiser is the minimum-MSE denoiser of a GaussianMixture on a
// schedule: it predicts x̂0 = E[x0 | x_t] (GaussianMixture.PosteriorMean)
// and reports it as its target: ε̂ = (x_t − α x̂0)/σ, v̂ = α ε̂ − σ x̂0, or
// the flow velocity û = ε̂ − x̂0 = E[ε − x0 | x_t], the optimal velocity of
// flow matching (Lipman et al. 2023, Eq. 8).
// Samplers given it sample the mixture up to their discretisation error.
// Predict is safe for concurrent use.
type OptimalDenoiser struct {
	data   GaussianMixture
	logW   []float64 // ln π_k, (K)
	sched  *diffusion.Schedule
	target weighting.Target
}

var _ diffusion.Denoiser = (*OptimalDenoiser)(nil)

// NewOptimalDenoiser returns the optimal denoiser of data on sched,
// predicting target. It returns an error if data is not valid or the
// schedule refuses the target (diffusion.Schedule.CheckTarget).
func NewOptimalDenoiser(data GaussianMixture, sched *diffusion.Schedule, target weighting.Target) (*OptimalDenoiser, error) {
	if err := data.Validate(); err != nil {
		return nil, err
	}
	if err := sched.CheckTarget(target); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	return &OptimalDenoiser{data: data, logW: data.logWeights(), sched: sched, target: target}, nil
}

// Dim returns the data dimension D.
func (o *OptimalDenoiser) Dim() int { return o.data.Dim() }

// Target returns the target the denoiser reports.
func (o *OptimalDenoiser) Target() weighting.Target { return o.target }

// Predict writes the optimal prediction for x_t into out; out and xt are
// (B, D), t is (B).
func (o *OptimalDenoiser) Predict(out, xt []float32, t []int) {
	D := o.data.Dim()
	if len(out) != len(xt) || len(xt) != len(t)*D {
		panic(fmt.Sprintf("sampler: OptimalDenoiser.Predict: lengths %d, %d for %d rows of %d", len(out), len(xt), len(t), D))
	}
	x0 := make([]float64, D)
	resp := make([]float64, len(o.data.Means))
	var c posterior
	for r, tr := range t {
		alpha, sigma := o.sched.Alpha(tr), o.sched.Sigma(tr)
		if !c.cached || c.t != tr { // rows usually share t
			c.set(o.data, o.logW, alpha, sigma)
			c.cached, c.t = true, tr
		}
		x := xt[r*D : (r+1)*D]
		c.mean(x0, x, resp)
		y := out[r*D : (r+1)*D]
		for d := range y {
			eps := (float64(x[d]) - alpha*x0[d]) / sigma
			switch o.target {
			case weighting.Eps:
				y[d] = float32(eps)
			case weighting.X0:
				y[d] = float32(x0[d])
			case weighting.V:
				y[d] = float32(alpha*eps - sigma*x0[d])
			case weighting.Flow:
				y[d] = float32(eps - x0[d])
			}
		}
	}
}
