package metrics

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// refTol: the Python reference and this package agree to float64 rounding
// of a few hundred operations on O(1) numbers (and math.Sin/Cos may differ
// from numpy's by an ulp); 1e-10 leaves a wide margin without hiding bugs.
const refTol = 1e-10

// refData evaluates the formulas of testdata/ref.py: X (12, 4), Y (15, 4).
func refData() (x, y []float64) {
	const N, M, F = 12, 15, 4
	for i := range N {
		for j := range F {
			x = append(x, math.Sin(1.3*float64(j+1)*float64(i)+0.7*float64(j*j)+0.1)+0.1*float64(j))
		}
	}
	for i := range M {
		for j := range F {
			y = append(y, math.Cos(0.9*float64(j+1)*float64(i)+1.1*float64(j))*(1+0.2*float64(j))+0.3)
		}
	}
	return x, y
}

// Numbers printed by testdata/ref.py (numpy 1.24, scipy 1.10), in
// testdata/ref.out.
func TestAgainstPythonReference(t *testing.T) {
	x, y := refData()

	fd, err := Frechet(x, y, 4)
	require.NoError(t, err)
	require.InDelta(t, 0.7953296351374473, fd, refTol, "FD: scipy.linalg.sqrtm of Σ1Σ2 (pytorch-fid)")
	require.InDelta(t, 0.7953296351374473, fd, refTol, "FD: eigenvalues of Σ1Σ2")
	self, err := Frechet(x, x, 4)
	require.NoError(t, err)
	require.InDelta(t, 0, self, 1e-13)

	a := mat.NewSymDense(3, []float64{2, 0.3, -0.2, 0.3, 1, 0.4, -0.2, 0.4, 0.5})
	b := mat.NewSymDense(3, []float64{0.7, -0.1, 0, -0.1, 1.5, -0.6, 0, -0.6, 0.9})
	fd, err = FrechetStats(Stats{Mean: []float64{0.1, -0.2, 0.3}, Cov: a}, Stats{Mean: []float64{-0.4, 0, 0.25}, Cov: b})
	require.NoError(t, err)
	require.InDelta(t, 1.4060743321654368, fd, refTol, "FD of given means and covariances")

	r, err := MMD2(x, y, 4, nil)
	require.NoError(t, err)
	require.InDelta(t, 2.3298855934712708, r.Bandwidth, refTol, "median heuristic: np.median(pdist(pooled))")
	require.InDelta(t, -0.013439022558946911, r.MMD2, refTol)
	r, err = MMD2(x, y, 4, &MMDSettings{Bandwidth: 0.7})
	require.NoError(t, err)
	require.InDelta(t, 0.059217113453902945, r.MMD2, refTol)

	var ca, cb []float64 // X[:,0] (12) and Y[:,1] (15)
	for i := range 12 {
		ca = append(ca, x[4*i])
	}
	for i := range 15 {
		cb = append(cb, y[4*i+1])
	}
	slices.Sort(ca)
	slices.Sort(cb)
	require.InDelta(t, 0.26720216233202104, Wasserstein1DSorted(ca, cb, 1), refTol, "scipy.stats.wasserstein_distance")
	require.InDelta(t, 0.10185766273624187, Wasserstein1DSorted(ca, cb, 2), refTol)
	require.InDelta(t, 0.16175913668083658, Wasserstein1DSorted(ca, cb, 1.5), refTol)

	var p []float64 // (6, 4) softmax rows ∝ exp(3 sin(0.5 i (c+1)))
	for i := range 6 {
		row := make([]float64, 4)
		s := 0.0
		for c := range row {
			row[c] = math.Exp(3 * math.Sin(0.5*float64(i)*float64(c+1)))
			s += row[c]
		}
		for c := range row {
			p = append(p, row[c]/s)
		}
	}
	ls, err := LabelEntropy(p, 4)
	require.NoError(t, err)
	require.InDelta(t, 0.8837279072181077, ls.MeanEntropy, refTol)
	require.InDelta(t, 1.3320826094765235, ls.MarginalEntropy, refTol)
	require.InDelta(t, 1.5657339665437922, ls.InceptionScore, refTol, "exp E KL(p(y|x) ‖ p(y)) from scipy.stats.entropy")
}
