package solvers

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// The Frank-Wolfe family keeps v = Hw (H = G + λI) up to date in O(K) per
// iteration: every step moves w along a direction with at most two nonzero
// vertex components, so v changes by a combination of at most two columns
// of H. v is recomputed from w every max(K, 32) iterations (amortised O(K))
// and before a convergence claim, so rounding cannot accumulate.

// refreshEvery is the period of the exact recomputation of v.
func (r *run) refreshEvery() int { return max(r.k, 32) }

// fwStart returns the starting point of the Frank-Wolfe family and v = Hw:
// W0 if given; otherwise, when pair is set, the best pair of vertices with
// its closed-form weights (as MGDA does; O(K²)), else the vertex with the
// least H_tt (O(K)).
func (r *run) fwStart(pair bool) (w, v []float64) {
	w = make([]float64, r.k) // w is (K)
	v = make([]float64, r.k) // v is (K): Hw
	if r.w0 != nil {
		copy(w, r.w0)
		r.mulVec(v, w)
		return w, v
	}
	if !pair {
		s := r.bestVertex()
		w[s] = 1
		r.axpyCol(v, 1, s)
		return w, v
	}
	i, j, g := r.bestPair()
	w[i] += g
	w[j] += 1 - g
	r.axpyCol(v, g, i)
	r.axpyCol(v, 1-g, j)
	return w, v
}

// bestVertex returns argmin_t H_tt, the vertex with the least objective.
func (r *run) bestVertex() int {
	best := 0
	for t := 1; t < r.k; t++ {
		if r.h(t, t) < r.h(best, best) {
			best = t
		}
	}
	return best
}

// bestPair returns the pair of vertices (i < j, or i = j = 0 when K = 1)
// whose segment holds the lowest objective, and the weight γ on i.
func (r *run) bestPair() (i, j int, gamma float64) {
	if r.k == 1 {
		return 0, 0, 1
	}
	diag := make([]float64, r.k) // diag is (K): H_tt
	for t := range diag {
		diag[t] = r.h(t, t)
	}
	best := math.Inf(1)
	for a := range r.k {
		row := r.p.Row(a)
		for b := a + 1; b < r.k; b++ {
			g, f := pairMin(diag[a], row[b], diag[b])
			if f < best {
				best, i, j, gamma = f, a, b, g
			}
		}
	}
	return i, j, gamma
}

// refresh recomputes v = Hw after renormalising w to the simplex.
func (r *run) refresh(w, v []float64) {
	if s := floats.Sum(w); s > 0 {
		floats.Scale(1/s, w)
	}
	r.mulVec(v, w)
}

// fwState returns f = wᵀv, the Frank-Wolfe vertex s = argmin v and the gap.
func fwState(w, v []float64) (f float64, s int, gap float64) {
	f = floats.Dot(w, v)
	s = floats.MinIdx(v)
	return f, s, 2 * (f - v[s])
}

// check evaluates the stopping rule at iteration iter, refreshing v first
// if it is stale and the rule would fire. It returns the state and whether
// to stop.
func (r *run) check(iter int, w, v []float64, stale *int) (f float64, s int, gap float64, stop bool) {
	f, s, gap = fwState(w, v)
	if *stale > 0 && (r.converged(f, gap) || *stale >= r.refreshEvery()) {
		r.refresh(w, v)
		*stale = 0
		f, s, gap = fwState(w, v)
	}
	r.record(iter, f, gap)
	if r.converged(f, gap) {
		r.res.Status = Converged
		return f, s, gap, true
	}
	return f, s, gap, r.limit(iter)
}

// frankWolfe is MGDA's Frank-Wolfe with exact line search.
func (r *run) frankWolfe() {
	w, v := r.fwStart(true)
	r.res.W = w
	stale := 0
	for iter := 0; ; iter++ {
		f, s, _, stop := r.check(iter, w, v, &stale)
		if stop {
			return
		}
		// f(w + γ(e_s − w)) = f + 2γ(v_s − f) + γ²(H_ss − 2v_s + f).
		num := f - v[s]
		den := r.h(s, s) - 2*v[s] + f
		gamma := 1.0
		if den > num {
			gamma = num / den
		}
		if !(gamma > 0) {
			r.res.Status = Stalled
			return
		}
		if gamma == 1 {
			clear(w)
			w[s] = 1
			clear(v)
			r.axpyCol(v, 1, s)
			stale = 0
			continue
		}
		floats.Scale(1-gamma, w)
		w[s] += gamma
		floats.Scale(1-gamma, v)
		r.axpyCol(v, gamma, s)
		stale++
	}
}

