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
	"gonum.org/v1/gonum/stat"
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

// Fig5Result is what fig5 measured: the grid of models, the final samples
// of its first seed, min-SNR-5's speed-ups over the baselines (constant,
// SNR and max-SNR-1, in that order) and every configuration's final
// quality.
type Fig5Result struct {
	// Scale and Sizes are the run's.
	Scale Scale
	Sizes ModelSizes
	// Grid holds the models (PaperTargets × PaperStrategies × seeds) with
	// their quality curves and final qualities.
	Grid *ModelGrid
	// Samples are the final samples of the first seed's models.
	Samples *GridSamples
	// SpeedUps[i][j] is min-SNR-5's SpeedUpOver the j-th baseline for
	// Grid.Targets[i], on the seed means of the quality curves.
	SpeedUps [][]SpeedUp
	// SeedRatios[i][j][k] is the same speed-up's ratio for the models of
	// seed Grid.Seeds[k] alone.
	SeedRatios [][][]float64
	// Final[i][k] is the final quality of Grid.Targets[i] and
	// Grid.Strategies[k].
	Final [][]FinalStats
}

// fig5Grid is fig5's grid (its plan and its Compute): the paper's
// targets and strategies.
func fig5Grid(s Scale) gridPlan {
	return gridPlan{Sizes: ModelSizesFor(s), Targets: PaperTargets, Strategies: PaperStrategies}
}

// planFig5 is fig5's runs: its grid.
func planFig5(env *Env) ([]CacheRun, error) { return fig5Grid(env.Scale).plan(env) }

// Fig5 trains (or takes from the cache) the grid of the paper's Fig. 5,
// draws the final samples of its first seed and measures min-SNR-5's
// speed-ups and every configuration's final quality. It writes nothing
// into the target's folder (Render does).
func Fig5(ctx context.Context, env *Env) (*Fig5Result, error) {
	grid := fig5Grid(env.Scale)
	sizes := grid.Sizes
	g, err := grid.train(ctx, env, "fig5")
	if err != nil {
		return nil, err
	}
	samples, err := DrawSamples(ctx, env, g)
	if err != nil {
		return nil, err
	}
	r := &Fig5Result{Scale: env.Scale, Sizes: sizes, Grid: g, Samples: samples}
	for _, tg := range g.Targets {
		var sp []SpeedUp
		var seeds [][]float64
		for _, b := range fig5Baselines {
			sp = append(sp, meanSpeedUp(g, tg, b))
			seeds = append(seeds, seedRatios(g, tg, b))
		}
		var fin []FinalStats
		for _, st := range g.Strategies {
			fin = append(fin, finalStats(g, tg, st))
		}
		r.SpeedUps, r.SeedRatios, r.Final = append(r.SpeedUps, sp), append(r.SeedRatios, seeds), append(r.Final, fin)
	}
	return r, nil
}

// meanSpeedUp is min-SNR-5's speed-up over a baseline on the seed means of
// a target's quality curves.
func meanSpeedUp(g *ModelGrid, target, baseline string) SpeedUp {
	steps, mv := g.MeanQuality(target, fig5MinSNR)
	_, bv := g.MeanQuality(target, baseline)
	return SpeedUpOver(steps, mv, bv, fig5Smooth)
}

// seedRatios are min-SNR-5's speed-up ratios over a baseline, seed by
// seed.
func seedRatios(g *ModelGrid, target, baseline string) []float64 {
	var rs []float64
	for _, sd := range g.Seeds {
		steps, mv := g.Model(target, fig5MinSNR, sd).QualitySeries()
		_, bv := g.Model(target, baseline, sd).QualitySeries()
		rs = append(rs, SpeedUpOver(steps, mv, bv, fig5Smooth).Ratio)
	}
	return rs
}

