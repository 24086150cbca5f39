package metrics

import (
	"fmt"
	"math"
	"slices"
)

// MMDSettings configures MMD2. The zero value (or nil) means the defaults.
type MMDSettings struct {
	// Bandwidth is σ of the RBF kernel k(a, b) = exp(−‖a − b‖²/(2σ²)); zero
	// means the median heuristic.
	Bandwidth float64
	// MedianRows caps the rows of each set that enter the median heuristic
	// (evenly strided, rows ⌊i·N/m⌋ for i < m); zero means
	// DefaultMedianRows. The heuristic costs O((2m)²) memory and time.
	MedianRows int
}

// DefaultMedianRows is MMDSettings' default cap on the median's rows.
const DefaultMedianRows = 1000

// MMDResult is what MMD2 returns.
type MMDResult struct {
	// MMD2 is the unbiased estimate of MMD²; it can be slightly negative
	// when the two distributions are equal.
	MMD2 float64
	// Bandwidth is the kernel's σ, given or from the median heuristic.
	Bandwidth float64
}

// MMD2 returns the unbiased estimate of the squared maximum mean discrepancy
// between x (N, d) and y (M, d) with a Gaussian RBF kernel (Gretton et al.
// 2012, Lemma 6, MMD²_u):
//
//	MMD²_u = 1/(N(N−1)) Σ_{i≠j} k(x_i, x_j) + 1/(M(M−1)) Σ_{i≠j} k(y_i, y_j)
//	         − 2/(NM) Σ_{i,j} k(x_i, y_j),
//
// k(a, b) = exp(−‖a − b‖²/(2σ²)). Unless set gives σ, it is the median
// heuristic: the median (numpy's, the mean of the two middle values for an
// even count) of the Euclidean distances between distinct pairs of the
// pooled rows (up to MedianRows of each set). The estimate has expectation
// MMD² ≥ 0, zero iff the distributions are equal; with equal distributions
// it fluctuates around 0 with standard deviation O(1/N). Cost O((N+M)²·d),
// computed in parallel and summed in a fixed order. It needs N, M ≥ 2.
func MMD2[T Float](x, y []T, d int, set *MMDSettings) (MMDResult, error) {
	n, m := rows("MMD2", x, d), rows("MMD2", y, d)
	var s MMDSettings
	if set != nil {
		s = *set
	}
	if s.MedianRows == 0 {
		s.MedianRows = DefaultMedianRows
	}
	if s.Bandwidth < 0 || math.IsNaN(s.Bandwidth) || math.IsInf(s.Bandwidth, 0) || s.MedianRows < 1 {
		return MMDResult{}, fmt.Errorf("metrics: MMD2: bandwidth %g must be finite and ≥ 0, median rows %d ≥ 1", s.Bandwidth, s.MedianRows)
	}
	if n < 2 || m < 2 {
		return MMDResult{}, fmt.Errorf("metrics: MMD2: need at least 2 rows in each set, got %d and %d", n, m)
	}
	if err := finite("MMD2", "x", x, d); err != nil {
		return MMDResult{}, err
	}
	if err := finite("MMD2", "y", y, d); err != nil {
		return MMDResult{}, err
	}
	bw := s.Bandwidth
	if bw == 0 {
		bw = medianDistance(x, y, d, s.MedianRows)
		if bw == 0 {
			return MMDResult{}, fmt.Errorf("metrics: MMD2: the median pairwise distance is 0 (mostly identical rows); give a bandwidth")
		}
	}
	g := -1 / (2 * bw * bw)
	kxx := kernelSum(x, x, d, g, true)
	kyy := kernelSum(y, y, d, g, true)
	kxy := kernelSum(x, y, d, g, false)
	fn, fm := float64(n), float64(m)
	mmd := kxx/(fn*(fn-1)) + kyy/(fm*(fm-1)) - 2*kxy/(fn*fm)
	return MMDResult{MMD2: mmd, Bandwidth: bw}, nil
}

// kernelSum returns Σ_{i,j} exp(g‖a_i − b_j‖²), skipping i = j when
// offDiag (a and b are then the same set, and each pair is counted twice
// from one evaluation).
func kernelSum[T Float](a, b []T, d int, g float64, offDiag bool) float64 {
	na, nb := len(a)/d, len(b)/d
	part := make([]float64, na) // per-row sums, added in order below
	parallel(na, func(i int) {
		ai := a[i*d : (i+1)*d]
		acc := 0.0
		start := 0
		if offDiag {
			start = i + 1
		}
		for j := start; j < nb; j++ {
			acc += math.Exp(g * sqDist(ai, b[j*d:(j+1)*d]))
		}
		if offDiag {
			acc *= 2
		}
		part[i] = acc
	})
	sum := 0.0
	for _, v := range part {
		sum += v
	}
	return sum
}

func sqDist[T Float](a, b []T) float64 {
	acc := 0.0
	for k, v := range a {
		r := float64(v) - float64(b[k])
		acc += r * r
	}
	return acc
}

// medianDistance returns the median Euclidean distance between distinct
// pairs of the pooled strided subsets of x and y.
func medianDistance[T Float](x, y []T, d, maxRows int) float64 {
	var pool [][]T
	for _, set := range [][]T{x, y} {
		n := len(set) / d
		k := min(n, maxRows)
		for i := range k {
			r := i * n / k
			pool = append(pool, set[r*d:(r+1)*d])
		}
	}
	dist := make([]float64, 0, len(pool)*(len(pool)-1)/2)
	for i := range pool {
		for j := i + 1; j < len(pool); j++ {
			dist = append(dist, math.Sqrt(sqDist(pool[i], pool[j])))
		}
	}
	slices.Sort(dist)
	h := len(dist) / 2
	if len(dist)%2 == 1 {
		return dist[h]
	}
	return (dist[h-1] + dist[h]) / 2
}
