package weighting

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Bins partitions the timesteps 0..T−1 into K contiguous ranges; bin k is
// [Edges[k], Edges[k+1]). It is the one type of timestep bins in the
// toolkit: the tasks of the Pareto view, the strata of the Stratified
// density, the groups of a probe batch and of an online weighting.
//
// Build Bins with EqualT, EqualLogSNR, FromEdges or ParseBins, which check
// that 0 = Edges[0] < Edges[1] < … < Edges[K] = T.
type Bins struct {
	Edges []int // length K+1, Edges[0] = 0, Edges[K] = T, strictly increasing
}

// BinsHelp describes the specs ParseBins reads, for command help.
const BinsHelp = `t:K (K bins of equal width in t), logsnr:K (equal width in log-SNR; a bin the grid would leave empty holds one timestep) or edges:0,e1,...,T`

// K returns the number of bins.
func (b Bins) K() int { return len(b.Edges) - 1 }

// T returns the number of timesteps covered.
func (b Bins) T() int { return b.Edges[len(b.Edges)-1] }

// Of returns the bin holding timestep t.
func (b Bins) Of(t int) int { return sort.SearchInts(b.Edges, t+1) - 1 }

// Range returns bin k's first timestep and one past its last.
func (b Bins) Range(k int) (lo, hi int) { return b.Edges[k], b.Edges[k+1] }

// Equal reports whether two partitions have the same edges.
func (b Bins) Equal(o Bins) bool {
	if len(b.Edges) != len(o.Edges) {
		return false
	}
	for i, e := range b.Edges {
		if o.Edges[i] != e {
			return false
		}
	}
	return true
}

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

// String returns the "edges:…" spec of the partition, which ParseBins
// reads back.
func (b Bins) String() string {
	parts := make([]string, len(b.Edges))
	for i, e := range b.Edges {
		parts[i] = strconv.Itoa(e)
	}
	return "edges:" + strings.Join(parts, ",")
}

// equalEdges returns the K+1 edges ⌊k·T/K⌋, k = 0..K (1 ≤ K ≤ T).
func equalEdges(T, K int) []int {
	e := make([]int, K+1)
	for k := range e {
		e[k] = k * T / K
	}
	return e
}

// EqualT splits 0..T−1 into K bins of near-equal width: the edges are
// ⌊k·T/K⌋, k = 0..K, the strata of Stratified{T, K}.
func EqualT(T, K int) (Bins, error) {
	if K < 1 || K > T {
		return Bins{}, fmt.Errorf("weighting: need 1 ≤ K ≤ T for %d bins over T=%d", K, T)
	}
	return Bins{Edges: equalEdges(T, K)}, nil
}

// MustEqualT is EqualT that panics on error, for sizes fixed in code.
func MustEqualT(T, K int) Bins {
	b, err := EqualT(T, K)
	if err != nil {
		panic(err)
	}
	return b
}

// EqualLogSNR splits the T = len(logSNR) timesteps of a schedule, whose
// log-SNR per timestep decreases, into K bins of equal width in log-SNR
// between logSNR[0] and logSNR[T−2] (the last step of a zero-terminal
// schedule has log-SNR −∞ and joins the last bin): each interior edge is
// the first timestep whose log-SNR is below its cut. Where the discrete
// grid leaves a bin empty — the tail of a schedule, where consecutive
// timesteps lie far apart in log-SNR (cosine at T = 1000 drops from −12.9
// at t = 998 to −19.8 at t = 999) — the bin takes one timestep and the
// edges after it move on (and, at the end, back), so that every bin holds
// at least one timestep; no edge moves where no bin is empty.
func EqualLogSNR(logSNR []float64, K int) (Bins, error) {
	T := len(logSNR)
	if K < 1 || K > T {
		return Bins{}, fmt.Errorf("weighting: need 1 ≤ K ≤ T for %d bins over T=%d", K, T)
	}
	hiL, loL := logSNR[0], logSNR[T-1]
	if math.IsInf(loL, -1) {
		loL = logSNR[T-2]
	}
	edges := make([]int, K+1)
	edges[K] = T
	for k := 1; k < K; k++ {
		cut := hiL - (hiL-loL)*float64(k)/float64(K)
		// First t whose log-SNR is below the cut (log-SNR decreases in t),
		// at least one past the previous edge.
		t := sort.Search(T, func(t int) bool { return logSNR[t] < cut })
		edges[k] = max(t, edges[k-1]+1)
	}
	for k := K - 1; k >= 1; k-- {
		edges[k] = min(edges[k], edges[k+1]-1)
	}
	return Bins{Edges: edges}, nil
}

