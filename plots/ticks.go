package plots

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// LogTicks125 labels a logarithmic axis at 1, 2 and 5 times the powers of
// ten (gonum's LogTicks labels only the powers, too few on axes spanning
// less than a decade or two) and puts unlabelled ticks at the other
// integer multiples. On an axis spanning less than a factor of 10 it uses
// gonum's evenly spaced ticks instead, placed on the log scale.
type LogTicks125 struct{}

// Ticks returns the ticks of [lo, hi].
func (LogTicks125) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	if hi/lo < 10 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// UseLogTicks125 sets the y-axis ticks of a log-scaled panel.
func UseLogTicks125(p *plot.Plot) { p.Y.Tick.Marker = LogTicks125{} }

// SymLog is an axis scale that is linear within ±C of zero and
// logarithmic beyond: f(y) = sign(y)·log(1 + |y|/C). It shows changes of a
// few percent next to changes of several hundred.
type SymLog struct{ C float64 }

func (s SymLog) f(y float64) float64 {
	return math.Copysign(math.Log1p(math.Abs(y)/s.C), y)
}

// Normalize maps x in [lo, hi] to [0, 1].
func (s SymLog) Normalize(lo, hi, x float64) float64 {
	a, b := s.f(lo), s.f(hi)
	return (s.f(x) - a) / (b - a)
}

// SymLogTicks labels a SymLog axis at 0 and ±C·{1, 2, 5, 10, 20, 50, …}.
type SymLogTicks struct{ C float64 }

// Ticks returns the ticks of [lo, hi].
func (t SymLogTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	if lo <= 0 && hi >= 0 {
		ts = append(ts, plot.Tick{Value: 0, Label: "0"})
	}
	for _, sign := range []float64{-1, 1} {
		for e := 0.0; e < 8; e++ {
			for _, m := range []float64{1, 2, 5} {
				v := sign * m * math.Pow(10, e) * t.C
				if v < lo || v > hi {
					continue
				}
				label := strconv.FormatFloat(v, 'f', -1, 64)
				if v > 0 {
					label = "+" + label
				}
				ts = append(ts, plot.Tick{Value: v, Label: label})
			}
		}
	}
	return ts
}

// AddBand shades the region between lo and hi over x on a panel in a
// translucent version of colour c (the spread of repeated draws around
// their mean line).
func AddBand(p *plot.Plot, x, lo, hi []float64, c color.Color) error {
	xy := make(plotter.XYs, 0, 2*len(x))
	for i := range x {
		xy = append(xy, plotter.XY{X: x[i], Y: lo[i]})
	}
	for i := len(x) - 1; i >= 0; i-- {
		xy = append(xy, plotter.XY{X: x[i], Y: hi[i]})
	}
	poly, err := plotter.NewPolygon(xy)
	if err != nil {
		return fmt.Errorf("plots: band: %w", err)
	}
	r, g, b, _ := c.RGBA()
	poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 70}
	poly.LineStyle.Width = 0
	p.Add(poly)
	return nil
}
