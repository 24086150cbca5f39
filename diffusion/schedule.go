package diffusion

import (
	"fmt"
	"math"
)

// Schedule is a discrete noise schedule x_t = α_t x0 + σ_t ε over timesteps
// t = 0..T−1: either variance preserving (α_t² + σ_t² = 1; build one with
// NewSchedule or Cosine, Linear and ScaledLinear), stored as ᾱ_t with
// α_t = √ᾱ_t and σ_t = √(1 − ᾱ_t), or the rectified flow of
// FlowSchedule (α_t = 1 − t, σ_t = t), stored as α_t and σ_t themselves.
// The methods are the same for both; VariancePreserving tells them apart
// where a formula (β_t, DDPM, DDIM, v-prediction) holds only for one.
type Schedule struct {
	name         string
	zeroTerminal bool
	alphaBar     []float64 // VP: ᾱ_t, length T; nil for a flow schedule
	// A flow schedule stores α_t and σ_t, which are independent (α + σ = 1,
	// not α² + σ² = 1); both are nil for a VP schedule, whose α and σ are
	// derived from ᾱ exactly as before flow schedules existed, so that VP
	// results stay bit-identical.
	alpha, sigma []float64
	shift        float64 // the flow schedule's shift s (1: none); 0 for VP
}

// ScheduleNames lists the variance-preserving schedule names NewSchedule
// accepts; it also accepts the flow schedule "flow[:shift=S]"
// (FlowSchedule, ParseFlowName).
var ScheduleNames = []string{"cosine", "linear", "scaled-linear"}

// MaxT is the largest number of timesteps NewSchedule accepts (2²⁰; DDPM
// uses 1000), so that a T read from a file or a flag cannot ask for an
// absurd allocation.
const MaxT = 1 << 20

// NewSchedule builds the named schedule ("cosine", "linear",
// "scaled-linear", or the flow schedule "flow" or "flow:shift=S") with
// 2 ≤ T ≤ MaxT steps, rescaled to zero terminal SNR if asked. The flow
// schedule ends at SNR 0 by construction, so zeroTerminal is an error there:
// the rescale is a VP operation.
func NewSchedule(name string, T int, zeroTerminal bool) (*Schedule, error) {
	if err := checkT(T); err != nil {
		return nil, err
	}
	if isFlowName(name) {
		shift, err := ParseFlowName(name)
		if err != nil {
			return nil, err
		}
		if zeroTerminal {
			return nil, fmt.Errorf("diffusion: schedule %q already ends at SNR 0 (t = 1 is pure noise); zero-terminal rescaling applies to VP schedules only", name)
		}
		return FlowSchedule(T, shift)
	}
	var betas []float64
	switch name {
	case "cosine":
		betas = cosineBetas(T)
	case "linear":
		betas = linearBetas(T)
	case "scaled-linear":
		betas = scaledLinearBetas(T)
	default:
		return nil, fmt.Errorf("diffusion: unknown schedule %q (want cosine, linear, scaled-linear or flow[:shift=S])", name)
	}
	s, err := FromBetas(name, betas)
	if err != nil {
		return nil, fmt.Errorf("diffusion: %s schedule with T=%d: %w", name, T, err)
	}
	if zeroTerminal {
		s = s.ZeroTerminal()
	}
	return s, nil
}

// checkT returns an error unless 2 ≤ T ≤ MaxT.
func checkT(T int) error {
	if T < 2 {
		return fmt.Errorf("diffusion: schedule needs T ≥ 2 steps, got %d", T)
	}
	if T > MaxT {
		return fmt.Errorf("diffusion: schedule of %d steps is too long (at most %d)", T, MaxT)
	}
	return nil
}

