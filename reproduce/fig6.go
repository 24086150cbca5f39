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

func runFig6(ctx context.Context, env *Env) (*Report, error) {
	dir, err := env.Dir("fig6")
	if err != nil {
		return nil, err
	}
	out := &output{dir: dir}
	sizes := ModelSizesFor(env.Scale)
	g, err := TrainGrid(ctx, env, "fig6", sizes, PaperTargets, PaperStrategies)
	if err != nil {
		return nil, err
	}
	labels := Fig6Labels(sizes.T)

	ct := Table{Header: []string{"target", "strategy", "seed", "step", "range", "x0_mse"}}
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			for _, sd := range g.Seeds {
				m := g.Model(tg, st, sd)
				for ki := range labels {
					steps, vals := m.Series(X0MSE(ki))
					for i := range steps {
						ct.Add(tg, st, sd, int(steps[i]), labels[ki], vals[i])
					}
				}
			}
		}
	}
	if err := ct.WriteCSV(out.path("x0mse.csv")); err != nil {
		return nil, err
	}
	grid, err := X0MSEFigure(g)
	if err != nil {
		return nil, err
	}
	if err := grid.Save(out.path("x0mse.png")); err != nil {
		return nil, err
	}

	// Final x0-MSE per range (mean of the last records, over seeds), and
	// how far each strategy is from the best in its worst range.
	ft := Table{Header: append([]string{"target", "strategy"}, append(append([]string(nil), labels...), "worst_regret")...)}
	md := Table{Header: append([]string{"target", "strategy"}, append(append([]string(nil), labels...), "worst range vs best")...)}
	var outcomes []Outcome
	var lines []string
	for _, tg := range g.Targets {
		vals := make([][]float64, len(g.Strategies))
		rse := make([][]float64, len(g.Strategies)) // relative standard errors of the tail means
		for si, st := range g.Strategies {
			for ki := range labels {
				_, v := g.MeanSeries(tg, st, X0MSE(ki))
				m, se := tailMeanSE(v, fig6Tail)
				vals[si] = append(vals[si], m)
				rse[si] = append(rse[si], se/m)
			}
		}
		reg := Regrets(vals)
		best := make([]int, len(labels))
		for ri := range labels {
			for si := range g.Strategies {
				if reg[si][ri] == 0 {
					best[ri] = si
				}
			}
		}
		worst := make([]float64, len(g.Strategies))
		worstNoise := make([]float64, len(g.Strategies)) // standard error of worst
		mi, oi, bestOther, bestName := -1, -1, math.Inf(1), ""
		for si, st := range g.Strategies {
			worst[si] = -1
			for ri, x := range reg[si] {
				if x > worst[si] {
					worst[si] = x
					worstNoise[si] = (1 + x) * math.Hypot(rse[si][ri], rse[best[ri]][ri])
				}
			}
			row, mrow := []any{tg, st}, []any{tg, st}
			for ri := range labels {
				row = append(row, vals[si][ri])
				c := fmt.Sprintf("%.4g", vals[si][ri])
				if reg[si][ri] == 0 {
					c = "**" + c + "**"
				}
				mrow = append(mrow, c)
			}
			ft.Add(append(row, worst[si])...)
			md.Add(append(mrow, fmt.Sprintf("+%.0f%%", 100*worst[si]))...)
			if st == fig5MinSNR {
				mi = si
			} else if worst[si] < bestOther {
				oi, bestOther, bestName = si, worst[si], st
			}
		}
		// The excesses are ratios of tail means; the margin is twice the
		// standard error of their difference.
		margin := 2 * math.Hypot(worstNoise[mi], worstNoise[oi])
		o := Supports
		switch {
		case math.Abs(worst[mi]-bestOther) <= margin:
			o = WithinNoise
		case worst[mi] > bestOther:
			o = Contradicts
		}
		outcomes = append(outcomes, o)
		lines = append(lines, fmt.Sprintf("%s: min-SNR-5 is at most %.1f%% above the best strategy in every range, the most balanced other strategy (%s) %.1f%% (%s; noise margin %.1f%%)",
			tg, 100*worst[mi], bestName, 100*bestOther, map[Outcome]string{Supports: "min-SNR-5 is the most balanced", Contradicts: "min-SNR-5 is not the most balanced", WithinNoise: "within noise"}[o], 100*margin))
	}
	if err := ft.WriteCSV(out.path("final_x0mse.csv")); err != nil {
		return nil, err
	}
	f := Finding{
		Claim:    "Min-SNR-γ balances the timesteps: it does well in every timestep range at once, whereas each classical weighting favours some ranges (SNR weighting the low-noise ones, constant x0 weighting the high-noise ones) at the cost of others. (Our reading of the paper's Fig. 6, which plots these four ranges over training.)",
		Measured: strings.Join(lines, "; ") + ".",
		Rule:     fmt.Sprintf("per target, take each strategy's final x0-MSE in each range (mean of the last %d records), its excess over the best strategy in that range, and its worst excess over the ranges; min-SNR-5 balances if its worst excess is the smallest of the four; a difference within twice its standard error (from the record-to-record spread of the tail means) is within noise; %s", fig6Tail, verdictRule),
		Verdict:  VerdictOf(outcomes...),
	}
	r := &Report{
		Title:    "unweighted x0-MSE by timestep range over training",
		Paper:    "Fig. 6 of Hang et al. (ICCV 2023): the unweighted x0 loss ‖x0 − x̂0‖² in timestep ranges [0,100), [200,300), [600,700), [800,900) over training, for the four strategies",
		Sizes:    sizes,
		Findings: []Finding{f},
		Sections: []Section{{
			Heading: "Final x0-MSE by range",
			Body:    fmt.Sprintf("Mean of the last %d records (every %d steps) on fixed held-out batches of %d examples per range; **bold** is the best strategy in the range; the last column is the strategy's largest excess over the best.\n\n", fig6Tail, sizes.EvalEvery, sizes.EvalSize) + md.Markdown(),
		}},
		Limits: limitsText(env.Scale, "x0-MSE") + " The x0-MSE of a range is measured on the same held-out examples for every model, so differences between strategies are not differences of data.",
		Files:  out.files,
	}
	return r, nil
}

// X0MSEFigure draws the paper's Fig. 6 for a grid: the unweighted x0-MSE
// of each Fig. 6 timestep range (Fig6Labels) against training step, seed
// means on a log scale, one row of panels per target, one line per
// strategy.
func X0MSEFigure(g *ModelGrid) (plots.Grid, error) {
	labels := Fig6Labels(g.Sizes.T)
	grid := plots.Grid{Rows: len(g.Targets), Cols: len(labels), Width: 18 * vg.Inch, Height: 11 * vg.Inch}
	for _, tg := range g.Targets {
		for ki := range labels {
			panel := plots.Lines{Title: fmt.Sprintf("%s-prediction, t in %s", tg, labels[ki]), XLabel: "training step", YLabel: "x0-MSE (log scale)", LogY: true}
			if ki > 0 {
				panel.Legend = "none"
			}
			for _, st := range g.Strategies {
				s, v := g.MeanSeries(tg, st, X0MSE(ki))
				panel.Series = append(panel.Series, plots.Series{Name: st, X: s, Y: v})
			}
			p, err := panel.Plot()
			if err != nil {
				return plots.Grid{}, err
			}
			plots.UseLogTicks125(p)
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
