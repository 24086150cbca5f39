// Package metrics measures how close a set of generated samples is to a set
// of reference samples, without any network that would need a download:
// sliced Wasserstein distance and MMD² for low-dimensional data (the 2-D toy
// distributions), the Fréchet distance between Gaussian fits of feature
// vectors (FID's formula, for features of a classifier the toolkit trains
// itself), and the label entropies of class probabilities (the two parts of
// the Inception score).
//
// Invariants:
//   - sets are row-major (N, D) slices of float32 or float64 (the Float
//     constraint); every accumulation is in float64;
//   - a dimension that does not divide a slice's length, or two sets of
//     different dimension, is a programmer error and panics; too few rows
//     and non-finite values are data errors, returned prefixed "metrics:";
//   - every metric is symmetric in its two sets (up to float64 rounding in
//     the order of sums) and deterministic: randomness (SWD's projections)
//     comes only from the caller's *rand.Rand, and parallel work is summed
//     in a fixed order, so results do not depend on GOMAXPROCS;
//   - distances are returned as squared where the literature does (MMD²,
//     FD = ‖μ1−μ2‖² + …) and clamped at 0 where rounding could make a zero
//     come out slightly negative (FD, never MMD², whose unbiased estimate
//     is legitimately negative).
package metrics

// Float is the element type of a sample set.
type Float interface{ ~float32 | ~float64 }
