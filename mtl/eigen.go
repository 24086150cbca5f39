package mtl

import (
	"fmt"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/mat"
)

// spectrum is the eigendecomposition G = Σ_r λ_r v_r v_rᵀ of a problem's
// Gram restricted to its range: the eigenvalues above rankTol·λ_max, with
// their eigenvectors (columns of V).
type spectrum struct {
	values []float64  // values is (R): λ_r > rankTol·λ_max, ascending
	v      *mat.Dense // v is (K, R)
}

// rangeSpectrum decomposes the problem's Gram (mat.EigenSym) and keeps its
// range. A zero Gram has R = 0.
func rangeSpectrum(p *pareto.Problem, rankTol float64) (spectrum, error) {
	var es mat.EigenSym
	if !es.Factorize(p.Gram(), true) {
		return spectrum{}, fmt.Errorf("mtl: the eigendecomposition of the Gram matrix failed")
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	k := p.K()
	top := vals[len(vals)-1]
	var keep []int
	for r, l := range vals {
		if top > 0 && l > rankTol*top {
			keep = append(keep, r)
		}
	}
	s := spectrum{values: make([]float64, len(keep))}
	if len(keep) == 0 {
		return s, nil
	}
	s.v = mat.NewDense(k, len(keep), nil)
	for c, r := range keep {
		s.values[c] = vals[r]
		for i := range k {
			s.v.Set(i, c, vecs.At(i, r))
		}
	}
	return s, nil
}

// apply returns Σ_r f(λ_r)·v_r (v_rᵀ x): a function of G applied to x on
// its range (f(λ) = 1/λ is the pseudo-inverse).
func (s spectrum) apply(f func(float64) float64, x []float64) []float64 {
	out := make([]float64, len(x))
	if s.v == nil {
		return out
	}
	k, _ := s.v.Dims()
	for r, l := range s.values {
		var dot float64
		for i := range k {
			dot += s.v.At(i, r) * x[i]
		}
		dot *= f(l)
		for i := range k {
			out[i] += dot * s.v.At(i, r)
		}
	}
	return out
}
