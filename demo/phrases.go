package demo

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/prose"
	"gonum.org/v1/gonum/floats"
)

// binName is bin k's timesteps, "0–124".
func (r *Result) binName(k int) string {
	if k < 0 || k >= r.Bins.K() {
		return "(none)"
	}
	lo, hi := r.Bins.Range(k)
	return fmt.Sprintf("%d–%d", lo, hi-1)
}

// binNames are every bin's binName.
func (r *Result) binNames() []string {
	out := make([]string, r.Bins.K())
	for k := range out {
		out[k] = r.binName(k)
	}
	return out
}

// binStarts are the bins' first timesteps, "t ≥ lo", for column headers.
func (r *Result) binStarts() []string {
	out := make([]string, r.Bins.K())
	for k := range out {
		lo, _ := r.Bins.Range(k)
		out[k] = fmt.Sprint(lo)
	}
	return out
}

// closedRank ranks the closed forms by a key (lower is better): it returns
// the 1-based rank of a name, how many closed forms there are, and the
// best one's name with its value.
func (r *Result) closedRank(key func(Weighting) float64) (rank func(string) int, n int, best string) {
	var cs []Weighting
	for _, w := range r.Weightings {
		if !w.Pareto {
			cs = append(cs, w)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return key(cs[i]) < key(cs[j]) })
	rank = func(name string) int {
		for i, w := range cs {
			if w.Name == name {
				return i + 1
			}
		}
		return 0
	}
	if len(cs) > 0 {
		best = fmt.Sprintf("%s at %s×", cs[0].Name, prose.F3(key(cs[0])))
	}
	return rank, len(cs), best
}

// rankPhrase says where a closed form ranks among the closed forms by a
// key (lower is better): "the best of the 4 closed forms (next: snr at
// 1.2×)" or "3rd of the 4 closed forms (best: snr at 1.2×)".
func (r *Result) rankPhrase(name string, key func(Weighting) float64) string {
	rank, n, best := r.closedRank(key)
	if rank(name) == 1 {
		next := ""
		for _, w := range r.Weightings {
			if !w.Pareto && rank(w.Name) == 2 {
				next = fmt.Sprintf(" (next: %s at %s×)", w.Name, prose.F3(key(w)))
			}
		}
		return fmt.Sprintf("the best of the %d closed forms%s", n, next)
	}
	return fmt.Sprintf("%s of the %d closed forms (best: %s)", prose.Ordinal(rank(name)), n, best)
}

// closestPhrase says where a closed form ranks by distance to the Pareto
// weights with λ.
func (r *Result) closestPhrase(name string) string {
	rank, n, _ := r.closedRank(func(w Weighting) float64 { return w.TV })
	w := r.Weighting(name)
	var closest Weighting
	for _, c := range r.Weightings {
		if !c.Pareto && rank(c.Name) == 1 {
			closest = c
		}
	}
	if rank(name) == 1 {
		return fmt.Sprintf("the closest of the %d closed forms (distance %s)", n, prose.F3(w.TV))
	}
	return fmt.Sprintf("the %s closest of %d (distance %s; closest: %s at %s)", prose.Ordinal(rank(name)), n, prose.F3(w.TV), closest.Name, prose.F3(closest.TV))
}

// mostNegative returns the bin pair of the smallest off-diagonal cosine
// (−1, −1 if none is defined).
func mostNegative(rec conflict.Record) (int, int) {
	bi, bj, best := -1, -1, math.Inf(1)
	if rec.Cosine == nil {
		return bi, bj
	}
	K := rec.Cosine.SymmetricDim()
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			if v := rec.Cosine.At(i, j); v < best {
				bi, bj, best = i, j, v
			}
		}
	}
	return bi, bj
}

// effectiveBins is 1/Σw²: the number of equal weights with the same sum
// of squares.
func effectiveBins(w []float64) float64 { return 1 / floats.Dot(w, w) }

// countAbove is the number of weights above thr.
func countAbove(w []float64, thr float64) int {
	return floats.Count(func(v float64) bool { return v > thr }, w)
}

// fmtWeights writes weights with 3 decimals.
func fmtWeights(w []float64) string {
	parts := make([]string, len(w))
	for i, v := range w {
		parts[i] = fmt.Sprintf("%.3f", v)
	}
	return strings.Join(parts, ", ")
}
