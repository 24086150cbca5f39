package weighting

import (
	"math"
	"strconv"
)

// Strategy is a loss weighting stated on the x0 loss as a function of SNR.
// Implement it to study a new weighting; Weight converts it to any target.
type Strategy interface {
	// X0Weight returns the weight of ‖x0 − x̂0‖² at the given SNR ≥ 0.
	X0Weight(snr float64) float64
	// String returns the canonical spec, such as "min-snr:5", that Parse reads back.
	String() string
}

// Weight returns the weight of the loss of target at the given SNR for
// strategy s: s.X0Weight(snr) divided by target.LossScale(snr). Where
// snr == 0 it returns 1, the rule of the official Min-SNR code for
// zero-terminal-SNR schedules.
//
// This is the known trap in peer code: for v-prediction min-SNR-γ is
// min(SNR, γ)/(SNR + 1), not min(SNR, γ)/SNR nor min(SNR + 1, γ)/(SNR + 1).
//
// Flow matching has the same trap. With x_t = (1 − t)x0 + t·ε and the
// velocity u = ε − x0, x̂0 = x_t − t·û, so ‖u − û‖² = ‖x0 − x̂0‖²/t², and
// √SNR = (1 − t)/t gives 1/t = 1 + √SNR: the flow weight is
// w_x0·t² = w_x0/(1 + √SNR)². Min-SNR-γ on the velocity loss is therefore
// min(SNR, γ)·t² = min((1 − t)², γ·t²) (γ·t² below t = 1/(1 + √γ), where
// the cap acts, and (1 − t)² above), not min(SNR, γ)/SNR (the ε form), not
// min(SNR, γ)/(SNR + 1) (the v form), and not min(SNR, γ) applied to the
// velocity loss unchanged.
func Weight(s Strategy, target Target, snr float64) float64 {
	if snr == 0 {
		return 1
	}
	return s.X0Weight(snr) / target.LossScale(snr)
}

// Weights writes Weight(s, target, snr[i]) into dst[i] and returns dst. dst
// must have the length of snr; nil allocates.
func Weights(dst []float64, s Strategy, target Target, snr []float64) []float64 {
	if dst == nil {
		dst = make([]float64, len(snr))
	}
	if len(dst) != len(snr) {
		panic("weighting: Weights: len(dst) != len(snr)")
	}
	for i, v := range snr {
		dst[i] = Weight(s, target, v)
	}
	return dst
}

// DefaultGamma is γ where a spec omits it ("min-snr" means "min-snr:5"), the
// paper's recommended value.
const DefaultGamma = 5

// Constant weighs every timestep's x0 loss by 1.
type Constant struct{}

// X0Weight returns 1.
func (Constant) X0Weight(float64) float64 { return 1 }

// String returns the canonical spec.
func (Constant) String() string { return "constant" }

// SNR weighs the x0 loss by SNR, which is the plain ε-MSE of DDPM.
type SNR struct{}

// X0Weight returns snr.
func (SNR) X0Weight(snr float64) float64 { return snr }

// String returns the canonical spec.
func (SNR) String() string { return "snr" }

// MaxSNR weighs the x0 loss by max(SNR, γ); γ = 1 is "truncated SNR"
// (Salimans & Ho 2022).
type MaxSNR struct{ Gamma float64 }

// X0Weight returns max(snr, γ).
func (m MaxSNR) X0Weight(snr float64) float64 { return math.Max(snr, m.Gamma) }

// String returns the canonical spec.
func (m MaxSNR) String() string { return "max-snr:" + fmtFloat(m.Gamma) }

// MinSNR is Min-SNR-γ (paper Eq. 14): min(SNR, γ) on the x0 loss.
type MinSNR struct{ Gamma float64 }

// X0Weight returns min(snr, γ).
func (m MinSNR) X0Weight(snr float64) float64 { return math.Min(snr, m.Gamma) }

// String returns the canonical spec.
func (m MinSNR) String() string { return "min-snr:" + fmtFloat(m.Gamma) }

// SoftMinSNR is the smooth variant SNR·γ/(SNR + γ) (Crowson et al. 2024).
type SoftMinSNR struct{ Gamma float64 }

// X0Weight returns snr·γ/(snr+γ).
func (m SoftMinSNR) X0Weight(snr float64) float64 { return snr * m.Gamma / (snr + m.Gamma) }

// String returns the canonical spec.
func (m SoftMinSNR) String() string { return "soft-min-snr:" + fmtFloat(m.Gamma) }

// InvSNR weighs the x0 loss by 1/SNR (a constant weight on the ε loss
// divided by SNR², used as an ablation).
type InvSNR struct{}

// X0Weight returns 1/snr.
func (InvSNR) X0Weight(snr float64) float64 { return 1 / snr }

// String returns the canonical spec.
func (InvSNR) String() string { return "inv-snr" }

// P2 is the perception-prioritised weighting of Choi et al. 2022 stated on the
// x0 loss: SNR/(k + SNR)^p.
type P2 struct{ K, P float64 }

// X0Weight returns snr/(k+snr)^p.
func (w P2) X0Weight(snr float64) float64 { return snr / math.Pow(w.K+snr, w.P) }

// String returns the canonical spec.
func (w P2) String() string { return "p2:" + fmtFloat(w.K) + "," + fmtFloat(w.P) }

// Debiased is the debiased estimation loss of Yu et al. 2024 on the x0 loss: √SNR.
type Debiased struct{}

// X0Weight returns √snr.
func (Debiased) X0Weight(snr float64) float64 { return math.Sqrt(snr) }

// String returns the canonical spec.
func (Debiased) String() string { return "debiased" }

// EDM is the weighting of Karras et al. 2022 on the x0 (denoiser) loss,
// λ(σ) = (σ² + σ_d²)/(σ σ_d)² with σ² = 1/SNR, that is (1 + σ_d²·SNR)/σ_d².
type EDM struct{ SigmaData float64 }

// X0Weight returns (1 + σ_d²·snr)/σ_d².
func (e EDM) X0Weight(snr float64) float64 {
	s2 := e.SigmaData * e.SigmaData
	return (1 + s2*snr) / s2
}

// String returns the canonical spec.
func (e EDM) String() string { return "edm:" + fmtFloat(e.SigmaData) }

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Interface checks.
var (
	_ Strategy = Constant{}
	_ Strategy = SNR{}
	_ Strategy = MaxSNR{}
	_ Strategy = MinSNR{}
	_ Strategy = SoftMinSNR{}
	_ Strategy = InvSNR{}
	_ Strategy = P2{}
	_ Strategy = Debiased{}
	_ Strategy = EDM{}
)
