package reproduce

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/internal/prose"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/run"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// fig5Smooth is the half-width h of the moving average (2h+1 evaluations)
// applied to quality curves before reading off when they reach a level:
// it keeps one lucky evaluation from counting as convergence.
const fig5Smooth = 1

// fig5Baselines are the strategies min-SNR-5 is compared with.
var fig5Baselines = []string{"constant", "snr", "max-snr:1"}

// fig5MinSNR is the strategy the paper proposes.
const fig5MinSNR = "min-snr:5"

// paperSpeedUp is the paper's headline convergence speed-up of min-SNR-5.
const paperSpeedUp = 3.4

func runFig5(ctx context.Context, env *Env) (*Report, error) {
	dir, err := env.Dir("fig5")
	if err != nil {
		return nil, err
	}
	out := &output{dir: dir}
	sizes := ModelSizesFor(env.Scale)
	g, err := TrainGrid(ctx, env, "fig5", sizes, PaperTargets, PaperStrategies)
	if err != nil {
		return nil, err
	}
	floor, metric := g.Floor()

	// Quality curves: CSV of every model, figure of the seed means.
	qt := Table{Header: []string{"target", "strategy", "seed", "step", strings.ToLower(metric)}}
	ft := Table{Header: []string{"target", "strategy", "seed", "draw", strings.ToLower(metric)}}
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			for _, sd := range g.Seeds {
				m := g.Model(tg, st, sd)
				for _, q := range m.Quality {
					qt.Add(tg, st, sd, q.Step, q.Value)
				}
				for d, v := range m.Final {
					ft.Add(tg, st, sd, d, v)
				}
			}
		}
	}
	if err := qt.WriteCSV(out.path("quality.csv")); err != nil {
		return nil, err
	}
	if err := ft.WriteCSV(out.path("final.csv")); err != nil {
		return nil, err
	}
	grid, err := QualityFigure(g)
	if err != nil {
		return nil, err
	}
	if err := grid.Save(out.path("quality.png")); err != nil {
		return nil, err
	}

	if err := samplesFigure(ctx, env, g, out); err != nil {
		return nil, err
	}

	// Speed-ups of min-SNR-5 over each baseline, per target, on the seed
	// means, and per seed for the spread.
	st := Table{Header: []string{"target", "baseline", "threshold", "baseline_steps", "min_snr5_steps", "speedup", "bound"}}
	md := Table{Header: []string{"target", "baseline", "baseline's final " + metric, "baseline steps", "min-SNR-5 steps", "speed-up"}}
	var fast Finding
	fast.Claim = fmt.Sprintf("Min-SNR-5 converges fastest for every prediction target: the paper reports %g× fewer steps than the previous weighting strategies to reach the same FID (ViT-B on ImageNet 256×256).", paperSpeedUp)
	fast.Rule = fmt.Sprintf("a target supports the claim if min-SNR-5 reaches each baseline's final %s (curves smoothed over %d evaluations) no later than the baseline does (speed-up ≥ 1); it contradicts it if some baseline gets there more than one evaluation interval (%d steps) sooner, or min-SNR-5 never does; otherwise (slower by one interval at most) it is within noise; %s", metric, 2*fig5Smooth+1, sizes.EvalEvery, verdictRule)
	var lines []string
	var fastOut []Outcome
	logSum, nRatios := 0.0, 0
	for _, tg := range g.Targets {
		steps, mv := g.MeanQuality(tg, fig5MinSNR)
		var parts []string
		o := Supports
		for _, b := range fig5Baselines {
			_, bv := g.MeanQuality(tg, b)
			s := SpeedUpOver(steps, mv, bv, fig5Smooth)
			st.Add(tg, b, s.Threshold, s.BaseSteps, s.Steps, s.Ratio, s.Bound)
			md.Add(tg, b, fmt.Sprintf("%.4f", s.Threshold), fmt.Sprint(s.BaseSteps), fmtSteps(s.Steps), s.String())
			switch {
			case s.Bound == "<" || s.Steps > s.BaseSteps+float64(sizes.EvalEvery):
				o = Contradicts
			case s.Steps > s.BaseSteps && o == Supports:
				o = WithinNoise
			}
			parts = append(parts, fmt.Sprintf("%s over %s", s, b))
			logSum += math.Log(s.Ratio)
			nRatios++
		}
		fastOut = append(fastOut, o)
		lines = append(lines, fmt.Sprintf("%s: %s → %s", tg, strings.Join(parts, ", "),
			map[Outcome]string{Supports: "fastest", Contradicts: "not fastest", WithinNoise: "fastest within one evaluation interval"}[o]))
	}
	if err := st.WriteCSV(out.path("speedups.csv")); err != nil {
		return nil, err
	}
	geo := math.Exp(logSum / float64(nRatios))
	fast.Measured = strings.Join(lines, "; ") + fmt.Sprintf(". Geometric mean of the %d speed-ups (bounds taken at their value): %s× (paper: %g×).", nRatios, prose.F3(geo), paperSpeedUp)
	fast.Verdict = VerdictOf(fastOut...)

	// Final quality: min-SNR-5 best or within noise of the best.
	var final Finding
	final.Claim = "Min-SNR-5 also ends with the best sample quality (the paper's curves end lowest for min-SNR-5)."
	final.Rule = fmt.Sprintf("a target supports the claim if min-SNR-5's final %s (mean over seeds and sample sets) is the lowest; it is within noise if it is higher than the best other strategy's by at most twice their combined standard deviation, and contradicts the claim if by more; %s", metric, verdictRule)
	ftab := Table{Header: append([]string{"target"}, g.Strategies...)}
	var finalOut []Outcome
	lines = nil
	for _, tg := range g.Targets {
		row := []any{tg}
		mm, msd, _ := g.FinalQuality(tg, fig5MinSNR)
		bestOther, bestName, bestSD := math.Inf(1), "", 0.0
		for _, s := range g.Strategies {
			m, sd, _ := g.FinalQuality(tg, s)
			row = append(row, fmt.Sprintf("%.4f ± %.4f", m, sd))
			if s != fig5MinSNR && m < bestOther {
				bestOther, bestName, bestSD = m, s, sd
			}
		}
		ftab.Add(row...)
		o := Supports
		switch {
		case mm > bestOther+2*math.Hypot(msd, bestSD):
			o = Contradicts
		case mm > bestOther:
			o = WithinNoise
		}
		finalOut = append(finalOut, o)
		lines = append(lines, fmt.Sprintf("%s: min-SNR-5 %.4f ± %.4f, best other %s %.4f ± %.4f (%s)", tg, mm, msd, bestName, bestOther, bestSD,
			map[Outcome]string{Supports: "min-SNR-5 is best", Contradicts: "worse beyond noise", WithinNoise: "worse, within noise"}[o]))
	}
	final.Measured = strings.Join(lines, "; ") + "."
	final.Verdict = VerdictOf(finalOut...)

	// Noise.
	var noise strings.Builder
	var samp []float64
	for _, tg := range g.Targets {
		for _, s := range g.Strategies {
			_, _, sd := g.FinalQuality(tg, s)
			samp = append(samp, sd)
		}
	}
	ms, _ := meanSD(samp)
	fmt.Fprintf(&noise, "- Real-data floor of %s at these sample sizes: %.4f (two independent sets of real points; no model can be measured below it).\n", metric, floor)
	fmt.Fprintf(&noise, "- Sampling noise: the final %s of one model varies by a standard deviation of %.4f on average between %d independent sample sets.\n", metric, ms, sizes.Repeats)
	fmt.Fprintf(&noise, "- Steps are resolved to one evaluation interval (%d steps): a speed-up marked ≥ means min-SNR-5 was already there at its first evaluation; < means it never got there within %d steps.\n", sizes.EvalEvery, sizes.Steps)
	if len(g.Seeds) > 1 {
		for _, tg := range g.Targets {
			var rs []string
			for _, b := range fig5Baselines {
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, sd := range g.Seeds {
					steps, mv := g.Model(tg, fig5MinSNR, sd).QualitySeries()
					_, bv := g.Model(tg, b, sd).QualitySeries()
					r := SpeedUpOver(steps, mv, bv, fig5Smooth).Ratio
					lo, hi = math.Min(lo, r), math.Max(hi, r)
				}
				if lo == hi {
					rs = append(rs, fmt.Sprintf("%s× over %s", prose.F3(lo), b))
				} else {
					rs = append(rs, fmt.Sprintf("%s–%s× over %s", prose.F3(lo), prose.F3(hi), b))
				}
			}
			fmt.Fprintf(&noise, "- Seed spread (%d seeds), %s: per-seed speed-ups %s (bounds taken at their value).\n", len(g.Seeds), tg, strings.Join(rs, ", "))
		}
	} else {
		fmt.Fprintf(&noise, "- Training-seed noise is not measured at this scale (one seed per configuration): differences of one evaluation interval, or of %s within about twice the sampling noise, should not be read as real. The paper scale trains %d seeds.\n", metric, ModelSizesFor(Paper).Seeds)
	}
	r := &Report{
		Title:    "sample quality against training steps, 4 strategies × 3 targets",
		Paper:    "Fig. 5 of Hang et al. (ICCV 2023): FID against training iterations for constant, SNR, max-SNR-1 (truncated SNR) and min-SNR-5 weighting, with ε, x0 and v prediction; the paper's headline 3.4× faster convergence",
		Sizes:    sizes,
		Findings: []Finding{fast, final},
		Sections: []Section{
			{"Speed-ups of min-SNR-5", "Steps each needs to reach the baseline's final quality (smoothed); speed-up = baseline steps / min-SNR-5 steps.\n\n" + md.Markdown()},
			{"Final quality (" + metric + ", mean ± sd over seeds and sample sets)", ftab.Markdown()},
			{"Noise", noise.String()},
			{"Samples", "samples.png shows the final samples of each model (EMA weights, the first seed, the sample set the last quality value measures): for toy data one scatter panel per target (row) and strategy (column), real data at the end of the first row; for MNIST one row of 16 digits per target and strategy, in the order of the final-quality table (ε rows first, strategies in its column order)."},
		},
		Limits: limitsText(env.Scale, metric),
		Files:  out.files,
	}
	return r, nil
}

