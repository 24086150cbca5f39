package solvers

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/floats"
)

// Method names an algorithm for min_{w∈Δ} wᵀ(G + λI)w.
type Method int

const (
	// FW is Frank-Wolfe as in MGDA: best-pair closed-form start, vertex
	// i = argmin_t ∇f(w)_t, exact line search on the segment [w, e_i],
	// O(K) per iteration. Sublinear (O(1/t)) when the optimum lies on a
	// proper face of the simplex.
	FW Method = iota + 1
	// AFW is away-step Frank-Wolfe (Guélat & Marcotte 1986; Lacoste-Julien
	// & Jaggi 2015): also steps away from the worst active vertex; linear
	// convergence on the simplex. Starts at the best vertex; O(K) per
	// iteration.
	AFW
	// PFW is pairwise Frank-Wolfe: moves weight from the worst active
	// vertex to the Frank-Wolfe vertex; linear convergence. Starts at the
	// best vertex; O(K) per iteration.
	PFW
	// PGD is projected gradient descent: w ← w + γ(Π_Δ(w − η∇f) − w) with
	// the sort-based projection onto the simplex (as in MGDA), a
	// Barzilai-Borwein η and exact line search for γ ∈ [0, 1]. O(K²) per
	// iteration.
	PGD
	// UGD is the paper's unconstrained gradient descent over softmax
	// logits (Eq. 12–13): w = softmax(β), β ← β − η·w ⊙ (∇f(w) − ⟨w, ∇f(w)⟩),
	// with a Barzilai-Borwein trial step and Armijo backtracking. O(K²) per
	// trial step.
	UGD
	// Exact is Wolfe's (1976) minimum-norm-point algorithm: an active-set
	// method that solves the problem restricted to a set of affinely
	// independent vertices exactly (a bordered KKT system) and stops when
	// the KKT conditions hold; the reference solver. O(K·|S| + |S|³) per
	// iteration, |S| the support size: meant for small K or small supports.
	Exact
	// TwoTask is the closed form for K = 2: w_1 = clip((H_22 − H_12)/(H_11 +
	// H_22 − 2H_12), 0, 1), H = G + λI.
	TwoTask
)

// Methods lists the methods that accept any K, in command-line order.
var Methods = []Method{FW, AFW, PFW, PGD, UGD, Exact}

var methodNames = map[Method]string{FW: "fw", AFW: "afw", PFW: "pfw", PGD: "pgd", UGD: "ugd", Exact: "exact", TwoTask: "two-task"}

