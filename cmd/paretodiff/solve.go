package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/jsonnum"
	"github.com/paretodiff/paretodiff/matio"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/spf13/cobra"
)

func init() { register(newSolveCmd) }

// problemFlags are the input flags shared by solve and compare-solvers.
type problemFlags struct {
	gram, grads, losses string
	normalize           string
	lambda              float64
}

func (o *problemFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.gram, "gram", "", "K×K Gram matrix G_ij = ⟨g_i, g_j⟩ (.npy or headerless .csv)")
	f.StringVar(&o.grads, "grads", "", "K×P per-task gradients, one task per row (.npy or headerless .csv); G is formed in float64")
	f.StringVar(&o.losses, "losses", "", "K per-task losses (.npy or .csv vector), for --normalize loss or loss+")
	f.StringVar(&o.normalize, "normalize", "none", "gradient normaliser (MGDA): none, l2 (‖g_t‖), loss (L_t) or loss+ (L_t·‖g_t‖)")
	f.Float64Var(&o.lambda, "lambda", 0, "regularisation λ ≥ 0 of Eq. 11: minimise wᵀ(G + λI)w")
}

// options validates the flags that do not depend on files.
func (o *problemFlags) options() (pareto.Config, error) {
	norm, err := pareto.ParseNormalizer(o.normalize)
	if err != nil {
		return pareto.Config{}, usagef("--normalize %q: want none, l2, loss or loss+", o.normalize)
	}
	if math.IsNaN(o.lambda) || math.IsInf(o.lambda, 0) || o.lambda < 0 {
		return pareto.Config{}, usagef("--lambda %v: must be finite and ≥ 0", o.lambda)
	}
	needs := norm == pareto.NormLoss || norm == pareto.NormLossPlus
	if needs && o.losses == "" {
		return pareto.Config{}, usagef("--normalize %s needs --losses FILE", norm)
	}
	if !needs && o.losses != "" {
		return pareto.Config{}, usagef("--losses is used only with --normalize loss or loss+")
	}
	return pareto.Config{Lambda: o.lambda, Normalizer: norm}, nil
}

// load reads the problem from --gram or --grads (exactly one must be set).
// Every error is bad input (exit 2) and names the file.
func (o *problemFlags) load() (*pareto.Problem, error) {
	opts, err := o.options()
	if err != nil {
		return nil, err
	}
	if (o.gram == "") == (o.grads == "") {
		return nil, usagef("give exactly one of --gram FILE or --grads FILE")
	}
	if o.losses != "" {
		if opts.Losses, err = matio.ReadVector(o.losses); err != nil {
			return nil, usagef("--losses: %v", err)
		}
	}
	flag, path := "--gram", o.gram
	if o.grads != "" {
		flag, path = "--grads", o.grads
	}
	m, err := matio.ReadMatrix(path)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	var p *pareto.Problem
	if o.gram != "" {
		p, err = pareto.NewFromGram(m, opts)
	} else {
		p, err = pareto.NewFromGrads(m, opts)
	}
	if err != nil {
		return nil, usagef("%s %s: %v", flag, path, err)
	}
	return p, nil
}

// solverFlags are the stopping flags shared by solve and compare-solvers.
type solverFlags struct {
	tol, absTol float64
	maxIter     int
}

func (o *solverFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Float64Var(&o.tol, "tol", solvers.DefaultTol, "stop when the duality gap ≤ tol·objective (relative)")
	f.Float64Var(&o.absTol, "abs-tol", solvers.DefaultAbsTol, "also stop when the gap ≤ abs-tol·max_t(G_tt + λ) (absolute, in the problem's units)")
	f.IntVar(&o.maxIter, "max-iter", 0, "iteration cap; 0 means the method's default (fw/afw/pfw/fw-plain 100000, pgd/ugd/ugd-plain 20000, exact 1000+20K)")
}

func (o *solverFlags) settings() (solvers.Settings, error) {
	if !(o.tol > 0) || math.IsInf(o.tol, 0) {
		return solvers.Settings{}, usagef("--tol %v: must be finite and > 0", o.tol)
	}
	if !(o.absTol > 0) || math.IsInf(o.absTol, 0) {
		return solvers.Settings{}, usagef("--abs-tol %v: must be finite and > 0", o.absTol)
	}
	if o.maxIter < 0 {
		return solvers.Settings{}, usagef("--max-iter %d: must be ≥ 0", o.maxIter)
	}
	return solvers.Settings{Tol: o.tol, AbsTol: o.absTol, MaxIter: o.maxIter}, nil
}

type solveOptions struct {
	problemFlags
	solverFlags
	mtlFlags
	method string
	format string
	out    string
}

// mtlFlags are the aggregators' hyper-parameters, shared by solve and
// compare-solvers.
type mtlFlags struct {
	mtlOptions string
}

func (o *mtlFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.mtlOptions, "mtl-options", "", "the aggregators' hyper-parameters, comma-separated: "+mtl.OptionsHelp)
}

