package plots

import (
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Panel is one plot of a figure: a gonum plot (its axes, scales and ticks
// can be changed before the panel is drawn) with the legend that Grid
// places where it hides no data. Lines.Plot and Scatter.Plot make panels.
type Panel struct {
	*plot.Plot
	entries []legendEntry
	legend  LegendPlace
	marks   []coverer
}

// coverer is anything drawn in a panel that a legend must not hide.
type coverer interface {
	covers(r vg.Rectangle, data draw.Canvas, p *plot.Plot) bool
}

// covers says whether anything drawn on the plot area data touches r.
func (p *Panel) covers(r vg.Rectangle, data draw.Canvas) bool {
	for _, m := range p.marks {
		if m.covers(r, data, p.Plot) {
			return true
		}
	}
	return false
}

// hasLegend says whether the panel draws a legend of its own.
func (p *Panel) hasLegend() bool { return p.legend != LegendNone && len(p.entries) > 0 }