// String returns the command-line name: fw, afw, pfw, pgd, ugd, exact or two-task.
func (m Method) String() string {
	if s, ok := methodNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ParseMethod parses a method's command-line name.
func ParseMethod(s string) (Method, error) {
	for m, name := range methodNames {
		if s == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("solvers: unknown method %q (want fw, afw, pfw, pgd, ugd, exact or two-task)", s)
}

// Status is why a solver stopped.
type Status int

const (
	// NotTerminated is the zero Status; Solve never returns it.
	NotTerminated Status = iota
	// Converged: the duality gap met the tolerance (gap ≤ Tol·f or
	// gap ≤ AbsTol·Scale), so f − f* ≤ gap.
	Converged
	// IterationLimit: Settings.MaxIter iterations were done first.
	IterationLimit
	// TimeLimit: Settings.MaxTime passed first.
	TimeLimit
	// Stalled: the method could make no more progress in float64 (a zero
	// step or a failed line search) before the gap met the tolerance; W is
	// the best point found and Gap still certifies it.
	Stalled
)

// String returns converged, iteration-limit, time-limit or stalled.
func (s Status) String() string {
	switch s {
	case NotTerminated:
		return "not-terminated"
	case Converged:
		return "converged"
	case IterationLimit:
		return "iteration-limit"
	case TimeLimit:
		return "time-limit"
	case Stalled:
		return "stalled"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Defaults of Settings.
const (
	// DefaultTol is the default relative gap tolerance: stop when
	// gap ≤ 1e-10·f(w), which bounds the relative error of f by 1e-10.
	DefaultTol = 1e-10
	// DefaultAbsTol is the default absolute gap tolerance in units of
	// Scale() = max_t H_tt: 1e-15 is the rounding level of (G + λI)w for a
	// point that puts O(1) weight on the largest task. It ends the run when
	// the optimum is 0 (Pareto-stationary tasks), where no relative
	// tolerance can be met.
	DefaultAbsTol = 1e-15
	// DefaultSupportTol is the weight above which a task counts as in the
	// support (Result.Support).
	DefaultSupportTol = 1e-8
)

// DefaultMaxIter returns the iteration cap that MaxIter = 0 means for a
// method: 100 000 for the O(K)-per-iteration Frank-Wolfe variants, 20 000
// for pgd and ugd, 1000 + 20·K for exact (its minor cycles), 1 for two-task.
func DefaultMaxIter(m Method, k int) int {
	switch m {
	case FW, AFW, PFW:
		return 100_000
	case PGD, UGD:
		return 20_000
	case Exact:
		return 1000 + 20*k
	}
	return 1
}

// Settings configures Solve. The zero value (or a nil *Settings) means the
// documented defaults.
type Settings struct {
	// Tol is the relative gap tolerance: stop when gap(w) ≤ Tol·f(w).
	// 0 means DefaultTol.
	Tol float64
	// AbsTol is the absolute gap tolerance in units of the problem's Scale()
	// (max_t G_tt + λ): stop when gap(w) ≤ AbsTol·Scale(). 0 means
	// DefaultAbsTol. Both tolerances are invariant to scaling G.
	AbsTol float64
	// MaxIter caps the iterations; reaching it is Status IterationLimit.
	// 0 means DefaultMaxIter(method, K).
	MaxIter int
	// MaxTime caps the wall time (checked every iteration); 0 means none.
	MaxTime time.Duration
	// W0 is the starting weighting (normalised to the simplex; ugd starts at
	// β = ln max(W0, 1e-8), since a logit at ln 0 could never move). nil
	// means the method's
	// default: the best pair for fw (as MGDA), the vertex with the least
	// G_tt + λ for afw and pfw, uniform weights for pgd and ugd. exact and
	// two-task ignore it.
	W0 []float64
	// Trace records the objective, gap and elapsed time at every iteration
	// in Result.Trace.
	Trace bool
}

// TracePoint is one iteration of a run.
type TracePoint struct {
	// Iter is the number of iterations done before this point (0 = start).
	Iter int
	// F is the objective f(w) and Gap the duality gap at the point.
	F, Gap float64
	// Elapsed is the time since Solve started.
	Elapsed time.Duration
}

// Result is the outcome of Solve.
type Result struct {
	// Method is the algorithm that ran.
	Method Method
	// W is the weighting found, on the simplex (K values, ≥ 0, sum 1).
	W []float64
	// F is f(W) = Wᵀ(G + λI)W, recomputed from W at the end.
	F float64
	// Gap is the duality gap at W, recomputed from W: F − f* ≤ Gap.
	Gap float64
	// Iterations is the number of iterations done (exact: minor cycles).
	Iterations int
	// Status is why the run stopped.
	Status Status
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Trace is the per-iteration record when Settings.Trace is set.
	Trace []TracePoint
}

// Support returns the number of weights above tol (DefaultSupportTol when
// tol ≤ 0).
func (r Result) Support(tol float64) int {
	if tol <= 0 {
		tol = DefaultSupportTol
	}
	n := 0
	for _, x := range r.W {
		if x > tol {
			n++
		}
	}
	return n
}

// String summarises the result on one line.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s after %d iterations, f=%.10g gap=%.3g support=%d", r.Method, r.Status, r.Iterations, r.F, r.Gap, r.Support(0))
	return b.String()
}

// Solve minimises wᵀ(G + λI)w over the simplex with the given method. It
// returns an error only for invalid settings (negative tolerances, a bad
// W0) or an unknown method, or for TwoTask with K ≠ 2; not converging is
// reported in Result.Status.
func Solve(p *pareto.Problem, m Method, s *Settings) (Result, error) {
	if p == nil {
		panic("solvers: nil problem")
	}
	var set Settings
	if s != nil {
		set = *s
	}
	if math.IsNaN(set.Tol) || set.Tol < 0 || math.IsNaN(set.AbsTol) || set.AbsTol < 0 {
		return Result{}, fmt.Errorf("solvers: tolerances must be ≥ 0, got Tol %v AbsTol %v", set.Tol, set.AbsTol)
	}
	if set.MaxIter < 0 {
		return Result{}, fmt.Errorf("solvers: MaxIter %d must be ≥ 0", set.MaxIter)
	}
	if set.MaxTime < 0 {
		return Result{}, fmt.Errorf("solvers: MaxTime %v must be ≥ 0", set.MaxTime)
	}
	if _, ok := methodNames[m]; !ok {
		return Result{}, fmt.Errorf("solvers: unknown method %d", int(m))
	}
	if m == TwoTask && p.K() != 2 {
		return Result{}, fmt.Errorf("solvers: the two-task closed form needs K = 2, got K = %d", p.K())
	}
	if set.Tol == 0 {
		set.Tol = DefaultTol
	}
	if set.AbsTol == 0 {
		set.AbsTol = DefaultAbsTol
	}
	if set.MaxIter == 0 {
		set.MaxIter = DefaultMaxIter(m, p.K())
	}
	var w0 []float64
	if set.W0 != nil {
		var err error
		if w0, err = p.Normalize(nil, set.W0); err != nil {
			return Result{}, fmt.Errorf("solvers: W0: %w", err)
		}
	}
	r := &run{p: p, k: p.K(), lam: p.Lambda(), set: set, w0: w0, scale: p.Scale(), start: time.Now()}
	r.res.Method = m
	switch m {
	case FW:
		r.frankWolfe()
	case AFW:
		r.awayFW()
	case PFW:
		r.pairwiseFW()
	case PGD:
		r.projectedGradient()
	case UGD:
		r.softmaxGradient()
	case Exact:
		r.wolfe()
	case TwoTask:
		r.twoTask()
	}
	r.finish()
	return r.res, nil
}

// run is the state shared by the methods.
type run struct {
	p     *pareto.Problem
	k     int
	lam   float64
	set   Settings
	w0    []float64 // w0 is (K) or nil: the normalised starting point
	scale float64   // max_t H_tt
	start time.Time
	res   Result
}

// converged is the stopping rule shared by every method.
func (r *run) converged(f, gap float64) bool {
	return gap <= r.set.Tol*f || gap <= r.set.AbsTol*r.scale
}

// limit reports whether the iteration or time cap is reached before
// iteration iter, setting the status.
func (r *run) limit(iter int) bool {
	if iter >= r.set.MaxIter {
		r.res.Status = IterationLimit
		return true
	}
	if r.set.MaxTime > 0 && time.Since(r.start) > r.set.MaxTime {
		r.res.Status = TimeLimit
		return true
	}
	return false
}

// record appends a trace point when tracing.
func (r *run) record(iter int, f, gap float64) {
	r.res.Iterations = iter
	if r.set.Trace {
		r.res.Trace = append(r.res.Trace, TracePoint{Iter: iter, F: f, Gap: gap, Elapsed: time.Since(r.start)})
	}
}

// finish projects W onto the simplex (clearing rounding), recomputes F and
// Gap from W, and stamps the elapsed time.
func (r *run) finish() {
	w := r.res.W
	sum := 0.0
	for i, x := range w {
		if !(x > 0) { // negative rounding or NaN
			w[i] = 0
		}
		sum += w[i]
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		// Cannot happen for a valid problem; keep the simplex invariant anyway.
		for i := range w {
			w[i] = 1 / float64(r.k)
		}
		sum = 1
	}
	floats.Scale(1/sum, w)
	v := r.mulVec(nil, w)
	r.res.F = floats.Dot(w, v)
	r.res.Gap = 2 * (r.res.F - floats.Min(v))
	if r.res.Gap < 0 {
		r.res.Gap = 0
	}
	r.res.Elapsed = time.Since(r.start)
	if r.res.Status == NotTerminated {
		r.res.Status = Converged
	}
}

// h returns (G + λI)_ij.
func (r *run) h(i, j int) float64 {
	x := r.p.At(i, j)
	if i == j {
		x += r.lam
	}
	return x
}

// mulVec sets v = Hw, allocating v when nil. When at most half of w is
// nonzero (the Frank-Wolfe variants and exact keep w sparse) it sums the
// columns of the support, O(K·|supp w|), instead of O(K²).
func (r *run) mulVec(v, w []float64) []float64 {
	nnz := 0
	for _, x := range w {
		if x != 0 {
			nnz++
		}
	}
	if 2*nnz > r.k {
		return r.p.MulVec(v, w)
	}
	if v == nil {
		v = make([]float64, r.k)
	}
	clear(v)
	for t, x := range w {
		if x != 0 {
			r.axpyCol(v, x, t)
		}
	}
	return v
}

// axpyCol sets v += a·H[:,i] (H symmetric, so the column is row i).
func (r *run) axpyCol(v []float64, a float64, i int) {
	floats.AddScaled(v, a, r.p.Row(i))
	v[i] += a * r.lam
}

// pairMin is the closed-form minimum of f over the segment between
// vertices i and j (weight gamma on i): with a = H_ii, b = H_ij, c = H_jj,
// f(γ) = γ²a + 2γ(1−γ)b + (1−γ)²c is least at γ = (c − b)/(a + c − 2b),
// clipped to [0, 1]. Equal points (a + c − 2b ≤ 0) give γ = 1/2.
func pairMin(a, b, c float64) (gamma, f float64) {
	den := a + c - 2*b
	switch {
	case !(den > 0):
		gamma = 0.5
	case c-b <= 0:
		gamma = 0
	case a-b <= 0:
		gamma = 1
	default:
		gamma = math.Min(1, (c-b)/den)
	}
	// Evaluate in the form that keeps rounding relative to the smaller end.
	f = gamma*gamma*a + 2*gamma*(1-gamma)*b + (1-gamma)*(1-gamma)*c
	return gamma, f
}

// twoTask is the closed form for K = 2.
func (r *run) twoTask() {
	g, f := pairMin(r.h(0, 0), r.h(0, 1), r.h(1, 1))
	r.res.W = []float64{g, 1 - g}
	gap, _ := r.p.Gap(r.res.W)
	r.record(0, f, gap)
	r.res.Status = Converged
}
