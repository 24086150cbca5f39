package reproduce

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/run"
	"gonum.org/v1/plot/vg"
)

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

// ScaleLimits says, for a report, what a scale's training runs (of the
// ResMLP, ModelSizesFor) can and cannot show about the paper's claims,
// naming the quality measure metric.
func ScaleLimits(s Scale, metric string) string { return limitsText(s, ModelSizesFor(s), metric) }

// fmtSteps writes a step count, "never" for NaN.
func fmtSteps(s float64) string {
	if math.IsNaN(s) {
		return "never"
	}
	return fmt.Sprint(s)
}

// limitsText is the common "what this scale can show" of the training
// targets.
func limitsText(s Scale, sz ModelSizes, metric string) string {
	switch s {
	case Smoke:
		return "Smoke scale only checks that the pipeline runs: the models train for a few dozen steps and every number above is noise. Nothing here bears on the paper."
	case Quick:
		return fmt.Sprintf(`Quick scale trains a %s on the 2-D %s distribution for %d steps on the CPU, and measures quality by the sliced Wasserstein distance of %d samples to real points (%s, %d steps). It can show whether the weighting changes how fast a small denoiser learns a low-dimensional distribution and in which direction. It cannot show the size of the effect on images: the paper trains ViT and UNet models on ImageNet and CelebA for hundreds of thousands of steps and measures FID, and the balance between timesteps that min-SNR-γ fixes matters most where fine detail at low noise competes with global structure at high noise, which 2-D data has little of. A verdict here is about this toy setting.`,
			sz.NetPhrase(false), strings.TrimPrefix(sz.Data, "toy:"), sz.Steps, sz.Samples, sz.Sampler, sz.SamplerSteps)
	}
	if s == Medium {
		return fmt.Sprintf("Medium scale trains a %s on %s for %d steps (batch %d) on the CPU, %d seeds per configuration for %s-prediction and %d for ε and v, and measures %s on %d samples (%s, %d steps) every %d steps. It can show, with training-seed statistics, whether the ordering of the strategies on a real image distribution is the paper's, and how fast each converges at this size. It cannot show the size of the effect on the paper's models: %s on 28×28 digits trains in minutes, where the paper's ViT and UNet models train for hundreds of thousands of steps on ImageNet and CelebA, so a speed-up here is a statement about this setting.",
			sz.NetPhrase(false), sz.Data, sz.Steps, sz.Batch, sz.Seeds, PrimaryTarget, sz.SeedsFor("eps"), metric, sz.Samples, sz.Sampler, sz.SamplerSteps, sz.EvalEvery, "a small "+sz.kindName())
	}
	return fmt.Sprintf("Paper scale trains a %s on %s for %d steps with the paper's optimiser settings (AdamW lr %g, EMA %g) and %d seeds, measuring %s on %d samples. It is still %s on MNIST, not the paper's ViT on ImageNet: it can show whether the ordering of the strategies holds on images, not reproduce the paper's FID values.",
		sz.NetPhrase(false), sz.Data, sz.Steps, sz.LR, sz.EMA, sz.Seeds, metric, sz.Samples, sz.NetNoun())
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
			m := g.Model(tg, st, g.SeedsOf(tg)[0])
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
