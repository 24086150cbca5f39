package gram

import "fmt"

// Estimator names how a per-bin Gram is estimated from a batch's n_k
// examples per bin.
type Estimator int

const (
	// Plain is G_kl = ⟨ĝ_k, ĝ_l⟩ of the full bins' gradients (Pass.Run):
	// exact for the batch, but its diagonal carries the sampling noise of
	// each bin's gradient, E Ĝ_kk = ‖g_k‖² + tr Σ_k/n_k.
	Plain Estimator = iota
	// Split is the split-half estimator (Pass.RunSplit, SplitFromHalves):
	// unbiased on the diagonal too, projected to the nearest PSD matrix.
	Split
)

// EstimatorHelp lists the values ParseEstimator reads, for help texts.
const EstimatorHelp = "plain (the full bins' gradients; each G_kk carries its bin's sampling noise tr Σ_k/n) or split (split halves: unbiased, projected to the nearest PSD matrix; ≥ 2 examples per bin)"

// String returns "plain" or "split".
func (e Estimator) String() string {
	switch e {
	case Plain:
		return "plain"
	case Split:
		return "split"
	}
	return fmt.Sprintf("Estimator(%d)", int(e))
}

// ParseEstimator reads "plain" or "split" ("" is plain).
func ParseEstimator(s string) (Estimator, error) {
	switch s {
	case "", "plain":
		return Plain, nil
	case "split":
		return Split, nil
	}
	return Plain, fmt.Errorf("gram: estimator %q: want %s", s, EstimatorHelp)
}
