package reproduce

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot/vg"
)

// fig4WeightFloor is the smallest weight fig4's weight panel draws (on a
// log axis a zero weight has no place).
const fig4WeightFloor = 1e-4

// figure draws fig4.png: min-SNR-5 against the best other closed form off
// the diagonal over training and against ρ, min-SNR-5's f/f* over
// training, and the Pareto weights at the last probe, one line per
// training weighting.
func (r *Fig4Result) figure(path string) error {
	a, err := r.diffOverTraining()
	if err != nil {
		return err
	}
	b, err := r.diffOverRho()
	if err != nil {
		return err
	}
	c, err := r.minSNROverTraining()
	if err != nil {
		return err
	}
	d, err := r.paretoWeightsPanel()
	if err != nil {
		return err
	}
	grid := plots.Grid{Rows: 2, Cols: 2, Width: 14 * vg.Inch, Height: 10 * vg.Inch, Panels: []*plots.Panel{a, b, c, d}}
	return grid.Save(path)
}

// caseSeries is one training weighting's line of exp(paired difference)
// with a band of ± 2 SE (no band where the SE is undefined).
func caseSeries(name string, x []float64, cs []CrossCase) plots.Series {
	s := plots.Series{Name: name, X: x}
	for _, c := range cs {
		m, se := c.Diff.Mean, c.Diff.SE
		if math.IsNaN(se) {
			se = 0
		}
		s.Y, s.Lo, s.Hi = append(s.Y, math.Exp(m)), append(s.Lo, math.Exp(m-2*se)), append(s.Hi, math.Exp(m+2*se))
	}
	return s
}

// trainedName is a training weighting's name in a legend, marked when it
// is min-SNR-5 (the diagonal).
func trainedName(a string) string {
	if !OffDiagonal(a, fig5MinSNR) {
		return "trained with " + ShortName(a) + " (the diagonal)"
	}
	return "trained with " + ShortName(a)
}

// caseAt is the case of training weighting a at one point (against every
// other closed form when a is min-SNR-5).
func (r *Fig4Result) caseAt(a int, point func(Fig4Model) Fig4Point) CrossCase {
	return CompareMinSNR(r.Trained[a], r.Strategies, r.values(a, point, logRatioMetric))
}

// diffOverTraining draws min-SNR-5's f/f* over that of the best other
// eligible closed form at every probe, per training weighting.
func (r *Fig4Result) diffOverTraining() (*plots.Panel, error) {
	var x []float64
	for _, s := range r.probeSteps() {
		x = append(x, float64(s))
	}
	var ss []plots.Series
	for a, tr := range r.Trained {
		var cs []CrossCase
		for i := range x {
			cs = append(cs, r.caseAt(a, atMain(i)))
		}
		ss = append(ss, caseSeries(trainedName(tr), x, cs))
	}
	ss = append(ss, plots.Series{Name: "1 (as low as the best other)", X: []float64{x[0], x[len(x)-1]}, Y: []float64{1, 1}, Reference: true})
	return plots.Lines{Title: fmt.Sprintf("min-SNR-5's f/f* ÷ the best other closed form's, λ = %g × median G_kk (band: ± 2 SE)", r.Sizes.Rho),
		XLabel: "training step", YLabel: "ratio (log scale; < 1: min-SNR-5 lower)", LogY: true, Series: ss}.Plot()
}

// diffOverRho draws the same at the last probe against ρ.
func (r *Fig4Result) diffOverRho() (*plots.Panel, error) {
	var ss []plots.Series
	for a, tr := range r.Trained {
		var cs []CrossCase
		for i := range r.Sizes.RhoGrid {
			cs = append(cs, r.caseAt(a, atSweep(i)))
		}
		ss = append(ss, caseSeries(trainedName(tr), r.Sizes.RhoGrid, cs))
	}
	lo, hi := r.Sizes.RhoGrid[0], r.Sizes.RhoGrid[len(r.Sizes.RhoGrid)-1]
	ss = append(ss, plots.Series{Name: "1", X: []float64{lo, hi}, Y: []float64{1, 1}, Reference: true})
	return plots.Lines{Title: fmt.Sprintf("last probe (step %d): the same against λ", r.probeSteps()[r.lastIndex()]),
		XLabel: "ρ = λ / median G_kk (log scale)", YLabel: "ratio (log scale; < 1: min-SNR-5 lower)", LogX: true, LogY: true, Series: ss}.Plot()
}

