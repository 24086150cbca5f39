package reproduce

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot/vg"
)

// Fig2Bins are the paper's fine-tuning bins, in thousandths of T.
var Fig2Bins = [][2]int{{100, 200}, {200, 300}, {300, 400}}

// Fig2Sizes are the settings of fig2 beyond the base model's.
type Fig2Sizes struct {
	// Target and Strategy of the base model (the plain ε loss of DDPM:
	// ε-prediction with SNR weighting on the x0 loss).
	Target, Strategy string
	// FineTuneSteps, FineTuneBatch and FineTuneLR configure each
	// fine-tuning run (fresh AdamW, constant rate).
	FineTuneSteps, FineTuneBatch int
	FineTuneLR                   float64
	// Grid is the number of timesteps at which the loss is measured and
	// PerT the examples at each (the same for every model compared).
	Grid, PerT int
	// Far is the distance, in thousandths of T, from a bin beyond which a
	// timestep counts as distant.
	Far int
}

var fig2Sizes = map[Scale]Fig2Sizes{
	Smoke:  {Target: "eps", Strategy: "snr", FineTuneSteps: 10, FineTuneBatch: 32, FineTuneLR: 1e-3, Grid: 20, PerT: 32, Far: 200},
	Quick:  {Target: "eps", Strategy: "snr", FineTuneSteps: 1000, FineTuneBatch: 256, FineTuneLR: 1e-4, Grid: 100, PerT: 2048, Far: 200},
	Medium: {Target: "eps", Strategy: "snr", FineTuneSteps: 1000, FineTuneBatch: 64, FineTuneLR: 1e-4, Grid: 100, PerT: 1024, Far: 200},
	Paper:  {Target: "eps", Strategy: "snr", FineTuneSteps: 5000, FineTuneBatch: 128, FineTuneLR: 1e-4, Grid: 100, PerT: 4096, Far: 200},
}

// Fig2SizesFor returns fig2's sizes at a scale (beyond ModelSizesFor's).
func Fig2SizesFor(s Scale) Fig2Sizes {
	f, ok := fig2Sizes[s]
	if !ok {
		panic(fmt.Sprintf("reproduce: no fig2 sizes for scale %q", s))
	}
	return f
}

// fig2Stream is the seed offset of the fine-tuning runs' batches and of the
// loss probe, so that they differ from the base run's streams.
const (
	fig2ProbeSeed    = 1000
	fig2FineTuneSeed = 2000
)

// Fig2Run is one fine-tuning run of fig2: the timesteps [Lo, Hi) it
// trained on (all of them for the control run) and the loss change it
// caused at every probed timestep.
type Fig2Run struct {
	Name    string
	Lo, Hi  int
	Changes []LossChange
}

// Fig2Result is what fig2 measures: the loss change at every probed
// timestep after fine-tuning the base model on each bin of Fig2Bins, and
// after the control run on all timesteps.
type Fig2Result struct {
	// Scale is the scale it ran at, Model and Sizes its sizes.
	Scale Scale
	Model ModelSizes
	Sizes Fig2Sizes
	// Runs are one run per bin of Fig2Bins, in order, then the control.
	Runs []Fig2Run
}

// Fig2 computes fig2: it trains (or reuses) the base model, measures its
// loss with a LossProbe on GridTimesteps, fine-tunes a copy on each bin of
// Fig2Bins and on all timesteps (FineTune) and measures the loss change of
// each (LossChanges) on the same examples.
func Fig2(ctx context.Context, env *Env) (*Fig2Result, error) {
	ms, fs := env.ModelSizes(), Fig2SizesFor(env.Scale)
	runs, err := planFig2(env)
	if err != nil {
		return nil, err
	}
	env.Logf("fig2: base model")
	base, err := TrainModel(ctx, env, runs[0].Spec)
	if err != nil {
		return nil, err
	}
	ts := GridTimesteps(ms.T, fs.Grid)
	losses, before, err := fig2Probe(env, base, ms.Data, ts, fs.PerT)
	if err != nil {
		return nil, err
	}
	res := &Fig2Result{Scale: env.Scale, Model: ms, Sizes: fs, Runs: fig2Runs(ms.T)}
	for i := range res.Runs {
		r := &res.Runs[i]
		env.Logf("fig2: [%d/%d] fine-tuning on %s for %d steps", i+1, len(res.Runs), r.Name, fs.FineTuneSteps)
		net, err := fineTuned(ctx, env, runs[1+i])
		if err != nil {
			return nil, err
		}
		r.Changes = LossChanges(ts, before, losses(net))
	}
	return res, nil
}