// Render writes fig5's files into dir (quality.csv, final.csv,
// quality.png, samples.png, speedups.csv) and returns its report.
func (r *Fig5Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	g := r.Grid
	floor, metric := g.Floor()
	qt, ft := fig5CurveTables(g, metric)
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
	if err := r.Samples.Save(out.path("samples.png")); err != nil {
		return nil, err
	}
	st, md := r.speedUpTables(metric)
	if err := st.WriteCSV(out.path("speedups.csv")); err != nil {
		return nil, err
	}
	final, ftab := r.finalFinding(metric)
	return &Report{
		Title:    "sample quality against training steps, 4 strategies × 3 targets",
		Paper:    "Fig. 5 of Hang et al. (ICCV 2023): FID against training iterations for constant, SNR, max-SNR-1 (truncated SNR) and min-SNR-5 weighting, with ε, x0 and v prediction; the paper's headline 3.4× faster convergence",
		Sizes:    r.Sizes,
		Findings: []Finding{r.fastFinding(metric), final},
		Sections: []Section{
			{"Speed-ups of min-SNR-5", "Steps each needs to reach the baseline's final quality (smoothed); speed-up = baseline steps / min-SNR-5 steps.\n\n" + md.Markdown()},
			{"Final quality (" + metric + ", mean ± sd over seeds and sample sets)", ftab.Markdown()},
			{"Noise", r.noise(floor, metric)},
			{"Samples", "samples.png shows the final samples of each model (EMA weights, the first seed, the sample set the last quality value measures): for toy data one scatter panel per target (row) and strategy (column), real data at the end of the first row; for MNIST one row of 16 digits per target and strategy, in the order of the final-quality table (ε rows first, strategies in its column order)."},
		},
		Limits: limitsText(r.Scale, metric),
		Files:  out.files,
	}, nil
}

// fig5CurveTables are the quality curves (quality.csv) and final
// qualities (final.csv) of every model of a grid.
func fig5CurveTables(g *ModelGrid, metric string) (curves, final Table) {
	curves = Table{Header: []string{"target", "strategy", "seed", "step", strings.ToLower(metric)}}
	final = Table{Header: []string{"target", "strategy", "seed", "draw", strings.ToLower(metric)}}
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			for _, sd := range g.Seeds {
				m := g.Model(tg, st, sd)
				for _, q := range m.Quality {
					curves.Add(tg, st, sd, q.Step, q.Value)
				}
				for d, v := range m.Final {
					final.Add(tg, st, sd, d, v)
				}
			}
		}
	}
	return curves, final
}

// speedUpTables are the speed-ups as CSV (speedups.csv) and as the
// report's markdown table.
func (r *Fig5Result) speedUpTables(metric string) (csv, md Table) {
	csv = Table{Header: []string{"target", "baseline", "threshold", "baseline_steps", "min_snr5_steps", "speedup", "bound"}}
	md = Table{Header: []string{"target", "baseline", "baseline's final " + metric, "baseline steps", "min-SNR-5 steps", "speed-up"}}
	for i, tg := range r.Grid.Targets {
		for j, b := range fig5Baselines {
			s := r.SpeedUps[i][j]
			csv.Add(tg, b, s.Threshold, s.BaseSteps, s.Steps, s.Ratio, s.Bound)
			md.Add(tg, b, fmt.Sprintf("%.4f", s.Threshold), fmt.Sprint(s.BaseSteps), fmtSteps(s.Steps), s.String())
		}
	}
	return csv, md
}

// fastOutcome is what a target's speed-ups over the baselines say about
// "min-SNR-5 converges fastest": it contradicts the claim if some baseline
// reaches its final quality more than one evaluation interval sooner, or
// min-SNR-5 never does; it is within noise if min-SNR-5 is slower by one
// interval at most; it supports it otherwise.
func fastOutcome(ss []SpeedUp, evalEvery int) Outcome {
	o := Supports
	for _, s := range ss {
		switch {
		case s.Bound == "<" || s.Steps > s.BaseSteps+float64(evalEvery):
			o = Contradicts
		case s.Steps > s.BaseSteps && o == Supports:
			o = WithinNoise
		}
	}
	return o
}

