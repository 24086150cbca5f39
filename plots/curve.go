package plots

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// markersPerCurve is how many markers a curve of many points gets; a
// curve of at most denseMarkers points gets one at every point.
const (
	markersPerCurve = 9
	denseMarkers    = 12
)

// curve is one series' line with its markers. It is a plot.Plotter.
type curve struct {
	xy    plotter.XYs
	line  draw.LineStyle
	glyph draw.GlyphStyle // Shape nil: no markers
	// phase in [0, 1) staggers the markers of many-point curves, so that
	// curves that coincide show each other's markers side by side.
	phase float64
}

// screen returns the curve's points in canvas coordinates.
func screen(xy plotter.XYs, c draw.Canvas, p *plot.Plot) []vg.Point {
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, len(xy))
	for i, v := range xy {
		pts[i] = vg.Point{X: trX(v.X), Y: trY(v.Y)}
	}
	return pts
}

// Plot draws the curve (plot.Plotter).
func (k *curve) Plot(c draw.Canvas, p *plot.Plot) {
	pts := screen(k.xy, c, p)
	if len(pts) > 1 {
		c.StrokeLines(k.line, c.ClipLinesXY(pts)...)
	}
	for _, m := range k.markers(c, pts) {
		c.DrawGlyph(k.glyph, m)
	}
}

// markers returns where the curve's markers go: at every point of a
// curve of few points inside the canvas, else at markersPerCurve evenly
// spaced x positions, offset by the phase.
func (k *curve) markers(c draw.Canvas, pts []vg.Point) []vg.Point {
	if k.glyph.Shape == nil {
		return nil
	}
	var in []vg.Point
	for _, q := range pts {
		if c.Contains(q) {
			in = append(in, q)
		}
	}
	if len(in) <= denseMarkers {
		return in
	}
	var out []vg.Point
	step := (c.Max.X - c.Min.X) / markersPerCurve
	for j := range markersPerCurve {
		x := c.Min.X + (vg.Length(j)+vg.Length(k.phase))*step
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			if (a.X <= x && x <= b.X) || (b.X <= x && x <= a.X) {
				y := a.Y
				if b.X != a.X {
					y += (b.Y - a.Y) * (x - a.X) / (b.X - a.X)
				}
				if q := (vg.Point{X: x, Y: y}); c.Contains(q) {
					out = append(out, q)
				}
				break
			}
		}
	}
	return out
}

// DataRange returns the range of the curve's points (plot.DataRanger).
func (k *curve) DataRange() (xmin, xmax, ymin, ymax float64) {
	return plotter.XYRange(k.xy)
}

// Thumbnail draws the curve's legend sample: a line with a marker in its
// middle (plot.Thumbnailer).
func (k *curve) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(k.line, c.Min.X, y, c.Max.X, y)
	if k.glyph.Shape != nil {
		c.DrawGlyphNoClip(k.glyph, vg.Point{X: c.Center().X, Y: y})
	}
}

// covers says whether the curve or its markers, drawn on c, touch r.
func (k *curve) covers(r vg.Rectangle, c draw.Canvas, p *plot.Plot) bool {
	pts := screen(k.xy, c, p)
	grow := k.line.Width / 2
	for _, m := range k.markers(c, pts) {
		if overlaps(r, vg.Rectangle{Min: m.Sub(vg.Point{X: k.glyph.Radius, Y: k.glyph.Radius}), Max: m.Add(vg.Point{X: k.glyph.Radius, Y: k.glyph.Radius})}) {
			return true
		}
	}
	wide := vg.Rectangle{Min: r.Min.Sub(vg.Point{X: grow, Y: grow}), Max: r.Max.Add(vg.Point{X: grow, Y: grow})}
	if len(pts) == 1 {
		return inside(wide, pts[0])
	}
	for i := 1; i < len(pts); i++ {
		if segmentHits(wide, pts[i-1], pts[i]) {
			return true
		}
	}
	return false
}

