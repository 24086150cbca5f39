package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/spf13/cobra"
	"gonum.org/v1/plot/vg"
)

func init() { register(newCompareSolversCmd) }

type compareOptions struct {
	problemFlags
	solverFlags
	mtlFlags
	k, p    int
	seed    uint64
	methods string
	maxTime time.Duration
	out     string
	figure  string
}

func newCompareSolversCmd() *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare-solvers",
		Short: "Run every Pareto solver and multi-task aggregator on one problem and compare them",
		Long: `compare-solvers solves one min-norm weighting problem, min over the simplex of
wᵀ(G + λI)w, with each of --methods, computes the weights of the Gram-based
multi-task aggregators among them on the same Gram, and writes under --out:

  solvers.csv       method, status, iterations, seconds, objective, gap, support,
                    rel_to_best ((objective − best)/best over the methods on the simplex),
                    and the Eq. 8 check of d = Σ_k w_k g_k: norm (‖d‖), min_inner
                    (min_k ⟨d, g_k⟩ = (Gw)_k), conflict_ratio (min_inner/‖d‖²), on_simplex
  solvers.md        the same table, readable, with the problem described
  convergence.png   the solvers' duality gap against iteration and against time (log scales)
  methods.png       every method's weights rescaled to sum 1, and ⟨d, g_k⟩/‖d‖², by task

Methods are the Pareto solvers (fw, afw, pfw, pgd, ugd, exact, two-task,
fw-plain, ugd-plain) and the aggregators (mean, pcgrad, cagrad, imtl-g,
nash-mtl, aligned-mtl, upgrad, dualproj, gradvac; their hyper-parameters
from --mtl-options). The default, auto, is every one but the plain and
two-task solvers while K ≤ 256, and the solvers alone above (UPGrad makes K
projections, O(K⁴) in all). An aggregator's objective is Eq. 11's at its
weights rescaled to sum 1, comparable with the solvers' when it is on the
simplex; its gap is "NaN" off the simplex.

The table is also printed. The problem comes from --gram or --grads (as for
solve) or is generated: --k tasks with random conflicting gradients in ℝ^--p
(pareto.ConflictingGrads: a shared direction plus Gaussian noise, norms
spread over about two decades), drawn from --seed. The support counts
weights above 1e-8. Each method stops at its gap tolerance, its iteration
cap or --max-time. Add fw-plain and ugd-plain to --methods to compare with
the literal MGDA Frank-Wolfe and the paper's Eq. 13 gradient.`,
		Example: `  paretodiff compare-solvers --k 1000 --p 200 --normalize l2 --out runs/cmp
  paretodiff compare-solvers --k 1000 --p 200 --normalize l2 --lambda 0.1 --out runs/cmp-lambda
  paretodiff compare-solvers --gram demo-out/model/probes/conflict/gram/step-00005000.npy --methods afw,pfw,exact --out runs/mine
  paretodiff compare-solvers --k 1000 --p 200 --normalize l2 --methods fw,fw-plain,ugd,ugd-plain --out runs/plain
  paretodiff compare-solvers --k 8 --p 20 --methods upgrad,cagrad,exact --mtl-options c=0.4 --out runs/mtl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, cmd.OutOrStdout()) },
	}
	o.problemFlags.add(cmd)
	o.solverFlags.add(cmd)
	f := cmd.Flags()
	f.IntVar(&o.k, "k", 100, "generated problem: number of tasks K")
	f.IntVar(&o.p, "p", 50, "generated problem: gradient dimension P")
	f.Uint64Var(&o.seed, "seed", 1, "generated problem: random seed")
	o.mtlFlags.add(cmd)
	f.StringVar(&o.methods, "methods", "auto", "comma-separated methods to run, or auto (every solver and aggregator while K ≤ 256, the solvers above)")
	f.DurationVar(&o.maxTime, "max-time", time.Minute, "time limit per method (0: none)")
	f.StringVar(&o.out, "out", "", "output directory (created if missing; required)")
	f.StringVar(&o.figure, "figure", "png", "figure format: png, svg or pdf")
	return cmd
}

// compareRow is one method's line of the table.
type compareRow struct {
	res     mtl.Result
	seconds float64
	support int
	rel     float64
}

// maxAutoAggregatorsK is the largest K for which --methods auto includes
// the aggregators.
const maxAutoAggregatorsK = 256

// autoMethods are the methods of --methods auto for K tasks.
func autoMethods(k int) []string {
	var out []string
	for _, m := range solvers.Methods {
		out = append(out, m.String())
	}
	if k <= maxAutoAggregatorsK {
		out = append(out, mtl.Aggregators...)
	}
	return out
}

// maxGeneratedK bounds --k: the dense Gram takes 8·K² bytes.
const maxGeneratedK = 20000

func (o *compareOptions) run(cmd *cobra.Command, stdout io.Writer) error {
	var methods []string
	if o.methods != "auto" {
		var err error
		if methods, err = methodList(o.methods); err != nil {
			return err
		}
	}
	set, err := o.settings()
	if err != nil {
		return err
	}
	if o.maxTime < 0 {
		return usagef("--max-time %v: must be ≥ 0", o.maxTime)
	}
	set.MaxTime = o.maxTime
	set.Trace = true
	cfg, err := o.config(set)
	if err != nil {
		return err
	}
	if o.out == "" {
		return usagef("--out DIR is required")
	}
	if o.figure != "png" && o.figure != "svg" && o.figure != "pdf" {
		return usagef("--figure %q: want png, svg or pdf", o.figure)
	}
	p, desc, err := o.problem(cmd)
	if err != nil {
		return err
	}
	if methods == nil {
		methods = autoMethods(p.K())
	}
	for _, m := range methods {
		if m == solvers.TwoTask.String() && p.K() != 2 {
			return usagef("--methods: two-task needs K = 2 tasks, the problem has %d", p.K())
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return usagef("--out: %v", err)
	}
	desc += fmt.Sprintf(", normalizer %s, λ=%g; stop at gap ≤ %g·objective or ≤ %g·%g", p.Normalizer(), p.Lambda(), set.Tol, set.AbsTol, p.Scale())
	rows, err := compareMethods(p, methods, cfg)
	if err != nil {
		return err
	}
	return o.write(stdout, desc, rows)
}

// problem loads or generates the problem and describes it.
func (o *compareOptions) problem(cmd *cobra.Command) (*pareto.Problem, string, error) {
	opts, err := o.options()
	if err != nil {
		return nil, "", err
	}
	if o.gram != "" || o.grads != "" {
		for _, name := range []string{"k", "p", "seed"} {
			if cmd.Flags().Changed(name) {
				return nil, "", usagef("--%s is for generated problems; it cannot be used with --gram or --grads", name)
			}
		}
		p, err := o.load()
		if err != nil {
			return nil, "", err
		}
		if o.gram != "" {
			return p, "Gram matrix " + o.gram, nil
		}
		return p, "gradients " + o.grads, nil
	}
	if o.k < 1 || o.k > maxGeneratedK {
		return nil, "", usagef("--k %d: want 1 ≤ K ≤ %d", o.k, maxGeneratedK)
	}
	if o.p < 1 {
		return nil, "", usagef("--p %d: want P ≥ 1", o.p)
	}
	if opts.Normalizer == pareto.NormLoss || opts.Normalizer == pareto.NormLossPlus {
		return nil, "", usagef("--normalize %s needs --losses, which only goes with --gram or --grads", opts.Normalizer)
	}
	p, err := pareto.NewFromGrads(pareto.ConflictingGrads(o.k, o.p, o.seed), opts)
	if err != nil {
		return nil, "", failure(err)
	}
	return p, fmt.Sprintf("generated conflicting gradients, K=%d P=%d seed=%d", o.k, o.p, o.seed), nil
}

// compareMethods runs every method on the problem (mtl.New) and fills the
// distance of each objective on the simplex to the best of them.
func compareMethods(p *pareto.Problem, methods []string, cfg mtl.Config) ([]compareRow, error) {
	rows := make([]compareRow, len(methods))
	best := math.Inf(1)
	for i, m := range methods {
		a, err := mtl.New(m, cfg)
		if err != nil {
			return nil, usagef("%v", err)
		}
		start := time.Now()
		res, err := a.Aggregate(p)
		if err != nil {
			return nil, usagef("%v", err)
		}
		rows[i] = compareRow{res: res, seconds: time.Since(start).Seconds(), support: support(res)}
		if res.OnSimplex {
			best = math.Min(best, res.Objective)
		}
	}
	for i := range rows {
		rows[i].rel = math.NaN()
		if rows[i].res.OnSimplex {
			rows[i].rel = (rows[i].res.Objective - best) / math.Max(math.Abs(best), math.SmallestNonzeroFloat64)
		}
	}
	return rows, nil
}

// support counts the normalised weights above solvers.DefaultSupportTol in
// magnitude (K when there are none: Σw ≤ 0).
func support(r mtl.Result) int {
	if r.Normalized == nil {
		return len(r.W)
	}
	n := 0
	for _, x := range r.Normalized {
		if math.Abs(x) > solvers.DefaultSupportTol {
			n++
		}
	}
	return n
}

// write prints the table and writes the files under --out.
func (o *compareOptions) write(stdout io.Writer, desc string, rows []compareRow) error {
	md := markdownTable(desc, rows)
	if _, err := io.WriteString(stdout, md); err != nil {
		return failure(err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(o.out, "solvers.md"), []byte(md)); err != nil {
		return failure(err)
	}
	if err := atomicfile.Write(filepath.Join(o.out, "solvers.csv"), func(w io.Writer) error { return writeCompareCSV(w, rows) }); err != nil {
		return failure(err)
	}
	if err := convergenceFigure(rows).Save(filepath.Join(o.out, "convergence."+o.figure)); err != nil {
		return failure(err)
	}
	if err := methodsFigure(rows).Save(filepath.Join(o.out, "methods."+o.figure)); err != nil {
		return failure(err)
	}
	return nil
}

func writeCompareCSV(w io.Writer, rows []compareRow) error {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	cw := csv.NewWriter(w)
	cw.Write([]string{"method", "status", "iterations", "seconds", "objective", "gap", "support", "rel_to_best",
		"norm", "min_inner", "conflict_ratio", "on_simplex"})
	for _, r := range rows {
		cw.Write([]string{r.res.Method, r.res.Status, strconv.Itoa(r.res.Iterations), g(r.seconds),
			g(r.res.Objective), g(r.res.Gap), strconv.Itoa(r.support), g(r.rel),
			g(r.res.Norm), g(r.res.MinInner), g(r.res.ConflictRatio()), strconv.FormatBool(r.res.OnSimplex)})
	}
	cw.Flush()
	return cw.Error()
}

func markdownTable(desc string, rows []compareRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# compare-solvers\n\nProblem: %s.\n\n", desc)
	b.WriteString("| method | status | iterations | seconds | objective | gap | support | (objective − best)/best | ‖d‖ | min_k ⟨d, g_k⟩ | min_k ⟨d, g_k⟩/‖d‖² |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		obj := fmt.Sprintf("%.12g", r.res.Objective)
		if !r.res.OnSimplex {
			obj += " (off Δ)"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.4g | %s | %.3g | %d | %.2g | %.4g | %.4g | %.4g |\n", r.res.Method, r.res.Status, r.res.Iterations,
			r.seconds, obj, r.res.Gap, r.support, r.rel, r.res.Norm, r.res.MinInner, r.res.ConflictRatio())
	}
	return b.String()
}

// thinTrace keeps at most about 100 points per decade of iterations, and
// the last point, so long runs plot quickly.
func thinTrace(tr []solvers.TracePoint) []solvers.TracePoint {
	var out []solvers.TracePoint
	last := -1.0
	for i, tp := range tr {
		pos := math.Floor(100 * math.Log10(float64(tp.Iter+1)))
		if pos > last || i == len(tr)-1 {
			out = append(out, tp)
			last = pos
		}
	}
	return out
}

// convergenceFigure draws the gap against iteration + 1 and against
// elapsed seconds, both on log–log axes, one line per solver (the
// aggregators have no trace).
func convergenceFigure(rows []compareRow) plots.Grid {
	byIter := plots.Lines{Title: "duality gap by iteration", XLabel: "iteration + 1", YLabel: "gap", LogX: true, LogY: true}
	byTime := plots.Lines{Title: "duality gap by time", XLabel: "seconds", YLabel: "gap", LogX: true, LogY: true}
	for _, r := range rows {
		if r.res.Trace == nil {
			continue
		}
		tr := thinTrace(r.res.Trace)
		it, sec, gap := make([]float64, len(tr)), make([]float64, len(tr)), make([]float64, len(tr))
		for i, tp := range tr {
			it[i] = float64(tp.Iter + 1)
			sec[i] = tp.Elapsed.Seconds()
			gap[i] = tp.Gap
		}
		byIter.Series = append(byIter.Series, plots.Series{Name: r.res.Method, X: it, Y: gap})
		byTime.Series = append(byTime.Series, plots.Series{Name: r.res.Method, X: sec, Y: gap})
	}
	grid := plots.Grid{Rows: 1, Cols: 2, Width: 12 * vg.Inch, Height: 4.5 * vg.Inch}
	for _, l := range []plots.Lines{byIter, byTime} {
		p, err := l.Plot()
		if err != nil {
			panic(err) // series lengths are equal by construction
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid
}

// methodsFigure draws, for every method, its weights rescaled to sum 1
// and the Eq. 8 check ⟨d, g_k⟩/‖d‖² against the task index.
func methodsFigure(rows []compareRow) plots.Grid {
	weights := plots.Lines{Title: "weights (rescaled to sum 1)", XLabel: "task k", YLabel: "w_k / Σw"}
	inner := plots.Lines{Title: "Eq. 8 check", XLabel: "task k", YLabel: "(Gw)_k / ‖d‖²  (= d·g_k / ‖d‖²)"}
	inner.Series = append(inner.Series, plots.Series{Name: "0", Reference: true, X: []float64{0, float64(len(rows[0].res.W) - 1)}, Y: []float64{0, 0}})
	for _, r := range rows {
		k := len(r.res.W)
		x := make([]float64, k)
		for i := range x {
			x[i] = float64(i)
		}
		if r.res.Normalized != nil {
			weights.Series = append(weights.Series, plots.Series{Name: r.res.Method, X: x, Y: r.res.Normalized})
		}
		if r.res.NormSq > 0 {
			y := make([]float64, k)
			for i, v := range r.res.Inner {
				y[i] = v / r.res.NormSq
			}
			inner.Series = append(inner.Series, plots.Series{Name: r.res.Method, X: x, Y: y})
		}
	}
	grid := plots.Grid{Rows: 1, Cols: 2, Width: 12 * vg.Inch, Height: 4.5 * vg.Inch}
	for _, l := range []plots.Lines{weights, inner} {
		p, err := l.Plot()
		if err != nil {
			panic(err) // series lengths are equal by construction
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid
}
