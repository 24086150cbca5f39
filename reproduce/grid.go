package reproduce

import (
	"context"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/run"
)

// Targets and strategies of the paper's Fig. 5 and Fig. 6 (Table 2 varies
// γ of min-SNR-γ instead).
var (
	// PaperTargets are the three prediction targets.
	PaperTargets = []string{"eps", "x0", "v"}
	// PaperStrategies are constant, SNR, max-SNR-1 (truncated SNR) and
	// min-SNR-5, as weighting.PaperStrategies.
	PaperStrategies = []string{"constant", "snr", "max-snr:1", "min-snr:5"}
)

// ModelGrid is a set of models: one per target × strategy × seed, all of
// the same sizes and measured on the same noise. The primary target has
// more seeds than the others (ModelSizes.SeedsFor).
type ModelGrid struct {
	Sizes      ModelSizes
	Targets    []string
	Strategies []string
	seeds      map[string][]uint64 // by target
	models     map[[3]string]*TrainedModel
}

// TrainGrid trains (or loads from the cache) every model of a grid with
// the scale's sizes: training seeds env.Seed, env.Seed+1, …
// (sizes.SeedsFor(target) of them) and quality measured with env.Seed.
func TrainGrid(ctx context.Context, env *Env, prefix string, sizes ModelSizes, targets, strategies []string) (*ModelGrid, error) {
	return gridPlan{Sizes: sizes, Targets: targets, Strategies: strategies}.train(ctx, env, prefix)
}

// gridPlan is a grid as a target declares it: the sizes, targets and
// strategies; the seeds follow from the Env's (ModelSizes.seeds, per
// target). A grid target's plan and its Compute both take the grid from
// one function (fig5Grid, …), so that they cannot differ.
type gridPlan struct {
	Sizes               ModelSizes
	Targets, Strategies []string
}

// runs are the grid's models, target by target, strategy by strategy,
// seed by seed (training seeds seed, seed+1, …; quality measured with
// seed).
func (p gridPlan) runs(seed uint64) []CacheRun {
	var out []CacheRun
	for _, tg := range p.Targets {
		for _, st := range p.Strategies {
			for _, sd := range p.Sizes.seeds(seed, tg) {
				out = append(out, ModelRun(p.Sizes.Model(tg, st, sd, seed)))
			}
		}
	}
	return out
}

// plan is the grid's runs with env's seed, as a Target.Plan.
func (p gridPlan) plan(env *Env) ([]CacheRun, error) { return p.runs(env.Seed), nil }

// train trains (or loads) the grid's runs (TrainGrid).
func (p gridPlan) train(ctx context.Context, env *Env, prefix string) (*ModelGrid, error) {
	g := newGrid(p.Sizes, p.Targets, p.Strategies, env.Seed)
	runs := p.runs(env.Seed)
	specs := make([]run.Spec, len(runs))
	for i, c := range runs {
		specs[i] = c.Spec
	}
	ms, err := TrainModels(ctx, env, prefix, specs)
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		tr := specs[i].Train // as declared: the grid's own names
		g.models[[3]string{tr.Target, tr.Weighting, fmt.Sprint(tr.Seed)}] = m
	}
	return g, nil
}

// newGrid is an empty grid with the seeds of each target from base.
func newGrid(sizes ModelSizes, targets, strategies []string, base uint64) *ModelGrid {
	g := &ModelGrid{Sizes: sizes, Targets: targets, Strategies: strategies, seeds: map[string][]uint64{}, models: map[[3]string]*TrainedModel{}}
	for _, tg := range targets {
		g.seeds[tg] = sizes.seeds(base, tg)
	}
	return g
}

// SeedsOf returns the training seeds of a target's models.
func (g *ModelGrid) SeedsOf(target string) []uint64 { return g.seeds[target] }

// Model returns the model of a target, strategy and seed (nil if the grid
// has none).
func (g *ModelGrid) Model(target, strategy string, seed uint64) *TrainedModel {
	return g.models[[3]string{target, strategy, fmt.Sprint(seed)}]
}

// MeanQuality returns the quality curve of a target and strategy averaged
// over the seeds.
func (g *ModelGrid) MeanQuality(target, strategy string) (steps, values []float64) {
	return g.MeanQualityOf(target, strategy, nil)
}

// MeanQualityOf is MeanQuality over some of the target's seeds: idx are
// indices into SeedsOf(target), repeats allowed (a bootstrap resample);
// nil means all of them.
func (g *ModelGrid) MeanQualityOf(target, strategy string, idx []int) (steps, values []float64) {
	return g.mean(target, strategy, idx, func(m *TrainedModel) ([]float64, []float64) { return m.QualitySeries() })
}

// MeanSeries returns a metric (TrainedModel.Series) averaged over the
// seeds.
func (g *ModelGrid) MeanSeries(target, strategy string, value func(run.Record) float64) (steps, values []float64) {
	return g.mean(target, strategy, nil, func(m *TrainedModel) ([]float64, []float64) { return m.Series(value) })
}

func (g *ModelGrid) mean(target, strategy string, idx []int, f func(*TrainedModel) ([]float64, []float64)) (steps, values []float64) {
	seeds := g.SeedsOf(target)
	if idx == nil {
		idx = make([]int, len(seeds))
		for i := range idx {
			idx[i] = i
		}
	}
	for n, i := range idx {
		s, v := f(g.Model(target, strategy, seeds[i]))
		if n == 0 {
			steps, values = s, make([]float64, len(v))
		}
		for j := range v {
			values[j] += v[j] / float64(len(idx))
		}
	}
	return steps, values
}

// FinalBySeed returns, for each seed of a target, the mean final quality
// of its model over the sample sets (TrainedModel.FinalQuality).
func (g *ModelGrid) FinalBySeed(target, strategy string) []float64 {
	var out []float64
	for _, s := range g.SeedsOf(target) {
		m, _ := g.Model(target, strategy, s).FinalQuality()
		out = append(out, m)
	}
	return out
}

// FinalStats are the final quality of one configuration of a grid: the
// mean over seeds of each seed's final quality (itself the mean over its
// sample sets), its standard error over the seeds (NaN for one seed: the
// training noise is then not measured), the standard deviation of the
// sampling noise alone (the mean over seeds of the spread between one
// model's sample sets) and the number of seeds.
type FinalStats struct {
	Mean, SE, Sampling float64
	Seeds              int
}

// FinalQuality returns the final quality statistics of a target and
// strategy.
func (g *ModelGrid) FinalQuality(target, strategy string) FinalStats {
	per := g.FinalBySeed(target, strategy)
	st := FinalStats{Seeds: len(per)}
	st.Mean, st.SE = meanSE(per)
	for _, s := range g.SeedsOf(target) {
		_, d := g.Model(target, strategy, s).FinalQuality()
		st.Sampling += d / float64(len(per))
	}
	return st
}

// Floor returns the quality measure's noise floor (the same for every
// model of the grid) and its name.
func (g *ModelGrid) Floor() (float64, string) {
	for _, m := range g.models {
		return m.Floor, m.Metric
	}
	return math.NaN(), ""
}