// planFig2 is fig2's runs: the base model, then its fine-tune on each run
// of fig2Runs in order (fine-tune i with seed Seed + fig2FineTuneSeed + i).
func planFig2(env *Env) ([]CacheRun, error) {
	ms, fs := env.ModelSizes(), Fig2SizesFor(env.Scale)
	base := ModelRun(ms.Model(fs.Target, fs.Strategy, env.Seed, env.Seed))
	runs := []CacheRun{base}
	for i, r := range fig2Runs(ms.T) {
		ft, err := FineTuneRun(base, FineTuneConfig{Lo: r.Lo, Hi: r.Hi, Steps: fs.FineTuneSteps, Batch: fs.FineTuneBatch, LR: fs.FineTuneLR, Seed: env.Seed + fig2FineTuneSeed + uint64(i)})
		if err != nil {
			return nil, err
		}
		runs = append(runs, ft)
	}
	return runs, nil
}

// fig2Runs are the fine-tuning runs of T timesteps: one per bin of
// Fig2Bins, then the control on all timesteps.
func fig2Runs(T int) []Fig2Run {
	var runs []Fig2Run
	for _, b := range Fig2Bins {
		lo, hi := b[0]*T/1000, b[1]*T/1000
		runs = append(runs, Fig2Run{Name: fmt.Sprintf("[%d,%d)", lo, hi), Lo: lo, Hi: hi})
	}
	return append(runs, Fig2Run{Name: "all timesteps (control)", Lo: 0, Hi: T})
}

// fig2Probe draws perT examples of the training data at each of ts (from
// the seed's probe stream, the same for every network) and returns the
// per-example losses of a network on them, with the base model's schedule
// and target, and those of the base model's EMA network.
func fig2Probe(env *Env, base *TrainedModel, dataSpec string, ts []int, perT int) (losses func(nn.Network) [][]float64, before [][]float64, err error) {
	ck, err := base.Checkpoint()
	if err != nil {
		return nil, nil, err
	}
	tc, err := ck.Config.TrainConfig()
	if err != nil {
		return nil, nil, err
	}
	train, _, err := data.Open(dataSpec, env.MNISTDir)
	if err != nil {
		return nil, nil, err
	}
	probe := NewLossProbe(train, ts, perT, env.Seed+fig2ProbeSeed)
	losses = func(net nn.Network) [][]float64 { return probe.Losses(net, tc.Schedule, tc.Target) }
	baseNet, err := ck.Network(env.BackendOrCPU(), true)
	if err != nil {
		return nil, nil, err
	}
	return losses, losses(baseNet), nil
}

// Render writes loss_change.csv (every run's change at every probed
// timestep) and loss_change.png (LossChangePanel of each run) into dir and
// returns the report.
func (r *Fig2Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	ct := Table{Header: []string{"finetune", "lo", "hi", "t", "loss_before", "loss_after", "rel_change", "se"}}
	for _, run := range r.Runs {
		for _, c := range run.Changes {
			ct.Add(run.Name, run.Lo, run.Hi, c.T, c.Before, c.After, c.Rel, c.SE)
		}
	}
	if err := ct.WriteCSV(out.path("loss_change.csv")); err != nil {
		return nil, err
	}
	grid := plots.Grid{Rows: 2, Cols: 2, Width: 13 * vg.Inch, Height: 9 * vg.Inch, SharedLegend: true}
	for _, run := range r.Runs {
		p, err := LossChangePanel("fine-tuned on "+run.Name, run.Changes, run.Lo, run.Hi)
		if err != nil {
			return nil, err
		}
		grid.Panels = append(grid.Panels, p)
	}
	if err := grid.Save(out.path("loss_change.png")); err != nil {
		return nil, err
	}
	return r.report(out.files), nil
}

// far is the distance in timesteps beyond which a timestep counts as
// distant from a bin.
func (r *Fig2Result) far() int { return r.Sizes.Far * r.Model.T / 1000 }