// fastFinding compares the speed-ups with the paper's claim that
// min-SNR-5 converges fastest.
func (r *Fig5Result) fastFinding(metric string) Finding {
	f := Finding{
		Claim: fmt.Sprintf("Min-SNR-5 converges fastest for every prediction target: the paper reports %g× fewer steps than the previous weighting strategies to reach the same FID (ViT-B on ImageNet 256×256).", paperSpeedUp),
		Rule:  fmt.Sprintf("a target supports the claim if min-SNR-5 reaches each baseline's final %s (curves smoothed over %d evaluations) no later than the baseline does (speed-up ≥ 1); it contradicts it if some baseline gets there more than one evaluation interval (%d steps) sooner, or min-SNR-5 never does; otherwise (slower by one interval at most) it is within noise; %s", metric, 2*fig5Smooth+1, r.Sizes.EvalEvery, verdictRule),
	}
	var lines []string
	var outs []Outcome
	var ratios []float64
	for i, tg := range r.Grid.Targets {
		var parts []string
		for j, b := range fig5Baselines {
			s := r.SpeedUps[i][j]
			parts = append(parts, fmt.Sprintf("%s over %s", s, b))
			ratios = append(ratios, s.Ratio)
		}
		o := fastOutcome(r.SpeedUps[i], r.Sizes.EvalEvery)
		outs = append(outs, o)
		lines = append(lines, fmt.Sprintf("%s: %s → %s", tg, strings.Join(parts, ", "),
			map[Outcome]string{Supports: "fastest", Contradicts: "not fastest", WithinNoise: "fastest within one evaluation interval"}[o]))
	}
	f.Measured = strings.Join(lines, "; ") + fmt.Sprintf(". Geometric mean of the %d speed-ups (bounds taken at their value): %s× (paper: %g×).", len(ratios), prose.F3(stat.GeometricMean(ratios, nil)), paperSpeedUp)
	f.Verdict = VerdictOf(outs...)
	return f
}

// finalOutcome is what a target's final qualities say about "min-SNR-5
// ends best": min-SNR-5's (mean m, sd) against the best other strategy's
// (best, bestSD).
func finalOutcome(m, sd, best, bestSD float64) Outcome {
	switch {
	case m > best+2*math.Hypot(sd, bestSD):
		return Contradicts
	case m > best:
		return WithinNoise
	}
	return Supports
}

// finalFinding compares the final qualities with the claim that
// min-SNR-5 ends best, and tabulates them for the report.
func (r *Fig5Result) finalFinding(metric string) (Finding, Table) {
	g := r.Grid
	f := Finding{
		Claim: "Min-SNR-5 also ends with the best sample quality (the paper's curves end lowest for min-SNR-5).",
		Rule:  fmt.Sprintf("a target supports the claim if min-SNR-5's final %s (mean over seeds and sample sets) is the lowest; it is within noise if it is higher than the best other strategy's by at most twice their combined standard deviation, and contradicts the claim if by more; %s", metric, verdictRule),
	}
	tab := Table{Header: append([]string{"target"}, g.Strategies...)}
	var outs []Outcome
	var lines []string
	for i, tg := range g.Targets {
		row := []any{tg}
		var mine FinalStats
		best, bestName := FinalStats{Mean: math.Inf(1)}, ""
		for k, s := range g.Strategies {
			q := r.Final[i][k]
			row = append(row, fmt.Sprintf("%.4f ± %.4f", q.Mean, q.SD))
			if s == fig5MinSNR {
				mine = q
			} else if q.Mean < best.Mean {
				best, bestName = q, s
			}
		}
		tab.Add(row...)
		o := finalOutcome(mine.Mean, mine.SD, best.Mean, best.SD)
		outs = append(outs, o)
		lines = append(lines, fmt.Sprintf("%s: min-SNR-5 %.4f ± %.4f, best other %s %.4f ± %.4f (%s)", tg, mine.Mean, mine.SD, bestName, best.Mean, best.SD,
			map[Outcome]string{Supports: "min-SNR-5 is best", Contradicts: "worse beyond noise", WithinNoise: "worse, within noise"}[o]))
	}
	f.Measured = strings.Join(lines, "; ") + "."
	f.Verdict = VerdictOf(outs...)
	return f, tab
}

