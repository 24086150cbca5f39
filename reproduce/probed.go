package reproduce

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// ProbedStrategies are the training weightings of the cross-trained
// analyses (fig3, fig4, conflict): the paper's four closed forms and the
// online Pareto weightings. The probe target's models of every one of them
// carry the probes of ProbeSizes, so that each weighting B can be evaluated
// on models trained with every weighting A, not only on min-SNR-5's.
var ProbedStrategies = append(slices.Clone(PaperStrategies), OnlineStrategies...)

// ProbeSizes are the gradient probes that the strategy grid's models of one
// prediction target carry (ModelSizes.Model adds them to the run's spec):
// exact per-bin Gram matrices of fixed batches, taken while the model
// trains. The probes change neither the parameters nor the training random
// stream, so a probed model is the grid's model, step for step, and fig5,
// fig6, table2, the online target and the gradient analyses share it.
type ProbeSizes struct {
	// Target is the prediction target whose models carry probes when
	// trained with one of ProbedStrategies ("" for none).
	Target string
	// Bins is the bin spec of the main probes (the tasks; weighting.ParseBins),
	// PerBin the examples per bin of a probe batch, Draws the number of
	// independent batches (each fixed over training, so that changes
	// between probes are the model's, and their spread at one probe is the
	// sampling noise of the statistics) and Every the probe interval in
	// steps (the first probe is at step 0).
	Bins                 string
	PerBin, Draws, Every int
	// Binnings are further bin specs, probed only at step 0 and at the last
	// step (Every = the steps), on Draws batches of BinningExamples
	// examples each, ⌊BinningExamples/K⌋ per bin: every binning costs the
	// same whatever its K. They test how the verdicts depend on the bins.
	Binnings        []string
	BinningExamples int
}

// String describes the probes in one line (the sizes tables print it).
func (p ProbeSizes) String() string {
	if p.Target == "" {
		return "none"
	}
	return fmt.Sprintf("%s models of %d weightings: %d draws × %s × %d per bin every %d steps; at step 0 and the last: %s, %d draws × %d examples each",
		p.Target, len(ProbedStrategies), p.Draws, p.Bins, p.PerBin, p.Every, strings.Join(p.Binnings, ", "), p.Draws, p.BinningExamples)
}

// Probed reports whether a model of target and strategy carries the
// probes: target is p.Target and strategy one of ProbedStrategies (as
// weighting.Parse writes them).
func (p ProbeSizes) Probed(target, strategy string) bool {
	if p.Target == "" || target != p.Target {
		return false
	}
	c := canonicalWeighting(strategy)
	return slices.ContainsFunc(ProbedStrategies, func(s string) bool { return canonicalWeighting(s) == c })
}

// canonicalWeighting is a weighting spec as weighting.Parse writes it back
// (the spec itself if it does not parse: training reports that error).
func canonicalWeighting(spec string) string {
	w, err := weighting.Parse(spec)
	if err != nil {
		return spec
	}
	return w.String()
}

// AllBinnings returns the bin specs of the sensitivity table: the main
// probes' first, then Binnings.
func (p ProbeSizes) AllBinnings() []string { return append([]string{p.Bins}, p.Binnings...) }

// binningNote says in the reports why the log-SNR binnings are coarse.
const binningNote = "On the cosine schedule with T = 1000 the log-SNR falls from −12.9 to −19.8 over the last timestep, so equal log-SNR bins from K = 9 on would leave bins of the tail empty: there each such bin holds one timestep (weighting.EqualLogSNR), and the finest log-SNR binnings weigh the last few timesteps as tasks of their own."

// probeSeed offsets the probe batches from every training stream.
const probeSeed = 4000

// DrawName is the name of main probe draw r in a probed run ("draw-0").
func DrawName(r int) string { return "draw-" + strconv.Itoa(r) }

// BinningDrawName is the name of draw r of a sensitivity binning's probe
// ("t10-draw-0" for t:10).
func BinningDrawName(bins string, r int) string {
	return strings.NewReplacer(":", "", ",", "-").Replace(bins) + "-" + DrawName(r)
}

