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
// the same sizes and measured on the same noise.
type ModelGrid struct {
	Sizes      ModelSizes
	Targets    []string
	Strategies []string
	Seeds      []uint64
	models     map[[3]string]*TrainedModel
}

// TrainGrid trains (or loads from the cache) every model of a grid with
// the scale's sizes: training seeds env.Seed, env.Seed+1, … (sizes.Seeds of
// them) and quality measured with env.Seed.
func TrainGrid(ctx context.Context, env *Env, prefix string, sizes ModelSizes, targets, strategies []string) (*ModelGrid, error) {
	return gridPlan{Sizes: sizes, Targets: targets, Strategies: strategies}.train(ctx, env, prefix)
}

// gridPlan is a grid as a target declares it: the sizes, targets and
// strategies; the seeds follow from the Env's (ModelSizes.seeds). A grid
// target's plan and its Compute both take the grid from one function
// (fig5Grid, …), so that they cannot differ.
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
			for _, sd := range p.Sizes.seeds(seed) {
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
	g := &ModelGrid{Sizes: p.Sizes, Targets: p.Targets, Strategies: p.Strategies, Seeds: p.Sizes.seeds(env.Seed), models: map[[3]string]*TrainedModel{}}
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

// Model returns the model of a target, strategy and seed (nil if the grid
// has none).
func (g *ModelGrid) Model(target, strategy string, seed uint64) *TrainedModel {
	return g.models[[3]string{target, strategy, fmt.Sprint(seed)}]
}

// MeanQuality returns the quality curve of a target and strategy averaged
// over the seeds.
func (g *ModelGrid) MeanQuality(target, strategy string) (steps, values []float64) {
	return g.mean(target, strategy, func(m *TrainedModel) ([]float64, []float64) { return m.QualitySeries() })
}

// MeanSeries returns a metric (TrainedModel.Series) averaged over the
// seeds.
func (g *ModelGrid) MeanSeries(target, strategy string, value func(run.Record) float64) (steps, values []float64) {
	return g.mean(target, strategy, func(m *TrainedModel) ([]float64, []float64) { return m.Series(value) })
}

func (g *ModelGrid) mean(target, strategy string, f func(*TrainedModel) ([]float64, []float64)) (steps, values []float64) {
	for i, sd := range g.Seeds {
		s, v := f(g.Model(target, strategy, sd))
		if i == 0 {
			steps, values = s, make([]float64, len(v))
		}
		for j := range v {
			values[j] += v[j] / float64(len(g.Seeds))
		}
	}
	return steps, values
}

// FinalQuality returns the mean and standard deviation of the final
// quality of a target and strategy over all seeds and sample sets, and the
// standard deviation of the sampling noise alone (the mean over seeds of
// the spread between sample sets of one model).
func (g *ModelGrid) FinalQuality(target, strategy string) (mean, sd, sampling float64) {
	var all []float64
	for _, s := range g.Seeds {
		m := g.Model(target, strategy, s)
		all = append(all, m.Final...)
		_, d := m.FinalQuality()
		sampling += d / float64(len(g.Seeds))
	}
	mean, sd = meanSD(all)
	return mean, sd, sampling
}

// FinalStats are the final quality of one configuration of a grid
// (ModelGrid.FinalQuality): the mean and standard deviation over all
// seeds and sample sets, and the standard deviation of the sampling noise
// alone.
type FinalStats struct {
	Mean, SD, Sampling float64
}

// finalStats returns ModelGrid.FinalQuality of a target and strategy.
func finalStats(g *ModelGrid, target, strategy string) FinalStats {
	m, sd, samp := g.FinalQuality(target, strategy)
	return FinalStats{Mean: m, SD: sd, Sampling: samp}
}

// Floor returns the quality measure's noise floor (the same for every
// model of the grid) and its name.
func (g *ModelGrid) Floor() (float64, string) {
	for _, m := range g.models {
		return m.Floor, m.Metric
	}
	return math.NaN(), ""
}