// FromBetas builds a schedule from β_t with ᾱ_t = Π_{s≤t}(1 − β_s). Every β
// must be in (0, 1).
func FromBetas(name string, betas []float64) (*Schedule, error) {
	if len(betas) < 2 {
		return nil, fmt.Errorf("diffusion: schedule needs T ≥ 2 steps, got %d", len(betas))
	}
	ab := make([]float64, len(betas))
	prod := 1.0
	for t, b := range betas {
		if !(b > 0 && b < 1) {
			return nil, fmt.Errorf("diffusion: β_%d = %g is not in (0, 1)", t, b)
		}
		prod *= 1 - b
		ab[t] = prod
	}
	return &Schedule{name: name, alphaBar: ab}, nil
}

func mustFromBetas(name string, betas []float64) *Schedule {
	s, err := FromBetas(name, betas)
	if err != nil {
		panic(err)
	}
	return s
}

// Cosine is the iDDPM schedule (Nichol & Dhariwal 2021), the paper's default:
// ᾱ(s) = cos²(((s + 0.008)/1.008)·π/2) and β_t = min(1 − ᾱ((t+1)/T)/ᾱ(t/T), 0.999).
// It panics if T < 2; NewSchedule returns an error instead.
func Cosine(T int) *Schedule { return mustFromBetas("cosine", cosineBetas(T)) }