// FromEdges checks and wraps explicit edges 0 = e0 < e1 < … < eK = T.
func FromEdges(T int, edges []int) (Bins, error) {
	if len(edges) < 2 {
		return Bins{}, fmt.Errorf("weighting: bin edges need at least 2 values, got %d", len(edges))
	}
	if edges[0] != 0 || edges[len(edges)-1] != T {
		return Bins{}, fmt.Errorf("weighting: bin edges must start at 0 and end at T=%d, got %v", T, edges)
	}
	for i := 1; i < len(edges); i++ {
		if edges[i] <= edges[i-1] {
			return Bins{}, fmt.Errorf("weighting: bin edges must increase strictly, got %v", edges)
		}
	}
	return Bins{Edges: append([]int(nil), edges...)}, nil
}

// BinsSpec is a parsed bin spec (BinsHelp) not yet applied to a schedule:
// its kind ("t", "logsnr" or "edges"), K for the first two and the edges
// for the last.
type BinsSpec struct {
	Kind  string
	K     int
	Edges []int
}

// ParseBinsSpec reads a bin spec (BinsHelp) without a schedule, checking
// its syntax; BinsSpec.Bins applies it to one.
func ParseBinsSpec(spec string) (BinsSpec, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(spec), ":")
	switch kind {
	case "t", "logsnr":
		K, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil || K < 1 {
			return BinsSpec{}, fmt.Errorf("weighting: bins %q: %q is not a bin count ≥ 1", spec, arg)
		}
		return BinsSpec{Kind: kind, K: K}, nil
	case "edges":
		var edges []int
		for _, f := range strings.Split(arg, ",") {
			e, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return BinsSpec{}, fmt.Errorf("weighting: bins %q: %q is not an integer edge", spec, f)
			}
			edges = append(edges, e)
		}
		return BinsSpec{Kind: kind, K: len(edges) - 1, Edges: edges}, nil
	}
	return BinsSpec{}, fmt.Errorf("weighting: unknown bins %q (want %s)", spec, BinsHelp)
}

// String returns the canonical spec ("t:8", "logsnr:8", "edges:0,100,1000").
func (s BinsSpec) String() string {
	if s.Kind == "edges" {
		return Bins{Edges: s.Edges}.String()
	}
	return s.Kind + ":" + strconv.Itoa(s.K)
}

// Bins applies the spec to a schedule of T = len(logSNR) timesteps whose
// log-SNR per timestep is logSNR (read by logsnr:K only).
func (s BinsSpec) Bins(logSNR []float64) (Bins, error) {
	T := len(logSNR)
	switch s.Kind {
	case "t":
		return EqualT(T, s.K)
	case "logsnr":
		return EqualLogSNR(logSNR, s.K)
	case "edges":
		return FromEdges(T, s.Edges)
	}
	return Bins{}, fmt.Errorf("weighting: unknown bins kind %q", s.Kind)
}

// ParseBins reads a bin spec (BinsHelp) for a schedule of T = len(logSNR)
// timesteps with the given log-SNR per timestep.
func ParseBins(spec string, logSNR []float64) (Bins, error) {
	s, err := ParseBinsSpec(spec)
	if err != nil {
		return Bins{}, err
	}
	return s.Bins(logSNR)
}
