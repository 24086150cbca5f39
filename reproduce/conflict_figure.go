package reproduce

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot/vg"
)

// band is a series of Units with a band of ± 2 SE (none where the SE is
// undefined).
func band(name string, x []float64, us []Units) plots.Series {
	s := plots.Series{Name: name, X: x}
	for _, u := range us {
		se := u.SE
		if math.IsNaN(se) {
			se = 0
		}
		s.Y, s.Lo, s.Hi = append(s.Y, u.Mean), append(s.Lo, u.Mean-2*se), append(s.Hi, u.Mean+2*se)
	}
	return s
}

// distanceFigure draws distance.png: for every training weighting, the
// mean cosine against bin distance at the last probe, and over training
// the slope and the fraction of negative pairs, with ± 2 SE bands over
// the units.
func (r *ConflictResult) distanceFigure(path string) error {
	var byD, slope, neg []plots.Series
	K := r.bins().K()
	var dx, sx []float64
	for d := 1; d < K; d++ {
		dx = append(dx, float64(d))
	}
	for _, s := range r.steps() {
		sx = append(sx, float64(s))
	}
	for a, tr := range r.Trained {
		name := "trained with " + ShortName(tr)
		byD = append(byD, band(name, dx, r.byDistance(a, r.last())[1:]))
		var su, nu []Units
		for i := range sx {
			su = append(su, r.slope(a, probeAt(i)))
			nu = append(nu, UnitMean(r.perDraw(a, probeAt(i), func(rec conflict.Record) float64 { return rec.Stats.NegativeFraction })))
		}
		slope, neg = append(slope, band(name, sx, su)), append(neg, band(name, sx, nu))
	}
	byD = append(byD, plots.Series{Name: "0", X: []float64{1, float64(K - 1)}, Y: []float64{0, 0}, Reference: true})
	slope = append(slope, plots.Series{Name: "0", X: []float64{sx[0], sx[len(sx)-1]}, Y: []float64{0, 0}, Reference: true})
	a, err := plots.Lines{Title: fmt.Sprintf("mean cosine by bin distance at the last probe (step %d; bands: ± 2 SE)", r.steps()[r.last()]), XLabel: "bins apart", YLabel: "cosine", Series: byD}.Plot()
	if err != nil {
		return err
	}
	b, err := plots.Lines{Title: "cosine slope per bin of distance (< 0: distant bins agree less)", XLabel: "training step", YLabel: "slope", Series: slope}.Plot()
	if err != nil {
		return err
	}
	c, err := plots.Lines{Title: "bin pairs with a negative cosine", XLabel: "training step", YLabel: "fraction of pairs", Series: neg}.Plot()
	if err != nil {
		return err
	}
	c.Y.Min, c.Y.Max = 0, 1
	grid := plots.Grid{Rows: 1, Cols: 3, Width: 18 * vg.Inch, Height: 5.5 * vg.Inch, Panels: []*plots.Panel{a, b, c}, SharedLegend: true}
	return grid.Save(path)
}

// crossFigure draws cross.png: the mean cosine by bin distance at the
// last probe (rows: training weightings) and the cancellation of every
// closed form on every training weighting's models.
func (r *ConflictResult) crossFigure(path string) error {
	K := r.bins().K()
	var cols []string
	for d := 1; d < K; d++ {
		cols = append(cols, fmt.Sprint(d))
	}
	rows := shortNames(r.Trained)
	byD := make([][]float64, len(r.Trained))
	canc, txt := make([][]float64, len(r.Trained)), make([][]string, len(r.Trained))
	hi := 0.0
	for a, tr := range r.Trained {
		for _, u := range r.byDistance(a, r.last())[1:] {
			byD[a] = append(byD[a], u.Mean)
		}
		for j, b := range r.Strategies {
			u := r.cancellationCell(a, j, r.last())
			s := fmt.Sprintf("%.3g", math.Exp(u.Mean))
			if !OffDiagonal(tr, b) {
				s += "*"
			}
			canc[a], txt[a] = append(canc[a], u.Mean/math.Ln10), append(txt[a], s)
			hi = math.Max(hi, math.Abs(u.Mean/math.Ln10))
		}
	}
	hi = math.Max(hi, 0.1)
	step := r.steps()[r.last()]
	g := plots.HeatmapGrid{Cols: 2, Width: 10 * vg.Inch, Height: 4 * vg.Inch, Maps: []plots.Heatmap{
		{Title: fmt.Sprintf("mean cosine by bin distance, step %d", step), XLabel: "bins apart", YLabel: "trained with", Z: byD, Labels: cols, RowLabels: rows, Min: -1, Max: 1, Diverging: true},
		{Title: fmt.Sprintf("cancellation wᵀGw / Σ w_k² G_kk, step %d (colour: log10; * trained with)", step), XLabel: "weighting (B)", YLabel: "trained with (A)", Z: canc, Text: txt, Labels: r.Strategies, RowLabels: rows, Min: -hi, Max: hi, Diverging: true},
	}}
	return g.Save(path)
}
