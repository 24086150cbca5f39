package reproduce

import (
	"context"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot/vg"
)

// fig6Tail is the number of last metrics records averaged for the final
// x0-MSE of a range (the held-out batches are fixed, so what varies between
// records is the training noise of the weights).
const fig6Tail = 3

// Fig6Labels returns the labels ("[0,100)", …) of the paper's Fig. 6
// ranges for T timesteps, in the order of a record's X0MSE (X0MSE(k)
// selects range k).
func Fig6Labels(T int) []string {
	var labels []string
	for _, r := range diffusion.Fig6Ranges {
		lo, hi := r[0]*T/1000, r[1]*T/1000
		if hi <= lo {
			continue
		}
		labels = append(labels, fmt.Sprintf("[%d,%d)", lo, hi))
	}
	return labels
}

// Fig6Result is what fig6 measured: the grid of models and, per target,
// strategy, Fig. 6 range and seed, the final x0-MSE.
type Fig6Result struct {
	// Scale and Sizes are the run's.
	Scale Scale
	Sizes ModelSizes
	// Grid holds the models (PaperTargets × PaperStrategies × seeds) with
	// their x0-MSE by range over training.
	Grid *ModelGrid
	// Labels name the ranges (Fig6Labels of Sizes.T).
	Labels []string
	// PerSeed[i][s][k][n] is the final x0-MSE of Grid.Targets[i],
	// Grid.Strategies[s] in range Labels[k] for the n-th seed of the
	// target: the mean of the model's last Fig6Tail records (TailMeanSE),
	// and TailSE[i][s][k][n] the record-to-record standard error of that
	// mean (the only noise measure with a single seed).
	PerSeed, TailSE [][][][]float64
}

// fig6Grid is fig6's grid (its plan and its Compute): fig5's.
func fig6Grid(env *Env) gridPlan { return fig5Grid(env) }

// planFig6 is fig6's runs: its grid.
func planFig6(env *Env) ([]CacheRun, error) { return fig6Grid(env).plan(env) }

// Fig6 trains (or takes from the cache) the grid of the paper's Fig. 6 and
// measures the final x0-MSE of every target, strategy, range and seed. It
// writes nothing into the target's folder (Render does).
func Fig6(ctx context.Context, env *Env) (*Fig6Result, error) {
	grid := fig6Grid(env)
	g, err := grid.train(ctx, env, "fig6")
	if err != nil {
		return nil, err
	}
	return fig6Of(g, env.Scale), nil
}

// fig6Of measures fig6 on a trained grid.
func fig6Of(g *ModelGrid, scale Scale) *Fig6Result {
	r := &Fig6Result{Scale: scale, Sizes: g.Sizes, Grid: g, Labels: Fig6Labels(g.Sizes.T)}
	for _, tg := range g.Targets {
		vals := make([][][]float64, len(g.Strategies))
		ses := make([][][]float64, len(g.Strategies))
		for si, st := range g.Strategies {
			vals[si], ses[si] = make([][]float64, len(r.Labels)), make([][]float64, len(r.Labels))
			for ki := range r.Labels {
				for _, sd := range g.SeedsOf(tg) {
					_, v := g.Model(tg, st, sd).Series(X0MSE(ki))
					m, se := tailMeanSE(v, fig6Tail)
					vals[si][ki], ses[si][ki] = append(vals[si][ki], m), append(ses[si][ki], se)
				}
			}
		}
		r.PerSeed, r.TailSE = append(r.PerSeed, vals), append(r.TailSE, ses)
	}
	return r
}

// Render writes fig6's files into dir (x0mse.csv, x0mse.png,
// final_x0mse.csv) and returns its report.
func (r *Fig6Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	ct := fig6CurveTable(r.Grid, r.Labels)
	if err := ct.WriteCSV(out.path("x0mse.csv")); err != nil {
		return nil, err
	}
	grid, err := X0MSEFigure(r.Grid)
	if err != nil {
		return nil, err
	}
	if err := grid.Save(out.path("x0mse.png")); err != nil {
		return nil, err
	}
	ft, md := r.finalTables()
	if err := ft.WriteCSV(out.path("final_x0mse.csv")); err != nil {
		return nil, err
	}
	pf, decl := declare(r.primaryFinding())
	return &Report{
		Primary:  decl,
		Title:    "unweighted x0-MSE by timestep range over training",
		Paper:    "Fig. 6 of Hang et al. (ICCV 2023): the unweighted x0 loss ‖x0 − x̂0‖² in timestep ranges [0,100), [200,300), [600,700), [800,900) over training, for the four strategies, with x0-prediction",
		Sizes:    r.Sizes,
		Findings: []Finding{pf, r.crossoverFinding(), r.otherTargetsFinding()},
		Sections: []Section{{
			Heading: "Final x0-MSE by range",
			Body:    fmt.Sprintf("Per seed, the mean of the model's last %d records (every %d steps) on fixed held-out batches of %d examples per range; the table shows the mean ± standard error over seeds; **bold** is the best strategy in the range.\n\n", fig6Tail, r.Sizes.EvalEvery, r.Sizes.EvalSize) + md.Markdown(),
		}},
		Limits: limitsText(r.Scale, r.Sizes, "x0-MSE") + " The x0-MSE of a range is measured on the same held-out examples for every model, so differences between strategies are not differences of data.",
		Files:  out.files,
	}, nil
}

