package solvers

import (
	"fmt"
	"sync"
	"testing"

	"github.com/paretodiff/paretodiff/pareto"
)

// benchP is the number of parameters of the benchmark problems: P < K for
// the larger sizes, as for per-timestep gradients of a small model sampled
// on many timestep bins.
const benchP = 200

var benchCache sync.Map // K → *pareto.Problem

// benchProblem returns the l2-normalised conflicting problem of size K
// (pareto.ConflictingGrads(K, 200, seed 1)), built once per process.
func benchProblem(b *testing.B, k int) *pareto.Problem {
	if p, ok := benchCache.Load(k); ok {
		return p.(*pareto.Problem)
	}
	p, err := pareto.NewFromGrads(pareto.ConflictingGrads(k, benchP, 1), pareto.Config{Normalizer: pareto.NormL2})
	if err != nil {
		b.Fatal(err)
	}
	benchCache.Store(k, p)
	return p
}

// BenchmarkSolve times every method, the plain references included, to an
// absolute gap of 1e-9 (the unit is max_t G_tt = 1 after l2
// normalisation), with and without λ = 0.1, and reports the iterations,
// gap, support and objective reached. ugd-plain (Eq. 13 literally,
// sublinear, O(K²) per trial step) is capped at 2000 iterations for
// K = 1000 and 100 for K = 10000; every other method runs to its
// tolerance. Run with -cpu 1 for one-core figures, e.g.
//
//	go test ./solvers -run '^$' -bench 'Solve/K=1000/' -cpu 1
func BenchmarkSolve(b *testing.B) {
	methods := append(append([]Method(nil), Methods...), PlainMethods...)
	for _, k := range []int{10, 100, 1000, 10000} {
		for _, lambda := range []float64{0, 0.1} {
			for _, m := range methods {
				b.Run(fmt.Sprintf("K=%d/lambda=%g/%s", k, lambda, m), func(b *testing.B) {
					p, err := benchProblem(b, k).WithLambda(lambda)
					if err != nil {
						b.Fatal(err)
					}
					set := &Settings{Tol: 1e-300, AbsTol: 1e-9}
					if m == UGDPlain && k >= 1000 {
						set.MaxIter = 2000
						if k >= 10000 {
							set.MaxIter = 100
						}
					}
					var res Result
					for b.Loop() {
						res, _ = Solve(p, m, set)
					}
					b.ReportMetric(float64(res.Iterations), "iters")
					b.ReportMetric(res.Gap, "gap")
					b.ReportMetric(float64(res.Support(0)), "support")
					b.ReportMetric(res.F, "f")
				})
			}
		}
	}
}
