package conflict

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
)

// DefaultCompareMethods are the methods CompareMethods puts next to the
// closed forms when none are named: the exact Pareto solver (MGDA's
// min-norm point; every solver reaches it) and every aggregator of
// package mtl.
var DefaultCompareMethods = append([]string{solvers.Exact.String()}, mtl.Aggregators...)

// DefaultCompareClosed are the closed forms CompareMethods puts next to the
// methods when none are named (as the weights figure's).
var DefaultCompareClosed = []string{"min-snr:5", "constant"}

// MethodTable is every method's weighting of one probe's bins next to
// closed-form weightings, each with the paper's Eq. 11 objective and the
// Eq. 8 check, so they compare on equal terms. CompareMethods computes it;
// Markdown and WriteCSV render it.
type MethodTable struct {
	// Step is the probe's step; Labels name its bins ("lo-hi").
	Step   int
	Labels []string
	// Lambda and Normalizer are those of the Eq. 11 objective (the probe's).
	Lambda     float64
	Normalizer pareto.Normalizer
	// Options are the aggregators' hyper-parameters (mtl.Config.String;
	// "" for the defaults).
	Options string
	// Rows are the methods, then the closed forms.
	Rows []MethodRow
}

// MethodRow is one weighting of the bins.
type MethodRow struct {
	// Name is the method's or the closed form's spec; Kind is "solver",
	// "aggregator" or "closed-form".
	Name, Kind string
	// W are the weights on the bins' task losses L_k, rescaled to sum to 1
	// (a method's converted from its normalised tasks, as Solution.W).
	W []float64
	// Objective is Eq. 11's f = wᵀ(G + λI)w of the normalised problem at
	// the row's weights rescaled to sum 1 there, and Gap its duality gap
	// (NaN off the simplex; OnSimplex says which).
	Objective, Gap float64
	OnSimplex      bool
	// Norm is ‖d‖ for d = Σ_k W_k g_k over the bins' gradients (the raw
	// Gram), MinInner min_k ⟨d, g_k⟩ and ConflictRatio MinInner/‖d‖² (the
	// Eq. 8 check: negative when the step −d would raise some bin's loss).
	Norm, MinInner, ConflictRatio float64
	// Status is the method's (a closed form's is "closed-form").
	Status string
}

// ClosedForm is a named weighting of the bins' task losses.
type ClosedForm struct {
	Name string
	W    []float64
}

// ClosedForms returns each strategy's weights on the bins' task losses
// (BinWeights, summing to 1) under the name of its spec.
func ClosedForms(specs []string, task weighting.Strategy, sched *diffusion.Schedule, bins weighting.Bins) ([]ClosedForm, error) {
	var out []ClosedForm
	for _, spec := range specs {
		s, err := weighting.ParseStrategy(spec)
		if err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
		out = append(out, ClosedForm{Name: s.String(), W: BinWeights(s, task, sched, bins)})
	}
	return out, nil
}

