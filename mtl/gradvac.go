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
// error); State and SetState save and restore it (Stateful). The orders
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

// Aggregate applies one step of GradVac and updates the targets.
func (a *gradvac) Aggregate(p *pareto.Problem) (Result, error) {
	k := p.K()
	if a.target == nil {
		a.target, a.k = make([]float64, k*k), k
	}
	if k != a.k {
		return Result{}, fmt.Errorf("mtl: gradvac keeps EMA targets for %d tasks, got %d (its tasks must stay the same)", a.k, k)
	}
	w := gradvacWeights(p, a.orders.next(k), a.target, a.beta)
	return finish(p, "gradvac", w, 0, "closed-form")
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
