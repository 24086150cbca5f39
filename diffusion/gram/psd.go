package gram

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Projection says how far ProjectPSD moved a symmetric matrix A to the
// nearest positive semidefinite one.
type Projection struct {
	// MinEigenvalue is the smallest eigenvalue of A over its rows that are
	// not all zero (0 when every row is): negative when the projection moved
	// A.
	MinEigenvalue float64 `json:"min_eigenvalue"`
	// Clipped is the number of negative eigenvalues set to 0.
	Clipped int `json:"clipped"`
	// Shift is ‖P(A) − A‖_F / ‖A‖_F = √(Σ_{λ<0} λ² / Σ λ²), the relative
	// Frobenius distance the projection moved A (0 for a PSD or a zero A).
	Shift float64 `json:"shift"`
}

// ProjectPSD returns the positive semidefinite matrix nearest to the
// symmetric matrix A in Frobenius norm,
//
//	P(A) = V·max(Λ, 0)·Vᵀ  for A = V·Λ·Vᵀ
//
// (Higham, "Computing a nearest symmetric positive semidefinite matrix",
// Linear Algebra Appl. 103, 1988, the Frobenius-norm case for a symmetric
// A): the
// eigendecomposition by mat.EigenSym with the negative eigenvalues
// clipped to 0, and how far it moved A. A with no negative eigenvalue is
// returned as an exact copy (so P is idempotent bit for bit on its own
// output when that has no rounding-negative eigenvalue). Rows and columns
// of A that are all zero (the empty bins of a Gram) are left out of the
// eigendecomposition and stay exactly zero: A is then block diagonal with a
// zero block, whose eigenvalues are 0 already, so this is the same P(A)
// without rounding noise in those rows. A non-finite entry is an error.
func ProjectPSD(a mat.Symmetric) (*mat.SymDense, Projection, error) {
	K := a.SymmetricDim()
	out := mat.NewSymDense(K, nil)
	out.CopySym(a)
	var idx []int // the rows that are not all zero
	for i := 0; i < K; i++ {
		zero := true
		for j := 0; j < K; j++ {
			v := a.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, Projection{}, errors.New("gram: PSD projection: the matrix has a non-finite entry")
			}
			zero = zero && v == 0
		}
		if !zero {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return out, Projection{}, nil
	}
	sub := mat.NewSymDense(len(idx), nil)
	for i, r := range idx {
		for j := i; j < len(idx); j++ {
			sub.SetSym(i, j, a.At(r, idx[j]))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sub, true) {
		return nil, Projection{}, errors.New("gram: PSD projection: the eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	p := projectionOf(vals)
	if p.Clipped == 0 {
		return out, p, nil
	}
	var V mat.Dense
	eig.VectorsTo(&V)
	for i, r := range idx {
		for j := i; j < len(idx); j++ {
			var s float64
			for m, l := range vals {
				if l > 0 {
					s += V.At(i, m) * l * V.At(j, m)
				}
			}
			out.SetSym(r, idx[j], s)
		}
	}
	return out, p, nil
}

// projectionOf summarises the eigenvalues of A: the smallest, how many are
// negative, and the Frobenius shift √(Σ_{λ<0} λ²/Σ λ²) of clipping them
// (‖·‖_F is invariant under the orthogonal V, so ‖A‖²_F = Σ λ² and
// ‖P(A) − A‖²_F = Σ_{λ<0} λ²).
func projectionOf(vals []float64) Projection {
	p := Projection{MinEigenvalue: math.Inf(1)}
	var all, neg float64
	for _, l := range vals {
		p.MinEigenvalue = math.Min(p.MinEigenvalue, l)
		all += l * l
		if l < 0 {
			neg += l * l
			p.Clipped++
		}
	}
	if all > 0 {
		p.Shift = math.Sqrt(neg / all)
	}
	return p
}
