package mtl

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/floats"
)

// gradvac is Gradient Vaccine (Wang et al. 2021, "Gradient Vaccine:
// Investigating and Improving Multi-task Optimization in Massively
// Multilingual Models", ICLR, Alg. 1), which generalises PCGrad's
// projection to a target similarity learned over training: for every pair
// it keeps an EMA target cosine φ̂_ij (starting at 0) and, at each call,
//
//	g_i' ← g_i;  for j ≠ i in random order:
//	    φ_ij = cos(g_i', g_j)
//	    if φ_ij < φ̂_ij:
//	        g_i' ← g_i' + ‖g_i'‖·(φ̂_ij·√(1−φ_ij²) − φ_ij·√(1−φ̂_ij²)) / (‖g_j‖·√(1−φ̂_ij²))·g_j
//	    φ̂_ij ← (1 − β)·φ̂_ij + β·φ_ij
//	d = Σ_i g_i'.
//
// The update sets cos(g_i', g_j) to φ̂_ij exactly. With φ̂ = 0 (the first
// call) it is PCGrad's projection. Gram form as PCGrad's: coefficients c of
// g_i' in the span, Gc and ‖g_i'‖² = cᵀGc updated in O(K) per pair. A pair
// with a zero gradient, or with φ̂_ij = ±1 (no room to move), is skipped;
// its target still follows the EMA when φ_ij is defined.
//
// State: φ̂ (K×K) across calls, so K must not change between calls (an
// error); State and SetState save and restore it (Stateful). A call may
// weigh some of the K tasks (AggregateTasks, TaskSubset): the others' pairs
// keep their targets. The orders
// are call n's of Config.Seed (order.go; Sequenced). The paper applies it
// per layer and per language pair; here the tasks are the Gram's.
// Hyper-parameters: Config.Beta (β, default 0.01), Config.Seed (the
// orders).
type gradvac struct {
	beta   float64
	orders orderSeq
	target []float64 // target is (K, K): φ̂_ij, nil before the first call
	k      int
}

func newGradVac(c Config) *gradvac { return &gradvac{beta: c.Beta, orders: orderSeq{seed: c.Seed}} }

func (*gradvac) Name() string { return "gradvac" }

// SetCall sets the index of the next call's orders (Sequenced).
func (a *gradvac) SetCall(n uint64) { a.orders.call = n }

// gradvacState is what State writes: JSON numbers round-trip float64
// exactly, and the targets are finite (EMAs of cosines in [−1, 1]).
type gradvacState struct {
	K      int       `json:"k"`
	Target []float64 `json:"target"`
}

// State returns the EMA targets φ̂ as JSON (Stateful): {"k":0} before
// the first call.
func (a *gradvac) State() json.RawMessage {
	b, err := json.Marshal(gradvacState{K: a.k, Target: a.target})
	if err != nil {
		panic(err) // finite float64s
	}
	return b
}

// SetState sets the EMA targets to a State's (Stateful); malformed state
// is an error.
func (a *gradvac) SetState(raw json.RawMessage) error {
	var s gradvacState
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("mtl: gradvac state: %w", err)
	}
	switch {
	case s.K < 0 || len(s.Target) != s.K*s.K:
		return fmt.Errorf("mtl: gradvac state: %d targets for %d tasks", len(s.Target), s.K)
	case s.K == 0:
		a.target, a.k = nil, 0
		return nil
	}
	for _, v := range s.Target {
		if !(v >= -1 && v <= 1) {
			return fmt.Errorf("mtl: gradvac state: target %v is not a cosine", v)
		}
	}
	a.target, a.k = append([]float64(nil), s.Target...), s.K
	return nil
}

// Aggregate applies one step of GradVac to all K tasks and updates the
// targets.
func (a *gradvac) Aggregate(p *pareto.Problem) (Result, error) {
	all := make([]int, p.K())
	for i := range all {
		all[i] = i
	}
	return a.AggregateTasks(p, all, p.K())
}

// AggregateTasks applies one step of GradVac to the tasks present, p's
// task i being task tasks[i] of k (TaskSubset): call n's orders of the k
// tasks with the absent ones left out, and the EMA update of the pairs of
// present tasks only — a task absent from the step has no gradient, so no
// cosine of its pairs is observed, and their targets are kept.
func (a *gradvac) AggregateTasks(p *pareto.Problem, tasks []int, k int) (Result, error) {
	if err := checkTasks(p, tasks, k); err != nil {
		return Result{}, err
	}
	if a.target == nil {
		a.target, a.k = make([]float64, k*k), k
	}
	if k != a.k {
		return Result{}, fmt.Errorf("mtl: gradvac keeps EMA targets for %d tasks, got %d (its tasks must stay the same)", a.k, k)
	}
	orders := subOrders(a.orders.next(k), tasks, k)
	n := len(tasks)
	sub := make([]float64, n*n)
	for i, ti := range tasks {
		for j, tj := range tasks {
			sub[i*n+j] = a.target[ti*k+tj]
		}
	}
	w := gradvacWeights(p, orders, sub, a.beta)
	for i, ti := range tasks {
		for j, tj := range tasks {
			a.target[ti*k+tj] = sub[i*n+j]
		}
	}
	return finish(p, "gradvac", w, 0, "closed-form")
}

// checkTasks checks that tasks are p.K() increasing indices in [0, k).
func checkTasks(p *pareto.Problem, tasks []int, k int) error {
	if len(tasks) != p.K() {
		return fmt.Errorf("mtl: %d task indices for a problem of %d tasks", len(tasks), p.K())
	}
	for i, t := range tasks {
		if t < 0 || t >= k || (i > 0 && t <= tasks[i-1]) {
			return fmt.Errorf("mtl: task indices %v are not increasing in [0, %d)", tasks, k)
		}
	}
	return nil
}

// subOrders restricts the k tasks' orders to the present tasks, renumbered
// as their positions in tasks.
func subOrders(orders [][]int, tasks []int, k int) [][]int {
	pos := make([]int, k)
	for i := range pos {
		pos[i] = -1
	}
	for i, t := range tasks {
		pos[t] = i
	}
	out := make([][]int, len(tasks))
	for i, t := range tasks {
		for _, j := range orders[t] {
			if pos[j] >= 0 {
				out[i] = append(out[i], pos[j])
			}
		}
	}
	return out
}

// gradvacWeights is one GradVac step in Gram form; it updates target.
func gradvacWeights(p *pareto.Problem, orders [][]int, target []float64, beta float64) []float64 {
	k := p.K()
	w := make([]float64, k)
	c, gc := make([]float64, k), make([]float64, k)
	for i := range k {
		clear(c)
		c[i] = 1
		copy(gc, p.Row(i))
		nsq := p.At(i, i)
		for _, j := range orders[i] {
			gjj := p.At(j, j)
			if !(gjj > 0) || !(nsq > 0) {
				continue
			}
			phi := math.Max(-1, math.Min(1, gc[j]/math.Sqrt(nsq*gjj)))
			that := target[i*k+j]
			if s := 1 - that*that; phi < that && s > 0 {
				coef := math.Sqrt(nsq) * (that*math.Sqrt(1-phi*phi) - phi*math.Sqrt(s)) / (math.Sqrt(gjj) * math.Sqrt(s))
				c[j] += coef
				nsq = math.Max(0, nsq+2*coef*gc[j]+coef*coef*gjj)
				floats.AddScaled(gc, coef, p.Row(j))
			}
			target[i*k+j] = (1-beta)*that + beta*phi
		}
		floats.Add(w, c)
	}
	return w
}
