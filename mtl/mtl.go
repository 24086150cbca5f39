package mtl

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/floats"
)

// Aggregator is a multi-task weighting that acts on the Gram matrix alone:
// from the K×K Gram G of a pareto.Problem (the normalised one, λ left out)
// it returns the coefficients w of the combined direction d = Σ_k w_k g_k
// with its certificate. Stateless methods return the same result for the
// same problem; GradVac keeps its EMA targets between calls (Stateful), and
// PCGrad and GradVac project in call n's random orders of their seed
// (Sequenced). An Aggregator is not safe for concurrent use.
type Aggregator interface {
	// Name is the method's command-line name, such as "upgrad".
	Name() string
	// Aggregate computes the weights for the problem's tasks. Bad input (a
	// problem the method cannot handle, such as GradVac's K changing) is an
	// error; a nil problem is a programmer error (panic).
	Aggregate(p *pareto.Problem) (Result, error)
}

// Stateful is an Aggregator with state carried from call to call
// (GradVac's EMA targets), which it saves and restores exactly, so that a
// resumed training run continues as the uninterrupted one (package
// conflict keeps it in the checkpoint's pass state). The call index of a
// Sequenced method is not part of the state.
type Stateful interface {
	Aggregator
	// State returns the complete state as JSON that SetState reads back
	// exactly.
	State() json.RawMessage
	// SetState sets the state to one State returned; malformed state is
	// an error.
	SetState(json.RawMessage) error
}

// TaskSubset is a Stateful aggregator whose state belongs to its K tasks
// (GradVac's target cosine of every pair), which can weigh a problem over
// some of them: in AggregateTasks, p's task i is task tasks[i] of k
// (increasing indices in [0, k)), and the state of the absent tasks is
// kept — so a task missing from a step (package conflict: an empty bin)
// neither moves its state nor gets a weight, since the result has p's
// tasks only. Aggregate is AggregateTasks over all of p's tasks.
type TaskSubset interface {
	Stateful
	AggregateTasks(p *pareto.Problem, tasks []int, k int) (Result, error)
}

// Result is one method's weighting of the K tasks of a problem, with the
// certificate that lets methods be compared on equal terms.
type Result struct {
	// Method is the method's name.
	Method string
	// W holds the coefficients of the combined direction d = Σ_k W_k g_k on
	// the problem's (normalised) task gradients, at the method's own scale.
	W []float64
	// Inner holds (GW)_k = ⟨d, g_k⟩ for every task: the Eq. 8 check of the
	// step −d (the change of L_k along −d is −Inner_k to first order).
	Inner []float64
	// MinInner is min_k Inner_k and Worst its task: d conflicts with a
	// task exactly when MinInner < 0.
	MinInner float64
	Worst    int
	// NormSq is ‖d‖² = WᵀGW and Norm its square root.
	NormSq, Norm float64
	// Normalized is W/ΣW (nil when ΣW ≤ 0): the same direction at the
	// solvers' scale, Σ = 1. OnSimplex reports that it is also ≥ 0 (after
	// clearing entries within rounding of 0), i.e. a point of the simplex
	// Δ of Eq. 11.
	Normalized []float64
	OnSimplex  bool
	// Objective is the paper's Eq. 11 objective f = Nᵀ(G + λI)N of
	// N = Normalized (pareto.Problem.Objective, with the problem's λ), and
	// Gap its Frank-Wolfe duality gap (pareto.Problem.Gap): Objective − f*
	// ≤ Gap. Both are NaN when Normalized is nil; Gap is NaN, and
	// Objective not comparable with f*, when OnSimplex is false.
	Objective, Gap float64
	// Iterations counts the method's iterations (0 for closed forms) and
	// Status says how it ended, in package solvers' words where they fit:
	// "closed-form", "converged", "iteration-limit" (Config.MaxIter came
	// first: a cap is a status, not an error, and the certificate above is
	// of the weights returned), "stalled" (no progress in float64),
	// "no-fixed-point" (Nash-MTL), "degenerate" or a solver's status.
	Iterations int
	Status     string
	// Trace is a solver's per-iteration record when Config.Solver.Trace is
	// set (nil for the aggregators).
	Trace []solvers.TracePoint
}

