package reproduce

import (
	"context"
	"fmt"
	"strings"
)

// fig5Smooth is the half-width h of the moving average (2h+1 evaluations)
// applied to quality curves before reading off when they reach a level:
// it keeps one lucky evaluation from counting as convergence.
const fig5Smooth = 1

// fig5At is the fraction of training at which the primary test reads the
// best baseline's quality: late enough that the curves have separated,
// early enough that a faster strategy has room to get there first.
const fig5At = 0.75

// fig5Baselines are the strategies min-SNR-5 is compared with.
var fig5Baselines = []string{"constant", "snr", "max-snr:1"}

// fig5MinSNR is the strategy the paper proposes.
const fig5MinSNR = "min-snr:5"

// paperSpeedUp is the paper's headline convergence speed-up of min-SNR-5.
const paperSpeedUp = 3.4

// Fig5Result is what fig5 measured: the grid of models, the final samples
// of its first seed, the primary test, min-SNR-5's speed-ups over every
// baseline and every configuration's final quality.
type Fig5Result struct {
	// Scale and Sizes are the run's; Seed is the base seed (of the
	// bootstrap draws too).
	Scale Scale
	Sizes ModelSizes
	Seed  uint64
	// Grid holds the models (PaperTargets × PaperStrategies × seeds) with
	// their quality curves and final qualities.
	Grid *ModelGrid
	// Samples are the final samples of the first seed's models.
	Samples *GridSamples
	// Primary is the primary test on PrimaryTarget.
	Primary Fig5Primary
	// SpeedUps[i][j] is min-SNR-5's SpeedUpOver the j-th baseline for
	// Grid.Targets[i] (to the baseline's final quality), on the seed means
	// of the quality curves, and SpeedCI[i][j] the bootstrap interval of
	// its ratio over that target's seeds.
	SpeedUps [][]SpeedUp
	SpeedCI  [][]Interval
	// Final[i][k] is the final quality of Grid.Targets[i] and
	// Grid.Strategies[k]; FinalDiff[i] compares min-SNR-5 with the best
	// other strategy of Grid.Targets[i], paired by seed.
	Final     [][]FinalStats
	FinalDiff []Comparison
}

// Fig5Primary is fig5's primary test: on PrimaryTarget, the steps min-SNR-5
// needs to reach the quality that the best baseline has at fig5At of
// training, against the steps that baseline needs.
type Fig5Primary struct {
	// Target is PrimaryTarget and Baseline the baseline with the best
	// (smoothed, seed-mean) quality at step At.
	Target, Baseline string
	At               float64
	// SpeedUp is measured on the seed-mean curves, and Ratio is its ratio
	// with the percentile bootstrap interval over the target's seeds (a
	// resample takes the same seeds of both strategies).
	SpeedUp SpeedUp
	Ratio   Interval
}

// Comparison is min-SNR-5 against the best other strategy on one
// measure (lower is better): the per-seed mean difference mine − best
// and its standard error over the seeds (paired).
type Comparison struct {
	Best       string
	Mine, Them float64
	Diff, SE   float64
}

// fig5Grid is fig5's grid (its plan and its Compute): the paper's
// targets and strategies.
func fig5Grid(env *Env) gridPlan {
	return gridPlan{Sizes: env.ModelSizes(), Targets: PaperTargets, Strategies: PaperStrategies}
}

// planFig5 is fig5's runs: its grid.
func planFig5(env *Env) ([]CacheRun, error) { return fig5Grid(env).plan(env) }

// Fig5 trains (or takes from the cache) the grid of the paper's Fig. 5,
// draws the final samples of its first seed and measures the primary
// test, min-SNR-5's speed-ups and every configuration's final quality. It
// writes nothing into the target's folder (Render does).
func Fig5(ctx context.Context, env *Env) (*Fig5Result, error) {
	grid := fig5Grid(env)
	g, err := grid.train(ctx, env, "fig5")
	if err != nil {
		return nil, err
	}
	samples, err := DrawSamples(ctx, env, g)
	if err != nil {
		return nil, err
	}
	return fig5Of(g, samples, env.Scale, env.Seed), nil
}

// fig5Of measures fig5 on a trained grid.
func fig5Of(g *ModelGrid, samples *GridSamples, scale Scale, seed uint64) *Fig5Result {
	r := &Fig5Result{Scale: scale, Sizes: g.Sizes, Seed: seed, Grid: g, Samples: samples}
	r.Primary = fig5PrimaryOf(g, PrimaryTarget, seed)
	for _, tg := range g.Targets {
		var sp []SpeedUp
		var ci []Interval
		for _, b := range fig5Baselines {
			s, c := speedUpCI(g, tg, b, -1, seed)
			sp, ci = append(sp, s), append(ci, c)
		}
		var fin []FinalStats
		for _, st := range g.Strategies {
			fin = append(fin, g.FinalQuality(tg, st))
		}
		r.SpeedUps, r.SpeedCI, r.Final = append(r.SpeedUps, sp), append(r.SpeedCI, ci), append(r.Final, fin)
		r.FinalDiff = append(r.FinalDiff, compareFinal(g, tg, fig5MinSNR))
	}
	return r
}

// fig5PrimaryOf measures the primary test on a target of a grid.
func fig5PrimaryOf(g *ModelGrid, target string, seed uint64) Fig5Primary {
	at := fig5At * float64(g.Sizes.Steps)
	p := Fig5Primary{Target: target, At: at}
	best := 0.0
	for _, b := range fig5Baselines {
		steps, v := g.MeanQuality(target, b)
		q := SpeedUpAt(steps, v, v, fig5Smooth, at).Threshold
		if p.Baseline == "" || q < best {
			p.Baseline, best = b, q
		}
	}
	p.SpeedUp, p.Ratio = speedUpCI(g, target, p.Baseline, at, seed)
	return p
}