// noise is the report's noise section: the real-data floor, the sampling
// noise, the step resolution and the seed spread of the speed-ups.
func (r *Fig5Result) noise(floor float64, metric string) string {
	var b strings.Builder
	var samp []float64
	for _, row := range r.Final {
		for _, q := range row {
			samp = append(samp, q.Sampling)
		}
	}
	ms, _ := meanSD(samp)
	fmt.Fprintf(&b, "- Real-data floor of %s at these sample sizes: %.4f (two independent sets of real points; no model can be measured below it).\n", metric, floor)
	fmt.Fprintf(&b, "- Sampling noise: the final %s of one model varies by a standard deviation of %.4f on average between %d independent sample sets.\n", metric, ms, r.Sizes.Repeats)
	fmt.Fprintf(&b, "- Steps are resolved to one evaluation interval (%d steps): a speed-up marked ≥ means min-SNR-5 was already there at its first evaluation; < means it never got there within %d steps.\n", r.Sizes.EvalEvery, r.Sizes.Steps)
	if len(r.Grid.Seeds) <= 1 {
		fmt.Fprintf(&b, "- Training-seed noise is not measured at this scale (one seed per configuration): differences of one evaluation interval, or of %s within about twice the sampling noise, should not be read as real. The paper scale trains %d seeds.\n", metric, ModelSizesFor(Paper).Seeds)
		return b.String()
	}
	for i, tg := range r.Grid.Targets {
		var rs []string
		for j, base := range fig5Baselines {
			rs = append(rs, ratioRange(r.SeedRatios[i][j])+" over "+base)
		}
		fmt.Fprintf(&b, "- Seed spread (%d seeds), %s: per-seed speed-ups %s (bounds taken at their value).\n", len(r.Grid.Seeds), tg, strings.Join(rs, ", "))
	}
	return b.String()
}

// ratioRange writes the range of speed-up ratios, "1.5×" or "1.2–2×".
func ratioRange(rs []float64) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		lo, hi = math.Min(lo, r), math.Max(hi, r)
	}
	if lo == hi {
		return prose.F3(lo) + "×"
	}
	return prose.F3(lo) + "–" + prose.F3(hi) + "×"
}