// activeSet is the set of vertices with positive weight, with O(1)
// insertion and removal.
type activeSet struct {
	list []int // list holds the active vertices in no order
	pos  []int // pos is (K): index of t in list, or -1
}

func newActiveSet(w []float64) *activeSet {
	a := &activeSet{pos: make([]int, len(w))}
	for t, x := range w {
		a.pos[t] = -1
		if x > 0 {
			a.add(t)
		}
	}
	return a
}

func (a *activeSet) add(t int) {
	if a.pos[t] < 0 {
		a.pos[t] = len(a.list)
		a.list = append(a.list, t)
	}
}

func (a *activeSet) remove(t int) {
	i := a.pos[t]
	if i < 0 {
		return
	}
	last := a.list[len(a.list)-1]
	a.list[i] = last
	a.pos[last] = i
	a.list = a.list[:len(a.list)-1]
	a.pos[t] = -1
}

func (a *activeSet) reset(t int) {
	for _, u := range a.list {
		a.pos[u] = -1
	}
	a.list = a.list[:0]
	a.add(t)
}

// away returns the active vertex with the largest v (the away vertex).
func (a *activeSet) away(v []float64) int {
	best := a.list[0]
	for _, t := range a.list[1:] {
		if v[t] > v[best] || (v[t] == v[best] && t < best) {
			best = t
		}
	}
	return best
}

// awayFW is away-step Frank-Wolfe with exact line search.
func (r *run) awayFW() {
	w, v := r.fwStart(false)
	r.res.W = w
	act := newActiveSet(w)
	stale := 0
	for iter := 0; ; iter++ {
		f, s, _, stop := r.check(iter, w, v, &stale)
		if stop {
			return
		}
		a := act.away(v)
		gFW, gA := f-v[s], v[a]-f
		if gFW >= gA {
			// Toward step: d = e_s − w, γ ∈ [0, 1].
			den := r.h(s, s) - 2*v[s] + f
			gamma := 1.0
			if den > gFW {
				gamma = gFW / den
			}
			if !(gamma > 0) {
				r.res.Status = Stalled
				return
			}
			if gamma == 1 {
				clear(w)
				w[s] = 1
				clear(v)
				r.axpyCol(v, 1, s)
				act.reset(s)
				stale = 0
				continue
			}
			floats.Scale(1-gamma, w)
			w[s] += gamma
			floats.Scale(1-gamma, v)
			r.axpyCol(v, gamma, s)
			act.add(s)
		} else {
			// Away step: d = w − e_a, γ ∈ [0, w_a/(1 − w_a)].
			wa := w[a]
			gmax := wa / (1 - wa)
			den := f - 2*v[a] + r.h(a, a)
			gamma := gmax
			if den > 0 && gA/den < gmax {
				gamma = gA / den
			}
			if !(gamma > 0) || math.IsInf(gamma, 0) {
				r.res.Status = Stalled
				return
			}
			floats.Scale(1+gamma, w)
			w[a] -= gamma
			floats.Scale(1+gamma, v)
			r.axpyCol(v, -gamma, a)
			if gamma == gmax || w[a] <= 0 { // drop step
				w[a] = 0
				act.remove(a)
			}
		}
		stale++
	}
}

// pairwiseFW is pairwise Frank-Wolfe with exact line search.
func (r *run) pairwiseFW() {
	w, v := r.fwStart(false)
	r.res.W = w
	act := newActiveSet(w)
	stale := 0
	for iter := 0; ; iter++ {
		_, s, _, stop := r.check(iter, w, v, &stale)
		if stop {
			return
		}
		a := act.away(v)
		// d = e_s − e_a: f changes by 2γ(v_s − v_a) + γ²(H_ss − 2H_sa + H_aa).
		num := v[a] - v[s]
		den := r.h(s, s) - 2*r.h(s, a) + r.h(a, a)
		gamma := w[a]
		if den > 0 && num/den < gamma {
			gamma = num / den
		}
		if s == a || !(gamma > 0) {
			r.res.Status = Stalled
			return
		}
		drop := gamma == w[a]
		w[s] += gamma
		w[a] -= gamma
		if drop || w[a] <= 0 {
			w[a] = 0
			act.remove(a)
		}
		act.add(s)
		r.axpyCol(v, gamma, s)
		r.axpyCol(v, -gamma, a)
		stale++
	}
}