func cosineBetas(T int) []float64 {
	f := func(s float64) float64 {
		c := math.Cos((s + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	betas := make([]float64, T)
	for t := range betas {
		betas[t] = math.Min(1-f(float64(t+1)/float64(T))/f(float64(t)/float64(T)), 0.999)
	}
	return betas
}

// Linear is the DDPM schedule (Ho et al. 2020) scaled to T steps:
// β_t = linspace(1e-4·1000/T, 0.02·1000/T, T). It needs T > 20 (else the
// last β reaches 1) and panics otherwise; NewSchedule returns an error instead.
func Linear(T int) *Schedule { return mustFromBetas("linear", linearBetas(T)) }

func linearBetas(T int) []float64 {
	scale := 1000 / float64(T)
	return linspace(1e-4*scale, 0.02*scale, T)
}

// ScaledLinear is Stable Diffusion's schedule:
// β_t = linspace(√0.00085, √0.012, T)². It panics if T < 2.
func ScaledLinear(T int) *Schedule { return mustFromBetas("scaled-linear", scaledLinearBetas(T)) }

func scaledLinearBetas(T int) []float64 {
	b := linspace(math.Sqrt(0.00085), math.Sqrt(0.012), T)
	for i := range b {
		b[i] *= b[i]
	}
	return b
}

// linspace returns n evenly spaced values from a to b inclusive, computed as
// numpy does (a + i·step, the last set to b).
func linspace(a, b float64, n int) []float64 {
	if n < 2 {
		panic("diffusion: schedule needs T ≥ 2 steps")
	}
	out := make([]float64, n)
	step := (b - a) / float64(n-1)
	for i := range out {
		out[i] = a + float64(i)*step
	}
	out[n-1] = b
	return out
}

// ZeroTerminal returns the schedule rescaled to zero terminal SNR (Lin et al.
// 2024, Algorithm 1): √ᾱ is shifted so its last value is 0 and scaled so its
// first is unchanged. A flow schedule, whose terminal SNR is already 0, is
// returned as it is.
func (s *Schedule) ZeroTerminal() *Schedule {
	if !s.VariancePreserving() {
		return s
	}
	T := len(s.alphaBar)
	first, last := math.Sqrt(s.alphaBar[0]), math.Sqrt(s.alphaBar[T-1])
	ab := make([]float64, T)
	for t, a := range s.alphaBar {
		r := (math.Sqrt(a) - last) * first / (first - last)
		ab[t] = r * r
	}
	ab[0] = s.alphaBar[0] // exact, not rounded through the rescale
	ab[T-1] = 0
	return &Schedule{name: s.name, zeroTerminal: true, alphaBar: ab}
}

// Name returns the schedule's name, such as "cosine" or "flow:shift=3",
// which NewSchedule reads back.
func (s *Schedule) Name() string { return s.name }

// IsZeroTerminal reports whether the schedule was rescaled to zero terminal
// SNR (never for a flow schedule, which needs no rescale to end at SNR 0).
func (s *Schedule) IsZeroTerminal() bool { return s.zeroTerminal }

// String returns the name with "+zero-terminal" where rescaled.
func (s *Schedule) String() string {
	if s.zeroTerminal {
		return s.name + "+zero-terminal"
	}
	return s.name
}

// VariancePreserving reports whether α_t² + σ_t² = 1 (every schedule but
// the flow schedule).
func (s *Schedule) VariancePreserving() bool { return s.alpha == nil }

// T returns the number of timesteps.
func (s *Schedule) T() int {
	if s.alpha != nil {
		return len(s.alpha)
	}
	return len(s.alphaBar)
}

// AlphaBar returns ᾱ_t = α_t², the variance of the signal part of x_t; on
// a VP schedule also 1 − σ_t², on the flow schedule (1 − t)².
func (s *Schedule) AlphaBar(t int) float64 {
	if s.alpha != nil {
		return s.alpha[t] * s.alpha[t]
	}
	return s.alphaBar[t]
}

// Alpha returns α_t, the scale of x0 in x_t: √ᾱ_t on a VP schedule, 1 − t
// on the flow schedule.
func (s *Schedule) Alpha(t int) float64 {
	if s.alpha != nil {
		return s.alpha[t]
	}
	return math.Sqrt(s.alphaBar[t])
}

// Sigma returns σ_t, the scale of ε in x_t: √(1 − ᾱ_t) on a VP schedule, t
// on the flow schedule. It is positive on every schedule.
func (s *Schedule) Sigma(t int) float64 {
	if s.sigma != nil {
		return s.sigma[t]
	}
	return math.Sqrt(1 - s.alphaBar[t])
}

// SNR returns α_t²/σ_t²: ᾱ_t/(1 − ᾱ_t) on a VP schedule, ((1 − t)/t)² on
// the flow schedule.
func (s *Schedule) SNR(t int) float64 {
	if s.alpha != nil {
		r := s.alpha[t] / s.sigma[t]
		return r * r
	}
	return s.alphaBar[t] / (1 - s.alphaBar[t])
}

// LogSNR returns ln SNR(t): ln ᾱ_t − ln(1 − ᾱ_t) on a VP schedule,
// 2·(ln α_t − ln σ_t) on the flow schedule; −∞ where SNR is 0.
func (s *Schedule) LogSNR(t int) float64 {
	if s.alpha != nil {
		return 2 * (math.Log(s.alpha[t]) - math.Log(s.sigma[t]))
	}
	return math.Log(s.alphaBar[t]) - math.Log1p(-s.alphaBar[t])
}

// Beta returns β_t = 1 − ᾱ_t/ᾱ_{t−1} (with ᾱ_{−1} = 1), the variance of
// DDPM's forward step. It is a VP quantity and panics on a flow schedule,
// whose forward process is no Markov chain of that form.
func (s *Schedule) Beta(t int) float64 {
	if s.alpha != nil {
		panic("diffusion: Beta: β_t is defined for variance-preserving schedules only, not " + s.name)
	}
	if t == 0 {
		return 1 - s.alphaBar[0]
	}
	return 1 - s.alphaBar[t]/s.alphaBar[t-1]
}

// AlphaBars returns AlphaBar(t) for every t (a copy).
func (s *Schedule) AlphaBars() []float64 {
	if s.alpha != nil {
		return s.each(s.AlphaBar)
	}
	return append([]float64(nil), s.alphaBar...)
}

// SNRs returns SNR(t) for every t.
func (s *Schedule) SNRs() []float64 { return s.each(s.SNR) }

// LogSNRs returns ln SNR(t) for every t.
func (s *Schedule) LogSNRs() []float64 { return s.each(s.LogSNR) }

func (s *Schedule) each(f func(int) float64) []float64 {
	out := make([]float64, s.T())
	for t := range out {
		out[t] = f(t)
	}
	return out
}
