package reproduce

import (
	"context"
	"fmt"
	"math"
	"strings"

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
// strategy and Fig. 6 range, the final x0-MSE.
type Fig6Result struct {
	// Scale and Sizes are the run's.
	Scale Scale
	Sizes ModelSizes
	// Grid holds the models (PaperTargets × PaperStrategies × seeds) with
	// their x0-MSE by range over training.
	Grid *ModelGrid
	// Labels name the ranges (Fig6Labels of Sizes.T).
	Labels []string
	// Final[i][s][k] is the final x0-MSE of Grid.Targets[i],
	// Grid.Strategies[s] in range Labels[k]: the mean of the last Fig6Tail
	// records of the seed-mean curve (TailMeanSE); FinalRSE[i][s][k] is the
	// relative standard error of that mean (its SE over the mean).
	Final, FinalRSE [][][]float64
}

// fig6Grid is fig6's grid (its plan and its Compute): fig5's.
func fig6Grid(s Scale) gridPlan { return fig5Grid(s) }

// planFig6 is fig6's runs: its grid.
func planFig6(env *Env) ([]CacheRun, error) { return fig6Grid(env.Scale).plan(env) }

// Fig6 trains (or takes from the cache) the grid of the paper's Fig. 6 and
// measures the final x0-MSE of every target, strategy and range. It writes
// nothing into the target's folder (Render does).
func Fig6(ctx context.Context, env *Env) (*Fig6Result, error) {
	grid := fig6Grid(env.Scale)
	sizes := grid.Sizes
	g, err := grid.train(ctx, env, "fig6")
	if err != nil {
		return nil, err
	}
	r := &Fig6Result{Scale: env.Scale, Sizes: sizes, Grid: g, Labels: Fig6Labels(sizes.T)}
	for _, tg := range g.Targets {
		vals := make([][]float64, len(g.Strategies))
		rse := make([][]float64, len(g.Strategies))
		for si, st := range g.Strategies {
			for ki := range r.Labels {
				_, v := g.MeanSeries(tg, st, X0MSE(ki))
				m, se := tailMeanSE(v, fig6Tail)
				vals[si] = append(vals[si], m)
				rse[si] = append(rse[si], se/m)
			}
		}
		r.Final, r.FinalRSE = append(r.Final, vals), append(r.FinalRSE, rse)
	}
	return r, nil
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
	f, ft, md := r.balanceFinding()
	if err := ft.WriteCSV(out.path("final_x0mse.csv")); err != nil {
		return nil, err
	}
	return &Report{
		Title:    "unweighted x0-MSE by timestep range over training",
		Paper:    "Fig. 6 of Hang et al. (ICCV 2023): the unweighted x0 loss ‖x0 − x̂0‖² in timestep ranges [0,100), [200,300), [600,700), [800,900) over training, for the four strategies",
		Sizes:    r.Sizes,
		Findings: []Finding{f},
		Sections: []Section{{
			Heading: "Final x0-MSE by range",
			Body:    fmt.Sprintf("Mean of the last %d records (every %d steps) on fixed held-out batches of %d examples per range; **bold** is the best strategy in the range; the last column is the strategy's largest excess over the best.\n\n", fig6Tail, r.Sizes.EvalEvery, r.Sizes.EvalSize) + md.Markdown(),
		}},
		Limits: limitsText(r.Scale, "x0-MSE") + " The x0-MSE of a range is measured on the same held-out examples for every model, so differences between strategies are not differences of data.",
		Files:  out.files,
	}, nil
}

// fig6CurveTable is the x0-MSE of every model of a grid in every range
// over training (x0mse.csv).
func fig6CurveTable(g *ModelGrid, labels []string) Table {
	t := Table{Header: []string{"target", "strategy", "seed", "step", "range", "x0_mse"}}
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			for _, sd := range g.Seeds {
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

// balance is how evenly each strategy of one target does over the ranges.
type balance struct {
	// regret[s][k] is strategy s's excess over the best strategy in range
	// k (Regrets), best[k] the best strategy there.
	regret [][]float64
	best   []int
	// worst[s] is strategy s's largest excess over the ranges and
	// worstSE[s] its standard error.
	worst, worstSE []float64
}

// balanceOf measures the balance of final x0-MSEs vals[s][k] with relative
// standard errors rse[s][k].
func balanceOf(vals, rse [][]float64) balance {
	b := balance{regret: Regrets(vals), best: make([]int, len(vals[0]))}
	for k := range b.best {
		for s := range vals {
			if b.regret[s][k] == 0 {
				b.best[k] = s
			}
		}
	}
	for s := range vals {
		w, se := -1.0, 0.0
		for k, x := range b.regret[s] {
			if x > w {
				w, se = x, (1+x)*math.Hypot(rse[s][k], rse[b.best[k]][k])
			}
		}
		b.worst, b.worstSE = append(b.worst, w), append(b.worstSE, se)
	}
	return b
}

// balanceOutcome is what a target's balance says about "min-SNR-5
// balances the ranges": min-SNR-5 (strategy mi) against the most balanced
// other strategy (oi). The excesses are ratios of tail means; the margin is
// twice the standard error of their difference.
func balanceOutcome(b balance, mi, oi int) (o Outcome, margin float64) {
	margin = 2 * math.Hypot(b.worstSE[mi], b.worstSE[oi])
	switch {
	case math.Abs(b.worst[mi]-b.worst[oi]) <= margin:
		return WithinNoise, margin
	case b.worst[mi] > b.worst[oi]:
		return Contradicts, margin
	}
	return Supports, margin
}

// balanceFinding compares the final x0-MSEs with the claim that
// min-SNR-γ balances the timesteps, and tabulates them as CSV
// (final_x0mse.csv) and for the report.
func (r *Fig6Result) balanceFinding() (f Finding, csv, md Table) {
	g := r.Grid
	csv = Table{Header: append([]string{"target", "strategy"}, append(append([]string(nil), r.Labels...), "worst_regret")...)}
	md = Table{Header: append([]string{"target", "strategy"}, append(append([]string(nil), r.Labels...), "worst range vs best")...)}
	var outs []Outcome
	var lines []string
	for i, tg := range g.Targets {
		b := balanceOf(r.Final[i], r.FinalRSE[i])
		mi, oi := -1, -1
		for si, st := range g.Strategies {
			fig6Rows(&csv, &md, tg, st, r.Final[i][si], b.regret[si], b.worst[si])
			if st == fig5MinSNR {
				mi = si
			} else if oi < 0 || b.worst[si] < b.worst[oi] {
				oi = si
			}
		}
		o, margin := balanceOutcome(b, mi, oi)
		outs = append(outs, o)
		lines = append(lines, fmt.Sprintf("%s: min-SNR-5 is at most %.1f%% above the best strategy in every range, the most balanced other strategy (%s) %.1f%% (%s; noise margin %.1f%%)",
			tg, 100*b.worst[mi], g.Strategies[oi], 100*b.worst[oi], map[Outcome]string{Supports: "min-SNR-5 is the most balanced", Contradicts: "min-SNR-5 is not the most balanced", WithinNoise: "within noise"}[o], 100*margin))
	}
	f = Finding{
		Claim:    "Min-SNR-γ balances the timesteps: it does well in every timestep range at once, whereas each classical weighting favours some ranges (SNR weighting the low-noise ones, constant x0 weighting the high-noise ones) at the cost of others. (Our reading of the paper's Fig. 6, which plots these four ranges over training.)",
		Measured: strings.Join(lines, "; ") + ".",
		Rule:     fmt.Sprintf("per target, take each strategy's final x0-MSE in each range (mean of the last %d records), its excess over the best strategy in that range, and its worst excess over the ranges; min-SNR-5 balances if its worst excess is the smallest of the four; a difference within twice its standard error (from the record-to-record spread of the tail means) is within noise; %s", fig6Tail, verdictRule),
		Verdict:  VerdictOf(outs...),
	}
	return f, csv, md
}

// fig6Rows adds one strategy's final x0-MSEs to the CSV and markdown
// tables: the markdown marks the best strategy of each range in bold.
func fig6Rows(csv, md *Table, target, strategy string, vals, regret []float64, worst float64) {
	row, mrow := []any{target, strategy}, []any{target, strategy}
	for k, v := range vals {
		row = append(row, v)
		c := fmt.Sprintf("%.4g", v)
		if regret[k] == 0 {
			c = "**" + c + "**"
		}
		mrow = append(mrow, c)
	}
	csv.Add(append(row, worst)...)
	md.Add(append(mrow, fmt.Sprintf("+%.0f%%", 100*worst))...)
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
