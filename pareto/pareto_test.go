package pareto

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
)

// exactTol: quantities computed two ways in float64 over a handful of
// terms differ only by rounding.
const exactTol = 1e-12

// fdTol: central finite differences of a quadratic are exact up to the
// rounding of the step, about 1e-8 relative here.
const fdTol = 1e-6

func randGrads(rng *rand.Rand, k, p int) *mat.Dense {
	a := mat.NewDense(k, p, nil)
	for i := range k {
		for j := range p {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	return a
}

func randSimplex(rng *rand.Rand, k int) []float64 {
	w := make([]float64, k)
	s := 0.0
	for i := range w {
		w[i] = rng.ExpFloat64()
		s += w[i]
	}
	for i := range w {
		w[i] /= s
	}
	return w
}

func TestValidationErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		g    mat.Matrix
		opts Config
		msg  string
	}{
		{"not square", mat.NewDense(2, 3, nil), Config{}, "Gram matrix is 2×3, not square"},
		{"nan", mat.NewDense(2, 2, []float64{1, 0, math.NaN(), 1}), Config{}, "Gram entry [1,0] is NaN"},
		{"inf", mat.NewDense(1, 1, []float64{math.Inf(1)}), Config{}, "Gram entry [0,0] is +Inf"},
		{"asymmetric", mat.NewDense(2, 2, []float64{1, 0.5, 0.4, 1}), Config{}, "not symmetric: [0,1] = 0.5 but [1,0] = 0.4"},
		{"negative diagonal", mat.NewDense(2, 2, []float64{1, 0, 0, -1e-3}), Config{}, "Gram diagonal [1,1] = -0.001 is negative"},
		{"cauchy-schwarz", mat.NewDense(2, 2, []float64{1, 2, 2, 1}), Config{}, "|G[0,1]| = 2 exceeds √(G[0,0]·G[1,1]) = 1"},
		// Every 2×2 minor is fine, but the eigenvalues are 1+2·(−0.6) < 0.
		{"indefinite", mat.NewDense(3, 3, []float64{1, -0.6, -0.6, -0.6, 1, -0.6, -0.6, -0.6, 1}), Config{}, "smallest eigenvalue -0.2"},
		{"negative lambda", mat.NewDense(1, 1, []float64{1}), Config{Lambda: -1}, "λ = -1 must be finite and ≥ 0"},
		{"nan lambda", mat.NewDense(1, 1, []float64{1}), Config{Lambda: math.NaN()}, "λ = NaN"},
		{"losses missing", mat.NewDense(1, 1, []float64{1}), Config{Normalizer: NormLoss}, "normalizer loss needs the per-task losses"},
		{"losses length", mat.NewDense(1, 1, []float64{1}), Config{Normalizer: NormLossPlus, Losses: []float64{1, 2}}, "got 2 losses for 1 tasks"},
		{"loss zero", mat.NewDense(2, 2, []float64{1, 0, 0, 1}), Config{Normalizer: NormLoss, Losses: []float64{1, 0}}, "loss of task 1 is 0"},
		{"bad normalizer", mat.NewDense(1, 1, []float64{1}), Config{Normalizer: 9}, "unknown normalizer 9"},
		{"nil", nil, Config{}, "Gram matrix is nil"},
	} {
		var err error
		if c.g == nil {
			_, err = NewFromGram(nil, c.opts)
		} else {
			_, err = NewFromGram(c.g, c.opts)
		}
		require.Error(t, err, c.name)
		require.True(t, strings.HasPrefix(err.Error(), "pareto: "), err.Error())
		require.Contains(t, err.Error(), c.msg, c.name)
	}
	_, err := NewFromGrads(mat.NewDense(2, 2, []float64{1, 2, 3, math.NaN()}), Config{})
	require.ErrorContains(t, err, "gradient entry [1,1] (task 1, parameter 1) is NaN")
	_, err = NewFromGrads(mat.NewDense(1, 1, []float64{1e200}), Config{})
	require.ErrorContains(t, err, "overflows")

	// Within tolerance: a float32-like asymmetry and a tiny negative
	// eigenvalue are accepted, and the triangles are averaged.
	p, err := NewFromGram(mat.NewDense(2, 2, []float64{1, 1 + 1e-8, 1, 1}), Config{})
	require.NoError(t, err)
	require.Equal(t, p.At(0, 1), p.At(1, 0))
	require.InDelta(t, 1+0.5e-8, p.At(0, 1), 1e-16)
}

func TestParseNormalizer(t *testing.T) {
	for _, n := range Normalizers {
		got, err := ParseNormalizer(n.String())
		require.NoError(t, err)
		require.Equal(t, n, got)
	}
	_, err := ParseNormalizer("max")
	require.ErrorContains(t, err, `unknown normalizer "max"`)
}

