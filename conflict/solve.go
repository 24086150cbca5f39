package conflict

import (
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"gonum.org/v1/gonum/mat"
)

// DefaultMethods are the solvers a probe runs when SolveConfig.Methods is
// empty: Frank-Wolfe as in MGDA and the paper's UGD.
var DefaultMethods = []string{"fw", "ugd"}

// SolveConfig says which Pareto weightings are solved from a Gram matrix
// (paper §3.3, Eq. 10–13). The zero value means fw and ugd, λ = 0, no
// gradient normalisation and the solvers' default settings.
type SolveConfig struct {
	// Methods are solver names as solvers.ParseMethod reads them ("fw",
	// "ugd", "afw", "pfw", "pgd", "exact"); empty means DefaultMethods.
	Methods []string
	// Lambda is λ ≥ 0 of Eq. 11, min_{w∈Δ} wᵀ(G + λI)w, applied to the
	// normalised Gram. It is absolute: with Normalizer none its scale is
	// that of the squared gradient norms G_kk; with l2 every G_kk is 1.
	Lambda float64
	// Normalizer scales each bin's gradient before solving (MGDA's none,
	// l2, loss, loss+); the weights reported are converted back to the
	// original losses (pareto.Problem.RawWeights).
	Normalizer pareto.Normalizer
	// Settings are passed to every solve; nil means the defaults.
	Settings *solvers.Settings
}

// Validate checks the method names and λ.
func (c SolveConfig) Validate() error {
	if math.IsNaN(c.Lambda) || math.IsInf(c.Lambda, 0) || c.Lambda < 0 {
		return fmt.Errorf("conflict: λ must be finite and ≥ 0, got %g", c.Lambda)
	}
	for _, m := range c.methods() {
		if _, err := solvers.ParseMethod(m); err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
	}
	return nil
}

func (c SolveConfig) methods() []string {
	if len(c.Methods) == 0 {
		return DefaultMethods
	}
	return c.Methods
}

// Solution is one solver's Pareto weighting of a probe.
type Solution struct {
	// Method is the solver's name.
	Method string
	// W are the weights on the bins' task losses L_k, on the simplex: the
	// solver's weights of the normalised problem converted by RawWeights
	// (the same with the none normaliser).
	W []float64
	// F is the objective wᵀ(G + λI)w of the normalised problem at the
	// solver's weights and Gap its duality-gap certificate (F − f* ≤ Gap).
	F, Gap float64
	// NormSq is ‖Σ_k W_k g_k‖² = WᵀGW for the raw weights and the raw Gram:
	// the squared norm of the common descent direction (0 when the bins are
	// Pareto stationary).
	NormSq float64
	// Iterations and Status are the solver's.
	Iterations int
	Status     string
}

// Solve runs each configured solver on min_{w∈Δ} wᵀ(G + λI)w for the Gram
// matrix g (after normalisation), with losses the per-bin task losses (the
// loss and loss+ normalisers need them).
func (c SolveConfig) Solve(g mat.Symmetric, losses []float64) ([]Solution, error) {
	prob, err := pareto.NewFromGram(g, pareto.Config{Lambda: c.Lambda, Normalizer: c.Normalizer, Losses: losses})
	if err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	K := g.SymmetricDim()
	var out []Solution
	for _, name := range c.methods() {
		m, err := solvers.ParseMethod(name)
		if err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
		r, err := solvers.Solve(prob, m, c.Settings)
		if err != nil {
			return nil, fmt.Errorf("conflict: %s: %w", name, err)
		}
		raw := prob.RawWeights(nil, r.W)
		var nsq float64
		for i := 0; i < K; i++ {
			for j := 0; j < K; j++ {
				nsq += raw[i] * g.At(i, j) * raw[j]
			}
		}
		out = append(out, Solution{Method: m.String(), W: raw, F: r.F, Gap: r.Gap, NormSq: nsq, Iterations: r.Iterations, Status: r.Status.String()})
	}
	return out, nil
}

// MethodsHelp lists the solver names ParseMethods accepts, for help texts.
const MethodsHelp = "fw, ugd, afw, pfw, pgd, exact; fw-plain and ugd-plain (MGDA's and the paper's literal steps); two-task (the closed form, 2 bins only)"

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

// ParseMethods splits a comma-separated list of solver names and checks
// each.
func ParseMethods(list string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if _, err := solvers.ParseMethod(m); err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("conflict: no solver named in %q", list)
	}
	return out, nil
}