// report builds fig2's report: per bin, better inside, worse far away.
func (r *Fig2Result) report(files []string) *Report {
	ms, fs := r.Model, r.Sizes
	f, st := r.finding()
	return &Report{
		Title:    "fine-tuning on one timestep bin: loss change at every timestep",
		Paper:    "Fig. 2 of Hang et al. (ICCV 2023): a trained model fine-tuned only on timesteps [100,200), [200,300) or [300,400), and the change of its loss at every timestep",
		Sizes:    []any{ms, fs},
		Findings: []Finding{f},
		Sections: []Section{
			{Heading: "Setting", Body: fmt.Sprintf("The base model is the %s-prediction, %s-weighted model of the strategy grid (the plain ε-MSE of DDPM), trained %d steps; its EMA weights are copied and fine-tuned for %d steps (batch %d, AdamW at a constant %g, fresh moments) on timesteps drawn uniformly from one bin; a control run fine-tunes the same way on all timesteps. The loss is the unweighted x0-MSE (1/D)‖x0 − x̂0‖² measured before and after on the same %d examples (data and noise) at each of %d timesteps spread over [0, %d), so the change at each timestep is a paired difference; relative changes are the same for the ε-, x0- and v-loss, which differ at a fixed t by a constant factor.",
				fs.Target, fs.Strategy, ms.Steps, fs.FineTuneSteps, fs.FineTuneBatch, fs.FineTuneLR, fs.PerT, fs.Grid, ms.T)},
			{Heading: "Loss change by region (mean relative change ± standard error)", Body: st.Markdown()},
		},
		Limits: limitsText(r.Scale, r.Model, "x0-MSE") + " A low-dimensional model has fewer shared features between timesteps than an image model, so conflicts may be weaker or differently placed; the control run shows what fine-tuning for the same number of steps does without restricting the timesteps.",
		Files:  files,
	}
}

// finding is fig2's claim with the verdict of every bin's run, and the
// table of the loss change by region of every run.
func (r *Fig2Result) finding() (Finding, Table) {
	far := r.far()
	var outcomes []Outcome
	var lines []string
	st := Table{Header: []string{"fine-tuned on", "mean change inside the bin", "median change far from it", "far timesteps significantly worse", "significantly better"}}
	for i, run := range r.Runs {
		e := EffectOf(run.Changes, run.Lo, run.Hi, far)
		farCell, worseCell, betterCell := "—", "—", "—"
		if e.NFar > 0 {
			farCell = fmt.Sprintf("%+.2f%%", 100*e.FarMedian)
			worseCell = fmt.Sprintf("%d of %d", e.Worse, e.NFar)
			betterCell = fmt.Sprintf("%d of %d", e.Better, e.NFar)
		}
		st.Add(run.Name, fmt.Sprintf("%+.2f%% ± %.2f", 100*e.Inside, 100*e.InsideSE), farCell, worseCell, betterCell)
		if i == len(r.Runs)-1 {
			lines = append(lines, fmt.Sprintf("control (all timesteps): %+.2f%% on average over all timesteps", 100*e.Inside))
			continue
		}
		helps, hurts, o := fig2Outcomes(e)
		outcomes = append(outcomes, o)
		lines = append(lines, fmt.Sprintf("%s: %+.2f%% ± %.2f inside (%s); at timesteps ≥ %d away the median change is %+.2f%% and %d of %d are significantly worse, %d better (%s)",
			run.Name, 100*e.Inside, 100*e.InsideSE, map[Outcome]string{Supports: "helps", Contradicts: "hurts there", WithinNoise: "no significant change"}[helps], far, 100*e.FarMedian, e.Worse, e.NFar, e.Better,
			map[Outcome]string{Supports: "hurts", Contradicts: "helps there", WithinNoise: "no clear change"}[hurts]))
	}
	return Finding{
		Claim:    "Fine-tuning on one timestep bin lowers the loss at and near that bin but raises it at distant timesteps: the timesteps' tasks conflict (the paper's motivation for the multi-task view).",
		Measured: strings.Join(lines, "; ") + ".",
		Rule:     fmt.Sprintf("a bin supports the claim if the mean relative change inside it is below −2 standard errors (helps) and at least half of the timesteps %d or more away from it are significantly worse, i.e. changed by more than +2 standard errors (hurts); it contradicts the claim if the change inside is above +2 standard errors or at least half of the distant timesteps are significantly better; otherwise it is within noise; %s", far, verdictRule),
		Verdict:  VerdictOf(outcomes...),
	}, st
}

