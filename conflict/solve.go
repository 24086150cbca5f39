package conflict

import (
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// DefaultMethods are the solvers a probe runs when SolveConfig.Methods is
// empty: Frank-Wolfe as in MGDA and the paper's UGD.
var DefaultMethods = []string{"fw", "ugd"}

// SolveConfig says which weightings are solved from a Gram matrix: the
// Pareto solvers (paper §3.3, Eq. 10–13; package solvers) and the
// Gram-based multi-task aggregators of package mtl, each by name
// (mtl.New). The zero value means fw and ugd, λ = 0, no gradient
// normalisation and the default settings.
type SolveConfig struct {
	// Methods are names as mtl.New reads them: solvers ("fw", "ugd",
	// "afw", "pfw", "pgd", "exact", …) or aggregators ("upgrad",
	// "pcgrad", …); empty means DefaultMethods.
	Methods []string
	// Lambda is λ ≥ 0 of Eq. 11, min_{w∈Δ} wᵀ(G + λI)w, applied to the
	// normalised Gram. It is absolute: with Normalizer none its scale is
	// that of the squared gradient norms G_kk; with l2 every G_kk is 1.
	// The aggregators ignore it but for the Eq. 11 objective they report.
	Lambda float64
	// Normalizer scales each bin's gradient before solving (MGDA's none,
	// l2, loss, loss+); the weights reported are converted back to the
	// original losses (pareto.Problem.RawWeights).
	Normalizer pareto.Normalizer
	// Settings are passed to every solver; nil means the defaults.
	Settings *solvers.Settings
	// Options are the aggregators' hyper-parameters (mtl.Config, zero: the
	// defaults); its Solver field is replaced by Settings.
	Options mtl.Config
}

// Validate checks the method names, the options and λ.
func (c SolveConfig) Validate() error {
	if math.IsNaN(c.Lambda) || math.IsInf(c.Lambda, 0) || c.Lambda < 0 {
		return fmt.Errorf("conflict: λ must be finite and ≥ 0, got %g", c.Lambda)
	}
	_, err := c.Aggregators()
	return err
}

func (c SolveConfig) methods() []string {
	if len(c.Methods) == 0 {
		return DefaultMethods
	}
	return c.Methods
}

// Aggregators returns a fresh method (mtl.New) for each configured name;
// a caller that solves repeatedly keeps them, so that stateful methods
// (GradVac's EMA targets; PCGrad's and GradVac's call index, which sets
// their orders) carry on.
func (c SolveConfig) Aggregators() ([]mtl.Aggregator, error) {
	opts := c.Options
	opts.Solver = c.Settings
	var out []mtl.Aggregator
	for _, name := range c.methods() {
		a, err := mtl.New(name, opts)
		if err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Solution is one method's weighting of a probe's bins.
type Solution struct {
	// Method is the method's name.
	Method string
	// W are the weights on the bins' task losses L_k, rescaled to sum to
	// 1: the method's weights of the normalised problem converted by
	// RawWeights (the same with the none normaliser). They are on the
	// simplex for the solvers and the non-negative aggregators; IMTL-G's
	// and Aligned-MTL's may be negative.
	W []float64
	// F is the Eq. 11 objective wᵀ(G + λI)w of the normalised problem at
	// the method's weights rescaled to sum 1, and Gap its duality-gap
	// certificate (F − f* ≤ Gap; NaN for weights off the simplex).
	F, Gap float64
	// NormSq is ‖Σ_k W_k g_k‖² = WᵀGW for the raw weights and the raw Gram:
	// the squared norm of the common descent direction (0 when the bins are
	// Pareto stationary).
	NormSq float64
	// Iterations and Status are the method's.
	Iterations int
	Status     string
}

// Solve runs each configured method on the Gram matrix g (after
// normalisation), with losses the per-bin task losses (the loss and loss+
// normalisers need them).
func (c SolveConfig) Solve(g mat.Symmetric, losses []float64) ([]Solution, error) {
	aggs, err := c.Aggregators()
	if err != nil {
		return nil, err
	}
	return c.SolveWith(aggs, g, losses)
}

// SolveWith is Solve with the methods given (from Aggregators).
func (c SolveConfig) SolveWith(aggs []mtl.Aggregator, g mat.Symmetric, losses []float64) ([]Solution, error) {
	return c.SolveTasks(aggs, g, losses, nil, 0)
}

// SolveTasks is SolveWith for the Gram g of some of k tasks (bins): g's
// task i is task tasks[i]. An aggregator with state per task
// (mtl.TaskSubset: GradVac) weighs them as those of its k tasks, keeping
// the absent ones' state; the others see g's tasks alone. tasks nil means
// all of g's tasks (k unused).
func (c SolveConfig) SolveTasks(aggs []mtl.Aggregator, g mat.Symmetric, losses []float64, tasks []int, k int) ([]Solution, error) {
	prob, err := c.Problem(g, losses)
	if err != nil {
		return nil, err
	}
	var out []Solution
	for _, a := range aggs {
		var r mtl.Result
		if ts, ok := a.(mtl.TaskSubset); ok && tasks != nil {
			r, err = ts.AggregateTasks(prob, tasks, k)
		} else {
			r, err = a.Aggregate(prob)
		}
		if err != nil {
			return nil, fmt.Errorf("conflict: %s: %w", a.Name(), err)
		}
		raw := RawWeights(prob, r.W)
		out = append(out, Solution{Method: a.Name(), W: raw, F: r.Objective, Gap: r.Gap, NormSq: quadForm(g, raw),
			Iterations: r.Iterations, Status: r.Status})
	}
	return out, nil
}

// Problem is the (normalised) problem the methods solve for the Gram g.
func (c SolveConfig) Problem(g mat.Symmetric, losses []float64) (*pareto.Problem, error) {
	prob, err := pareto.NewFromGram(g, pareto.Config{Lambda: c.Lambda, Normalizer: c.Normalizer, Losses: losses})
	if err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	return prob, nil
}

// RawWeights converts weights of the problem's normalised tasks to weights
// on the bins' original losses, w_k/s_k, rescaled to sum to 1 when that
// sum is positive (any sign allowed, unlike pareto.Problem.RawWeights,
// which is for the simplex).
func RawWeights(p *pareto.Problem, w []float64) []float64 {
	s := p.Scales()
	raw := make([]float64, len(w))
	var sum float64
	for k := range w {
		raw[k] = w[k] / s[k]
		sum += raw[k]
	}
	if sum > 0 {
		floats.Scale(1/sum, raw) // as pareto.Problem.RawWeights, to the bit
	}
	return raw
}

// quadForm returns wᵀGw.
func quadForm(g mat.Symmetric, w []float64) float64 {
	var nsq float64
	for i := range w {
		for j := range w {
			nsq += w[i] * g.At(i, j) * w[j]
		}
	}
	return nsq
}

// MethodsHelp lists the method names ParseMethods accepts, for help texts.
const MethodsHelp = "fw, ugd, afw, pfw, pgd, exact; fw-plain and ugd-plain (MGDA's and the paper's literal steps); two-task (the closed form, 2 bins only); the aggregators mean, pcgrad, cagrad, imtl-g, nash-mtl, aligned-mtl, upgrad, dualproj, gradvac"

// checkMethodsFor checks that every method can solve a problem of K bins
// (two-task is the closed form for K = 2 alone).
func checkMethodsFor(methods []string, K int) error {
	for _, m := range methods {
		if m == "two-task" && K != 2 {
			return fmt.Errorf("conflict: two-task is the closed form for 2 bins, not %d", K)
		}
	}
	return nil
}

// ParseMethods splits a comma-separated list of method names (solvers and
// aggregators, mtl.Names) and checks each.
func ParseMethods(list string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !mtl.Known(m) {
			return nil, fmt.Errorf("conflict: unknown method %q (want %s)", m, mtl.NamesHelp)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("conflict: no method named in %q", list)
	}
	return out, nil
}