// ConflictRatio returns MinInner/NormSq, min_k ⟨d, g_k⟩/‖d‖²: 1 for a
// direction that helps every task as much as its own length (MGDA's
// optimum at λ = 0 has ratio ≥ 1, Theorem 1), negative when d conflicts
// with a task, NaN when d = 0.
func (r Result) ConflictRatio() float64 {
	if !(r.NormSq > 0) {
		return math.NaN()
	}
	return r.MinInner / r.NormSq
}

// String summarises the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%s: %s, w=%.4g ‖d‖=%.4g min_k⟨d,g_k⟩=%.4g f=%.6g", r.Method, r.Status, r.W, r.Norm, r.MinInner, r.Objective)
}

// simplexTol is the relative size, against max_k |w_k|, below which a
// negative weight is rounding and Evaluate clears it in Normalized.
const simplexTol = 1e-12

// Evaluate returns the certificate of an arbitrary weighting w of the
// problem's tasks (K values, any sign): Inner = Gw, ‖d‖, Normalized,
// Eq. 11's Objective and Gap. The Aggregators end with it, and closed-form
// weightings are compared with them through it. method names the row;
// Status is "given" and Iterations 0 (an Aggregator overwrites them). It
// returns an error for a wrong length or non-finite weights.
func Evaluate(p *pareto.Problem, method string, w []float64) (Result, error) {
	if len(w) != p.K() {
		return Result{}, fmt.Errorf("mtl: %s: got %d weights for %d tasks", method, len(w), p.K())
	}
	for k, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Result{}, fmt.Errorf("mtl: %s: weight %d is %v", method, k, x)
		}
	}
	r := Result{Method: method, W: append([]float64(nil), w...), Status: "given", Objective: math.NaN(), Gap: math.NaN()}
	r.Inner = gramMul(p, r.W)
	r.Worst = floats.MinIdx(r.Inner)
	r.MinInner = r.Inner[r.Worst]
	r.NormSq = math.Max(0, floats.Dot(r.W, r.Inner)) // ≥ 0 up to rounding (G is PSD)
	r.Norm = math.Sqrt(r.NormSq)
	sum := floats.Sum(r.W)
	if !(sum > 0) {
		return r, nil
	}
	r.Normalized = make([]float64, len(w))
	cut := simplexTol * floats.Norm(r.W, math.Inf(1))
	r.OnSimplex = true
	for k, x := range r.W {
		r.Normalized[k] = x / sum
		switch {
		case x < -cut:
			r.OnSimplex = false
		case x < 0:
			r.Normalized[k] = 0
		}
	}
	if r.OnSimplex {
		s := floats.Sum(r.Normalized)
		floats.Scale(1/s, r.Normalized)
		r.Gap, _ = p.Gap(r.Normalized)
		r.Gap = math.Max(0, r.Gap)
	}
	r.Objective = p.Objective(r.Normalized)
	return r, nil
}

// gramMul returns Gw (without λ) for the problem's normalised Gram.
func gramMul(p *pareto.Problem, w []float64) []float64 {
	out := make([]float64, p.K())
	for i := range out {
		out[i] = floats.Dot(p.Row(i), w)
	}
	return out
}

// finish evaluates w as method's result with its iterations and status.
func finish(p *pareto.Problem, method string, w []float64, iters int, status string) (Result, error) {
	r, err := Evaluate(p, method, w)
	if err != nil {
		return Result{}, err
	}
	r.Iterations, r.Status = iters, status
	return r, nil
}

// gramOf copies the problem's normalised Gram into a row-major K×K slice.
func gramOf(p *pareto.Problem) []float64 {
	k := p.K()
	g := make([]float64, k*k)
	for i := range k {
		copy(g[i*k:(i+1)*k], p.Row(i))
	}
	return g
}

// uniform returns the K weights 1/K.
func uniform(k int) []float64 {
	w := make([]float64, k)
	for i := range w {
		w[i] = 1 / float64(k)
	}
	return w
}
