package pareto

import (
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkNewFromGramPSDCheck times NewFromGram on the Gram matrix of
// ConflictingGrads(1000, 200, 1) with l2 normalisation, at K = 1000 ≤
// DefaultMaxPSDCheck, so that the full semidefiniteness test (a Cholesky
// factorisation of G + τI, O(K³)) runs; "nocheck" turns the test off
// (MaxPSDCheck < 0) to show what the factorisation costs. Run with -cpu 1
// for one-core figures.
func BenchmarkNewFromGramPSDCheck(b *testing.B) {
	a := ConflictingGrads(1000, 200, 1)
	var g mat.Dense
	g.Mul(a, a.T())
	for _, c := range []struct {
		name string
		max  int
	}{{"check", 0}, {"nocheck", -1}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := NewFromGram(&g, Config{Normalizer: NormL2, MaxPSDCheck: c.max}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
