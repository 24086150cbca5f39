package plots

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// qualitative is the palette of unordered series: Tableau 10 without its
// grey, which is kept for reference lines. Series beyond it take colours
// from the sequential map, so no colour repeats within a panel.
var qualitative = []color.NRGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, // pink
	{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, // olive
	{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}, // cyan
}

// viridis samples matplotlib's viridis map at 0, 0.1, …, 1.
var viridis = []color.NRGBA{
	{R: 0x44, G: 0x01, B: 0x54, A: 0xff},
	{R: 0x48, G: 0x28, B: 0x78, A: 0xff},
	{R: 0x3e, G: 0x4a, B: 0x89, A: 0xff},
	{R: 0x31, G: 0x68, B: 0x8e, A: 0xff},
	{R: 0x26, G: 0x82, B: 0x8e, A: 0xff},
	{R: 0x1f, G: 0x9e, B: 0x89, A: 0xff},
	{R: 0x35, G: 0xb7, B: 0x79, A: 0xff},
	{R: 0x6d, G: 0xcd, B: 0x59, A: 0xff},
	{R: 0xb4, G: 0xde, B: 0x2c, A: 0xff},
	{R: 0xfd, G: 0xe7, B: 0x25, A: 0xff},
}

// sequential returns the colour of the i-th of n ordered series: viridis
// from dark purple to green (its light green and yellow end is left out:
// it does not show on white).
func sequential(i, n int) color.NRGBA {
	f := 0.0
	if n > 1 {
		f = 0.75 * float64(i) / float64(n-1)
	}
	x := f * float64(len(viridis)-1)
	j := min(int(math.Floor(x)), len(viridis)-2)
	a, b, t := viridis[j], viridis[j+1], x-float64(j)
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + t*(float64(q)-float64(p)))) }
	return color.NRGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 0xff}
}

// dashes are the series' dash patterns, in order.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(2.5)},
	{vg.Points(1.5), vg.Points(2)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	{vg.Points(11), vg.Points(3)},
	{vg.Points(3), vg.Points(3)},
	{vg.Points(11), vg.Points(2), vg.Points(1.5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
}

// markers are the series' marker shapes, in order: hollow first, so that
// markers of coinciding curves show through each other.
var markers = []draw.GlyphDrawer{
	draw.RingGlyph{},
	draw.SquareGlyph{},
	draw.TriangleGlyph{},
	draw.CrossGlyph{},
	draw.PlusGlyph{},
	draw.CircleGlyph{},
	draw.BoxGlyph{},
	draw.PyramidGlyph{},
}

// referenceColor draws reference lines (a floor, a threshold, zero).
var referenceColor = color.NRGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}

// lineWidth and markerRadius are those of every series.
var (
	lineWidth    = vg.Points(1.5)
	markerRadius = vg.Points(2.5)
)

// seriesStyle returns the line and marker style of the i-th of n series
// (ordered: from a sequential colour map): a colour that no other series
// of the panel has, and a dash pattern and marker that differ from its
// neighbours', so coinciding curves stay distinguishable in grey too.
func seriesStyle(i, n int, ordered bool) (draw.LineStyle, draw.GlyphStyle) {
	var c color.NRGBA
	switch {
	case ordered:
		c = sequential(i, n)
	case n <= len(qualitative):
		c = qualitative[i]
	default:
		c = sequential(i, n)
	}
	return draw.LineStyle{Color: c, Width: lineWidth, Dashes: dashes[i%len(dashes)]},
		draw.GlyphStyle{Color: c, Radius: markerRadius, Shape: markers[i%len(markers)]}
}

// referenceStyle is the style of a reference line: thin, grey, dotted,
// without markers.
func referenceStyle() draw.LineStyle {
	return draw.LineStyle{Color: referenceColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1), vg.Points(2.5)}}
}

// translucent returns c with alpha a (0–255), for bands.
func translucent(c color.Color, a uint8) color.NRGBA {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}
