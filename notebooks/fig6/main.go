// Notebook fig6: which timesteps does each weighting learn well?
//
//	go run ./notebooks/fig6                # quick scale, out/notebooks/fig6/
//	go run ./notebooks/fig6 -scale smoke   # seconds, numbers are noise
//
// The question. Hang et al. (ICCV 2023, Fig. 6) follow the unweighted x0
// loss ‖x0 − x̂0‖² in four timestep ranges — [0,100), [200,300),
// [600,700), [800,900) — while models with different weightings train.
// A weighting shifts effort between timesteps: SNR weighting favours the
// low-noise end, constant x0 weighting the high-noise end. Min-SNR-γ is
// meant to balance them: good in every range at once.
//
// The steps. Take the fig5 grid (the same models: from the shared cache
// when the fig5 notebook ran first, otherwise trained here). Every model
// recorded the x0-MSE of each range on fixed held-out examples while it
// trained. Average over seeds, take the mean of the last records as the
// final value of each range, and compare the strategies range by range:
// how far is each from the best in that range, and in its worst range?
//
// How to read the result. x0mse.png: one row of panels per target, one
// panel per range, x0-MSE against step on a log scale. report.md: the
// final x0-MSE per range (best in bold) and each strategy's worst excess
// over the best — the smaller, the more balanced.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
)

func main() { nb.Main("fig6", run) }

func run(ctx context.Context, o nb.Options) error {
	env := o.Env()
	sizes := reproduce.ModelSizesFor(o.Scale)

	// Step 1: the grid (the same configurations as fig5).
	g, err := reproduce.TrainGrid(ctx, env, "fig6", sizes, reproduce.PaperTargets, reproduce.PaperStrategies)
	if err != nil {
		return err
	}

	// Step 2: the paper's figure.
	fig, err := reproduce.X0MSEFigure(g)
	if err != nil {
		return err
	}
	if err := fig.Save(o.Path("x0mse.png")); err != nil {
		return err
	}

	// Step 3: the final x0-MSE of every strategy in every range: the mean
	// of the last Fig6Tail records of the seed-averaged curve (the
	// held-out batches are fixed, so what varies between records is the
	// weights' training noise).
	labels := reproduce.Fig6Labels(sizes.T)
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook fig6: unweighted x0-MSE by timestep range\n\n")
	fmt.Fprintf(&b, "Scale `%s`, seed %d: %s, %d steps, %d seed(s) for x0 and %d for the other targets; x0-MSE on %d fixed held-out examples per range, final value = mean of the last %d records (every %d steps).\n\n",
		o.Scale, o.Seed, sizes.Data, sizes.Steps, sizes.SeedsFor("x0"), sizes.SeedsFor("eps"), sizes.EvalSize, reproduce.Fig6Tail, sizes.EvalEvery)
	var reading []string
	for _, tg := range g.Targets {
		vals := make([][]float64, len(g.Strategies)) // vals[strategy][range]
		for si, st := range g.Strategies {
			for k := range labels {
				_, series := g.MeanSeries(tg, st, reproduce.X0MSE(k))
				m, _ := reproduce.TailMeanSE(series, reproduce.Fig6Tail)
				vals[si] = append(vals[si], m)
			}
		}
		// Step 4: Regrets gives, per range, how much worse than the best
		// strategy each one is (0 for the best); a strategy's worst regret
		// says how unbalanced it is.
		reg := reproduce.Regrets(vals)
		fmt.Fprintf(&b, "## %s-prediction\n\n| strategy | %s | worst range vs best |\n|---|%s---|\n", tg, strings.Join(labels, " | "), strings.Repeat("---|", len(labels)))
		balanced, worstOf := -1, make([]float64, len(g.Strategies))
		for si, st := range g.Strategies {
			fmt.Fprintf(&b, "| %s |", st)
			worst, wr := 0.0, 0
			for ri := range labels {
				cell := fmt.Sprintf("%.4g", vals[si][ri])
				if reg[si][ri] == 0 {
					cell = "**" + cell + "**"
				}
				fmt.Fprintf(&b, " %s |", cell)
				if reg[si][ri] > worst {
					worst, wr = reg[si][ri], ri
				}
			}
			worstOf[si] = worst
			fmt.Fprintf(&b, " +%.1f%% (%s) |\n", 100*worst, labels[wr])
			if balanced < 0 || worst < worstOf[balanced] {
				balanced = si
			}
		}
		b.WriteString("\n")
		mi := indexOf(g.Strategies, "min-snr:5")
		line := fmt.Sprintf("With %s-prediction the most balanced strategy is %s (at most %.1f%% above the best in any range)", tg, g.Strategies[balanced], 100*worstOf[balanced])
		if mi >= 0 && mi != balanced {
			line += fmt.Sprintf("; min-SNR-5 is up to %.1f%% above the best", 100*worstOf[mi])
		}
		reading = append(reading, line+".")
	}
	fmt.Fprintf(&b, "## Reading\n\n- %s\n\n", strings.Join(reading, "\n- "))
	fmt.Fprintf(&b, "`paretodiff reproduce fig6` adds the noise margin of each comparison and a verdict.\n\n")
	fmt.Fprintf(&b, "## What this scale can show\n\n%s\n\n![x0mse.png](x0mse.png)\n", reproduce.ScaleLimits(o.Scale, "x0-MSE"))
	return o.WriteReport(b.String())
}

func indexOf(v []string, s string) int {
	for i, x := range v {
		if x == s {
			return i
		}
	}
	return -1
}
