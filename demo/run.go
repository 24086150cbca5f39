package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/stat"
)

// Run is the measuring half of `paretodiff demo`, the toolkit's
// end-to-end tour. It
//  1. weights the bins by the closed forms of the paper's four strategies
//     (reproduce.PaperStrategies, conflict.BinWeights);
//  2. trains one ResMLP on toy data (sizes.Target, sizes.Strategy) with
//     run.Train into env.Out/model (ModelDir), logging progress to
//     env.Log, with the Fig. 6 held-out x0-MSE by timestep range every
//     Model.EvalEvery steps;
//  3. probes the gradient conflict between sizes.Bins equal-width
//     timestep bins before training and every ProbeEvery steps
//     (conflict.Probe: one pass, exact Gram; the log is in the run
//     folder);
//  4. solves the Pareto weights (fw and ugd, λ = 0 and λ = Lambda·tr(G)/K)
//     from the last probe's Gram and evaluates them and the closed forms
//     on Eq. 11 and Eq. 8 (pareto.Problem.Evaluate);
//  5. samples the trained model's EMA weights and the untrained network
//     and measures their quality against real data.
//
// It writes nothing but the run folder: (*Result).Render draws the result
// and writes the report. Its progress lines are "demo: [1/5]" to "[4/5]"
// (closed forms, training with its probes, Pareto weights, samples); the
// command logs "[5/5]" when it renders. Everything follows from env.Seed.
func Run(ctx context.Context, env *reproduce.Env, sizes Sizes) (*Result, error) {
	start := time.Now()
	m, err := newMeasurement(env, sizes)
	if err != nil {
		return nil, err
	}
	env.Logf("demo: [1/5] closed-form weights of %s", strings.Join(reproduce.PaperStrategies, ", "))
	closed, err := m.closedForms()
	if err != nil {
		return nil, err
	}
	trained, err := m.train(ctx)
	if err != nil {
		return nil, err
	}
	env.Logf("demo: [3/5] Pareto weights of the last probe (fw, ugd; λ = 0 and λ = %g·tr(G)/K) against %s", sizes.Lambda, strings.Join(reproduce.PaperStrategies, ", "))
	if err := m.res.compare(closed); err != nil {
		return nil, err
	}
	if err := m.sample(ctx, trained); err != nil {
		return nil, err
	}
	m.res.Elapsed = time.Since(start)
	return m.res, nil
}

// measurement is one Run in progress: what its steps share.
type measurement struct {
	env *reproduce.Env
	be  nn.Backend
	// spec is the normalised run; net0 the untrained network (set by
	// train).
	spec run.Spec
	net0 nn.Network
	res  *Result
}

// newMeasurement checks the sizes and sets up the run: its spec, schedule,
// bins and the data's variance.
func newMeasurement(env *reproduce.Env, sizes Sizes) (*measurement, error) {
	if err := sizes.validate(); err != nil {
		return nil, err
	}
	be := env.BackendOrCPU()
	spec, err := sizes.spec(env.Seed).Normalize()
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(spec.Train.Schedule, spec.Train.T, spec.Train.ZeroTerminal)
	if err != nil {
		return nil, err
	}
	train, _, err := data.Open(spec.Train.Data, env.MNISTDir)
	if err != nil {
		return nil, err
	}
	bins, err := weighting.EqualT(sched.T(), sizes.Bins)
	if err != nil {
		return nil, err
	}
	res := &Result{Sizes: sizes, Seed: env.Seed, Device: be.Name(), Schedule: sched, Bins: bins,
		DataVar: dataVariance(train, env.Seed), RangeLabels: reproduce.Fig6Labels(sched.T())}
	return &measurement{env: env, be: be, spec: spec, res: res}, nil
}

// closedForms returns the paper's strategies as weightings of the bins, not
// yet evaluated.
func (m *measurement) closedForms() ([]Weighting, error) {
	ws := make([]Weighting, len(reproduce.PaperStrategies))
	for i, name := range reproduce.PaperStrategies {
		s, err := weighting.ParseStrategy(name)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		ws[i] = Weighting{Name: name, W: conflict.BinWeights(s, nil, m.res.Schedule, m.res.Bins)}
	}
	return ws, nil
}