func TestGramFromGradsAndObjective(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := randGrads(rng, 5, 7)
	p, err := NewFromGrads(a, Config{Lambda: 0.3})
	require.NoError(t, err)
	require.True(t, p.HasGrads())
	for i := range 5 {
		for j := range 5 {
			want := 0.0
			for c := range 7 {
				want += a.At(i, c) * a.At(j, c)
			}
			require.InDelta(t, want, p.At(i, j), exactTol*math.Abs(want)+exactTol)
		}
	}
	w := randSimplex(rng, 5)
	// f(w) = ‖Σ w_t g_t‖² + λ‖w‖², written out with the vectors.
	sum := make([]float64, 7)
	for t := range 5 {
		for c := range 7 {
			sum[c] += w[t] * a.At(t, c)
		}
	}
	want := 0.0
	for _, x := range sum {
		want += x * x
	}
	for _, x := range w {
		want += 0.3 * x * x
	}
	require.InDelta(t, want, p.Objective(w), exactTol*want)

	// The gradient against central finite differences.
	grad := p.Gradient(nil, w)
	num := make([]float64, 5)
	fd.Gradient(num, p.Objective, w, &fd.Settings{Formula: fd.Central})
	for i := range grad {
		require.InDelta(t, num[i], grad[i], fdTol*math.Max(1, math.Abs(grad[i])))
	}
}

// The duality gap bounds f(w) − f(w') for every w' on the simplex, so it
// bounds f(w) − f*; it vanishes at the minimiser.
func TestGapIsAnUpperBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p, err := NewFromGrads(ConflictingGrads(6, 4, 7), Config{Lambda: 0.01})
	require.NoError(t, err)
	for range 50 {
		w := randSimplex(rng, 6)
		gap, vertex := p.Gap(w)
		require.GreaterOrEqual(t, gap, 0.0)
		// The gap is the linear decrease toward the best vertex.
		e := make([]float64, 6)
		e[vertex] = 1
		g := p.Gradient(nil, w)
		lin := 0.0
		for i := range w {
			lin += g[i] * (w[i] - e[i])
		}
		require.InDelta(t, lin, gap, exactTol)
		for range 50 {
			other := randSimplex(rng, 6)
			require.GreaterOrEqual(t, gap, p.Objective(w)-p.Objective(other)-exactTol)
		}
	}
	// Two tasks g1 = (1, 0), g2 = (−1, 2): min over γ of ‖γg1 + (1−γ)g2‖² is at
	// γ = (G22 − G12)/(G11 + G22 − 2G12) = 6/8, where the gap and the KKT
	// residuals are 0.
	two, err := NewFromGrads(mat.NewDense(2, 2, []float64{1, 0, -1, 2}), Config{})
	require.NoError(t, err)
	w := []float64{0.75, 0.25}
	gap, _ := two.Gap(w)
	require.InDelta(t, 0, gap, exactTol)
	require.InDelta(t, 0, two.KKT(w).Max(), exactTol)
	require.InDelta(t, 0.5, two.Objective(w), exactTol) // ‖(0.5, 0.5)‖² = 0.5² + 0.5²
	require.Greater(t, two.KKT([]float64{0.5, 0.5}).Dual, 0.1)
}

func TestNormalizers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := randGrads(rng, 4, 3)
	a.SetRow(2, []float64{0, 0, 0}) // a zero gradient keeps scale 1 under l2 and loss+
	losses := []float64{0.5, 2, 3, 0.25}
	for _, n := range Normalizers {
		scales := make([]float64, 4)
		for t := range 4 {
			norm := mat.Norm(a.RowView(t), 2)
			switch n {
			case NormNone:
				scales[t] = 1
			case NormL2:
				scales[t] = norm
			case NormLoss:
				scales[t] = losses[t]
			case NormLossPlus:
				scales[t] = losses[t] * norm
			}
			if scales[t] == 0 {
				scales[t] = 1
			}
		}
		opts := Config{Normalizer: n, Losses: losses}
		fromGrads, err := NewFromGrads(a, opts)
		require.NoError(t, err, n)
		var gram mat.Dense
		gram.Mul(a, a.T())
		fromGram, err := NewFromGram(&gram, opts)
		require.NoError(t, err, n)
		require.InDeltaSlice(t, scales, fromGrads.Scales(), exactTol, n)
		for i := range 4 {
			for j := range 4 {
				want := 0.0
				for c := range 3 {
					want += a.At(i, c) / scales[i] * a.At(j, c) / scales[j]
				}
				require.InDelta(t, want, fromGrads.At(i, j), exactTol, "%s [%d,%d]", n, i, j)
				require.InDelta(t, want, fromGram.At(i, j), 1e-10, "%s [%d,%d]", n, i, j)
			}
		}
		if n == NormL2 {
			require.InDelta(t, 1, fromGrads.At(0, 0), exactTol)
			require.Equal(t, 0.0, fromGrads.At(2, 2))
		}
		// Raw weights put w_t/s_t on the original losses: Σ raw_t g_t ∥ Σ w_t g_t/s_t.
		w := randSimplex(rng, 4)
		raw := fromGrads.RawWeights(nil, w)
		back, err := fromGrads.FromRaw(nil, raw)
		require.NoError(t, err)
		require.InDeltaSlice(t, w, back, exactTol)
	}
}

