package diffusion

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FlowName is the name of the rectified-flow schedule (FlowSchedule); with a
// shift it reads "flow:shift=S".
const FlowName = "flow"

// FlowSchedule is the rectified flow (flow matching; Liu et al. 2023,
// Lipman et al. 2023, as trained by Esser et al. 2024, "SD3", Eq. 2–3)
//
//	x_t = (1 − t)·x0 + t·ε,   α_t = 1 − t,   σ_t = t,   SNR(t) = ((1 − t)/t)²,
//
// on the discrete grid t_i = (i + 1)/T for the timestep indices i = 0..T−1,
// mapped through SD3's timestep shift (Esser et al. 2024, §5.3.2)
//
//	t' = s·t/(1 + (s − 1)·t),
//
// so that α_i = 1 − t'_i and σ_i = t'_i. The grid leaves out t = 0 (clean
// data, SNR ∞) and ends at t = 1, pure noise, where SNR(T−1) = 0 exactly:
// like a zero-terminal VP schedule, and for the same reason (Lin et al. 2024),
// sampling starts from a state that holds no signal. s = 1 is no shift;
// s > 1 moves every t towards noise (SD3 uses s = 3 at 1024²). The process
// is not variance preserving: α_t² + σ_t² = 1 − 2t(1 − t) < 1 inside the
// grid. It returns an error unless 2 ≤ T ≤ MaxT and s is positive and
// finite.
func FlowSchedule(T int, shift float64) (*Schedule, error) {
	if err := checkT(T); err != nil {
		return nil, err
	}
	if !(shift > 0 && shift < math.Inf(1)) {
		return nil, fmt.Errorf("diffusion: flow schedule shift must be positive and finite, got %g", shift)
	}
	alpha, sigma := make([]float64, T), make([]float64, T)
	for i := range T {
		t := FlowShift(float64(i+1)/float64(T), shift)
		if i == T-1 {
			t = 1 // exact: s·1/(1 + (s − 1)) may round off 1
		}
		alpha[i], sigma[i] = 1-t, t
	}
	return &Schedule{name: flowName(shift), alpha: alpha, sigma: sigma, shift: shift}, nil
}

// FlowShift returns SD3's shifted time t' = s·t/(1 + (s − 1)·t) (Esser et
// al. 2024, §5.3.2). Since 1 − t' = (1 − t)/(1 + (s − 1)·t), it divides the
// SNR by s²: ((1 − t')/t')² = ((1 − t)/t)²/s². It maps [0, 1] onto itself,
// increasing, and is the identity at s = 1.
func FlowShift(t, shift float64) float64 {
	if shift == 1 {
		return t
	}
	return shift * t / (1 + (shift-1)*t)
}

// Shift returns the flow schedule's shift s (1 where unshifted) and 0 for a
// VP schedule.
func (s *Schedule) Shift() float64 { return s.shift }

// FlowTime returns the time t ∈ (0, 1] of timestep i on the flow schedule,
// σ_i itself (the shifted grid value). It panics on a VP schedule.
func (s *Schedule) FlowTime(i int) float64 {
	if s.VariancePreserving() {
		panic("diffusion: FlowTime on the variance-preserving schedule " + s.name)
	}
	return s.sigma[i]
}

func flowName(shift float64) string {
	if shift == 1 {
		return FlowName
	}
	return FlowName + ":shift=" + strconv.FormatFloat(shift, 'g', -1, 64)
}

func isFlowName(name string) bool {
	head, _, _ := strings.Cut(name, ":")
	return head == FlowName
}

// ParseFlowName reads the flow schedule's name, "flow" (shift 1) or
// "flow:shift=S" with S positive and finite, and returns S.
func ParseFlowName(name string) (float64, error) {
	head, arg, hasArg := strings.Cut(strings.TrimSpace(name), ":")
	if head != FlowName {
		return 0, fmt.Errorf("diffusion: %q is not a flow schedule (want flow or flow:shift=S)", name)
	}
	if !hasArg {
		return 1, nil
	}
	key, val, ok := strings.Cut(arg, "=")
	if !ok || strings.TrimSpace(key) != "shift" {
		return 0, fmt.Errorf("diffusion: schedule %q: want flow:shift=S", name)
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err != nil || !(s > 0 && s < math.Inf(1)) {
		return 0, fmt.Errorf("diffusion: schedule %q: the shift must be a positive finite number, got %q", name, val)
	}
	return s, nil
}
