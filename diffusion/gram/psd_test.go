package gram_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// psdTol bounds float64 rounding in the PSD projection tests: entries are
// O(1) and K ≤ 6, so an eigendecomposition and its reconstruction are
// accurate to a few ulps times K.
const psdTol = 1e-12

// frobenius returns ‖a − b‖_F.
func frobenius(a, b mat.Symmetric) float64 {
	K := a.SymmetricDim()
	var s float64
	for i := 0; i < K; i++ {
		for j := 0; j < K; j++ {
			d := a.At(i, j) - b.At(i, j)
			s += d * d
		}
	}
	return math.Sqrt(s)
}

// minEigen is the smallest eigenvalue of a symmetric matrix.
func minEigen(t *testing.T, a mat.Symmetric) float64 {
	t.Helper()
	var e mat.EigenSym
	require.True(t, e.Factorize(a, false))
	v := e.Values(nil)
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// randomSym is a symmetric K×K matrix of N(0, 1) entries (indefinite as a
// rule).
func randomSym(rng *rand.Rand, K int) *mat.SymDense {
	a := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			a.SetSym(i, j, rng.NormFloat64())
		}
	}
	return a
}

// randomPSD is B·Bᵀ for a K×r matrix B of N(0, scale²) entries.
func randomPSD(rng *rand.Rand, K, r int, scale float64) *mat.SymDense {
	b := mat.NewDense(K, r, nil)
	for i := 0; i < K; i++ {
		for j := 0; j < r; j++ {
			b.Set(i, j, scale*rng.NormFloat64())
		}
	}
	s := mat.NewSymDense(K, nil)
	s.SymOuterK(1, b)
	return s
}

// The 2×2 closed form: for A = [[a, b], [b, c]] with eigenvalues
// λ₋ < 0 ≤ λ₊, P(A) = λ₊·v·vᵀ with v ∝ (b, λ₊ − a); both negative gives 0;
// both ≥ 0 gives A itself, bit for bit.
func TestProjectPSD2x2(t *testing.T) {
	for _, tc := range []struct{ a, b, c float64 }{{1, 2, 1}, {1, 3, 2}, {-2, 0.5, 4}, {0.3, -1.1, -0.2}} {
		a := mat.NewSymDense(2, []float64{tc.a, tc.b, tc.b, tc.c})
		mid, rad := (tc.a+tc.c)/2, math.Hypot((tc.a-tc.c)/2, tc.b)
		lp, lm := mid+rad, mid-rad
		require.Less(t, lm, 0.0)
		require.Greater(t, lp, 0.0)
		v0, v1 := tc.b, lp-tc.a
		f := lp / (v0*v0 + v1*v1)
		want := mat.NewSymDense(2, []float64{f * v0 * v0, f * v0 * v1, f * v0 * v1, f * v1 * v1})
		got, p, err := gram.ProjectPSD(a)
		require.NoError(t, err)
		require.LessOrEqual(t, frobenius(want, got), psdTol*lp, "%+v", tc)
		require.InDelta(t, lm, p.MinEigenvalue, psdTol*rad)
		require.Equal(t, 1, p.Clipped)
		require.InDelta(t, math.Abs(lm)/math.Hypot(lm, lp), p.Shift, psdTol)
	}
	// [[1, 2], [2, 1]]: eigenvalues 3 and −1, v = (1, 1)/√2, P = 1.5·𝟙𝟙ᵀ.
	got, _, err := gram.ProjectPSD(mat.NewSymDense(2, []float64{1, 2, 2, 1}))
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{1.5, 1.5, 1.5}, []float64{got.At(0, 0), got.At(0, 1), got.At(1, 1)}, psdTol)

	neg, p, err := gram.ProjectPSD(mat.NewSymDense(2, []float64{-1, 0.2, 0.2, -3}))
	require.NoError(t, err)
	require.LessOrEqual(t, frobenius(neg, mat.NewSymDense(2, nil)), psdTol)
	require.Equal(t, 2, p.Clipped)
	require.InDelta(t, 1, p.Shift, psdTol, "everything clipped: moved by ‖A‖_F")

	pos := mat.NewSymDense(2, []float64{2, 1, 1, 3})
	same, p, err := gram.ProjectPSD(pos)
	require.NoError(t, err)
	require.True(t, mat.Equal(pos, same), "a PSD matrix comes back exactly")
	require.Zero(t, p.Clipped)
	require.Zero(t, p.Shift)
	require.Greater(t, p.MinEigenvalue, 0.0)
}

// On random indefinite matrices: the result is PSD, the projection is
// idempotent, Shift and MinEigenvalue match a direct computation, and no
// PSD candidate (random ones, and the result perturbed along random PSD
// directions) is nearer to A in Frobenius norm.
func TestProjectPSDNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	for trial := 0; trial < 20; trial++ {
		K := 2 + trial%5
		a := randomSym(rng, K)
		p, st, err := gram.ProjectPSD(a)
		require.NoError(t, err)
		require.GreaterOrEqual(t, minEigen(t, p), -psdTol, "trial %d: not PSD", trial)
		require.InDelta(t, minEigen(t, a), st.MinEigenvalue, psdTol)
		require.InDelta(t, frobenius(p, a)/frobenius(a, mat.NewSymDense(K, nil)), st.Shift, psdTol)

		pp, _, err := gram.ProjectPSD(p)
		require.NoError(t, err)
		require.LessOrEqual(t, frobenius(pp, p), psdTol, "trial %d: not idempotent", trial)

		best := frobenius(p, a)
		for c := 0; c < 30; c++ {
			cand := randomPSD(rng, K, 1+c%K, 1)
			require.Greater(t, frobenius(cand, a), best-psdTol, "trial %d: a random PSD matrix is nearer", trial)
			near := mat.NewSymDense(K, nil)
			near.AddSym(p, randomPSD(rng, K, 1, 0.05))
			require.Greater(t, frobenius(near, a), best-psdTol, "trial %d: a PSD step away from P(A) is nearer", trial)
		}
	}
}

// Zero rows and columns (empty bins) stay exactly zero; a non-finite
// entry is an error, not a panic.
func TestProjectPSDZeroRowsAndBadInput(t *testing.T) {
	a := mat.NewSymDense(3, []float64{1, 0, 2, 0, 0, 0, 2, 0, 1})
	p, st, err := gram.ProjectPSD(a)
	require.NoError(t, err)
	for j := 0; j < 3; j++ {
		require.Zero(t, p.At(1, j))
	}
	require.InDelta(t, 1.5, p.At(0, 0), psdTol, "the 2×2 block [[1, 2], [2, 1]] → 1.5·𝟙𝟙ᵀ")
	require.InDelta(t, -1, st.MinEigenvalue, psdTol, "the zero row's eigenvalue 0 is left out")

	zero, st, err := gram.ProjectPSD(mat.NewSymDense(2, nil))
	require.NoError(t, err)
	require.True(t, mat.Equal(zero, mat.NewSymDense(2, nil)))
	require.Equal(t, gram.Projection{}, st)

	_, _, err = gram.ProjectPSD(mat.NewSymDense(2, []float64{1, math.NaN(), math.NaN(), 1}))
	require.ErrorContains(t, err, "non-finite")
}