func TestDescentEq8(t *testing.T) {
	a := ConflictingGrads(5, 3, 11)
	pg, err := NewFromGrads(a, Config{})
	require.NoError(t, err)
	var gram mat.Dense
	gram.Mul(a, a.T())
	pG, err := NewFromGram(&gram, Config{})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	w := randSimplex(rng, 5)
	dg, dG := pg.Descent(w), pG.Descent(w)
	require.InDeltaSlice(t, dg.Inner, dG.Inner, 1e-12, "vectors and Gram agree")
	require.InDelta(t, dg.NormSq, dG.NormSq, 1e-12)
	delta := pg.Direction(nil, w)
	for k := range 5 {
		want := 0.0
		for c := range 3 {
			want += delta[c] * a.At(k, c)
		}
		require.InDelta(t, want, dg.Inner[k], exactTol)
	}
	require.Equal(t, dg.Worst, dg.Inner[dg.Task])
	require.Panics(t, func() { pG.Direction(nil, w) })

	// Two tasks with an obtuse angle: at the min-norm point δ helps both
	// equally, ⟨δ, g_t⟩ = −‖δ‖² (Theorem 1).
	two, err := NewFromGrads(mat.NewDense(2, 2, []float64{1, 0, -1, 2}), Config{})
	require.NoError(t, err)
	d := two.Descent([]float64{0.75, 0.25})
	require.True(t, d.DecreasesAll)
	require.InDelta(t, -d.NormSq, d.Worst, exactTol)
	// A vertex that ignores task 1 hurts it: ⟨−g0, g1⟩ = 1 > 0.
	d = two.Descent([]float64{1, 0})
	require.False(t, d.DecreasesAll)
	require.Equal(t, 1, d.Task)
	require.InDelta(t, 1, d.Worst, exactTol)
}

func TestEvaluateAndStationarity(t *testing.T) {
	p, err := NewFromGrads(mat.NewDense(3, 2, []float64{1, 0, -1, 0, 0, 1}), Config{Lambda: 0.5})
	require.NoError(t, err)
	ev, err := p.Evaluate([]float64{2, 2, 0})
	require.NoError(t, err)
	require.Equal(t, []float64{0.5, 0.5, 0}, ev.W)
	require.InDelta(t, 0, ev.NormSq, exactTol)
	require.InDelta(t, 0.5*(0.25+0.25), ev.Objective, exactTol)
	// g0 = −g1: the tasks are Pareto stationary.
	require.True(t, p.ParetoStationary(ev.W, 1e-12))
	require.False(t, p.ParetoStationary([]float64{0.5, 0, 0.5}, 1e-12))
	for _, bad := range [][]float64{{1, 2}, {-1, 1, 1}, {0, 0, 0}, {math.NaN(), 1, 1}, {math.Inf(1), 1, 1}} {
		_, err := p.Evaluate(bad)
		require.Error(t, err, "%v", bad)
		require.True(t, strings.HasPrefix(err.Error(), "pareto: "))
	}
	q, err := p.WithLambda(0)
	require.NoError(t, err)
	require.Equal(t, 0.0, q.Lambda())
	require.Equal(t, 0.5, p.Lambda(), "WithLambda does not change the original")
	_, err = p.WithLambda(-1)
	require.Error(t, err)
	require.Panics(t, func() { p.Objective([]float64{1}) }, "a wrong length is a programmer error")
	require.Equal(t, "K=3 λ=0.5 normalizer=none P=2", p.String())
}

func TestConflictingGrads(t *testing.T) {
	a := ConflictingGrads(40, 10, 3)
	b := ConflictingGrads(40, 10, 3)
	require.True(t, mat.Equal(a, b), "a seed fixes the matrix")
	require.False(t, mat.Equal(a, ConflictingGrads(40, 10, 4)))
	p, err := NewFromGrads(a, Config{})
	require.NoError(t, err)
	neg := 0
	for i := range 40 {
		for j := range i {
			if p.At(i, j) < 0 {
				neg++
			}
		}
	}
	require.Greater(t, neg, 40, "many pairs of tasks conflict")
}
