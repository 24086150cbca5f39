package reproduce

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// ProbeRun is a probed training run of the cache: a model trained as
// TrainModel trains it (the same weights, step for step: a probe never
// changes parameters or the training random stream) with Draws
// independent probes (run.Spec.Probes "draw-0", "draw-1", …), each a fixed
// batch over training, at step 0 and every few steps.
type ProbeRun struct {
	// Spec is the run's spec and Dir its folder.
	Spec run.Spec
	Dir  string
	// Info describes the probes (bins, parameters, task loss), the same for
	// every draw but the seed.
	Info conflict.Info
	// Draws[r] are draw r's records, one per probe, in step order, with
	// their Gram and cosine matrices (no Pareto solutions: the analyses
	// solve with their own λ).
	Draws [][]conflict.Record
	// Cached is set when the run came from the cache.
	Cached bool
	// TrainTime is the wall time of training and probing.
	TrainTime time.Duration
}

// DrawName is the name of probe draw r in a probed run ("draw-0").
func DrawName(r int) string { return "draw-" + strconv.Itoa(r) }

// Steps returns the probed steps.
func (p *ProbeRun) Steps() []int {
	var s []int
	for _, r := range p.Draws[0] {
		s = append(s, r.Step)
	}
	return s
}

// Bins returns the probes' bins.
func (p *ProbeRun) Bins() weighting.Bins { return p.Info.Bins() }

// PerBin returns the number of examples per bin of each probe batch.
func (p *ProbeRun) PerBin() int { return p.Info.PerBin }

// validateProbed checks the probes of a probed run: at least one, each
// at an interval that divides the steps.
func validateProbed(s run.Spec) error {
	if len(s.Probes) == 0 {
		return fmt.Errorf("reproduce: probed run %s: no probes", ModelLabel(s))
	}
	for _, p := range s.Probes {
		if p.Every < 1 || s.Steps%p.Every != 0 {
			return fmt.Errorf("reproduce: probed run: the probe interval %d must divide the steps %d", p.Every, s.Steps)
		}
	}
	return nil
}

// TrainProbed returns the probed run of a spec: from the cache in
// env.ModelsDir() when a complete run of the same spec is there, otherwise
// by training it (package run: the probes at step 0 and every Every
// steps, a checkpoint at every probe, resumed if interrupted). Its folder
// is ProbedRun(spec).Key().
func TrainProbed(ctx context.Context, env *Env, spec run.Spec) (*ProbeRun, error) {
	r, wall, err := ProbedRun(spec).train(ctx, env)
	if err != nil {
		return nil, err
	}
	return probeRunOf(r, wall)
}

// probeRunOf reads a probed run from its run folder, with the wall time
// of its training session (0 if it was cached): every probe's log, which
// must hold a record at step 0 and at every interval.
func probeRunOf(r *run.Run, wall time.Duration) (*ProbeRun, error) {
	label, dir, spec := ModelLabel(r.Spec), r.Dir, r.Spec
	p := &ProbeRun{Spec: r.Spec, Dir: r.Dir, Cached: r.Cached, TrainTime: r.TrainTime}
	if !r.Cached {
		p.TrainTime = wall
	}
	for i, ps := range r.Spec.Probes {
		info, recs, err := r.Probe(ps.Name)
		if err != nil {
			return nil, err
		}
		if want := spec.Steps/ps.Every + 1; len(recs) != want {
			return nil, fmt.Errorf("reproduce: probed run %s: %s holds %d probes, want %d", label, filepath.Join(dir, ps.Name), len(recs), want)
		}
		if i == 0 {
			p.Info = info
		}
		p.Draws = append(p.Draws, recs)
	}
	return p, nil
}

// ProbeSizes are the settings of the probed training run that fig4 and
// conflict share (one run serves both: TrainProbed caches it).
type ProbeSizes struct {
	// Target and Strategy name the model (the strategy grid's
	// configuration: the probed run trains the same weights as TrainModel).
	Target, Strategy string
	// Bins is K, the number of equal-width timestep bins; PerBin the
	// examples per bin of a probe batch; Draws the independent batches
	// measured at every probe (each fixed over training, so that changes
	// between probes are the model's, and their spread at one probe is the
	// sampling noise of the statistics); Every the probe interval in steps.
	Bins, PerBin, Draws, Every int
}

var probeSizes = map[Scale]ProbeSizes{
	Smoke:  {Target: "v", Strategy: "min-snr:5", Bins: 4, PerBin: 8, Draws: 3, Every: 20},
	Quick:  {Target: "v", Strategy: "min-snr:5", Bins: 20, PerBin: 1024, Draws: 4, Every: 100},
	Medium: {Target: "x0", Strategy: "min-snr:5", Bins: 20, PerBin: 256, Draws: 4, Every: 500},
	Paper:  {Target: "v", Strategy: "min-snr:5", Bins: 20, PerBin: 256, Draws: 4, Every: 2500},
}

// ProbeSizesFor returns the probed run's sizes at a scale.
func ProbeSizesFor(s Scale) ProbeSizes { return probeSizes[s] }

// probeSeed offsets the probe batches from every training stream.
const probeSeed = 4000

// Spec returns the probed run of these sizes for a scale's model sizes and
// a run's seed: the strategy grid's model of that seed (which it trains
// step for step), recording metrics only at the end and measuring no
// sample quality, with Draws probes of the unweighted x0-MSE over all
// parameters, draw r's batches from seed + probeSeed + r.
func (p ProbeSizes) Spec(ms ModelSizes, seed uint64) run.Spec {
	s := ms.Model(p.Target, p.Strategy, seed, seed)
	s.Eval = run.EvalSpec{Every: s.Steps}
	for r := 0; r < p.Draws; r++ {
		s.Probes = append(s.Probes, conflict.ProbeSpec{Name: DrawName(r), Every: p.Every, Bins: "t:" + strconv.Itoa(p.Bins),
			PerBin: p.PerBin, Seed: seed + probeSeed + uint64(r)})
	}
	return s
}