// specs are the probes of a model trained with seed: Draws main probes,
// draw r's batches from seed + probeSeed + r, then Draws probes of each
// binning at step 0 and the last step, binning i's draw r from
// seed + probeSeed + 100(i+1) + r.
func (p ProbeSizes) specs(seed uint64, steps int) []conflict.ProbeSpec {
	var out []conflict.ProbeSpec
	for r := 0; r < p.Draws; r++ {
		out = append(out, probeSpec(DrawName(r), p.Bins, p.Every, p.PerBin, seed+probeSeed+uint64(r)))
	}
	for i, b := range p.Binnings {
		K := binsK(b)
		for r := 0; r < p.Draws; r++ {
			out = append(out, probeSpec(BinningDrawName(b, r), b, steps, max(1, p.BinningExamples/K), seed+probeSeed+100*uint64(i+1)+uint64(r)))
		}
	}
	return out
}

// probeSpec is one probe of the gradient analyses: a fixed batch of perBin
// examples in each bin of bins, seeded, over all parameters, the Gram of
// the bins' unweighted x0-MSE, no Pareto solutions (the analyses solve with
// their own λ). Every probe of this package is made here, so that a change
// of how the Gram is estimated (probeEstimator) is a change of one line.
func probeSpec(name, bins string, every, perBin int, seed uint64) conflict.ProbeSpec {
	return conflict.ProbeSpec{Name: name, Every: every, Bins: bins, PerBin: perBin, Seed: seed, GramEstimator: probeEstimator}
}

