package weighting

import "fmt"

// Target is what a denoiser predicts.
type Target int

const (
	// Eps predicts the noise ε.
	Eps Target = iota
	// X0 predicts the clean sample x0.
	X0
	// V predicts the velocity v = α ε − σ x0 (Salimans & Ho 2022).
	V
)

// Targets lists every target in a fixed order (eps, x0, v).
var Targets = []Target{Eps, X0, V}

// String returns the name used on the command line: "eps", "x0" or "v".
func (t Target) String() string {
	switch t {
	case Eps:
		return "eps"
	case X0:
		return "x0"
	case V:
		return "v"
	}
	return fmt.Sprintf("Target(%d)", int(t))
}

// ParseTarget reads "eps", "x0" or "v".
func ParseTarget(s string) (Target, error) {
	switch s {
	case "eps", "epsilon", "ε":
		return Eps, nil
	case "x0", "sample":
		return X0, nil
	case "v", "v-prediction":
		return V, nil
	}
	return 0, fmt.Errorf("weighting: unknown target %q (want eps, x0 or v)", s)
}

// LossScale returns c with ‖target − target̂‖² = c·‖x0 − x̂0‖²: SNR for ε,
// 1 for x0 and SNR+1 for v (the loss identities of the package doc).
func (t Target) LossScale(snr float64) float64 {
	switch t {
	case Eps:
		return snr
	case X0:
		return 1
	case V:
		return snr + 1
	}
	panic(fmt.Sprintf("weighting: invalid target %d", int(t)))
}