// fig6CurveTable is the x0-MSE of every model of a grid in every range
// over training (x0mse.csv).
func fig6CurveTable(g *ModelGrid, labels []string) Table {
	t := Table{Header: []string{"target", "strategy", "seed", "step", "range", "x0_mse"}}
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			for _, sd := range g.SeedsOf(tg) {
				m := g.Model(tg, st, sd)
				for ki := range labels {
					steps, vals := m.Series(X0MSE(ki))
					for i := range steps {
						t.Add(tg, st, sd, int(steps[i]), labels[ki], vals[i])
					}
				}
			}
		}
	}
	return t
}

// finalTables are the final x0-MSEs as CSV (final_x0mse.csv: mean and
// standard error over seeds per target, strategy and range) and as the
// report's table (the best strategy of each range in bold).
func (r *Fig6Result) finalTables() (csv, md Table) {
	g := r.Grid
	csv = Table{Header: []string{"target", "strategy", "range", "mean", "se", "seeds"}}
	md = Table{Header: append([]string{"target", "strategy"}, r.Labels...)}
	for i, tg := range g.Targets {
		for si, st := range g.Strategies {
			row := []any{tg, st}
			for k, l := range r.Labels {
				m, se := r.stat(i, si, k)
				csv.Add(tg, st, l, m, se, len(g.SeedsOf(tg)))
				c := fmt.Sprintf("%.4g ± %.2g", m, se)
				if r.best(i, k, -1) == si {
					c = "**" + c + "**"
				}
				row = append(row, c)
			}
			md.Add(row...)
		}
	}
	return csv, md
}

// stat is the mean over seeds of target i, strategy s in range k, and its
// standard error over the seeds (with one seed, the record-to-record
// standard error of its tail mean).
func (r *Fig6Result) stat(i, s, k int) (mean, se float64) {
	v := r.PerSeed[i][s][k]
	if len(v) == 1 {
		return v[0], r.TailSE[i][s][k][0]
	}
	return meanSE(v)
}

// best is the strategy with the lowest mean of target i in range k,
// leaving out strategy skip.
func (r *Fig6Result) best(i, k, skip int) int {
	b, bv := -1, math.Inf(1)
	for s := range r.Grid.Strategies {
		if m, _ := r.stat(i, s, k); s != skip && m < bv {
			b, bv = s, m
		}
	}
	return b
}

// diff is the mean difference a − b of strategies a and b of target i in
// range k, and its standard error: paired over seeds, or from the tail
// standard errors with one seed.
func (r *Fig6Result) diff(i, a, b, k int) (d, se float64) {
	x, y := r.PerSeed[i][a][k], r.PerSeed[i][b][k]
	if len(x) == 1 {
		return x[0] - y[0], math.Hypot(r.TailSE[i][a][k][0], r.TailSE[i][b][k][0])
	}
	return pairedSE(x, y)
}

// X0MSEFigure draws the paper's Fig. 6 for a grid: the unweighted x0-MSE
// of each Fig. 6 timestep range (Fig6Labels) against training step, seed
// means on a log scale, one row of panels per target, one line per
// strategy.
func X0MSEFigure(g *ModelGrid) (plots.Grid, error) {
	labels := Fig6Labels(g.Sizes.T)
	grid := plots.Grid{Rows: len(g.Targets), Cols: len(labels), Width: 18 * vg.Inch, Height: 11 * vg.Inch, SharedLegend: true}
	for _, tg := range g.Targets {
		for ki := range labels {
			panel := plots.Lines{Title: fmt.Sprintf("%s-prediction, t in %s", tg, labels[ki]), XLabel: "training step", YLabel: "x0-MSE (log scale)", LogY: true}
			for _, st := range g.Strategies {
				s, v := g.MeanSeries(tg, st, X0MSE(ki))
				panel.Series = append(panel.Series, plots.Series{Name: st, X: s, Y: v})
			}
			p, err := panel.Plot()
			if err != nil {
				return plots.Grid{}, err
			}
			grid.Panels = append(grid.Panels, p)
		}
	}
	return grid, nil
}

// Fig6Tail is the number of last metrics records fig6 averages for the
// final x0-MSE of a range.
const Fig6Tail = fig6Tail

// TailMeanSE returns the mean of the last n values of a series (all of them
// if fewer) and its standard error: fig6's final value of a curve.
func TailMeanSE(v []float64, n int) (mean, se float64) { return tailMeanSE(v, n) }

// tailMeanSE is the mean of the last n values (all if fewer) and its
// standard error.
func tailMeanSE(v []float64, n int) (mean, se float64) {
	t := v[max(0, len(v)-n):]
	m, sd := meanSD(t)
	return m, sd / math.Sqrt(float64(len(t)))
}