// band is the shaded region between two curves (the spread of repeated
// draws around their mean). It is a plot.Plotter.
type band struct {
	poly  plotter.XYs // lower edge left to right, then upper edge back
	color color.Color
}

// Plot fills the band (plot.Plotter).
func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	pts := screen(b.poly, c, p)
	if len(pts) > 2 {
		c.FillPolygon(b.color, c.ClipPolygonXY(pts))
	}
}

// DataRange returns the range of the band (plot.DataRanger).
func (b *band) DataRange() (xmin, xmax, ymin, ymax float64) {
	return plotter.XYRange(b.poly)
}

// Thumbnail draws the band's legend sample (plot.Thumbnailer).
func (b *band) Thumbnail(c *draw.Canvas) {
	h := (c.Max.Y - c.Min.Y) / 2
	y := c.Center().Y
	c.FillPolygon(b.color, []vg.Point{{X: c.Min.X, Y: y - h}, {X: c.Max.X, Y: y - h}, {X: c.Max.X, Y: y + h}, {X: c.Min.X, Y: y + h}})
}

// covers says whether the band, drawn on c, touches r.
func (b *band) covers(r vg.Rectangle, c draw.Canvas, p *plot.Plot) bool {
	return polygonHits(r, screen(b.poly, c, p))
}

// points are a scatter panel's dots, for the legend placement.
type points struct {
	xy     plotter.XYs
	radius vg.Length
}

func (s points) covers(r vg.Rectangle, c draw.Canvas, p *plot.Plot) bool {
	g := vg.Point{X: s.radius, Y: s.radius}
	wide := vg.Rectangle{Min: r.Min.Sub(g), Max: r.Max.Add(g)}
	for _, q := range screen(s.xy, c, p) {
		if inside(wide, q) {
			return true
		}
	}
	return false
}

// inside says whether r contains q.
func inside(r vg.Rectangle, q vg.Point) bool {
	return q.X >= r.Min.X && q.X <= r.Max.X && q.Y >= r.Min.Y && q.Y <= r.Max.Y
}

// overlaps says whether two rectangles intersect.
func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X <= b.Max.X && b.Min.X <= a.Max.X && a.Min.Y <= b.Max.Y && b.Min.Y <= a.Max.Y
}

// segmentHits says whether the segment ab meets r (Liang–Barsky).
func segmentHits(r vg.Rectangle, a, b vg.Point) bool {
	if inside(r, a) || inside(r, b) {
		return true
	}
	t0, t1 := 0.0, 1.0
	dx, dy := float64(b.X-a.X), float64(b.Y-a.Y)
	for _, e := range [4][2]float64{
		{-dx, float64(a.X - r.Min.X)}, {dx, float64(r.Max.X - a.X)},
		{-dy, float64(a.Y - r.Min.Y)}, {dy, float64(r.Max.Y - a.Y)},
	} {
		p, q := e[0], e[1]
		if p == 0 {
			if q < 0 {
				return false
			}
			continue
		}
		t := q / p
		if p < 0 {
			t0 = math.Max(t0, t)
		} else {
			t1 = math.Min(t1, t)
		}
		if t0 > t1 {
			return false
		}
	}
	return true
}

// polygonHits says whether the polygon pts meets r: an edge crosses it, or
// one contains the other.
func polygonHits(r vg.Rectangle, pts []vg.Point) bool {
	if len(pts) < 3 {
		return false
	}
	for i := range pts {
		if segmentHits(r, pts[i], pts[(i+1)%len(pts)]) {
			return true
		}
	}
	// No edge meets r: r is wholly inside the polygon or wholly outside.
	q := r.Min
	in := false
	for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
		a, b := pts[i], pts[j]
		if (a.Y > q.Y) != (b.Y > q.Y) && q.X < a.X+(b.X-a.X)*(q.Y-a.Y)/(b.Y-a.Y) {
			in = !in
		}
	}
	return in
}