// CompareMethods weighs the bins of the probe rec (its Gram and losses)
// with each method of cfg (SolveConfig.Methods; empty means
// DefaultCompareMethods) and evaluates them and the closed forms alike.
// labels name the bins (Info.Labels).
func CompareMethods(rec Record, labels []string, cfg SolveConfig, closed []ClosedForm) (MethodTable, error) {
	if rec.Gram == nil {
		return MethodTable{}, fmt.Errorf("conflict: the probe at step %d has no Gram matrix", rec.Step)
	}
	if len(cfg.Methods) == 0 {
		cfg.Methods = DefaultCompareMethods
	}
	prob, err := cfg.Problem(rec.Gram, rec.Losses)
	if err != nil {
		return MethodTable{}, err
	}
	raw, err := pareto.NewFromGram(rec.Gram, pareto.Config{})
	if err != nil {
		return MethodTable{}, fmt.Errorf("conflict: %w", err)
	}
	aggs, err := cfg.Aggregators()
	if err != nil {
		return MethodTable{}, err
	}
	t := MethodTable{Step: rec.Step, Labels: labels, Lambda: cfg.Lambda, Normalizer: cfg.Normalizer, Options: cfg.Options.String()}
	for _, a := range aggs {
		r, err := a.Aggregate(prob)
		if err != nil {
			return MethodTable{}, fmt.Errorf("conflict: %s: %w", a.Name(), err)
		}
		kind := "aggregator"
		if mtl.IsSolver(a.Name()) {
			kind = "solver"
		}
		row, err := methodRow(raw, a.Name(), kind, RawWeights(prob, r.W), r)
		if err != nil {
			return MethodTable{}, err
		}
		row.Status = r.Status
		t.Rows = append(t.Rows, row)
	}
	scales := prob.Scales()
	for _, c := range closed {
		if len(c.W) != prob.K() {
			return MethodTable{}, fmt.Errorf("conflict: closed form %s has %d weights for %d bins", c.Name, len(c.W), prob.K())
		}
		onNorm := make([]float64, len(c.W)) // the weights on the normalised tasks
		for k, w := range c.W {
			onNorm[k] = w * scales[k]
		}
		r, err := mtl.Evaluate(prob, c.Name, onNorm)
		if err != nil {
			return MethodTable{}, fmt.Errorf("conflict: %w", err)
		}
		row, err := methodRow(raw, c.Name, "closed-form", c.W, r)
		if err != nil {
			return MethodTable{}, err
		}
		row.Status = "closed-form"
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// methodRow combines the Eq. 11 evaluation on the normalised problem (r)
// with the Eq. 8 check of the raw weights w on the raw Gram.
func methodRow(raw *pareto.Problem, name, kind string, w []float64, r mtl.Result) (MethodRow, error) {
	e, err := mtl.Evaluate(raw, name, w)
	if err != nil {
		return MethodRow{}, fmt.Errorf("conflict: %w", err)
	}
	return MethodRow{Name: name, Kind: kind, W: w, Objective: r.Objective, Gap: r.Gap, OnSimplex: r.OnSimplex,
		Norm: e.Norm, MinInner: e.MinInner, ConflictRatio: e.ConflictRatio()}, nil
}

// Markdown renders the table: one row per weighting with its Eq. 11
// objective relative to the best method on the simplex (the solvers'
// optimum), its Eq. 8 check and its weights.
func (t MethodTable) Markdown() string {
	return fmt.Sprintf("# Methods on the probe at step %d\n\n", t.Step) + t.Body()
}

// Body is Markdown without its heading: the paragraph that says what the
// columns are, then the table (for a report that has headings of its own).
func (t MethodTable) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Eq. 11 objective f = wᵀ(G + λI)w (λ = %g, normaliser %s) of each weighting rescaled to sum 1, "+
		"relative to the least on the simplex; Eq. 8 check of d = Σ_k w_k g_k: min_k ⟨d, g_k⟩/‖d‖² "+
		"(< 0: d conflicts with a bin). Weights are on the bins' task losses, summing to 1.\n\n", t.Lambda, t.Normalizer)
	if t.Options != "" {
		fmt.Fprintf(&b, "Aggregator options: %s (the others at their defaults).\n\n", t.Options)
	}
	b.WriteString("| method | kind | f | f / f_best | min_k ⟨d, g_k⟩ | min_k ⟨d, g_k⟩/‖d‖² | ‖d‖ |")
	for _, l := range t.Labels {
		fmt.Fprintf(&b, " w[%s] |", l)
	}
	b.WriteString("\n|---|---|---:|---:|---:|---:|---:|" + strings.Repeat("---:|", len(t.Labels)) + "\n")
	best := t.best()
	for _, r := range t.Rows {
		rel := fmt.Sprintf("%.4g", r.Objective/best)
		if !r.OnSimplex {
			rel += " (off Δ)"
		}
		fmt.Fprintf(&b, "| %s | %s | %.4g | %s | %.4g | %.4g | %.4g |", r.Name, r.Kind, r.Objective, rel, r.MinInner, r.ConflictRatio, r.Norm)
		for _, w := range r.W {
			fmt.Fprintf(&b, " %.3f |", w)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// best is the least objective of the rows on the simplex.
func (t MethodTable) best() float64 {
	best := math.Inf(1)
	for _, r := range t.Rows {
		if r.OnSimplex {
			best = math.Min(best, r.Objective)
		}
	}
	return best
}

// WriteCSV writes a header and one line per row: name, kind, status,
// objective, gap, on_simplex, norm, min_inner, conflict_ratio, then the
// weights w_0 … w_{K−1}.
func (t MethodTable) WriteCSV(w io.Writer) error {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	cw := csv.NewWriter(w)
	header := []string{"method", "kind", "status", "objective", "gap", "on_simplex", "norm", "min_inner", "conflict_ratio"}
	for k := range t.Labels {
		header = append(header, fmt.Sprintf("w_%d", k))
	}
	cw.Write(header)
	for _, r := range t.Rows {
		line := []string{r.Name, r.Kind, r.Status, g(r.Objective), g(r.Gap), strconv.FormatBool(r.OnSimplex), g(r.Norm), g(r.MinInner), g(r.ConflictRatio)}
		for _, x := range r.W {
			line = append(line, g(x))
		}
		cw.Write(line)
	}
	cw.Flush()
	return cw.Error()
}