// QualityFigure draws the paper's Fig. 5 for a grid: sample quality
// against training step (seed means, log scale), one panel per target, one
// line per strategy, with the quality measure's real-data floor.
func QualityFigure(g *ModelGrid) (plots.Grid, error) {
	floor, metric := g.Floor()
	grid := plots.Grid{Rows: 1, Cols: len(g.Targets), Width: 15 * vg.Inch, Height: 4.5 * vg.Inch}
	for _, tg := range g.Targets {
		panel := plots.Lines{
			Title:  fmt.Sprintf("%s-prediction: sample quality (%s, lower is better)", tg, metric),
			XLabel: "training step", YLabel: metric + " (log scale)", LogY: true, Legend: "bottom-left",
		}
		var steps []float64
		for _, st := range g.Strategies {
			s, v := g.MeanQuality(tg, st)
			steps = s
			panel.Series = append(panel.Series, plots.Series{Name: st, X: s, Y: v})
		}
		panel.Series = append(panel.Series, plots.Series{Name: "real-data floor", X: []float64{steps[0], steps[len(steps)-1]}, Y: []float64{floor, floor}})
		p, err := panel.Plot()
		if err != nil {
			return plots.Grid{}, err
		}
		plots.UseLogTicks125(p)
		grid.Panels = append(grid.Panels, p)
	}
	return grid, nil
}

