// Notebook fig5: does min-SNR-5 make diffusion training converge faster?
//
//	go run ./notebooks/fig5                # quick scale, out/notebooks/fig5/
//	go run ./notebooks/fig5 -scale smoke   # seconds, numbers are noise
//
// The question. Hang et al. (ICCV 2023, Fig. 5) train the same model with
// four loss weightings — constant, SNR, max-SNR-1 and min-SNR-5 — and each
// of three prediction targets (ε, x0, v), and follow the sample quality
// (FID) over training: min-SNR-5 gets there about 3.4× sooner than the
// others. Here the same grid of 12 configurations is trained at the
// chosen scale (two seeds each at quick scale) and quality is the sliced
// Wasserstein distance (SWD) of samples to real data (FD on MNIST at the
// paper scale).
//
// The steps. Train the grid (models come from the shared cache when an
// earlier notebook or run trained them); average each configuration's
// quality curve over the seeds; for each target, measure how many times
// fewer steps min-SNR-5 needs to reach each baseline's final quality
// (curves smoothed over three evaluations); compare the final qualities
// with their spread over seeds and sample sets.
//
// How to read the result. quality.png: quality against training step,
// one panel per target, lower is better, the real-data floor as a line no
// model can go below. samples.png: the final samples of every model next
// to real data. report.md: the speed-ups and the final qualities.
package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
)

func main() { nb.Main("fig5", run) }

// smooth is the half-width of the moving average applied to the quality
// curves before reading off when they reach a level (2·smooth + 1
// evaluations), so that one lucky evaluation does not count.
const smooth = 1

// minSNR is the strategy under test.
const minSNR = "min-snr:5"

func run(ctx context.Context, o nb.Options) error {
	env := o.Env()
	sizes := reproduce.ModelSizesFor(o.Scale)

	// Step 1: the grid — 3 targets × 4 strategies × sizes.Seeds models,
	// each evaluated every EvalEvery steps on the same reference data and
	// sampler noise.
	g, err := reproduce.TrainGrid(ctx, env, "fig5", sizes, reproduce.PaperTargets, reproduce.PaperStrategies)
	if err != nil {
		return err
	}
	floor, metric := g.Floor()

	// Step 2: the paper's figure and the samples behind its last points.
	fig, err := reproduce.QualityFigure(g)
	if err != nil {
		return err
	}
	if err := fig.Save(o.Path("quality.png")); err != nil {
		return err
	}
	if err := reproduce.SamplesFigure(ctx, env, g, o.Path("samples.png")); err != nil {
		return err
	}

	// Step 3: speed-ups. SpeedUpOver finds the step at which each curve
	// first reaches the baseline's final (smoothed) value: a ratio of 2
	// means min-SNR-5 needed half the steps. "≥" marks a curve already
	// there at its first evaluation, "<" one that never gets there.
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook fig5: sample quality against training steps\n\n")
	fmt.Fprintf(&b, "Scale `%s`, seed %d: %s, a %d-wide %d-block ResMLP, %d steps, %d seed(s) for x0 and %d for the other targets per configuration; %s of %d %s samples (%d steps) every %d steps; real-data floor %.4f.\n\n",
		o.Scale, o.Seed, sizes.Data, sizes.Width, sizes.Depth, sizes.Steps, sizes.SeedsFor("x0"), sizes.SeedsFor("eps"), metric, sizes.Samples, sizes.Sampler, sizes.SamplerSteps, sizes.EvalEvery, floor)
	fmt.Fprintf(&b, "## How many times sooner min-SNR-5 reaches each baseline's final %s\n\n| target | %s |\n|---|---|---|---|\n", metric, strings.Join(others(), " | "))
	var reading []string
	for _, tg := range g.Targets {
		steps, q := g.MeanQuality(tg, minSNR)
		fmt.Fprintf(&b, "| %s |", tg)
		faster := 0
		for _, base := range others() {
			_, bq := g.MeanQuality(tg, base)
			s := reproduce.SpeedUpOver(steps, q, bq, smooth)
			fmt.Fprintf(&b, " %s |", s)
			if s.Ratio >= 1 && s.Bound != "<" {
				faster++
			}
		}
		b.WriteString("\n")
		reading = append(reading, fmt.Sprintf("With %s-prediction min-SNR-5 reaches the final quality of %d of the %d other strategies no later than they do.", tg, faster, len(others())))
	}

	// Step 4: final quality, mean ± standard error over seeds (each seed's
	// value the mean over the sample sets drawn at the last step).
	// Differences smaller than about twice the standard error are noise.
	fmt.Fprintf(&b, "\n## Final %s (mean ± standard error over seeds; bold: best)\n\n| target | %s |\n|---|%s\n", metric, strings.Join(g.Strategies, " | "), strings.Repeat("---|", len(g.Strategies)))
	for _, tg := range g.Targets {
		best, bestName, bestSD := math.Inf(1), "", 0.0
		for _, st := range g.Strategies {
			if q := g.FinalQuality(tg, st); q.Mean < best {
				best, bestName, bestSD = q.Mean, st, q.SE
			}
		}
		fmt.Fprintf(&b, "| %s |", tg)
		for _, st := range g.Strategies {
			q := g.FinalQuality(tg, st)
			cell := fmt.Sprintf("%.4f ± %.4f", q.Mean, q.SE)
			if st == bestName {
				cell = "**" + cell + "**"
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
		mq := g.FinalQuality(tg, minSNR)
		mm, msd := mq.Mean, mq.SE
		switch {
		case bestName == minSNR:
			reading = append(reading, fmt.Sprintf("With %s-prediction min-SNR-5 ends best (%.4f).", tg, mm))
		case mm-best <= 2*math.Hypot(msd, bestSD):
			reading = append(reading, fmt.Sprintf("With %s-prediction %s ends best (%.4f), min-SNR-5 within twice the spread of it (%.4f).", tg, bestName, best, mm))
		default:
			reading = append(reading, fmt.Sprintf("With %s-prediction %s ends best (%.4f), min-SNR-5 worse beyond the spread (%.4f).", tg, bestName, best, mm))
		}
	}
	fmt.Fprintf(&b, "\n## Reading\n\n- %s\n\n", strings.Join(reading, "\n- "))
	fmt.Fprintf(&b, "`paretodiff reproduce fig5` turns these numbers into a verdict on the paper's claim, with the seed spread of every speed-up.\n\n")
	fmt.Fprintf(&b, "## What this scale can show\n\n%s\n\n![quality.png](quality.png)\n\n![samples.png](samples.png)\n", reproduce.ScaleLimits(o.Scale, metric))
	return o.WriteReport(b.String())
}

// others are the baselines min-SNR-5 is compared with.
func others() []string {
	var out []string
	for _, s := range reproduce.PaperStrategies {
		if s != minSNR {
			out = append(out, s)
		}
	}
	return out
}
