package metrics

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Stats is a Gaussian fit of a feature set: what the Fréchet distance
// compares. Compute it once for a reference set (FitStats) and keep it.
type Stats struct {
	// Mean is μ, (F).
	Mean []float64
	// Cov is Σ, (F, F), the unbiased sample covariance (divided by N − 1,
	// as numpy.cov and pytorch-fid).
	Cov *mat.SymDense
	// N is the number of rows the fit came from (0 if given directly).
	N int
}

// FitStats returns the mean and the unbiased covariance of the rows of x
// (N, f), accumulated in float64 (two passes: the mean, then the centred
// Gram matrix). It needs N ≥ 2 finite rows.
func FitStats[T Float](x []T, f int) (Stats, error) {
	n := rows("FitStats", x, f)
	if n < 2 {
		return Stats{}, fmt.Errorf("metrics: FitStats: need at least 2 rows, got %d", n)
	}
	if err := finite("FitStats", "x", x, f); err != nil {
		return Stats{}, err
	}
	mean := make([]float64, f)
	for i := range n {
		for j, v := range x[i*f : (i+1)*f] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	c := mat.NewDense(n, f, nil) // centred rows
	for i := range n {
		row := c.RawRowView(i)
		for j, v := range x[i*f : (i+1)*f] {
			row[j] = float64(v) - mean[j]
		}
	}
	cov := mat.NewSymDense(f, nil)
	cov.SymOuterK(1/float64(n-1), c.T())
	return Stats{Mean: mean, Cov: cov, N: n}, nil
}

// Frechet returns the Fréchet distance between Gaussian fits of the feature
// sets x (N, f) and y (M, f): FrechetStats(FitStats(x), FitStats(y)).
func Frechet[T Float](x, y []T, f int) (float64, error) {
	rows("Frechet", x, f)
	rows("Frechet", y, f)
	a, err := FitStats(x, f)
	if err != nil {
		return 0, err
	}
	b, err := FitStats(y, f)
	if err != nil {
		return 0, err
	}
	return FrechetStats(a, b)
}

// FrechetStats returns the squared Fréchet (2-Wasserstein) distance between
// N(μ1, Σ1) and N(μ2, Σ2) (Dowson & Landau 1982; FID, Heusel et al. 2017):
//
//	FD = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1 Σ2)^½),
//
// with tr((Σ1 Σ2)^½) = tr((Σ1^½ Σ2 Σ1^½)^½), which needs only symmetric
// eigendecompositions (gonum mat.EigenSym): Σ1 = V Λ Vᵀ gives
// Σ1^½ = V Λ^½ Vᵀ, and the trace is Σ_i √λ_i(Σ1^½ Σ2 Σ1^½).
//
// Clamping: in both decompositions an eigenvalue λ ≤ F·ε·max|λ| (ε the
// float64 epsilon) is set to 0 before the square root. Below that size an
// eigenvalue of a positive semi-definite matrix is rounding noise of either
// sign — negative ones have no real root, and positive ones would add
// √(noise) ≈ 1e-8·√‖Σ‖ per null direction (singular covariances are common:
// fewer rows than features, or collinear features; pytorch-fid's
// scipy.linalg.sqrtm suffers exactly this). The total is clamped to ≥ 0 as
// well, so the distance of a set to itself is 0 up to ~1e-15·tr Σ. It
// returns an error for mismatched or non-finite statistics, or if an
// eigendecomposition fails.
func FrechetStats(a, b Stats) (float64, error) {
	f := len(a.Mean)
	if f == 0 || len(b.Mean) != f || a.Cov == nil || b.Cov == nil || a.Cov.SymmetricDim() != f || b.Cov.SymmetricDim() != f {
		return 0, fmt.Errorf("metrics: FrechetStats: statistics of different or zero dimension")
	}
	for _, s := range []Stats{a, b} {
		for _, v := range s.Mean {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("metrics: FrechetStats: non-finite mean")
			}
		}
		for i := range f {
			for j := i; j < f; j++ {
				if v := s.Cov.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
					return 0, fmt.Errorf("metrics: FrechetStats: non-finite covariance")
				}
			}
		}
	}
	dm := 0.0
	for i := range f {
		r := a.Mean[i] - b.Mean[i]
		dm += r * r
	}
	root, err := sqrtSym(a.Cov)
	if err != nil {
		return 0, err
	}
	var tmp, prod mat.Dense
	tmp.Mul(root, b.Cov)
	prod.Mul(&tmp, root)
	m := mat.NewSymDense(f, nil) // (prod + prodᵀ)/2, symmetric up to rounding
	for i := range f {
		for j := i; j < f; j++ {
			m.SetSym(i, j, 0.5*(prod.At(i, j)+prod.At(j, i)))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(m, false) {
		return 0, fmt.Errorf("metrics: FrechetStats: eigendecomposition of Σ1^½ Σ2 Σ1^½ failed")
	}
	trRoot := 0.0
	for _, l := range clampEigen(eig.Values(nil)) {
		trRoot += math.Sqrt(l)
	}
	fd := dm + mat.Trace(a.Cov) + mat.Trace(b.Cov) - 2*trRoot
	return max(fd, 0), nil
}

// clampEigen sets the eigenvalues at or below F·ε·max|λ| to 0 (see
// FrechetStats) and returns vals.
func clampEigen(vals []float64) []float64 {
	top := 0.0
	for _, l := range vals {
		top = max(top, math.Abs(l))
	}
	cut := float64(len(vals)) * 0x1p-52 * top
	for i, l := range vals {
		if l <= cut {
			vals[i] = 0
		}
	}
	return vals
}

// sqrtSym returns the symmetric square root V Λ^½ Vᵀ of a positive
// semi-definite matrix, eigenvalues clamped by clampEigen.
func sqrtSym(s *mat.SymDense) (*mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(s, true) {
		return nil, fmt.Errorf("metrics: FrechetStats: eigendecomposition of Σ1 failed")
	}
	f := s.SymmetricDim()
	vals := clampEigen(eig.Values(nil))
	var v mat.Dense
	eig.VectorsTo(&v)
	vs := mat.NewDense(f, f, nil) // V Λ^½
	for j, l := range vals {
		r := math.Sqrt(l)
		for i := range f {
			vs.Set(i, j, v.At(i, j)*r)
		}
	}
	var root mat.Dense
	root.Mul(vs, v.T())
	return &root, nil
}
