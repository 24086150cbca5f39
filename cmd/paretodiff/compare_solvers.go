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
		Short: "Run every Pareto solver on one problem and compare time, accuracy and convergence",
		Long: `compare-solvers solves one min-norm weighting problem, min over the simplex of
wᵀ(G + λI)w, with each of --methods and writes under --out:

  solvers.csv       method, status, iterations, seconds, objective, gap, support,
                    rel_to_best ((objective − best)/best over the methods)
  solvers.md        the same table, readable, with the problem described
  convergence.png   duality gap against iteration and against time (log scales)

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
  paretodiff compare-solvers --k 1000 --p 200 --normalize l2 --methods fw,fw-plain,ugd,ugd-plain --out runs/plain`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, cmd.OutOrStdout()) },
	}
	o.problemFlags.add(cmd)
	o.solverFlags.add(cmd)
	f := cmd.Flags()
	f.IntVar(&o.k, "k", 100, "generated problem: number of tasks K")
	f.IntVar(&o.p, "p", 50, "generated problem: gradient dimension P")
	f.Uint64Var(&o.seed, "seed", 1, "generated problem: random seed")
	f.StringVar(&o.methods, "methods", "fw,afw,pfw,pgd,ugd,exact", "comma-separated methods to run")
	f.DurationVar(&o.maxTime, "max-time", time.Minute, "time limit per method (0: none)")
	f.StringVar(&o.out, "out", "", "output directory (created if missing; required)")
	f.StringVar(&o.figure, "figure", "png", "figure format: png, svg or pdf")
	return cmd
}

// compareRow is one method's line of the table.
type compareRow struct {
	method  solvers.Method
	res     solvers.Result
	support int
	rel     float64
}

// maxGeneratedK bounds --k: the dense Gram takes 8·K² bytes.
const maxGeneratedK = 20000

func (o *compareOptions) run(cmd *cobra.Command, stdout io.Writer) error {
	methods, err := methodList(o.methods)
	if err != nil {
		return err
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
	if o.out == "" {
		return usagef("--out DIR is required")
	}
	if o.figure != "png" && o.figure != "svg" && o.figure != "pdf" {
		return usagef("--figure %q: want png, svg or pdf", o.figure)
	}
	opts, err := o.options()
	if err != nil {
		return err
	}
	var p *pareto.Problem
	var desc string
	fromFile := o.gram != "" || o.grads != ""
	if fromFile {
		for _, name := range []string{"k", "p", "seed"} {
			if cmd.Flags().Changed(name) {
				return usagef("--%s is for generated problems; it cannot be used with --gram or --grads", name)
			}
		}
		if p, err = o.load(); err != nil {
			return err
		}
		if o.gram != "" {
			desc = "Gram matrix " + o.gram
		} else {
			desc = "gradients " + o.grads
		}
	} else {
		if o.k < 1 || o.k > maxGeneratedK {
			return usagef("--k %d: want 1 ≤ K ≤ %d", o.k, maxGeneratedK)
		}
		if o.p < 1 {
			return usagef("--p %d: want P ≥ 1", o.p)
		}
		if opts.Normalizer == pareto.NormLoss || opts.Normalizer == pareto.NormLossPlus {
			return usagef("--normalize %s needs --losses, which only goes with --gram or --grads", opts.Normalizer)
		}
		if p, err = pareto.NewFromGrads(pareto.ConflictingGrads(o.k, o.p, o.seed), opts); err != nil {
			return failure(err)
		}
		desc = fmt.Sprintf("generated conflicting gradients, K=%d P=%d seed=%d", o.k, o.p, o.seed)
	}
	for _, m := range methods {
		if m == solvers.TwoTask && p.K() != 2 {
			return usagef("--methods: two-task needs K = 2 tasks, the problem has %d", p.K())
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return usagef("--out: %v", err)
	}
	desc += fmt.Sprintf(", normalizer %s, λ=%g; stop at gap ≤ %g·objective or ≤ %g·%g", p.Normalizer(), p.Lambda(), set.Tol, set.AbsTol, p.Scale())

	rows := make([]compareRow, len(methods))
	best := math.Inf(1)
	for i, m := range methods {
		res, err := solvers.Solve(p, m, &set)
		if err != nil {
			return usagef("%v", err)
		}
		rows[i] = compareRow{method: m, res: res, support: res.Support(0)}
		best = math.Min(best, res.F)
	}
	for i := range rows {
		rows[i].rel = (rows[i].res.F - best) / math.Max(math.Abs(best), math.SmallestNonzeroFloat64)
	}

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
	return nil
}

func writeCompareCSV(w io.Writer, rows []compareRow) error {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	cw := csv.NewWriter(w)
	cw.Write([]string{"method", "status", "iterations", "seconds", "objective", "gap", "support", "rel_to_best"})
	for _, r := range rows {
		cw.Write([]string{r.method.String(), r.res.Status.String(), strconv.Itoa(r.res.Iterations), g(r.res.Elapsed.Seconds()),
			g(r.res.F), g(r.res.Gap), strconv.Itoa(r.support), g(r.rel)})
	}
	cw.Flush()
	return cw.Error()
}

func markdownTable(desc string, rows []compareRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# compare-solvers\n\nProblem: %s.\n\n", desc)
	b.WriteString("| method | status | iterations | seconds | objective | gap | support | (objective − best)/best |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %.4g | %.12g | %.3g | %d | %.2g |\n", r.method, r.res.Status, r.res.Iterations,
			r.res.Elapsed.Seconds(), r.res.F, r.res.Gap, r.support, r.rel)
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
// elapsed seconds, both on log–log axes, one line per method.
func convergenceFigure(rows []compareRow) plots.Grid {
	byIter := plots.Lines{Title: "duality gap by iteration", XLabel: "iteration + 1", YLabel: "gap", LogX: true, LogY: true}
	byTime := plots.Lines{Title: "duality gap by time", XLabel: "seconds", YLabel: "gap", LogX: true, LogY: true}
	for _, r := range rows {
		tr := thinTrace(r.res.Trace)
		it, sec, gap := make([]float64, len(tr)), make([]float64, len(tr)), make([]float64, len(tr))
		for i, tp := range tr {
			it[i] = float64(tp.Iter + 1)
			sec[i] = tp.Elapsed.Seconds()
			gap[i] = tp.Gap
		}
		byIter.Series = append(byIter.Series, plots.Series{Name: r.method.String(), X: it, Y: gap})
		byTime.Series = append(byTime.Series, plots.Series{Name: r.method.String(), X: sec, Y: gap})
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
