// Notebook fig2: does learning one range of timesteps hurt the others?
//
//	go run ./notebooks/fig2                # quick scale, out/notebooks/fig2/
//	go run ./notebooks/fig2 -scale smoke   # seconds, numbers are noise
//
// The question. Hang et al. (ICCV 2023, Fig. 2) take a trained model,
// fine-tune it only on timesteps [100,200), [200,300) or [300,400), and
// plot how its loss changes at every timestep: the loss falls where it
// trained and rises far away. That is the observation behind their
// multi-task view of diffusion training — timesteps are tasks whose
// gradients conflict — and so behind Min-SNR-γ.
//
// The steps. Train (or load from the model cache) the base model: the
// ε-prediction model with SNR weighting (the plain ε-MSE of DDPM) of the
// fig5 grid. Fix a set of noised examples at timesteps spread over
// [0, T) and measure the base model's loss on each. Fine-tune a copy on
// one bin, measure again on the same examples, and take paired
// differences; repeat for every bin and for a control run on all
// timesteps.
//
// How to read the result. loss_change.png has one panel per run: the
// relative change of the x0-MSE at each timestep with ±2 standard errors,
// the fine-tuned range marked at 0, on a symmetric log scale. report.md
// summarises each run: the change inside the bin, the median change far
// from it, and how many distant timesteps got significantly worse.
package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/reproduce"
	"gonum.org/v1/plot/vg"
)

func main() { nb.Main("fig2", run) }

// Seed offsets of the loss probe's examples and of the fine-tuning runs'
// batches, so that they differ from the base run's (the same offsets as
// `paretodiff reproduce fig2`).
const (
	probeSeed    = 1000
	fineTuneSeed = 2000
)

// run is one fine-tuning run and what it did.
type runResult struct {
	name    string
	lo, hi  int
	changes []reproduce.LossChange
	effect  reproduce.FineTuneEffect
}