// parsed returns the aggregators' configuration (a usage error for bad
// options).
func (o *mtlFlags) parsed() (mtl.Config, error) {
	c, err := mtl.ParseOptions(o.mtlOptions)
	if err != nil {
		return c, usagef("--mtl-options: %v", err)
	}
	return c, nil
}

// config returns the aggregators' configuration with the solvers' settings.
func (o *mtlFlags) config(set solvers.Settings) (mtl.Config, error) {
	c, err := o.parsed()
	if err != nil {
		return c, err
	}
	c.Solver = &set
	return c, nil
}

func newSolveCmd() *cobra.Command {
	o := &solveOptions{}
	cmd := &cobra.Command{
		Use:   "solve",
		Short: "Solve the Pareto (min-norm) weighting of tasks from a Gram matrix or gradients",
		Long: `solve finds the weights w on the simplex that minimise wᵀ(G + λI)w (the
paper's Eq. 10–11, MGDA): G is the Gram matrix of the per-task gradients,
read from --gram, or formed in float64 from the gradients in --grads.
Files are .npy (float32 or float64, C or Fortran order, as written by
numpy.save or torch → numpy) or headerless comma-separated .csv.

The output is one JSON object (or a CSV header and row) with the fields
method, k, lambda, weights, objective (wᵀ(G + λI)w of the normalised problem),
gap (the Frank-Wolfe duality gap: objective − optimum ≤ gap), iterations,
status (converged, iteration-limit, time-limit or stalled) and seconds.
Weights belong to the normalised tasks when --normalize is not none; the output then
also has raw_weights, the same weighting of the raw (un-normalised) tasks: the
normaliser divides task k's gradient by s_k (‖g_k‖ for l2, L_k for loss, L_k·‖g_k‖ for
loss+), so Σ_k w_k·(g_k/s_k) = Σ_k (w_k/s_k)·g_k and the raw weights are
r_k = (w_k/s_k)/Σ_j (w_j/s_j), summing to 1, whose combination Σ_k r_k g_k points
along the normalised problem's direction (for l2: r_k ∝ w_k/‖g_k‖).

Methods: fw (Frank-Wolfe as MGDA, with a corrective step on the support),
afw (away-step), pfw (pairwise), pgd (projected gradient), ugd (the paper's
softmax parameterisation, descending along the natural gradient), exact
(Wolfe's active-set method; small K or small supports), two-task (K = 2),
and the literal references fw-plain (MGDA's Frank-Wolfe) and ugd-plain (the
paper's Eq. 13 gradient), which are sublinear when the optimum leaves tasks
out. All but the plain ones reach the optimum to rounding; afw and pfw are
the fastest.

--method also takes the Gram-based multi-task aggregators of package mtl:
mean, pcgrad (Yu et al. 2020), cagrad (Liu et al. 2021; c of --mtl-options,
default 0.5), imtl-g (Liu et al. 2021), nash-mtl (Navon et al. 2022),
aligned-mtl (Senushkin et al. 2023), upgrad and dualproj (Quinton & Rey
2024) and gradvac (Wang et al. 2021; one step from zero targets). Their
weights are the coefficients of d = Σ_k w_k g_k at the method's own scale;
normalized is w/Σw, and objective and gap are Eq. 11's at that point (gap
"NaN" when it is off the simplex: IMTL-G's and Aligned-MTL's weights may be
negative). Every method also reports the Eq. 8 check: inner, the products
⟨d, g_k⟩ = (Gw)_k; min_inner, their minimum (negative: d conflicts with a
task); conflict_ratio, min_inner/‖d‖²; and norm, ‖d‖ = √(wᵀGw).`,
		Example: `  paretodiff solve --gram demo-out/model/probes/conflict/gram/step-00005000.npy   # the demo's last probe
  paretodiff solve --grads grads.npy --normalize l2 --lambda 0.1 --method pfw
  paretodiff solve --grads g.csv --losses l.csv --normalize loss+ --format csv --out w.csv
  paretodiff solve --gram G.npy --method cagrad --mtl-options c=0.4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	o.problemFlags.add(cmd)
	o.solverFlags.add(cmd)
	o.mtlFlags.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.method, "method", "pfw", mtl.NamesHelp)
	f.StringVar(&o.format, "format", "json", "output format: json or csv")
	f.StringVar(&o.out, "out", "", "write the result to this file (atomically) instead of stdout")
	return cmd
}

// solveResult is the output of solve.
type solveResult struct {
	Method     string        `json:"method"`
	K          int           `json:"k"`
	Lambda     float64       `json:"lambda"`
	Weights    []float64     `json:"weights"`
	Objective  jsonnum.Float `json:"objective"`
	Gap        jsonnum.Float `json:"gap"`
	Iterations int           `json:"iterations"`
	Status     string        `json:"status"`
	Seconds    float64       `json:"seconds"`
	// The Eq. 8 check of d = Σ_k w_k g_k, and w/Σw.
	Normalized    []float64     `json:"normalized"`
	OnSimplex     bool          `json:"on_simplex"`
	Norm          float64       `json:"norm"`
	Inner         []float64     `json:"inner"`
	MinInner      float64       `json:"min_inner"`
	ConflictRatio jsonnum.Float `json:"conflict_ratio"`
	// RawWeights are the weights on the raw tasks, w_k/s_k rescaled to
	// sum 1 (conflict.RawWeights), when a normaliser is used.
	RawWeights []float64 `json:"raw_weights,omitempty"`
}

// newSolveResult is the output for one method's result.
func newSolveResult(p *pareto.Problem, r mtl.Result, elapsed time.Duration) solveResult {
	out := solveResult{
		Method: r.Method, K: p.K(), Lambda: p.Lambda(), Weights: r.W,
		Objective: jsonnum.Float(r.Objective), Gap: jsonnum.Float(r.Gap), Iterations: r.Iterations, Status: r.Status,
		Seconds: elapsed.Seconds(), Normalized: r.Normalized, OnSimplex: r.OnSimplex, Norm: r.Norm, Inner: r.Inner,
		MinInner: r.MinInner, ConflictRatio: jsonnum.Float(r.ConflictRatio()),
	}
	if p.Normalizer() != pareto.NormNone {
		out.RawWeights = conflict.RawWeights(p, r.W)
	}
	return out
}

func (o *solveOptions) run(stdout io.Writer) error {
	if !mtl.Known(o.method) {
		return usagef("--method %q: want %s", o.method, mtl.NamesHelp)
	}
	if o.format != "json" && o.format != "csv" {
		return usagef("--format %q: want json or csv", o.format)
	}
	set, err := o.settings()
	if err != nil {
		return err
	}
	cfg, err := o.config(set)
	if err != nil {
		return err
	}
	if _, err := o.options(); err != nil {
		return err
	}
	p, err := o.load()
	if err != nil {
		return err
	}
	if o.method == solvers.TwoTask.String() && p.K() != 2 {
		return usagef("--method two-task needs K = 2 tasks, the input has %d", p.K())
	}
	agg, err := mtl.New(o.method, cfg)
	if err != nil {
		return usagef("%v", err)
	}
	start := time.Now()
	res, err := agg.Aggregate(p)
	if err != nil {
		return usagef("%v", err)
	}
	out := newSolveResult(p, res, time.Since(start))
	write := out.writeJSON
	if o.format == "csv" {
		write = out.writeCSV
	}
	if o.out == "" {
		if err := write(stdout); err != nil {
			return failure(err)
		}
		return nil
	}
	if err := atomicfile.Write(o.out, write); err != nil {
		return usagef("--out: %v", err)
	}
	return nil
}

func (s *solveResult) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// writeCSV writes a header and one row: the JSON fields in order, the
// weights spread over the columns w_0 … w_{K−1}, then the Eq. 8 check
// (norm, min_inner, conflict_ratio, on_simplex, inner_0 … inner_{K−1})
// and n_0 … n_{K−1}, the normalised weights (empty when Σw ≤ 0), then
// with a normaliser r_0 … r_{K−1}, the weights on the raw tasks.
func (s *solveResult) writeCSV(w io.Writer) error {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	header := []string{"method", "k", "lambda", "objective", "gap", "iterations", "status", "seconds"}
	row := []string{s.Method, strconv.Itoa(s.K), g(s.Lambda), g(float64(s.Objective)), g(float64(s.Gap)), strconv.Itoa(s.Iterations), s.Status, g(s.Seconds)}
	for t, x := range s.Weights {
		header = append(header, fmt.Sprintf("w_%d", t))
		row = append(row, g(x))
	}
	header = append(header, "norm", "min_inner", "conflict_ratio", "on_simplex")
	row = append(row, g(s.Norm), g(s.MinInner), g(float64(s.ConflictRatio)), strconv.FormatBool(s.OnSimplex))
	for t, x := range s.Inner {
		header = append(header, fmt.Sprintf("inner_%d", t))
		row = append(row, g(x))
	}
	for t := range s.Weights {
		header = append(header, fmt.Sprintf("n_%d", t))
		if s.Normalized != nil {
			row = append(row, g(s.Normalized[t]))
		} else {
			row = append(row, "")
		}
	}
	for t, x := range s.RawWeights {
		header = append(header, fmt.Sprintf("r_%d", t))
		row = append(row, g(x))
	}
	cw := csv.NewWriter(w)
	cw.Write(header)
	cw.Write(row)
	cw.Flush()
	return cw.Error()
}

// methodList parses a comma-separated list of method names (mtl.Names).
func methodList(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		m := strings.TrimSpace(name)
		if !mtl.Known(m) {
			return nil, usagef("--methods: unknown method %q (want %s)", m, mtl.NamesHelp)
		}
		if seen[m] {
			return nil, usagef("--methods: %s is given twice", m)
		}
		seen[m] = true
		out = append(out, m)
	}
	return out, nil
}
