package conflict

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/plot/vg"
)

// BinWeights returns the weight a closed-form strategy puts on each bin's
// task loss, normalised to sum to 1, so it can be drawn next to Pareto
// weights: with timesteps drawn uniformly, training with w(t) weights bin
// k's mean task loss by
//
//	W_k ∝ Σ_{t∈bin k} w(t)/u(t),   Σ_k W_k = 1,
//
// where w and u are the strategy's and the task loss's weights on the x0
// loss (weighting.Weight with target x0, so SNR = 0 gives 1). With the
// default task (the unweighted x0-MSE, u = 1) W_k is the sum of the
// strategy's x0 weight over the bin: for Min-SNR-γ, Σ_{t∈k} min(SNR(t), γ).
// Constant gives each bin its share of the timesteps. task nil means
// weighting.Constant{}.
func BinWeights(s weighting.Strategy, task weighting.Strategy, sched *diffusion.Schedule, bins weighting.Bins) []float64 {
	if task == nil {
		task = weighting.Constant{}
	}
	return BinWeightsOf(func(t int) float64 {
		snr := sched.SNR(t)
		return weighting.Weight(s, weighting.X0, snr) / weighting.Weight(task, weighting.X0, snr)
	}, bins)
}

// BinWeightsOf is BinWeights of any per-timestep weight r(t) on the bins'
// task loss (a closed form's w(t)/u(t), or a weighting learned during
// training, package learned): W_k ∝ Σ_{t∈bin k} r(t), Σ_k W_k = 1.
func BinWeightsOf(r func(t int) float64, bins weighting.Bins) []float64 {
	w := make([]float64, bins.K())
	var sum float64
	for k := range w {
		lo, hi := bins.Range(k)
		for t := lo; t < hi; t++ {
			w[k] += r(t)
		}
		sum += w[k]
	}
	for k := range w {
		w[k] /= sum
	}
	return w
}

// FigureOptions configures WriteFigures. The zero value means: heat maps of
// the first, middle and last probes, Min-SNR-5 as the closed form, PNG.
type FigureOptions struct {
	// HeatmapSteps are the steps whose cosine matrices are drawn; steps
	// without a probe are skipped. Empty means the first, middle and last
	// probes.
	HeatmapSteps []int
	// Compare are the closed-form strategies drawn next to the Pareto
	// weights (default min-snr:5 and constant).
	Compare []weighting.Strategy
	// Format is the image format: png (default), svg or pdf.
	Format string
}

// Figure file names written by WriteFigures (with the format's extension).
const (
	CosineFigure  = "cosine"
	StatsFigure   = "stats"
	WeightsFigure = "weights"
)

// WriteFigures draws a probe run into dir and returns the files written:
//   - cosine.EXT: the cosine matrices of the chosen probes as heat maps
//     (blue −1, white 0, red +1);
//   - stats.EXT: over training, the fraction of conflicting (negative
//     cosine) bin pairs, the mean and minimum off-diagonal cosine, the mean
//     cosine by bin distance for the chosen probes, and each bin's gradient
//     norm (log scale); of a single probe, which has no course over
//     training, the mean cosine by bin distance and the gradient norm of
//     every bin, with its other statistics in the figure's title;
//   - weights.EXT (when the records hold Pareto weights): each solver's
//     weights against the bins' centre timesteps at the last probe and
//     (of two probes or more) averaged over all probes, next to the closed
//     forms normalised as BinWeights says (weights on the bins' task
//     losses summing to 1).
//
// sched must be the run's schedule (it gives the closed forms' weights).
func WriteFigures(dir string, info Info, sched *diffusion.Schedule, recs []Record, opt FigureOptions) ([]string, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("conflict: no probe to draw")
	}
	format := opt.Format
	if format == "" {
		format = "png"
	}
	bins := info.Bins()
	if sched.T() != bins.T() {
		return nil, fmt.Errorf("conflict: the schedule has T=%d but the probes' bins cover %d", sched.T(), bins.T())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	var written []string
	save := func(name string, save func(string) error) error {
		path := filepath.Join(dir, name+"."+format)
		if err := save(path); err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
		written = append(written, path)
		return nil
	}

	chosen := chooseRecords(recs, opt.HeatmapSteps)
	// Bins are labelled by their first timestep: "lo-hi" labels overlap
	// on the x axis.
	starts := make([]string, bins.K())
	for k := range starts {
		starts[k] = fmt.Sprint(bins.Edges[k])
	}
	hg := plots.HeatmapGrid{Cols: len(chosen), Width: vg.Length(len(chosen)) * 4 * vg.Inch, Height: 3.6 * vg.Inch}
	for _, r := range chosen {
		if r.Cosine == nil {
			continue
		}
		hg.Maps = append(hg.Maps, plots.Heatmap{
			Title: fmt.Sprintf("cosine, step %d", r.Step), XLabel: "bin (first timestep)", YLabel: "bin (first timestep)",
			Z: rowsOf(r.Cosine), Labels: starts, Min: -1, Max: 1, Diverging: true,
		})
	}
	if len(hg.Maps) > 0 {
		hg.Cols = len(hg.Maps)
		if err := save(CosineFigure, hg.Save); err != nil {
			return written, err
		}
	}

	stats, err := statsFigure(recs, chosen, info)
	if err != nil {
		return written, err
	}
	if err := save(StatsFigure, stats.Save); err != nil {
		return written, err
	}

	if len(recs[len(recs)-1].Solutions) > 0 {
		panels, err := weightPanels(recs, info, sched, opt.Compare)
		if err != nil {
			return written, err
		}
		g := plots.Grid{Rows: 1, Cols: len(panels), Width: vg.Length(len(panels)) * 5 * vg.Inch, Height: 4.3 * vg.Inch, Panels: panels, SharedLegend: len(panels) > 1}
		if err := save(WeightsFigure, g.Save); err != nil {
			return written, err
		}
	}
	return written, nil
}

