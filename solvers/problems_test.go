package solvers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/mat"
)

// A testFamily makes test problems of K tasks from a seed.
type testFamily struct {
	name string
	make func(seed uint64, k int) *pareto.Problem
	// spread marks problems whose task norms differ by orders of
	// magnitude, which only the affine-invariant methods solve to 1e-8.
	spread bool
}

func mustGrads(a *mat.Dense, opts pareto.Config) *pareto.Problem {
	p, err := pareto.NewFromGrads(a, opts)
	if err != nil {
		panic(err)
	}
	return p
}

func mustGram(g mat.Matrix, opts pareto.Config) *pareto.Problem {
	p, err := pareto.NewFromGram(g, opts)
	if err != nil {
		panic(err)
	}
	return p
}

// scaledGram returns c·A·Aᵀ.
func scaledGram(a *mat.Dense, c float64) *mat.Dense {
	var g mat.Dense
	g.Mul(a, a.T())
	g.Scale(c, &g)
	return &g
}

// meanDiag is the average squared gradient norm, the unit for λ.
func meanDiag(a *mat.Dense) float64 {
	k, _ := a.Dims()
	s := 0.0
	for i := range k {
		r := a.RawRowView(i)
		for _, x := range r {
			s += x * x
		}
	}
	return s / float64(k)
}

// testFamilies are the problem kinds of the issue: random, regularised,
// rank-deficient, duplicated gradients, badly scaled as a whole (×1e8,
// ×1e-8) and badly scaled task by task (squared norms over 1e±8).
var testFamilies = []testFamily{
	{name: "random", make: func(seed uint64, k int) *pareto.Problem {
		return mustGrads(pareto.ConflictingGrads(k, k+3, seed), pareto.Config{})
	}},
	{name: "random-lambda", make: func(seed uint64, k int) *pareto.Problem {
		a := pareto.ConflictingGrads(k, k+3, seed)
		return mustGrads(a, pareto.Config{Lambda: 0.05 * meanDiag(a)})
	}},
	{name: "rank-deficient", make: func(seed uint64, k int) *pareto.Problem {
		return mustGrads(pareto.ConflictingGrads(k, 3, seed), pareto.Config{}) // rank ≤ 3
	}},
	{name: "duplicated", make: func(seed uint64, k int) *pareto.Problem {
		a := pareto.ConflictingGrads(k, k+3, seed)
		for i := 1; i < k; i += 3 {
			a.SetRow(i, a.RawRowView(i-1))
		}
		return mustGrads(a, pareto.Config{})
	}},
	{name: "scaled-1e8", make: func(seed uint64, k int) *pareto.Problem {
		return mustGram(scaledGram(pareto.ConflictingGrads(k, k+3, seed), 1e8), pareto.Config{})
	}},
	{name: "scaled-1e-8", make: func(seed uint64, k int) *pareto.Problem {
		return mustGram(scaledGram(pareto.ConflictingGrads(k, k+3, seed), 1e-8), pareto.Config{})
	}},
	{name: "spread-1e±8", spread: true, make: func(seed uint64, k int) *pareto.Problem {
		a := pareto.ConflictingGrads(k, k+3, seed)
		rng := rand.New(rand.NewPCG(seed, 99))
		for i := range k {
			s := math.Pow(10, -4+8*rng.Float64()) // ‖g_t‖ over 1e±4, G_tt over 1e±8
			r := a.RawRowView(i)
			for j := range r {
				r[j] *= s
			}
		}
		return mustGrads(a, pareto.Config{})
	}},
}

// testCase is one problem of a family.
type testCase struct {
	family testFamily
	seed   uint64
	p      *pareto.Problem
}

func (c testCase) String() string {
	return fmt.Sprintf("%s/seed=%d/K=%d", c.family.name, c.seed, c.p.K())
}

// smallCases returns n problems of every family with K cycling over
// kmin..kmax.
func smallCases(n, kmin, kmax int) []testCase {
	var out []testCase
	for _, f := range testFamilies {
		for i := range n {
			k := kmin + i%(kmax-kmin+1)
			seed := uint64(1000*i + k)
			out = append(out, testCase{family: f, seed: seed, p: f.make(seed, k)})
		}
	}
	return out
}
