package mtl

import (
	"strconv"
	"testing"

	"github.com/paretodiff/paretodiff/pareto"
)

// BenchmarkAggregate times one call of every method on K random
// conflicting gradients in ℝ⁵⁰ (K = 8, an online weighting's default bins,
// and K = 64).
func BenchmarkAggregate(b *testing.B) {
	for _, k := range []int{8, 64} {
		p, err := pareto.NewFromGrads(pareto.ConflictingGrads(k, 50, 1), pareto.Config{})
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range append(append([]string(nil), Aggregators...), "exact", "pfw") {
			b.Run(name+"/K="+strconv.Itoa(k), func(b *testing.B) {
				a, err := New(name, Config{})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := a.Aggregate(p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