// ScaleLimits says, for a report, what a scale's training runs can and
// cannot show about the paper's claims, naming the quality measure metric.
func ScaleLimits(s Scale, metric string) string { return limitsText(s, metric) }

// fmtSteps writes a step count, "never" for NaN.
func fmtSteps(s float64) string {
	if math.IsNaN(s) {
		return "never"
	}
	return fmt.Sprint(s)
}

// limitsText is the common "what this scale can show" of the training
// targets.
func limitsText(s Scale, metric string) string {
	sz := ModelSizesFor(s)
	switch s {
	case Smoke:
		return "Smoke scale only checks that the pipeline runs: the models train for a few dozen steps and every number above is noise. Nothing here bears on the paper."
	case Quick:
		return fmt.Sprintf(`Quick scale trains a %d-wide, %d-block residual MLP on the 2-D %s distribution for %d steps on the CPU, and measures quality by the sliced Wasserstein distance of %d samples to real points (%s, %d steps). It can show whether the weighting changes how fast a small denoiser learns a low-dimensional distribution and in which direction. It cannot show the size of the effect on images: the paper trains ViT and UNet models on ImageNet and CelebA for hundreds of thousands of steps and measures FID, and the balance between timesteps that min-SNR-γ fixes matters most where fine detail at low noise competes with global structure at high noise, which 2-D data has little of. A verdict here is about this toy setting.`,
			sz.Width, sz.Depth, strings.TrimPrefix(sz.Data, "toy:"), sz.Steps, sz.Samples, sz.Sampler, sz.SamplerSteps)
	}
	return fmt.Sprintf("Paper scale trains a %d-wide, %d-block residual MLP on %s for %d steps with the paper's optimiser settings (AdamW lr %g, EMA %g) and %d seeds, measuring %s on %d samples. It is still an MLP on MNIST, not the paper's ViT on ImageNet: it can show whether the ordering of the strategies holds on images, not reproduce the paper's FID values.",
		sz.Width, sz.Depth, sz.Data, sz.Steps, sz.LR, sz.EMA, sz.Seeds, metric, sz.Samples)
}

