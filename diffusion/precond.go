package diffusion

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// SkipGains returns the per-row gains of a preconditioned network's two
// input skips at timestep t (see nn.ResMLP):
//
//	pred = F(x_t, t) + c·x_t + g·S(x_t)
//
// Write the target as y = a·x0 + b·ε, so that b is the coefficient of the
// noise: b = 1 for ε and for the flow velocity u = ε − x0, α_t for
// v = α ε − σ x0 and 0 for x0. Then
//
//	c = b·σ_t/(α_t²σ_d² + σ_t²)     (0 when σ_d = 0)
//	g = b/σ_t − c
//
// c·x_t is the linear (Wiener) estimate of the noise part b·ε from x_t for
// data of per-coordinate variance σ_d² — EDM's c_skip (Karras et al. 2022,
// Eq. 7 and Table 1) restricted to the noise part of the target, with
// c_in = 1 (x_t already has unit variance under a VP schedule, and
// variance (1 − t)²σ_d² + t² ∈ [σ_d²/(1 + σ_d²), 1] under the flow
// schedule, close enough for a LayerNorm'd trunk) and
// c_out = 1, so the network still predicts the target itself and the
// prediction targets stay distinct. c + g = b/σ_t is the exact gain in
// directions where the data has no variance: there x_t = σ_t ε, so
// b·ε = (b/σ_t)·x_t. The learned map S (zero at initialisation) takes the
// remainder g in the directions it learns to pass, which are those the
// data does not fill.
//
// Why a network needs them: a ResMLP's trunk is narrower than MNIST's
// 784 pixels, so its own output spans at most Width directions, and its
// gain from x_t to the output can vary with t only by the O(1) factors
// that its activations and LayerNorms allow. An ε or v target contains
// b·ε, which is full rank and, read off x_t, needs the gain b/σ_t, which
// grows like 1/σ_t as t → 0. Without the skips the network leaves that
// noise in x̂0, and a sampler integrating from σ_max to σ_min amplifies
// what it leaves. An x0 target has b = 0 and needs neither (its gains are
// zero).
//
// The gains use α_t and σ_t only, so they hold on the flow schedule as they
// are. At the last step of a zero-terminal or flow schedule (α = 0, σ = 1),
// c = b and g = 0. σ_t > 0 on every schedule, so both are finite.
func SkipGains(s *Schedule, target weighting.Target, sigmaData float64, t int) (c, g float64) {
	alpha, sigma := s.Alpha(t), s.Sigma(t)
	var b float64
	switch target {
	case weighting.Eps, weighting.Flow:
		b = 1
	case weighting.V:
		b = alpha
	case weighting.X0:
		return 0, 0
	default:
		panic(fmt.Sprintf("diffusion: invalid target %d", int(target)))
	}
	if sigmaData > 0 {
		c = b * sigma / (alpha*alpha*sigmaData*sigmaData + sigma*sigma)
	}
	return c, b/sigma - c
}

// precondOf returns the network as an nn.PrecondNetwork with its σ_d and
// skip flag if it needs per-row gains, and nil otherwise.
func precondOf(net nn.Network) (pn nn.PrecondNetwork, sigmaData float64, skip bool) {
	p, ok := net.(nn.PrecondNetwork)
	if !ok {
		return nil, 0, false
	}
	sigmaData, skip = p.Precond()
	if sigmaData <= 0 && !skip {
		return nil, 0, false
	}
	return p, sigmaData, skip
}

// DefaultSigmaData is σ_d of the fixed skip where AutoPrecond turns it on:
// EDM's σ_d for images scaled to [−1, 1] (MNIST's pixel standard deviation
// there is 0.52).
const DefaultSigmaData = 0.5

// AutoPrecond is the toolkit's default for a ResMLP's input skips (see
// SkipGains): both on, with σ_d = DefaultSigmaData, for MNIST ("mnist") with
// an ε, v or flow target, whose noise part b·ε the trunk (narrower than the 784
// pixels) cannot put out; off for an x0 target (b = 0) and for the 2-D toy
// data (the trunk is wider than the data). The command line's --skip auto
// and the reproductions both use it, so their models match.
func AutoPrecond(data string, target weighting.Target) (sigmaData float64, skip bool) {
	if data == "mnist" && target != weighting.X0 {
		return DefaultSigmaData, true
	}
	return 0, false
}