// chooseRecords returns the records of the given steps, or the first,
// middle and last.
func chooseRecords(recs []Record, steps []int) []Record {
	var out []Record
	if len(steps) > 0 {
		for _, s := range steps {
			for _, r := range recs {
				if r.Step == s {
					out = append(out, r)
					break
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	idx := []int{0, len(recs) / 2, len(recs) - 1}
	seen := map[int]bool{}
	for _, i := range idx {
		if !seen[i] {
			seen[i] = true
			out = append(out, recs[i])
		}
	}
	return out
}

func rowsOf(m interface {
	At(i, j int) float64
	SymmetricDim() int
}) [][]float64 {
	K := m.SymmetricDim()
	z := make([][]float64, K)
	for i := range z {
		z[i] = make([]float64, K)
		for j := range z[i] {
			z[i][j] = m.At(i, j)
		}
	}
	return z
}

// statsFigure draws stats.EXT: four panels over training, or two of a
// single probe.
func statsFigure(recs, chosen []Record, info Info) (plots.Grid, error) {
	var out []*plots.Panel
	add := func(l plots.Lines) error {
		p, err := l.Plot()
		if err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
		out = append(out, p)
		return nil
	}
	K := len(info.Edges) - 1
	var byDist []plots.Series
	for _, r := range chosen {
		var x, y []float64
		for d := 1; d < len(r.Stats.CosineByDistance); d++ {
			x, y = append(x, float64(d)), append(y, r.Stats.CosineByDistance[d])
		}
		byDist = append(byDist, plots.Series{Name: fmt.Sprintf("step %d", r.Step), X: x, Y: y})
	}
	if K > 1 {
		byDist = append(byDist, plots.Series{Name: "0", X: []float64{1, float64(K - 1)}, Y: []float64{0, 0}, Reference: true})
	}
	distance := plots.Lines{Title: "mean cosine by bin distance", XLabel: "bins apart", YLabel: "cosine", Series: byDist, Ordered: true}

	if len(recs) == 1 {
		r := recs[0]
		centres := info.Bins().Centers()
		if err := add(distance); err != nil {
			return plots.Grid{}, err
		}
		if err := add(plots.Lines{Title: "per-bin gradient norm", XLabel: "timestep t (bin centre)", YLabel: "‖grad L_k‖ = √G_kk (log scale)", LogY: true, Legend: plots.LegendNone,
			Series: []plots.Series{{Name: fmt.Sprintf("step %d", r.Step), X: centres, Y: r.Stats.Norms}}}); err != nil {
			return plots.Grid{}, err
		}
		return plots.Grid{Rows: 1, Cols: 2, Width: 10 * vg.Inch, Height: 4.3 * vg.Inch, Panels: out,
			Title: fmt.Sprintf("one probe, step %d: %.0f%% of bin pairs conflict (cosine < 0); off-diagonal cosine mean %.3f, min %.3f (the course over training needs two probes)",
				r.Step, 100*r.Stats.NegativeFraction, r.Stats.MeanCosine, r.Stats.MinCosine)}, nil
	}

	steps := make([]float64, len(recs))
	neg, mean, minc := make([]float64, len(recs)), make([]float64, len(recs)), make([]float64, len(recs))
	norms := make([][]float64, K)
	for i, r := range recs {
		steps[i] = float64(r.Step)
		neg[i], mean[i], minc[i] = r.Stats.NegativeFraction, r.Stats.MeanCosine, r.Stats.MinCosine
		for k := range norms {
			norms[k] = append(norms[k], r.Stats.Norms[k])
		}
	}
	if err := add(plots.Lines{Title: "conflicting bin pairs", XLabel: "training step", YLabel: "fraction with cosine < 0",
		Series: []plots.Series{{Name: "negative fraction", X: steps, Y: neg}}, Legend: plots.LegendNone}); err != nil {
		return plots.Grid{}, err
	}
	if err := add(plots.Lines{Title: "off-diagonal cosine", XLabel: "training step", YLabel: "cosine",
		Series: []plots.Series{{Name: "mean", X: steps, Y: mean}, {Name: "min", X: steps, Y: minc}}}); err != nil {
		return plots.Grid{}, err
	}
	if err := add(distance); err != nil {
		return plots.Grid{}, err
	}
	var ns []plots.Series
	for k := range norms {
		ns = append(ns, plots.Series{Name: "t " + info.Labels[k], X: steps, Y: norms[k]})
	}
	if err := add(plots.Lines{Title: "per-bin gradient norm", XLabel: "training step", YLabel: "‖grad L_k‖ = √G_kk (log scale)", LogY: true, Series: ns, Ordered: true}); err != nil {
		return plots.Grid{}, err
	}
	return plots.Grid{Rows: 2, Cols: 2, Width: 10 * vg.Inch, Height: 7 * vg.Inch, Panels: out}, nil
}

func weightPanels(recs []Record, info Info, sched *diffusion.Schedule, compare []weighting.Strategy) ([]*plots.Panel, error) {
	bins := info.Bins()
	centers := bins.Centers()
	if len(compare) == 0 {
		compare = []weighting.Strategy{weighting.MinSNR{Gamma: weighting.DefaultGamma}, weighting.Constant{}}
	}
	var task weighting.Strategy = weighting.Constant{}
	if info.Task != "" {
		t, err := weighting.ParseStrategy(info.Task)
		if err != nil {
			return nil, fmt.Errorf("conflict: task loss %q: %w", info.Task, err)
		}
		task = t
	}
	last := recs[len(recs)-1]
	var closed []plots.Series
	for _, s := range compare {
		closed = append(closed, plots.Series{Name: s.String(), X: centers, Y: BinWeights(s, task, sched, bins)})
	}
	lastS, meanS := []plots.Series{}, []plots.Series{}
	for _, sol := range last.Solutions {
		name := sol.Method
		if info.Lambda > 0 {
			name += fmt.Sprintf(" λ=%g", info.Lambda)
		}
		if info.Normalizer != "" && info.Normalizer != "none" {
			name += " " + info.Normalizer
		}
		lastS = append(lastS, plots.Series{Name: name, X: centers, Y: sol.W})
		avg := make([]float64, len(sol.W))
		n := 0
		for _, r := range recs {
			if s := r.Solution(sol.Method); s != nil && len(s.W) == len(avg) {
				for k, v := range s.W {
					avg[k] += v
				}
				n++
			}
		}
		for k := range avg {
			avg[k] /= math.Max(1, float64(n))
		}
		meanS = append(meanS, plots.Series{Name: name, X: centers, Y: avg})
	}
	panels := []struct {
		title  string
		series []plots.Series
	}{
		{fmt.Sprintf("Pareto weights, step %d", last.Step), append(lastS, closed...)},
		{fmt.Sprintf("Pareto weights, mean of %d probes", len(recs)), append(meanS, closed...)},
	}
	if len(recs) == 1 {
		panels = panels[:1]
		panels[0].title = fmt.Sprintf("Pareto weights of the one probe, step %d", last.Step)
	}
	var out []*plots.Panel
	for _, panel := range panels {
		p, err := plots.Lines{Title: panel.title, XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's loss (sum 1)", Series: panel.series}.Plot()
		if err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
