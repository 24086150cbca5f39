package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Scatter describes a panel of 2-D points drawn as small translucent dots.
type Scatter struct {
	Title, XLabel, YLabel string
	// Points is (N, 2) row-major: x then y of each point.
	Points []float32
	// Min and Max, when Min < Max, fix both axes to [Min, Max] (so panels
	// side by side compare); otherwise the axes fit the points.
	Min, Max float64
	// Color of the dots (default: translucent blue).
	Color color.Color
}

// Plot builds the panel. Points with a non-finite coordinate are left out.
func (s Scatter) Plot() (*Panel, error) {
	if len(s.Points)%2 != 0 {
		panic(fmt.Sprintf("plots: Scatter of %d values, not (N, 2)", len(s.Points)))
	}
	p := plot.New()
	p.Title.Text = s.Title
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = s.YLabel
	p.X.Tick.Marker, p.Y.Tick.Marker = Ticks{}, Ticks{}
	p.Add(plotter.NewGrid())
	xy := make(plotter.XYs, 0, len(s.Points)/2)
	for i := 0; i < len(s.Points); i += 2 {
		x, y := float64(s.Points[i]), float64(s.Points[i+1])
		if usable(x, false) && usable(y, false) {
			xy = append(xy, plotter.XY{X: x, Y: y})
		}
	}
	sc, err := plotter.NewScatter(xy)
	if err != nil {
		return nil, fmt.Errorf("plots: scatter: %w", err)
	}
	c := s.Color
	if c == nil {
		c = translucent(qualitative[0], 90)
	}
	radius := vg.Points(1)
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: radius, Shape: draw.CircleGlyph{}}
	p.Add(sc)
	if s.Min < s.Max && !math.IsInf(s.Max-s.Min, 0) {
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = s.Min, s.Max, s.Min, s.Max
	} else {
		fitRange(&p.X, false, 0, false)
		fitRange(&p.Y, false, 0, false)
	}
	return &Panel{Plot: p, marks: []coverer{points{xy: xy, radius: radius}}}, nil
}
