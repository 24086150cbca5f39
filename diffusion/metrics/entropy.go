package metrics

import (
	"fmt"
	"math"
)

// LabelStats are the two label entropies of a classifier's class
// probabilities over a sample set, in nats, and the Inception score they
// make (Salimans et al. 2016).
type LabelStats struct {
	// MeanEntropy is E_x H(p(y|x)): low when every sample is classified
	// confidently (sharp, recognisable samples).
	MeanEntropy float64
	// MarginalEntropy is H(E_x p(y|x)) = H(p(y)): log K when the classes are
	// covered evenly (no mode collapse).
	MarginalEntropy float64
	// InceptionScore is exp(E_x KL(p(y|x) ‖ p(y))) =
	// exp(MarginalEntropy − MeanEntropy), in [1, K].
	InceptionScore float64
}

// probSumTol is how far a row's sum may be from 1: float32 softmax outputs
// over ≤ 1000 classes sum to 1 within ~1e-5; a wider gap means the input
// is not probabilities (logits, say).
const probSumTol = 1e-3

// LabelEntropy returns the label entropies of probs (N, k), one row of
// class probabilities per sample: H(p) = −Σ_c p_c ln p_c with 0 ln 0 = 0.
// Each row is divided by its sum before use. It returns an error for an
// empty set, a negative or non-finite entry, or a row whose sum is not
// within probSumTol (1e-3) of 1.
func LabelEntropy[T Float](probs []T, k int) (LabelStats, error) {
	n := rows("LabelEntropy", probs, k)
	if n == 0 {
		return LabelStats{}, fmt.Errorf("metrics: LabelEntropy: no rows")
	}
	marg := make([]float64, k)
	meanH := 0.0
	p := make([]float64, k)
	for i := range n {
		sum := 0.0
		for c, v := range probs[i*k : (i+1)*k] {
			f := float64(v)
			if !(f >= 0) || math.IsInf(f, 1) {
				return LabelStats{}, fmt.Errorf("metrics: LabelEntropy: row %d has the entry %v, not a probability", i, f)
			}
			p[c] = f
			sum += f
		}
		if math.Abs(sum-1) > probSumTol {
			return LabelStats{}, fmt.Errorf("metrics: LabelEntropy: row %d sums to %g, not 1 (probabilities, not logits, are expected)", i, sum)
		}
		for c := range p {
			p[c] /= sum
			marg[c] += p[c]
		}
		meanH += entropy(p)
	}
	for c := range marg {
		marg[c] /= float64(n)
	}
	st := LabelStats{MeanEntropy: meanH / float64(n), MarginalEntropy: entropy(marg)}
	st.InceptionScore = math.Exp(st.MarginalEntropy - st.MeanEntropy)
	return st, nil
}

func entropy(p []float64) float64 {
	h := 0.0
	for _, v := range p {
		if v > 0 {
			h -= v * math.Log(v)
		}
	}
	return h
}