// samplesFigure writes SamplesFigure as out's samples.png.
func samplesFigure(ctx context.Context, env *Env, g *ModelGrid, out *output) error {
	return SamplesFigure(ctx, env, g, out.path("samples.png"))
}

// SamplesFigure draws the final samples of the first seed's models of a
// grid (the EMA weights, the sample set of draw 0, which the last quality
// value measures) into path: for toy data a scatter panel per target (row)
// and strategy (column), real data at the end of the first row; for MNIST
// one row of 16 digits per target and strategy.
func SamplesFigure(ctx context.Context, env *Env, g *ModelGrid, path string) error {
	var x [][]float32
	var titles []string
	var q run.QualityMeasure
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			m := g.Model(tg, st, g.Seeds[0])
			var err error
			if q, err = env.quality(ctx, m.Spec); err != nil {
				return err
			}
			ck, err := m.Checkpoint()
			if err != nil {
				return err
			}
			den, err := ck.Denoiser(env.BackendOrCPU(), true)
			if err != nil {
				return err
			}
			sched, err := m.Spec.Schedule()
			if err != nil {
				return err
			}
			s, err := q.Sample(ctx, den, sched, 0)
			if err != nil {
				return err
			}
			x = append(x, s)
			titles = append(titles, fmt.Sprintf("%s, %s (%s %.3f)", tg, st, m.Metric, m.Final[0]))
		}
	}
	if ref := q.Reference(); ref != nil {
		lim := 1.1 * q.DataRange()
		grid := plots.Grid{Rows: len(g.Targets), Cols: len(g.Strategies) + 1, Width: 17 * vg.Inch, Height: 10 * vg.Inch}
		for i := range x {
			p, err := plots.Scatter{Title: titles[i], Points: x[i], Min: -lim, Max: lim}.Plot()
			if err != nil {
				return err
			}
			grid.Panels = append(grid.Panels, p)
			if (i+1)%len(g.Strategies) == 0 {
				var real *plot.Plot
				if i+1 == len(g.Strategies) {
					if real, err = (plots.Scatter{Title: "real data", Points: ref[:len(x[i])], Min: -lim, Max: lim}).Plot(); err != nil {
						return err
					}
				}
				grid.Panels = append(grid.Panels, real)
			}
		}
		return grid.Save(path)
	}
	const perRow = 16
	var imgs []float32
	for _, s := range x {
		imgs = append(imgs, s[:min(len(s), perRow*data.MNISTDim)]...)
	}
	return plots.Tiles{Images: imgs, Width: data.MNISTSide, Height: data.MNISTSide, Cols: perRow, Pad: 2, Scale: 2}.Save(path)
}