// binsK is the number of bins of a spec of the form KIND:K (0 if it has
// none, which the run's spec check then reports).
func binsK(spec string) int {
	_, k, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(k)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// ProbeRun is what the probes of a probed model recorded.
type ProbeRun struct {
	// Spec is the run's spec and Dir its folder.
	Spec run.Spec
	Dir  string
	// Info describes the main probes (bins, parameters, task loss), the
	// same for every draw but the seed.
	Info conflict.Info
	// Draws[r] are main draw r's records, one per probe, in step order,
	// with their Gram and cosine matrices (no Pareto solutions: the
	// analyses solve with their own λ).
	Draws [][]conflict.Record
	// Binnings are the sensitivity binnings' probes, in the order of
	// ProbeSizes.Binnings.
	Binnings []BinningProbes
	// Cached is set when the run came from the cache.
	Cached bool
	// TrainTime is the wall time of training, evaluations and probes.
	TrainTime time.Duration
}

// BinningProbes are the probes of one sensitivity binning: Draws[r] holds
// draw r's records at step 0 and at the last step.
type BinningProbes struct {
	Spec  string
	Info  conflict.Info
	Draws [][]conflict.Record
}

// Bins returns the binning's bins.
func (b BinningProbes) Bins() weighting.Bins { return b.Info.Bins() }

// Last returns the draws' records at the last step.
func (b BinningProbes) Last() []conflict.Record {
	var out []conflict.Record
	for _, d := range b.Draws {
		out = append(out, d[len(d)-1])
	}
	return out
}

// Steps returns the probed steps.
func (p *ProbeRun) Steps() []int {
	var s []int
	for _, r := range p.Draws[0] {
		s = append(s, r.Step)
	}
	return s
}

// Bins returns the main probes' bins.
func (p *ProbeRun) Bins() weighting.Bins { return p.Info.Bins() }

// PerBin returns the number of examples per bin of each main probe batch.
func (p *ProbeRun) PerBin() int { return p.Info.PerBin }

// At returns the draws' records of main probe i.
func (p *ProbeRun) At(i int) []conflict.Record {
	var out []conflict.Record
	for _, d := range p.Draws {
		out = append(out, d[i])
	}
	return out
}

// validateProbes checks a run's probes: each at an interval that divides
// the steps.
func validateProbes(s run.Spec) error {
	for _, p := range s.Probes {
		if p.Every < 1 || s.Steps%p.Every != 0 {
			return fmt.Errorf("reproduce: model %s: the probe interval %d must divide the steps %d", ModelLabel(s), p.Every, s.Steps)
		}
	}
	return nil
}

// probeRunOf reads the probes of a run: the main draws (DrawName) and
// the sensitivity binnings (grouped by bin spec, in the spec's order).
func probeRunOf(r *run.Run) (*ProbeRun, error) {
	p := &ProbeRun{Spec: r.Spec, Dir: r.Dir, Cached: r.Cached, TrainTime: r.TrainTime}
	group := map[string]int{}
	for _, ps := range r.Spec.Probes {
		info, recs, err := r.Probe(ps.Name)
		if err != nil {
			return nil, err
		}
		if want := r.Spec.Steps/ps.Every + 1; len(recs) != want {
			return nil, fmt.Errorf("reproduce: model %s: probe %s holds %d records, want %d", ModelLabel(r.Spec), ps.Name, len(recs), want)
		}
		if ps.Name == DrawName(len(p.Draws)) {
			if len(p.Draws) == 0 {
				p.Info = info
			}
			p.Draws = append(p.Draws, recs)
			continue
		}
		i, ok := group[ps.Bins]
		if !ok {
			i, group[ps.Bins] = len(p.Binnings), len(p.Binnings)
			p.Binnings = append(p.Binnings, BinningProbes{Spec: ps.Bins, Info: info})
		}
		p.Binnings[i].Draws = append(p.Binnings[i].Draws, recs)
	}
	if len(p.Draws) == 0 {
		return nil, fmt.Errorf("reproduce: model %s has no main probes (%s)", ModelLabel(r.Spec), DrawName(0))
	}
	return p, nil
}

// TrainProbed returns the probes of a probed model's spec (one that
// ModelSizes.Model gives probes, or any spec with probes named DrawName):
// TrainModel trains it or takes it from the cache, and its probes are read
// back.
func TrainProbed(ctx context.Context, env *Env, spec run.Spec) (*ProbeRun, error) {
	if len(spec.Probes) == 0 {
		return nil, fmt.Errorf("reproduce: model %s: no probes", ModelLabel(spec))
	}
	m, err := TrainModel(ctx, env, spec)
	if err != nil {
		return nil, err
	}
	return m.Probes, nil
}

// probedGrid is the grid of the probe target's models trained with
// strategies: the strategy grid's models of that target (fig5's, and the
// online target's), which carry the probes when the strategy is one of
// ProbedStrategies.
func probedGrid(env *Env, strategies []string) gridPlan {
	sizes := env.ModelSizes()
	return gridPlan{Sizes: sizes, Targets: []string{sizes.Probes.Target}, Strategies: strategies}
}

// planProbed is the runs of fig3, fig4 and conflict: the probed grid of
// ProbedStrategies.
func planProbed(env *Env) ([]CacheRun, error) {
	return probedGrid(env, ProbedStrategies).plan(env)
}

// TrainProbedGrid trains (or takes from the cache) the models of the
// scale's probe target (ProbeSizes.Target) with each of strategies and
// every training seed (probedGrid). fig3, fig4 and conflict call it with
// ProbedStrategies and the online target with OnlineStrategies and its
// comparators, so fig5's and the online target's models are the probed
// runs and no model is trained twice. Every strategy must be one of
// ProbedStrategies (a model without probes is an error).
func TrainProbedGrid(ctx context.Context, env *Env, prefix string, strategies []string) (*ModelGrid, error) {
	g, err := probedGrid(env, strategies).train(ctx, env, prefix)
	if err != nil {
		return nil, err
	}
	tg := g.Sizes.Probes.Target
	for _, st := range strategies {
		for _, sd := range g.SeedsOf(tg) {
			if g.Model(tg, st, sd).Probes == nil {
				return nil, fmt.Errorf("reproduce: %s: the %s model of %s carries no probes (not one of ProbedStrategies)", prefix, tg, st)
			}
		}
	}
	return g, nil
}

// Probed returns the probes of a grid model of the probe target (nil if
// it has none).
func (g *ModelGrid) Probed(strategy string, seed uint64) *ProbeRun {
	if m := g.Model(g.Sizes.Probes.Target, strategy, seed); m != nil {
		return m.Probes
	}
	return nil
}

// ProbeSizesFor returns the probes of a scale's models
// (ModelSizesFor(s).Probes).
func ProbeSizesFor(s Scale) ProbeSizes { return ModelSizesFor(s).Probes }
