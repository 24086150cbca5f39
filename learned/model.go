package learned

import (
	"math"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// StreamFourier is the random stream, rand.NewPCG(seed, StreamFourier), of
// the Fourier features' frequencies and phases: apart from the training
// streams (diffusion.StreamTrain, …) and the probes' (conflict.StreamProbe),
// so a learned weighting changes no draw of the run.
const StreamFourier = 17

// Model is u as a function of the timestep with parameters θ: the
// log-variance of EDM2's uncertainty weighting.
type Model interface {
	// U returns u(t) for a timestep t of the schedule.
	U(t int) float64
	// Params returns θ, the live slice: changing it changes U.
	Params() []float64
	// AddGrad adds Σ_b g_b·∂u(t_b)/∂θ to dst (of Params' length).
	AddGrad(dst []float64, t []int, g []float64)
}

// BinModel is one u per timestep bin: u(t) = θ_k for t in bin k.
type BinModel struct {
	bin   []int // bin of each timestep
	theta []float64
}

// NewBinModel returns the model of u per bin of bins, with u = 0.
func NewBinModel(bins weighting.Bins) *BinModel {
	m := &BinModel{bin: make([]int, bins.T()), theta: make([]float64, bins.K())}
	for t := range m.bin {
		m.bin[t] = bins.Of(t)
	}
	return m
}

// U returns θ of t's bin.
func (m *BinModel) U(t int) float64 { return m.theta[m.bin[t]] }

// Params returns the K values of u, one per bin.
func (m *BinModel) Params() []float64 { return m.theta }

// AddGrad adds g_b to the entry of t_b's bin: ∂u(t)/∂θ_k = [t ∈ bin k].
func (m *BinModel) AddGrad(dst []float64, t []int, g []float64) {
	for b, tt := range t {
		dst[m.bin[tt]] += g[b]
	}
}

// FourierModel is EDM2's model of u (Karras et al. 2024, the logvar
// branch of their network: MPFourier of c_noise then a linear layer),
// with H features of the noise level:
//
//	u(t) = θ_H + (1/√H)·Σ_h θ_h·√2·cos(2π(f_h·c(t) + p_h)),
//	c(t) = −clamp(λ(t), ±MaxLogSNR)/8 = ln(σ)/4,
//
// λ(t) the schedule's log-SNR, f_h ~ N(0, 1) and p_h ~ U[0, 1) drawn once
// from StreamFourier and fixed, as EDM2's are, and θ (H weights and a
// bias) trained. It has no hidden layer: EDM2's is linear in the
// features, so the spec's "mlp=H" is that one layer. With θ = 0 it starts
// at u = 0, weight 1 everywhere, as the bins do.
type FourierModel struct {
	phi   [][]float64 // phi[t][h] = √2·cos(2π(f_h·c(t) + p_h))/√H
	theta []float64   // H weights, then the bias
}

// NewFourierModel returns the model of H features on sched, its
// frequencies and phases drawn from seed (StreamFourier), with θ = 0.
func NewFourierModel(sched *diffusion.Schedule, H int, seed uint64) *FourierModel {
	rng := rand.New(rand.NewPCG(seed, StreamFourier))
	f, p := make([]float64, H), make([]float64, H)
	for h := range f {
		f[h], p[h] = rng.NormFloat64(), rng.Float64()
	}
	m := &FourierModel{phi: make([][]float64, sched.T()), theta: make([]float64, H+1)}
	scale := math.Sqrt2 / math.Sqrt(float64(H))
	for t := range m.phi {
		c := FourierScale * math.Max(-MaxLogSNR, math.Min(MaxLogSNR, sched.LogSNR(t)))
		row := make([]float64, H)
		for h := range row {
			row[h] = scale * math.Cos(2*math.Pi*(f[h]*c+p[h]))
		}
		m.phi[t] = row
	}
	return m
}

// U returns θ_H + Σ_h θ_h·φ_h(t).
func (m *FourierModel) U(t int) float64 {
	H := len(m.phi[t])
	u := m.theta[H]
	for h, v := range m.phi[t] {
		u += m.theta[h] * v
	}
	return u
}

// Params returns the H feature weights, then the bias.
func (m *FourierModel) Params() []float64 { return m.theta }

// AddGrad adds g_b·φ_h(t_b) to the weights and g_b to the bias.
func (m *FourierModel) AddGrad(dst []float64, t []int, g []float64) {
	for b, tt := range t {
		row := m.phi[tt]
		for h, v := range row {
			dst[h] += g[b] * v
		}
		dst[len(row)] += g[b]
	}
}

// UncertaintyLoss returns one example's term of EDM2's uncertainty loss
// (Karras et al. 2024, the loss weighting of their config B, which is the
// homoscedastic-uncertainty loss of Kendall et al. 2018 with u the log
// variance), ℓ = L·e^{−u} + u, and its derivative
// in u, ∂ℓ/∂u = 1 − L·e^{−u}. Its minimiser over u for losses of mean
// E[L] is u = ln E[L]: the effective weight e^{−u} = 1/E[L].
func UncertaintyLoss(L, u float64) (value, dU float64) {
	e := math.Exp(-u)
	return L*e + u, 1 - L*e
}

var (
	_ Model = (*BinModel)(nil)
	_ Model = (*FourierModel)(nil)
)