// minSNROverTraining draws min-SNR-5's f/f* over training, per training
// weighting (geometric mean over seeds and draws).
func (r *Fig4Result) minSNROverTraining() (*plots.Panel, error) {
	var x []float64
	for _, s := range r.probeSteps() {
		x = append(x, float64(s))
	}
	var ss []plots.Series
	for a, tr := range r.Trained {
		s := plots.Series{Name: trainedName(tr), X: x}
		for i := range x {
			s.Y = append(s.Y, math.Exp(r.cell(a, r.minSNR(), atMain(i), logRatioMetric).Mean))
		}
		ss = append(ss, s)
	}
	c := r.Sizes.Close
	ss = append(ss, plots.Series{Name: fmt.Sprintf("factor %g (\"close\")", c), X: []float64{x[0], x[len(x)-1]}, Y: []float64{c, c}, Reference: true})
	return plots.Lines{Title: "min-SNR-5's objective relative to the optimum", XLabel: "training step", YLabel: "f(w) / f* (log scale)", LogY: true, Series: ss}.Plot()
}

// paretoWeightsPanel draws the Pareto weights (the exact solver's at the
// headline λ) at the last probe of each training weighting's models, next
// to min-SNR-5's closed-form weights.
func (r *Fig4Result) paretoWeightsPanel() (*plots.Panel, error) {
	last := r.lastIndex()
	var ss []plots.Series
	floor := func(w []float64) []float64 {
		out := make([]float64, len(w))
		for k := range w {
			out[k] = math.Max(w[k], fig4WeightFloor)
		}
		return out
	}
	for a, tr := range r.Trained {
		ss = append(ss, plots.Series{Name: "Pareto weights, " + trainedName(tr), X: r.Bins.Centers(), Y: floor(r.meanWeights(a, r.exact(), atMain(last)))})
	}
	ss = append(ss, plots.Series{Name: "min-SNR-5's weights", X: r.Bins.Centers(), Y: floor(r.Closed[r.minSNR()]), Reference: true})
	p, err := plots.Lines{Title: fmt.Sprintf("Pareto weights at the last probe, λ = %g × median G_kk (mean of seeds and draws; below %g drawn at %g)", r.Sizes.Rho, fig4WeightFloor, fig4WeightFloor),
		XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's x0 loss (log scale)", LogY: true, Series: ss}.Plot()
	if err != nil {
		return nil, err
	}
	p.Y.Min = fig4WeightFloor
	return p, nil
}

// crossFigure draws cross.png: heat maps of f/f* by training weighting
// (rows) and closed form (columns) at the table's probes, and of the L1
// distance to the Pareto weights at the last.
func (r *Fig4Result) crossFigure(path string) error {
	points := r.tablePoints()
	var maps []plots.Heatmap
	hi := 0.0
	for _, i := range points {
		z, txt := r.heat(atMain(i), logRatioMetric, func(u Units) (float64, string) {
			return u.Mean / math.Ln10, fmt.Sprintf("%.3g", math.Exp(u.Mean))
		})
		for _, row := range z {
			hi = math.Max(hi, maxOf(row))
		}
		maps = append(maps, plots.Heatmap{Title: fmt.Sprintf("f/f* at step %d (colour: log10; * trained with)", r.probeSteps()[i]),
			XLabel: "weighting evaluated (B)", YLabel: "trained with (A)", Z: z, Text: txt, Labels: r.Strategies, RowLabels: shortNames(r.Trained)})
	}
	for k := range maps {
		maps[k].Min, maps[k].Max = 0, math.Max(hi, 0.1)
	}
	z, txt := r.heat(atMain(r.lastIndex()), r.l1Metric, func(u Units) (float64, string) { return u.Mean, fmt.Sprintf("%.2f", u.Mean) })
	maps = append(maps, plots.Heatmap{Title: fmt.Sprintf("L1 to the Pareto weights, step %d", r.probeSteps()[r.lastIndex()]),
		XLabel: "weighting evaluated (B)", YLabel: "trained with (A)", Z: z, Text: txt, Labels: r.Strategies, RowLabels: shortNames(r.Trained), Min: 0, Max: 2})
	g := plots.HeatmapGrid{Cols: len(maps), Width: vg.Length(len(maps)) * 4.6 * vg.Inch, Height: 3.8 * vg.Inch, Maps: maps}
	return g.Save(path)
}

// heat is the trained-with × closed-form matrix of a metric at one point:
// the colour value and the text of each cell (the text marked * on the
// diagonal).
func (r *Fig4Result) heat(point func(Fig4Model) Fig4Point, metric func(Fig4Point, int) []float64, show func(Units) (float64, string)) ([][]float64, [][]string) {
	z, txt := make([][]float64, len(r.Trained)), make([][]string, len(r.Trained))
	for a, tr := range r.Trained {
		for j, b := range r.Strategies {
			v, s := show(r.cell(a, j, point, metric))
			if !OffDiagonal(tr, b) {
				s += "*"
			}
			z[a], txt[a] = append(z[a], v), append(txt[a], s)
		}
	}
	return z, txt
}