// train trains the model, probing every ProbeEvery steps, and reads back
// its records and probes.
func (m *measurement) train(ctx context.Context) (*run.Run, error) {
	res, spec, sz := m.res, m.spec, m.res.Sizes
	net0, err := nn.BuildSeeded(m.be, spec.Net, spec.Train.Seed)
	if err != nil {
		return nil, err
	}
	m.net0, res.Params = net0, net0.Params().Len()
	m.env.Logf("demo: [2/5] training a %s-prediction ResMLP (%d parameters, width %d, depth %d) on %s with %s for %d steps; probing %d timestep bins every %d steps",
		sz.Target, res.Params, spec.Net.ResMLP.Width, spec.Net.ResMLP.Depth, spec.Train.Data, sz.Strategy, spec.Steps, res.Bins.K(), sz.ProbeEvery)
	start := time.Now()
	r, err := run.Train(ctx, filepath.Join(m.env.Out, ModelDir), spec, m.trainOptions())
	if err != nil {
		return nil, err
	}
	res.TrainTime = time.Since(start)
	if res.Records, err = r.Records(); err != nil {
		return nil, err
	}
	if res.ProbeInfo, res.Probes, err = r.Probe(ProbeName); err != nil {
		return nil, err
	}
	for _, f := range []string{run.SpecFile, run.CheckpointFile, run.MetricsFile, filepath.Join(run.ProbesDir, ProbeName, conflict.RecordsFile)} {
		res.ModelFiles = append(res.ModelFiles, filepath.ToSlash(filepath.Join(ModelDir, f)))
	}
	return r, nil
}

// trainOptions logs every probe and a tenth of the steps.
func (m *measurement) trainOptions() run.Options {
	env := m.env
	logEvery := max(1, m.spec.Steps/10)
	return run.Options{Backend: m.be, Existing: run.Replace, MNISTDir: env.MNISTDir,
		OnProbe: func(_ string, rec conflict.Record) error {
			msg := fmt.Sprintf("demo: probe at step %d: %.0f%% of bin pairs conflict, mean cosine %.3f", rec.Step, 100*rec.Stats.NegativeFraction, rec.Stats.MeanCosine)
			if s := rec.Solution("fw"); s != nil {
				msg += fmt.Sprintf(", Pareto (fw) weight on the lowest-noise bin %.2f", s.W[0])
			}
			env.Logf("%s", msg)
			return nil
		},
		OnProgress: func(p run.Progress) {
			if p.Step%logEvery == 0 || p.Step == p.Steps {
				eta := time.Duration(float64(p.Steps-p.Step) / p.StepsPerSec * float64(time.Second))
				env.Logf("demo: step %d/%d  loss %.4g  %.0f steps/s  ETA %s", p.Step, p.Steps, p.Loss, p.StepsPerSec, eta.Round(time.Second))
			}
		},
	}
}

// sample draws Repeats sample sets from the trained model's EMA weights
// and one from the untrained network, and measures them against real data.
func (m *measurement) sample(ctx context.Context, r *run.Run) error {
	res, sched := m.res, m.res.Schedule
	q := res.Sizes.quality(res.Seed)
	m.env.Logf("demo: [4/5] sampling %d points (%s, %d steps) from the trained and the untrained network", q.Samples, q.Sampler, q.SamplerSteps)
	mq, err := m.env.QualityOf(ctx, q, m.spec.Train.Data)
	if err != nil {
		return err
	}
	den, err := r.Denoiser(m.be, true)
	if err != nil {
		return err
	}
	res.Quality = Quality{Metric: mq.Metric(), Floor: mq.Floor()}
	for d := 0; d < q.Repeats; d++ {
		x, err := mq.Sample(ctx, den, sched, d)
		if err != nil {
			return err
		}
		v, err := mq.Distance(x)
		if err != nil {
			return err
		}
		res.Quality.Trained = append(res.Quality.Trained, v)
		if d == 0 {
			res.Samples.Trained = x
		}
	}
	target, err := weighting.ParseTarget(m.spec.Train.Target)
	if err != nil {
		return err
	}
	if res.Samples.Untrained, err = mq.Sample(ctx, diffusion.NewNetDenoiser(m.net0, target, sched), sched, 0); err != nil {
		return err
	}
	if res.Quality.Untrained, err = mq.Distance(res.Samples.Untrained); err != nil {
		return err
	}
	res.Samples.Real = slices.Clone(mq.Reference()[:len(res.Samples.Trained)])
	return nil
}

// dataVarianceDraws is the number of points whose variance estimates the
// data's, and streamDataVar their random stream under the seed.
const (
	dataVarianceDraws = 20000
	streamDataVar     = 104
)

// dataVariance returns the mean per-coordinate variance of the data,
// (1/D)·Σ_d Var(x_d), estimated from dataVarianceDraws points.
func dataVariance(ds diffusion.Dataset, seed uint64) float64 {
	D := ds.Dim()
	x := make([]float32, dataVarianceDraws*D)
	ds.Sample(rand.New(rand.NewPCG(seed, streamDataVar)), x)
	var v float64
	col := make([]float64, dataVarianceDraws)
	for d := 0; d < D; d++ {
		for i := range col {
			col[i] = float64(x[i*D+d])
		}
		_, sd := stat.MeanStdDev(col, nil)
		v += sd * sd / float64(D)
	}
	return v
}
