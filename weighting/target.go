package weighting

import (
	"fmt"
	"math"
)

// Target is what a denoiser predicts.
type Target int

const (
	// Eps predicts the noise ε.
	Eps Target = iota
	// X0 predicts the clean sample x0.
	X0
	// V predicts the velocity v = α ε − σ x0 (Salimans & Ho 2022), the
	// angular velocity of a variance-preserving process.
	V
	// Flow predicts the flow-matching velocity u = ε − x0 (Lipman et al.
	// 2023; Liu et al. 2023; Esser et al. 2024, Eq. 3 as rectified flow's
	// target), dx_t/dt of the flow schedule x_t = (1 − t)x0 + t·ε.
	Flow
)

// Targets lists the targets of the variance-preserving process in a fixed
// order (eps, x0, v); AllTargets adds flow.
var Targets = []Target{Eps, X0, V}

// AllTargets lists every target in a fixed order (eps, x0, v, flow).
var AllTargets = []Target{Eps, X0, V, Flow}

// String returns the name used on the command line: "eps", "x0", "v" or
// "flow".
func (t Target) String() string {
	switch t {
	case Eps:
		return "eps"
	case X0:
		return "x0"
	case V:
		return "v"
	case Flow:
		return "flow"
	}
	return fmt.Sprintf("Target(%d)", int(t))
}

// ParseTarget reads "eps", "x0", "v" or "flow".
func ParseTarget(s string) (Target, error) {
	switch s {
	case "eps", "epsilon", "ε":
		return Eps, nil
	case "x0", "sample":
		return X0, nil
	case "v", "v-prediction":
		return V, nil
	case "flow", "velocity", "u":
		return Flow, nil
	}
	return 0, fmt.Errorf("weighting: unknown target %q (want eps, x0, v or flow)", s)
}

// LossScale returns c with ‖target − target̂‖² = c·‖x0 − x̂0‖²: SNR for ε,
// 1 for x0, SNR+1 for v and (1 + √SNR)² for flow (the loss identities of
// the package doc; on the flow schedule (1 + √SNR)² = 1/t²). The v identity
// needs α² + σ² = 1 and holds on variance-preserving schedules only; the
// others hold on every schedule.
func (t Target) LossScale(snr float64) float64 {
	switch t {
	case Eps:
		return snr
	case X0:
		return 1
	case V:
		return snr + 1
	case Flow:
		r := 1 + math.Sqrt(snr)
		return r * r
	}
	panic(fmt.Sprintf("weighting: invalid target %d", int(t)))
}