// fig2Outcomes reads one bin's FineTuneEffect: whether fine-tuning helps
// inside the bin (the mean change beyond 2 standard errors), whether it
// hurts far from it (at least half of the distant timesteps significantly
// worse, or better for the contrary), and the bin's outcome: Supports if
// both support the claim, Contradicts if either contradicts it.
func fig2Outcomes(e FineTuneEffect) (helps, hurts, o Outcome) {
	helps = WithinNoise
	switch {
	case e.Inside < -2*e.InsideSE:
		helps = Supports
	case e.Inside > 2*e.InsideSE:
		helps = Contradicts
	}
	hurts = WithinNoise
	switch {
	case e.NFar > 0 && 2*e.Worse >= e.NFar:
		hurts = Supports
	case e.NFar > 0 && 2*e.Better >= e.NFar:
		hurts = Contradicts
	}
	o = WithinNoise
	switch {
	case helps == Supports && hurts == Supports:
		o = Supports
	case helps == Contradicts || hurts == Contradicts:
		o = Contradicts
	}
	return helps, hurts, o
}

// LossChangePanel draws the relative loss change at every probed timestep
// after fine-tuning on [lo, hi) (the paper's Fig. 2), with a band of ±2
// standard errors and the fine-tuned range marked at 0, on a symmetric log
// scale (linear within ±1%, logarithmic beyond). Its series are the same
// in every panel, for Grid.SharedLegend.
func LossChangePanel(title string, changes []LossChange, lo, hi int) (*plots.Panel, error) {
	panel := plots.Lines{Title: title + " (y: symmetric log scale)", XLabel: "timestep t", YLabel: "loss change at t (%)"}
	var x, y, up, dn []float64
	for _, c := range changes {
		x = append(x, float64(c.T))
		y = append(y, 100*c.Rel)
		up = append(up, 100*(c.Rel+2*c.SE))
		dn = append(dn, 100*(c.Rel-2*c.SE))
	}
	panel.Series = []plots.Series{
		{Name: "relative change of the x0-MSE (band: ± 2 standard errors)", X: x, Y: y, Lo: dn, Hi: up},
		{Name: "fine-tuned timesteps", X: []float64{float64(lo), float64(hi - 1)}, Y: []float64{0, 0}},
	}
	p, err := panel.Plot()
	if err != nil {
		return nil, err
	}
	p.Y.Scale, p.Y.Tick.Marker = plots.SymLog{C: 1}, plots.SymLogTicks{C: 1}
	return p, nil
}

// FineTuneEffect summarises what fine-tuning on one timestep range [lo, hi)
// did to the loss at every probed timestep: the paper's Fig. 2 reading,
// better inside the range, worse far from it.
type FineTuneEffect struct {
	// Inside is the mean relative change over the probed timesteps in
	// [lo, hi) and InsideSE its standard error (NaN if none is probed).
	Inside, InsideSE float64
	// FarMedian is the median relative change at the timesteps at least
	// far away, t < lo − far or t ≥ hi + far (NaN if there is none).
	FarMedian float64
	// NFar counts those timesteps; Worse and Better count the ones whose
	// change is beyond +2 and −2 standard errors (significantly worse and
	// better).
	NFar, Worse, Better int
}

// EffectOf computes the FineTuneEffect of the loss changes of a run
// fine-tuned on [lo, hi), counting timesteps at least far away as distant.
func EffectOf(changes []LossChange, lo, hi, far int) FineTuneEffect {
	var e FineTuneEffect
	e.Inside, e.InsideSE = regionMean(changes, func(t int) bool { return t >= lo && t < hi })
	var farRel []float64
	for _, c := range changes {
		if t := c.T; t < lo-far || t >= hi+far {
			farRel = append(farRel, c.Rel)
			if c.Rel > 2*c.SE {
				e.Worse++
			}
			if c.Rel < -2*c.SE {
				e.Better++
			}
		}
	}
	e.NFar, e.FarMedian = len(farRel), median(farRel)
	return e
}

// median returns the median of v (NaN if empty).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// regionMean is the mean relative change over the timesteps in a region
// and its standard error (the grid points use independent examples).
func regionMean(cs []LossChange, in func(t int) bool) (mean, se float64) {
	n := 0
	for _, c := range cs {
		if in(c.T) {
			mean += c.Rel
			se += c.SE * c.SE
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return mean / float64(n), math.Sqrt(se) / float64(n)
}