func run(ctx context.Context, o nb.Options) error {
	env := o.Env()
	ms, fs := reproduce.ModelSizesFor(o.Scale), reproduce.Fig2SizesFor(o.Scale)
	T := ms.T

	// Step 1: the base model, from the cache if fig5 (or an earlier run of
	// this notebook) trained it already.
	base, err := reproduce.TrainModel(ctx, env, ms.Model(fs.Target, fs.Strategy, o.Seed, o.Seed))
	if err != nil {
		return err
	}
	ck, err := base.Checkpoint()
	if err != nil {
		return err
	}
	tc, err := ck.Config.TrainConfig()
	if err != nil {
		return err
	}
	train, _, err := data.Open(ms.Data, "")
	if err != nil {
		return err
	}
	be := nn.NewCPU()

	// Step 2: a fixed probe — PerT noised examples at each of Grid
	// timesteps, drawn once — and the base model's loss on it. Every
	// model below is measured on exactly these inputs, so differences are
	// the model's, not the sample's.
	ts := reproduce.GridTimesteps(T, fs.Grid)
	probe := reproduce.NewLossProbe(train, ts, fs.PerT, o.Seed+probeSeed)
	baseNet, err := ck.Network(be, true)
	if err != nil {
		return err
	}
	before := probe.Losses(baseNet, tc.Schedule, tc.Target)

	// Step 3: fine-tune a copy of the EMA weights on each bin (and, as a
	// control, on all timesteps) with a fresh AdamW, and measure again.
	var runs []*runResult
	for _, b := range reproduce.Fig2Bins {
		lo, hi := b[0]*T/1000, b[1]*T/1000
		runs = append(runs, &runResult{name: fmt.Sprintf("[%d,%d)", lo, hi), lo: lo, hi: hi})
	}
	runs = append(runs, &runResult{name: "all timesteps (control)", lo: 0, hi: T})
	far := fs.Far * T / 1000
	for i, r := range runs {
		env.Logf("fig2: fine-tuning on %s for %d steps", r.name, fs.FineTuneSteps)
		net, err := reproduce.FineTune(ctx, env, base, reproduce.FineTuneConfig{
			Lo: r.lo, Hi: r.hi, Steps: fs.FineTuneSteps, Batch: fs.FineTuneBatch, LR: fs.FineTuneLR, Seed: o.Seed + fineTuneSeed + uint64(i),
		})
		if err != nil {
			return err
		}
		// Paired per-timestep changes, and their summary: the mean change
		// inside the bin and what happened at timesteps ≥ far away.
		r.changes = reproduce.LossChanges(ts, before, probe.Losses(net, tc.Schedule, tc.Target))
		r.effect = reproduce.EffectOf(r.changes, r.lo, r.hi, far)
	}

	// Step 4: the figure, one panel per run.
	grid := plots.Grid{Rows: 2, Cols: 2, Width: 13 * vg.Inch, Height: 9 * vg.Inch, SharedLegend: true}
	for _, r := range runs {
		p, err := reproduce.LossChangePanel("fine-tuned on "+r.name, r.changes, r.lo, r.hi)
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	if err := grid.Save(o.Path("loss_change.png")); err != nil {
		return err
	}

	// Step 5: the report. A bin shows the paper's pattern when the loss
	// inside falls by more than 2 standard errors and at least half of the
	// distant timesteps rise by more than 2 standard errors.
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook fig2: fine-tuning on one timestep bin\n\n")
	fmt.Fprintf(&b, "Scale `%s`, seed %d. Base model: %s-prediction, %s weighting, %d steps on %s; each run fine-tunes its EMA weights for %d steps (batch %d, lr %g) and is measured on %d examples at each of %d timesteps.\n\n",
		o.Scale, o.Seed, fs.Target, fs.Strategy, ms.Steps, ms.Data, fs.FineTuneSteps, fs.FineTuneBatch, fs.FineTuneLR, fs.PerT, fs.Grid)
	fmt.Fprintf(&b, "| fine-tuned on | change inside (± se) | median change ≥ %d steps away | distant timesteps worse / better |\n|---|---|---|---|\n", far)
	var reading []string
	for i, r := range runs {
		e := r.effect
		fmt.Fprintf(&b, "| %s | %+.2f%% ± %.2f | %s | %d / %d of %d |\n", r.name, 100*e.Inside, 100*e.InsideSE, signedPct(e.FarMedian), e.Worse, e.Better, e.NFar)
		if i == len(runs)-1 {
			reading = append(reading, fmt.Sprintf("The control run, fine-tuned the same way on all timesteps, changed the loss by %+.2f%% ± %.2f on average: what fine-tuning does without restricting the timesteps, the yardstick for the bins above.",
				100*e.Inside, 100*e.InsideSE))
			continue
		}
		helps := e.Inside < -2*e.InsideSE
		hurts := e.NFar > 0 && 2*e.Worse >= e.NFar
		switch {
		case helps && hurts:
			reading = append(reading, fmt.Sprintf("Fine-tuning on %s lowered the loss there (%+.2f%%) and raised it at %d of %d distant timesteps (median %s): the paper's pattern.", r.name, 100*e.Inside, e.Worse, e.NFar, signedPct(e.FarMedian)))
		case helps:
			reading = append(reading, fmt.Sprintf("Fine-tuning on %s lowered the loss there (%+.2f%%) but raised it significantly at only %d of %d distant timesteps.", r.name, 100*e.Inside, e.Worse, e.NFar))
		default:
			reading = append(reading, fmt.Sprintf("Fine-tuning on %s did not lower the loss there beyond noise (%+.2f%% ± %.2f).", r.name, 100*e.Inside, 100*e.InsideSE))
		}
	}
	fmt.Fprintf(&b, "\n## Reading\n\n%s\n\n", "- "+strings.Join(reading, "\n- "))
	fmt.Fprintf(&b, "## What this scale can show\n\n%s\n\n![loss_change.png](loss_change.png)\n", reproduce.ScaleLimits(o.Scale, "x0-MSE"))
	return o.WriteReport(b.String())
}

// signedPct writes a relative change as "+1.23%" ("—" when undefined).
func signedPct(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%+.2f%%", 100*v)
}
