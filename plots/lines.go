package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// Series is one named line: Y[i] at X[i].
type Series struct {
	Name string
	X, Y []float64
	// Lo and Hi, when set (as long as X), shade the band between them in
	// the series' colour: the spread of repeated draws around their mean.
	Lo, Hi []float64
	// Reference draws the series as a reference line (a floor, a
	// threshold, zero): thin, grey and dotted, without markers, and
	// without taking a colour from the data series.
	Reference bool
}

// Lines describes a panel of line series.
type Lines struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	// Ordered says the series are ordered (timestep bins, training steps):
	// they take their colours from a sequential colour map, in order,
	// instead of the qualitative palette.
	Ordered bool
	// Legend places the legend (LegendAuto: where it hides no data).
	Legend LegendPlace
}

// headroom is the fraction of the data's range added above and below it on
// the y axis, so no curve runs along the frame.
const headroom = 0.04

// Plot builds the panel. Series are drawn in order, each with its own
// colour (none repeats within the panel), dash pattern and markers, so
// coinciding curves stay apart in print; bands are drawn under every line.
// On a log axis, points whose value there is not positive and finite are
// dropped; a series with no point left is listed in the legend only. An
// x axis whose values are all integers gets integer ticks.
func (l Lines) Plot() (*Panel, error) {
	p := plot.New()
	p.Title.Text = l.Title
	p.X.Label.Text = l.XLabel
	p.Y.Label.Text = l.YLabel
	panel := &Panel{Plot: p, legend: l.Legend}
	p.Add(plotter.NewGrid())

	n := 0
	for _, s := range l.Series {
		if !s.Reference {
			n++
		}
	}
	integerX, anyX := true, false
	var curves []*curve
	var bands []*band
	for i, j := 0, 0; i < len(l.Series); i++ {
		s := l.Series[i]
		if len(s.X) != len(s.Y) {
			panic(fmt.Sprintf("plots: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y)))
		}
		if (s.Lo != nil || s.Hi != nil) && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X)) {
			panic(fmt.Sprintf("plots: series %q has %d x values and a band of %d and %d", s.Name, len(s.X), len(s.Lo), len(s.Hi)))
		}
		k := &curve{line: referenceStyle()}
		if !s.Reference {
			k.line, k.glyph = seriesStyle(j, n, l.Ordered)
			k.phase = (float64(j) + 0.5) / float64(n)
			j++
		}
		var lo, hi plotter.XYs
		for m := range s.X {
			x, y := s.X[m], s.Y[m]
			if !usable(x, l.LogX) {
				continue
			}
			if usable(y, l.LogY) {
				k.xy = append(k.xy, plotter.XY{X: x, Y: y})
				anyX = true
				integerX = integerX && x == math.Trunc(x)
			}
			if s.Lo != nil && usable(s.Lo[m], l.LogY) && usable(s.Hi[m], l.LogY) {
				lo, hi = append(lo, plotter.XY{X: x, Y: s.Lo[m]}), append(hi, plotter.XY{X: x, Y: s.Hi[m]})
			}
		}
		var b *band
		if len(lo) > 1 {
			b = &band{color: bandColor(k.line.Color)}
			b.poly = append(b.poly, lo...)
			for m := len(hi) - 1; m >= 0; m-- {
				b.poly = append(b.poly, hi[m])
			}
			bands = append(bands, b)
		}
		curves = append(curves, k)
		if s.Name != "" {
			e := legendEntry{name: s.Name, thumbs: []plot.Thumbnailer{k}}
			if b != nil {
				e.thumbs = []plot.Thumbnailer{b, k}
			}
			panel.entries = append(panel.entries, e)
		}
	}
	for _, b := range bands {
		p.Add(b)
		panel.marks = append(panel.marks, b)
	}
	for i, k := range curves {
		if len(k.xy) == 0 {
			continue
		}
		p.Add(k)
		if !l.Series[i].Reference { // a legend may hide part of a reference line, not data
			panel.marks = append(panel.marks, k)
		}
	}

	if l.LogX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, LogTicks{}
	} else {
		p.X.Tick.Marker = Ticks{Integer: anyX && integerX}
	}
	if l.LogY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, LogTicks{}
	} else {
		p.Y.Tick.Marker = Ticks{}
	}
	fitRange(&p.X, l.LogX, 0, anyX && integerX)
	fitRange(&p.Y, l.LogY, headroom, false)
	return panel, nil
}

// fitRange gives an axis a usable range: [0, 1] ([1, 10] on a log axis)
// without data, a range around a single value, and pad times the data's
// range (a factor on a log axis) added on both sides.
func fitRange(a *plot.Axis, log bool, pad float64, integer bool) {
	if a.Min > a.Max || math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) {
		a.Min, a.Max = 0, 1
		if log {
			a.Min, a.Max = 1, 10
		}
		return
	}
	if log {
		if a.Min == a.Max {
			a.Min, a.Max = a.Min/2, a.Max*2
		}
		f := math.Pow(a.Max/a.Min, pad)
		a.Min, a.Max = a.Min/f, a.Max*f
		return
	}
	if a.Min == a.Max {
		d := math.Abs(a.Min) / 10
		if d == 0 {
			d = 1
		}
		if integer {
			d = math.Max(1, math.Ceil(d))
		}
		a.Min, a.Max = a.Min-d, a.Max+d
		return
	}
	d := (a.Max - a.Min) * pad
	a.Min, a.Max = a.Min-d, a.Max+d
}

func usable(v float64, log bool) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return !log || v > 0
}

// bandColor is the colour of a band around a series of colour c.
func bandColor(c color.Color) color.Color { return translucent(c, 60) }