// speedUpCI is min-SNR-5's speed-up over a baseline on a target's
// seed-mean curves (SpeedUpAt at step at; at < 0: SpeedUpOver, the
// baseline's final quality) and the bootstrap interval of its ratio over
// the target's seeds.
func speedUpCI(g *ModelGrid, target, baseline string, at float64, seed uint64) (SpeedUp, Interval) {
	speed := func(idx []int) SpeedUp {
		steps, mv := g.MeanQualityOf(target, fig5MinSNR, idx)
		_, bv := g.MeanQualityOf(target, baseline, idx)
		if at < 0 {
			return SpeedUpOver(steps, mv, bv, fig5Smooth)
		}
		return SpeedUpAt(steps, mv, bv, fig5Smooth, at)
	}
	s := speed(nil)
	return s, Bootstrap(len(g.SeedsOf(target)), seed, func(idx []int) float64 { return speed(idx).Ratio })
}

// compareFinal compares a strategy's final quality on a target with the
// best (lowest mean) other strategy of the grid, paired by seed.
func compareFinal(g *ModelGrid, target, mine string) Comparison {
	var c Comparison
	best := 0.0
	for _, st := range g.Strategies {
		if m := g.FinalQuality(target, st).Mean; st != mine && (c.Best == "" || m < best) {
			c.Best, best = st, m
		}
	}
	a, b := g.FinalBySeed(target, mine), g.FinalBySeed(target, c.Best)
	c.Mine, c.Them = meanOf(a), meanOf(b)
	c.Diff, c.SE = pairedSE(a, b)
	return c
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
	fq := r.finalTable()
	pf, decl := declare(r.primaryFinding(metric))
	return &Report{
		Primary:  decl,
		Title:    "sample quality against training steps, 4 strategies × 3 targets",
		Paper:    "Fig. 5 of Hang et al. (ICCV 2023): FID against training iterations for constant, SNR, max-SNR-1 (truncated SNR) and min-SNR-5 weighting, with ε, x0 and v prediction; the paper's headline 3.4× faster convergence",
		Sizes:    r.Sizes,
		Findings: []Finding{pf, r.fastFinding(metric), r.finalFinding(metric)},
		Sections: []Section{
			{"Speed-ups of min-SNR-5", fmt.Sprintf("Steps each needs to reach the baseline's final quality (seed-mean curves smoothed over %d evaluations); speed-up = baseline steps / min-SNR-5 steps, with its %g%% bootstrap interval over the seeds.\n\n", 2*fig5Smooth+1, 100*CILevel) + md.Markdown()},
			{"Final quality (" + metric + ", mean ± standard error over seeds)", fq.Markdown()},
			{"Noise", r.noise(floor, metric)},
			{"Samples", "samples.png shows the final samples of each model (EMA weights, the first seed, the sample set the last quality value measures): for toy data one scatter panel per target (row) and strategy (column), real data at the end of the first row; for MNIST one row of 16 digits per target and strategy, in the order of the final-quality table (ε rows first, strategies in its column order)."},
		},
		Limits: limitsText(r.Scale, r.Sizes, metric),
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
			for _, sd := range g.SeedsOf(tg) {
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

// speedUpTables are the speed-ups as CSV (speedups.csv: the primary test's
// row first, marked primary) and as the report's markdown table.
func (r *Fig5Result) speedUpTables(metric string) (csv, md Table) {
	csv = Table{Header: []string{"test", "target", "baseline", "threshold_step", "threshold", "baseline_steps", "min_snr5_steps", "speedup", "bound", "ci_lo", "ci_hi"}}
	md = Table{Header: []string{"target", "baseline", "baseline's final " + metric, "baseline steps", "min-SNR-5 steps", "speed-up [95% CI]"}}
	p := r.Primary
	csv.Add("primary", p.Target, p.Baseline, p.At, p.SpeedUp.Threshold, p.SpeedUp.BaseSteps, p.SpeedUp.Steps, p.SpeedUp.Ratio, p.SpeedUp.Bound, p.Ratio.Lo, p.Ratio.Hi)
	for i, tg := range r.Grid.Targets {
		for j, b := range fig5Baselines {
			s, c := r.SpeedUps[i][j], r.SpeedCI[i][j]
			csv.Add("final", tg, b, float64(r.Sizes.Steps), s.Threshold, s.BaseSteps, s.Steps, s.Ratio, s.Bound, c.Lo, c.Hi)
			md.Add(tg, b, fmt.Sprintf("%.4f", s.Threshold), fmt.Sprint(s.BaseSteps), fmtSteps(s.Steps), fmt.Sprintf("%s [%.3g, %.3g]", s, c.Lo, c.Hi))
		}
	}
	return csv, md
}

// finalTable is the report's table of final qualities.
func (r *Fig5Result) finalTable() Table {
	g := r.Grid
	tab := Table{Header: append([]string{"target", "seeds"}, g.Strategies...)}
	for i, tg := range g.Targets {
		row := []any{tg, len(g.SeedsOf(tg))}
		for k := range g.Strategies {
			q := r.Final[i][k]
			row = append(row, fmt.Sprintf("%.4f ± %.4f", q.Mean, q.SE))
		}
		tab.Add(row...)
	}
	return tab
}
