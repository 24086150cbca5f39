package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is one named line: Y[i] at X[i].
type Series struct {
	Name string
	X, Y []float64
}

// Lines describes a panel of line series.
type Lines struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	// Legend places the legend: "" or "top-right", "top-left",
	// "bottom-right", "bottom-left", or "none".
	Legend string
}

// Plot builds the panel. Series are drawn in order with distinct colours and
// dash patterns, so they stay apart in print. On a log axis, points whose
// value there is not positive and finite are dropped; a series with no point
// left is listed in the legend only.
func (l Lines) Plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = l.Title
	p.X.Label.Text = l.XLabel
	p.Y.Label.Text = l.YLabel
	if l.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: 1}
	}
	if l.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: 1}
	}
	p.Add(plotter.NewGrid())
	for i, s := range l.Series {
		if len(s.X) != len(s.Y) {
			panic(fmt.Sprintf("plots: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y)))
		}
		xy := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if !usable(x, l.LogX) || !usable(y, l.LogY) {
				continue
			}
			xy = append(xy, plotter.XY{X: x, Y: y})
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i) // coinciding curves stay distinguishable
		line.Width = vg.Points(1.5)
		if len(xy) > 0 {
			p.Add(line)
		}
		if s.Name != "" && l.Legend != "none" {
			p.Legend.Add(s.Name, line)
		}
	}
	switch l.Legend {
	case "top-left":
		p.Legend.Top, p.Legend.Left = true, true
	case "bottom-right":
	case "bottom-left":
		p.Legend.Left = true
	default:
		p.Legend.Top = true
	}
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	return p, nil
}

func usable(v float64, log bool) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return !log || v > 0
}
