package reproduce

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot"
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
	Smoke: {Target: "eps", Strategy: "snr", FineTuneSteps: 10, FineTuneBatch: 32, FineTuneLR: 1e-3, Grid: 20, PerT: 32, Far: 200},
	Quick: {Target: "eps", Strategy: "snr", FineTuneSteps: 1000, FineTuneBatch: 256, FineTuneLR: 1e-4, Grid: 100, PerT: 2048, Far: 200},
	Paper: {Target: "eps", Strategy: "snr", FineTuneSteps: 5000, FineTuneBatch: 128, FineTuneLR: 1e-4, Grid: 100, PerT: 4096, Far: 200},
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

// fig2Run is one fine-tuning run: its bin (or all timesteps) and the loss
// change it caused.
type fig2Run struct {
	name    string
	lo, hi  int
	changes []LossChange
}

func runFig2(ctx context.Context, env *Env) (*Report, error) {
	dir, err := env.Dir("fig2")
	if err != nil {
		return nil, err
	}
	out := &output{dir: dir}
	ms, fs := ModelSizesFor(env.Scale), Fig2SizesFor(env.Scale)
	env.Logf("fig2: base model")
	base, err := TrainModel(ctx, env, ms.Model(fs.Target, fs.Strategy, env.Seed, env.Seed))
	if err != nil {
		return nil, err
	}
	ck, err := base.Checkpoint()
	if err != nil {
		return nil, err
	}
	tc, err := ck.Config.TrainConfig()
	if err != nil {
		return nil, err
	}
	train, _, err := data.Open(ms.Data, env.MNISTDir)
	if err != nil {
		return nil, err
	}
	be := env.BackendOrCPU()
	T := ms.T
	ts := GridTimesteps(T, fs.Grid)
	probe := NewLossProbe(train, ts, fs.PerT, env.Seed+fig2ProbeSeed)
	baseNet, err := ck.Network(be, true)
	if err != nil {
		return nil, err
	}
	before := probe.Losses(baseNet, tc.Schedule, tc.Target)

	runs := []*fig2Run{}
	for _, b := range Fig2Bins {
		lo, hi := b[0]*T/1000, b[1]*T/1000
		runs = append(runs, &fig2Run{name: fmt.Sprintf("[%d,%d)", lo, hi), lo: lo, hi: hi})
	}
	runs = append(runs, &fig2Run{name: "all timesteps (control)", lo: 0, hi: T})
	for i, r := range runs {
		env.Logf("fig2: [%d/%d] fine-tuning on %s for %d steps", i+1, len(runs), r.name, fs.FineTuneSteps)
		net, err := FineTune(ctx, env, base, FineTuneConfig{Lo: r.lo, Hi: r.hi, Steps: fs.FineTuneSteps, Batch: fs.FineTuneBatch, LR: fs.FineTuneLR, Seed: env.Seed + fig2FineTuneSeed + uint64(i)})
		if err != nil {
			return nil, err
		}
		r.changes = LossChanges(ts, before, probe.Losses(net, tc.Schedule, tc.Target))
	}

	ct := Table{Header: []string{"finetune", "lo", "hi", "t", "loss_before", "loss_after", "rel_change", "se"}}
	for _, r := range runs {
		for _, c := range r.changes {
			ct.Add(r.name, r.lo, r.hi, c.T, c.Before, c.After, c.Rel, c.SE)
		}
	}
	if err := ct.WriteCSV(out.path("loss_change.csv")); err != nil {
		return nil, err
	}

	grid := plots.Grid{Rows: 2, Cols: 2, Width: 13 * vg.Inch, Height: 9 * vg.Inch}
	for _, r := range runs {
		p, err := LossChangePanel("fine-tuned on "+r.name, r.changes, r.lo, r.hi)
		if err != nil {
			return nil, err
		}
		grid.Panels = append(grid.Panels, p)
	}
	if err := grid.Save(out.path("loss_change.png")); err != nil {
		return nil, err
	}

	// Verdicts: per bin, better inside, worse far away.
	far := fs.Far * T / 1000
	var outcomes []Outcome
	var lines []string
	st := Table{Header: []string{"fine-tuned on", "mean change inside the bin", "median change far from it", "far timesteps significantly worse", "significantly better"}}
	for i, r := range runs {
		e := EffectOf(r.changes, r.lo, r.hi, far)
		in, inSE, med, nFar, worse, better := e.Inside, e.InsideSE, e.FarMedian, e.NFar, e.Worse, e.Better
		farCell, worseCell, betterCell := "—", "—", "—"
		if nFar > 0 {
			farCell = fmt.Sprintf("%+.2f%%", 100*med)
			worseCell = fmt.Sprintf("%d of %d", worse, nFar)
			betterCell = fmt.Sprintf("%d of %d", better, nFar)
		}
		st.Add(r.name, fmt.Sprintf("%+.2f%% ± %.2f", 100*in, 100*inSE), farCell, worseCell, betterCell)
		if i == len(runs)-1 {
			lines = append(lines, fmt.Sprintf("control (all timesteps): %+.2f%% on average over all timesteps", 100*in))
			continue
		}
		helps := WithinNoise
		switch {
		case in < -2*inSE:
			helps = Supports
		case in > 2*inSE:
			helps = Contradicts
		}
		hurts := WithinNoise
		switch {
		case nFar > 0 && 2*worse >= nFar:
			hurts = Supports
		case nFar > 0 && 2*better >= nFar:
			hurts = Contradicts
		}
		o := WithinNoise
		switch {
		case helps == Supports && hurts == Supports:
			o = Supports
		case helps == Contradicts || hurts == Contradicts:
			o = Contradicts
		}
		outcomes = append(outcomes, o)
		lines = append(lines, fmt.Sprintf("%s: %+.2f%% ± %.2f inside (%s); at timesteps ≥ %d away the median change is %+.2f%% and %d of %d are significantly worse, %d better (%s)",
			r.name, 100*in, 100*inSE, map[Outcome]string{Supports: "helps", Contradicts: "hurts there", WithinNoise: "no significant change"}[helps], far, 100*med, worse, nFar, better,
			map[Outcome]string{Supports: "hurts", Contradicts: "helps there", WithinNoise: "no clear change"}[hurts]))
	}
	f := Finding{
		Claim:    "Fine-tuning on one timestep bin lowers the loss at and near that bin but raises it at distant timesteps: the timesteps' tasks conflict (the paper's motivation for the multi-task view).",
		Measured: strings.Join(lines, "; ") + ".",
		Rule:     fmt.Sprintf("a bin supports the claim if the mean relative change inside it is below −2 standard errors (helps) and at least half of the timesteps %d or more away from it are significantly worse, i.e. changed by more than +2 standard errors (hurts); it contradicts the claim if the change inside is above +2 standard errors or at least half of the distant timesteps are significantly better; otherwise it is within noise; %s", far, verdictRule),
		Verdict:  VerdictOf(outcomes...),
	}
	r := &Report{
		Title:    "fine-tuning on one timestep bin: loss change at every timestep",
		Paper:    "Fig. 2 of Hang et al. (ICCV 2023): a trained model fine-tuned only on timesteps [100,200), [200,300) or [300,400), and the change of its loss at every timestep",
		Sizes:    []any{ms, fs},
		Findings: []Finding{f},
		Sections: []Section{
			{Heading: "Setting", Body: fmt.Sprintf("The base model is the %s-prediction, %s-weighted model of the strategy grid (the plain ε-MSE of DDPM), trained %d steps; its EMA weights are copied and fine-tuned for %d steps (batch %d, AdamW at a constant %g, fresh moments) on timesteps drawn uniformly from one bin; a control run fine-tunes the same way on all timesteps. The loss is the unweighted x0-MSE (1/D)‖x0 − x̂0‖² measured before and after on the same %d examples (data and noise) at each of %d timesteps spread over [0, %d), so the change at each timestep is a paired difference; relative changes are the same for the ε-, x0- and v-loss, which differ at a fixed t by a constant factor.",
				fs.Target, fs.Strategy, ms.Steps, fs.FineTuneSteps, fs.FineTuneBatch, fs.FineTuneLR, fs.PerT, fs.Grid, T)},
			{Heading: "Loss change by region (mean relative change ± standard error)", Body: st.Markdown()},
		},
		Limits: limitsText(env.Scale, "x0-MSE") + " A low-dimensional model has fewer shared features between timesteps than an image model, so conflicts may be weaker or differently placed; the control run shows what fine-tuning for the same number of steps does without restricting the timesteps.",
		Files:  out.files,
	}
	return r, nil
}

// LossChangePanel draws the relative loss change at every probed timestep
// after fine-tuning on [lo, hi) (the paper's Fig. 2), with ±2 standard
// errors and the fine-tuned range marked at 0, on a symmetric log scale
// (linear within ±1%, logarithmic beyond).
func LossChangePanel(title string, changes []LossChange, lo, hi int) (*plot.Plot, error) {
	panel := plots.Lines{Title: title + " (y: symmetric log scale)", XLabel: "timestep t", YLabel: "loss change at t (%)", Legend: "top-left"}
	var x, y, up, dn []float64
	for _, c := range changes {
		x = append(x, float64(c.T))
		y = append(y, 100*c.Rel)
		up = append(up, 100*(c.Rel+2*c.SE))
		dn = append(dn, 100*(c.Rel-2*c.SE))
	}
	panel.Series = []plots.Series{
		{Name: "relative change of the x0-MSE", X: x, Y: y},
		{Name: "+2 standard errors", X: x, Y: up},
		{Name: "−2 standard errors", X: x, Y: dn},
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