// QualityFigure draws the paper's Fig. 5 for a grid: sample quality
// against training step (seed means, log scale), one panel per target, one
// line per strategy, with the quality measure's real-data floor.
func QualityFigure(g *ModelGrid) (plots.Grid, error) {
	floor, metric := g.Floor()
	grid := plots.Grid{Rows: 1, Cols: len(g.Targets), Width: 15 * vg.Inch, Height: 4.5 * vg.Inch, SharedLegend: true}
	for _, tg := range g.Targets {
		panel := plots.Lines{
			Title:  fmt.Sprintf("%s-prediction: sample quality (%s, lower is better)", tg, metric),
			XLabel: "training step", YLabel: metric + " (log scale)", LogY: true,
		}
		var steps []float64
		for _, st := range g.Strategies {
			s, v := g.MeanQuality(tg, st)
			steps = s
			panel.Series = append(panel.Series, plots.Series{Name: st, X: s, Y: v})
		}
		panel.Series = append(panel.Series, plots.Series{Name: "real-data floor", X: []float64{steps[0], steps[len(steps)-1]}, Y: []float64{floor, floor}, Reference: true})
		p, err := panel.Plot()
		if err != nil {
			return plots.Grid{}, err
		}
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

// GridSamples are the final samples of the first seed's models of a grid
// (DrawSamples): what samples.png draws.
type GridSamples struct {
	// Rows and Cols are the grid's targets and strategies.
	Rows, Cols []string
	// X[i·len(Cols)+j] is the sample set of target Rows[i] and strategy
	// Cols[j], (Samples, D) row-major, and Titles[i·len(Cols)+j] its
	// panel's title.
	X      [][]float32
	Titles []string
	// Reference is the quality measure's real data for toy data (nil for
	// MNIST) and Range the c of the x̂0 clip to [−c, c] the samples were
	// drawn with.
	Reference []float32
	Range     float64
}

// DrawSamples draws the final samples of the first seed's models of a
// grid: the EMA weights, the sample set of draw 0, which the last quality
// value measures.
func DrawSamples(ctx context.Context, env *Env, g *ModelGrid) (*GridSamples, error) {
	s := &GridSamples{Rows: g.Targets, Cols: g.Strategies}
	var q run.QualityMeasure
	for _, tg := range g.Targets {
		for _, st := range g.Strategies {
			m := g.Model(tg, st, g.Seeds[0])
			var err error
			if q, err = env.quality(ctx, m.Spec); err != nil {
				return nil, err
			}
			x, err := finalSample(ctx, env, m, q)
			if err != nil {
				return nil, err
			}
			s.X = append(s.X, x)
			s.Titles = append(s.Titles, fmt.Sprintf("%s, %s (%s %.3f)", tg, st, m.Metric, m.Final[0]))
		}
	}
	s.Reference, s.Range = q.Reference(), q.DataRange()
	return s, nil
}

// finalSample draws sample set 0 of a model's final EMA weights.
func finalSample(ctx context.Context, env *Env, m *TrainedModel, q run.QualityMeasure) ([]float32, error) {
	ck, err := m.Checkpoint()
	if err != nil {
		return nil, err
	}
	den, err := ck.Denoiser(env.BackendOrCPU(), true)
	if err != nil {
		return nil, err
	}
	sched, err := m.Spec.Schedule()
	if err != nil {
		return nil, err
	}
	return q.Sample(ctx, den, sched, 0)
}

// Save draws the samples into path: for toy data a scatter panel per
// target (row) and strategy (column), real data at the end of the first
// row; for MNIST one row of 16 digits per target and strategy.
func (s *GridSamples) Save(path string) error {
	if s.Reference == nil {
		return s.saveTiles(path)
	}
	lim := 1.1 * s.Range
	grid := plots.Grid{Rows: len(s.Rows), Cols: len(s.Cols) + 1, Width: 17 * vg.Inch, Height: 10 * vg.Inch}
	for i := range s.X {
		p, err := plots.Scatter{Title: s.Titles[i], Points: s.X[i], Min: -lim, Max: lim}.Plot()
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
		if (i+1)%len(s.Cols) == 0 {
			var real *plots.Panel
			if i+1 == len(s.Cols) {
				if real, err = (plots.Scatter{Title: "real data", Points: s.Reference[:len(s.X[i])], Min: -lim, Max: lim}).Plot(); err != nil {
					return err
				}
			}
			grid.Panels = append(grid.Panels, real)
		}
	}
	return grid.Save(path)
}

// saveTiles draws MNIST samples: 16 digits of each model per row.
func (s *GridSamples) saveTiles(path string) error {
	const perRow = 16
	var imgs []float32
	for _, x := range s.X {
		imgs = append(imgs, x[:min(len(x), perRow*data.MNISTDim)]...)
	}
	return plots.Tiles{Images: imgs, Width: data.MNISTSide, Height: data.MNISTSide, Cols: perRow, Pad: 2, Scale: 2}.Save(path)
}

// SamplesFigure draws the final samples of the first seed's models of a
// grid (DrawSamples) into path (GridSamples.Save).
func SamplesFigure(ctx context.Context, env *Env, g *ModelGrid, path string) error {
	s, err := DrawSamples(ctx, env, g)
	if err != nil {
		return err
	}
	return s.Save(path)
}
