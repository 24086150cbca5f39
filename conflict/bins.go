package conflict

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// Bins partitions timesteps 0..T−1 into K contiguous ranges; bin k is
// [Edges[k], Edges[k+1]).
type Bins struct {
	Edges []int // length K+1, Edges[0] = 0, Edges[K] = T, strictly increasing
}

// K returns the number of bins.
func (b Bins) K() int { return len(b.Edges) - 1 }

// T returns the number of timesteps covered.
func (b Bins) T() int { return b.Edges[len(b.Edges)-1] }

// Of returns the bin holding timestep t.
func (b Bins) Of(t int) int { return sort.SearchInts(b.Edges, t+1) - 1 }

// Range returns bin k's first timestep and one past its last.
func (b Bins) Range(k int) (lo, hi int) { return b.Edges[k], b.Edges[k+1] }

// Labels returns "lo-hi" (inclusive) for each bin, for tables and figures.
func (b Bins) Labels() []string {
	out := make([]string, b.K())
	for k := range out {
		out[k] = fmt.Sprintf("%d-%d", b.Edges[k], b.Edges[k+1]-1)
	}
	return out
}

// Centers returns the midpoint timestep of each bin.
func (b Bins) Centers() []float64 {
	out := make([]float64, b.K())
	for k := range out {
		out[k] = float64(b.Edges[k]+b.Edges[k+1]-1) / 2
	}
	return out
}

// EqualT splits 0..T−1 into K bins of near-equal width (weighting.BinEdges).
func EqualT(T, K int) (Bins, error) {
	if K < 1 || K > T {
		return Bins{}, fmt.Errorf("conflict: need 1 ≤ K ≤ T for %d bins over T=%d", K, T)
	}
	return Bins{Edges: weighting.BinEdges(T, K)}, nil
}

// EqualLogSNR splits the schedule's timesteps into K bins of equal width in
// log-SNR between logSNR(0) and logSNR(T−2) (the last step of a zero-terminal
// schedule has log-SNR −∞ and joins the last bin). Bins that would be empty
// on the discrete grid are an error.
func EqualLogSNR(s *diffusion.Schedule, K int) (Bins, error) {
	T := s.T()
	if K < 1 || K > T {
		return Bins{}, fmt.Errorf("conflict: need 1 ≤ K ≤ T for %d bins over T=%d", K, T)
	}
	hiL, loL := s.LogSNR(0), s.LogSNR(T-1)
	if math.IsInf(loL, -1) {
		loL = s.LogSNR(T - 2)
	}
	edges := []int{0}
	for k := 1; k < K; k++ {
		cut := hiL - (hiL-loL)*float64(k)/float64(K)
		// First t whose log-SNR is below the cut (log-SNR decreases in t).
		t := sort.Search(T, func(t int) bool { return s.LogSNR(t) < cut })
		if t <= edges[len(edges)-1] {
			return Bins{}, fmt.Errorf("conflict: %d equal log-SNR bins leave bin %d empty on T=%d timesteps; use fewer bins", K, k-1, T)
		}
		edges = append(edges, t)
	}
	edges = append(edges, T)
	if edges[K-1] >= T {
		return Bins{}, fmt.Errorf("conflict: %d equal log-SNR bins leave the last bin empty on T=%d timesteps", K, T)
	}
	return Bins{Edges: edges}, nil
}

// FromEdges checks and wraps explicit edges 0 = e0 < e1 < … < eK = T.
func FromEdges(T int, edges []int) (Bins, error) {
	if err := checkEdges(T, edges); err != nil {
		return Bins{}, fmt.Errorf("conflict: %w", err)
	}
	return Bins{Edges: append([]int(nil), edges...)}, nil
}

// checkEdges is FromEdges' check, its error without the package prefix.
func checkEdges(T int, edges []int) error {
	if len(edges) < 2 {
		return fmt.Errorf("bin edges need at least 2 values, got %d", len(edges))
	}
	if edges[0] != 0 || edges[len(edges)-1] != T {
		return fmt.Errorf("bin edges must start at 0 and end at T=%d, got %v", T, edges)
	}
	for i := 1; i < len(edges); i++ {
		if edges[i] <= edges[i-1] {
			return fmt.Errorf("bin edges must increase strictly, got %v", edges)
		}
	}
	return nil
}

// ParseBins reads a bin spec for a schedule: "t:K" (equal width in t),
// "logsnr:K" (equal width in log-SNR) or "edges:0,100,300,1000".
func ParseBins(spec string, s *diffusion.Schedule) (Bins, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "t", "logsnr":
		K, err := strconv.Atoi(arg)
		if err != nil {
			return Bins{}, fmt.Errorf("conflict: bins %q: %q is not a bin count", spec, arg)
		}
		if kind == "t" {
			return EqualT(s.T(), K)
		}
		return EqualLogSNR(s, K)
	case "edges":
		var edges []int
		for _, f := range strings.Split(arg, ",") {
			e, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return Bins{}, fmt.Errorf("conflict: bins %q: %q is not an integer edge", spec, f)
			}
			edges = append(edges, e)
		}
		return FromEdges(s.T(), edges)
	}
	return Bins{}, fmt.Errorf("conflict: unknown bins %q (want t:K, logsnr:K or edges:0,...,T)", spec)
}
