// Notebook table2: which γ should min-SNR-γ use?
//
//	go run ./notebooks/table2                # quick scale, out/notebooks/table2/
//	go run ./notebooks/table2 -scale smoke   # seconds, numbers are noise
//
// The question. Min-SNR-γ weights the x0 loss by min(SNR, γ): below γ it
// follows SNR, above it caps the weight of the least noisy timesteps.
// Hang et al. (ICCV 2023, Table 2) try γ ∈ {1, 5, 10, 20} and settle on
// γ = 5, the value used everywhere else in the paper.
//
// The steps. Train min-SNR-γ for each γ and each prediction target (the
// γ = 5 models are fig5's, shared through the cache), measure the final
// sample quality of each model with several independent sample sets, and
// compare the γ per target against the spread over seeds and sample sets.
//
// How to read the result. table2.png: final quality against γ (log
// scale), one line per target, lower is better. report.md: the table with
// the best γ per target in bold, and whether γ = 5 is within the noise of
// the best.
package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
)

func main() { nb.Main("table2", run) }

func run(ctx context.Context, o nb.Options) error {
	env := o.Env()
	sizes := reproduce.ModelSizesFor(o.Scale)
	gammas := reproduce.Table2Gammas

	// Step 1: one strategy per γ, "min-snr:γ", on every target.
	var specs []string
	for _, gm := range gammas {
		specs = append(specs, reproduce.GammaSpec(gm))
	}
	g, err := reproduce.TrainGrid(ctx, env, "table2", sizes, reproduce.PaperTargets, specs)
	if err != nil {
		return err
	}
	_, metric := g.Floor()

	// Step 2: the figure: final quality against γ.
	fig, err := reproduce.GammaFigure(g, gammas)
	if err != nil {
		return err
	}
	if err := fig.Save(o.Path("table2.png")); err != nil {
		return err
	}

	// Step 3: the table. FinalQuality pools the last evaluation of every
	// seed and sample set: its standard deviation is the noise a
	// difference between two γ has to beat.
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook table2: min-SNR-γ for γ ∈ {1, 5, 10, 20}\n\n")
	fmt.Fprintf(&b, "Scale `%s`, seed %d: %s, %d steps, %d seed(s) for x0 and %d for the other targets × %d sample sets per configuration; final %s (lower is better), mean ± standard error over seeds, bold: best per target.\n\n",
		o.Scale, o.Seed, sizes.Data, sizes.Steps, sizes.SeedsFor("x0"), sizes.SeedsFor("eps"), sizes.Repeats, metric)
	fmt.Fprintf(&b, "| γ | %s |\n|---|%s\n", strings.Join(g.Targets, " | "), strings.Repeat("---|", len(g.Targets)))
	mean := map[string][]float64{}
	sd := map[string][]float64{}
	for _, tg := range g.Targets {
		for _, s := range specs {
			q := g.FinalQuality(tg, s)
			mean[tg], sd[tg] = append(mean[tg], q.Mean), append(sd[tg], q.SE)
		}
	}
	best := map[string]int{}
	for _, tg := range g.Targets {
		for i, m := range mean[tg] {
			if m < mean[tg][best[tg]] {
				best[tg] = i
			}
		}
	}
	for i, gm := range gammas {
		fmt.Fprintf(&b, "| %g |", gm)
		for _, tg := range g.Targets {
			cell := fmt.Sprintf("%.4f ± %.4f", mean[tg][i], sd[tg][i])
			if best[tg] == i {
				cell = "**" + cell + "**"
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}

	// Step 4: read it. γ = 5 is "as good as the best" when its mean is
	// within twice the combined standard deviation of the best one's.
	i5 := -1
	for i, gm := range gammas {
		if gm == 5 {
			i5 = i
		}
	}
	var reading []string
	for _, tg := range g.Targets {
		bi := best[tg]
		line := fmt.Sprintf("With %s-prediction the best γ is %g (%.4f)", tg, gammas[bi], mean[tg][bi])
		if i5 >= 0 && bi != i5 {
			gap := mean[tg][i5] - mean[tg][bi]
			noise := 2 * math.Hypot(sd[tg][i5], sd[tg][bi])
			if gap <= noise {
				line += fmt.Sprintf("; γ = 5 (%.4f) is within twice the spread of it (%.4f)", mean[tg][i5], noise)
			} else {
				line += fmt.Sprintf("; γ = 5 (%.4f) is worse by more than twice the spread (%.4f)", mean[tg][i5], noise)
			}
		}
		reading = append(reading, line+".")
	}
	fmt.Fprintf(&b, "\n## Reading\n\n- %s\n\n", strings.Join(reading, "\n- "))
	fmt.Fprintf(&b, "## What this scale can show\n\n%s\n\n![table2.png](table2.png)\n", reproduce.ScaleLimits(o.Scale, metric))
	return o.WriteReport(b.String())
}
