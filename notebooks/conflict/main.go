// Notebook conflict: do the gradients of distant timesteps conflict more?
//
// The paper (Hang et al., ICCV 2023, §3.3) treats the timesteps of a
// diffusion model as tasks whose gradients conflict: a step that helps one
// range of noise levels can hurt another, the more so the further apart
// they are. Here we watch that while a model trains: at step 0 and every
// few steps, the cosine between the gradients of K timestep bins' losses.
//
//	go run ./notebooks/conflict              # quick scale, about a minute on 2 cores
//	go run ./notebooks/conflict -scale smoke # seconds, numbers are noise
//
// It writes cosine.png and stats.png (the conflict package's figures),
// slope.png and report.md into -out (default out/notebooks/conflict).
// `paretodiff reproduce conflict` is the full version; it uses the same
// probed run, so with the same model cache (-models) and seed the numbers are its numbers.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/reproduce"
	"gonum.org/v1/plot/vg"
)

func main() { nb.Main("conflict", run) }

func run(ctx context.Context, o nb.Options) error {
	scale := o.Scale

	// Step 1: train with probes. The reproductions' models of the probe
	// target carry conflict.Probe as a training callback on several
	// independent batches ("draws"), each fixed over training, so that
	// changes between probes are the model's and the spread between draws
	// is the sampling noise. Each probe gives the exact K×K Gram matrix of
	// the bins' gradients and its cosine matrix C_ij = G_ij/√(G_ii G_jj).
	// Here the Min-SNR-5 model; `paretodiff reproduce conflict` does the
	// same on the models of every training weighting.
	env := o.Env()
	ms := reproduce.ModelSizesFor(scale)
	probed, err := reproduce.TrainProbed(ctx, env, ms.Model(ms.Probes.Target, "min-snr:5", o.Seed, o.Seed))
	if err != nil {
		return err
	}
	steps := probed.Steps()

	// Step 2: look at one draw with the conflict package's figures: cosine
	// heat maps at the first, middle and last probe (blue: conflicting,
	// red: agreeing) and the statistics over training.
	sched, err := diffusion.NewSchedule(ms.Schedule, ms.T, false)
	if err != nil {
		return err
	}
	if _, err := conflict.WriteFigures(o.Out, probed.Info, sched, probed.Draws[0], conflict.FigureOptions{}); err != nil {
		return err
	}

	// Step 3: summarise every probe over the draws. The slope of a line
	// through all bin pairs' cosines against their distance (in bins) says
	// how agreement changes with distance: negative means distant bins
	// agree less, i.e. conflict more. Its standard error comes from the
	// draws.
	var x, slope, lo, hi []float64
	var rows []string
	for i, s := range steps {
		var recs []conflict.Record
		for _, draw := range probed.Draws {
			recs = append(recs, draw[i])
		}
		st := reproduce.SummarizeConflict(recs)
		x = append(x, float64(s))
		slope, lo, hi = append(slope, st.Slope), append(lo, st.Slope-2*st.SlopeSE), append(hi, st.Slope+2*st.SlopeSE)
		rows = append(rows, fmt.Sprintf("| %d | %.0f%% | %.0f%% | %+.4f ± %.4f | %+.2f | %+.2f |", s, 100*st.Negative, 100*st.SigNegative, st.Slope, st.SlopeSE, st.Near, st.Far))
	}

	// Step 4: the slope over training with its ± 2 SE range.
	p, err := plots.Lines{Title: "cosine slope per bin of distance (over draws)", XLabel: "training step", YLabel: "slope", Series: []plots.Series{
		{Name: "mean slope (band: ± 2 SE)", X: x, Y: slope, Lo: lo, Hi: hi}, {Name: "0", X: []float64{x[0], x[len(x)-1]}, Y: []float64{0, 0}, Reference: true},
	}}.Plot()
	if err != nil {
		return err
	}
	if err := (plots.Grid{Rows: 1, Cols: 1, Width: 7 * vg.Inch, Height: 4.5 * vg.Inch, Panels: []*plots.Panel{p}}).Save(o.Path("slope.png")); err != nil {
		return err
	}

	// Step 5: the report.
	K := probed.Bins().K()
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook conflict: gradient cosines between %d timestep bins over training\n\nScale `%s`, seed %d; %d probes of %d draws of %d examples per bin.\n\n", K, scale, o.Seed, len(steps), len(probed.Draws), probed.PerBin())
	fmt.Fprintf(&b, "| step | pairs with cosine < 0 | conflicting beyond noise | slope per bin of distance | near pairs (≤ %d apart) | far pairs (≥ %d apart) |\n|---|---|---|---|---|---|\n%s\n\n", K/4, (K+1)/2, strings.Join(rows, "\n"))
	b.WriteString("![cosine](cosine.png)\n\n![stats](stats.png)\n\n![slope](slope.png)\n")
	return o.WriteReport(b.String())
}
