package plots

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// LegendPlace says where a panel's legend goes.
type LegendPlace int

const (
	// LegendAuto puts the legend inside the plot area where it hides no
	// data: in a corner (tried in the order top right, top left, bottom
	// right, bottom left), else at the top or bottom centre, else further
	// down the right or the left edge; or outside, right of the plot area,
	// when every place would hide some.
	LegendAuto LegendPlace = iota
	// LegendNone draws no legend.
	LegendNone
	// LegendOutside puts the legend right of the plot area.
	LegendOutside
)

// Legend geometry, in points.
var (
	legendFontSize = vg.Points(9)
	thumbWidth     = vg.Points(26)
	thumbGap       = vg.Points(4)
	legendColGap   = vg.Points(14)
	legendPad      = vg.Points(4)
	legendMargin   = vg.Points(4) // between the legend and the plot area's edge
	legendClear    = vg.Points(3) // between the legend and the data around it
)

// legendEntry is one line of a legend: a name and its samples.
type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// legendStyle is the style of legend text.
func legendStyle() text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(plot.DefaultFont, legendFontSize),
		XAlign:  draw.XLeft,
		YAlign:  draw.YCenter,
		Handler: plot.DefaultTextHandler,
	}
}

// legendBox is a legend laid out in cols columns, filled row by row.
type legendBox struct {
	entries []legendEntry
	cols    int
	framed  bool // a white box with a grey border, for a legend inside a plot area
}

// geometry returns the width of a column and the height of a row.
func (b legendBox) geometry() (colW, rowH vg.Length) {
	sty := legendStyle()
	for _, e := range b.entries {
		colW = max(colW, thumbWidth+thumbGap+sty.Width(e.name))
	}
	ext := sty.FontExtents()
	return colW, 1.2 * (ext.Ascent + ext.Descent)
}

// size returns the legend's width and height, its padding included.
func (b legendBox) size() vg.Point {
	if len(b.entries) == 0 {
		return vg.Point{}
	}
	colW, rowH := b.geometry()
	cols := max(1, min(b.cols, len(b.entries)))
	rows := (len(b.entries) + cols - 1) / cols
	return vg.Point{
		X: vg.Length(cols)*colW + vg.Length(cols-1)*legendColGap + 2*legendPad,
		Y: vg.Length(rows)*rowH + 2*legendPad,
	}
}

// fitHeight returns the legend in as few columns as keep it at most maxH
// high.
func (b legendBox) fitHeight(maxH vg.Length) legendBox {
	_, rowH := b.geometry()
	rows := max(1, int(math.Floor(float64((maxH-2*legendPad)/rowH))))
	b.cols = (len(b.entries) + rows - 1) / rows
	return b
}

// fitWidth returns the legend in as many columns as fit maxW wide.
func (b legendBox) fitWidth(maxW vg.Length) legendBox {
	colW, _ := b.geometry()
	b.cols = max(1, min(len(b.entries), int(math.Floor(float64((maxW-2*legendPad+legendColGap)/(colW+legendColGap))))))
	return b
}

// draw draws the legend with its top-left corner at tl.
func (b legendBox) draw(c draw.Canvas, tl vg.Point) {
	if len(b.entries) == 0 {
		return
	}
	sz := b.size()
	if b.framed {
		r := vg.Rectangle{Min: vg.Point{X: tl.X, Y: tl.Y - sz.Y}, Max: vg.Point{X: tl.X + sz.X, Y: tl.Y}}
		path := r.Path()
		c.SetColor(color.NRGBA{R: 255, G: 255, B: 255, A: 235})
		c.Fill(path)
		c.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 0xbb}, Width: vg.Points(0.5)})
		c.Stroke(path)
	}
	colW, rowH := b.geometry()
	cols := max(1, min(b.cols, len(b.entries)))
	sty := legendStyle()
	for i, e := range b.entries {
		x := tl.X + legendPad + vg.Length(i%cols)*(colW+legendColGap)
		yc := tl.Y - legendPad - (vg.Length(i/cols)+0.5)*rowH
		thumb := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: yc - rowH*0.35},
			Max: vg.Point{X: x + thumbWidth, Y: yc + rowH*0.35},
		}}
		for _, t := range e.thumbs {
			t.Thumbnail(&thumb)
		}
		c.FillText(sty, vg.Point{X: x + thumbWidth + thumbGap, Y: yc}, e.name)
	}
}

// placeInside returns the top-left corner of the first place inside the
// plot area data where the legend hides nothing of the panel, and whether
// there is one.
func placeInside(b legendBox, p *Panel, data draw.Canvas) (vg.Point, bool) {
	sz := b.size()
	if sz.X > data.Max.X-data.Min.X-2*legendMargin || sz.Y > data.Max.Y-data.Min.Y-2*legendMargin {
		return vg.Point{}, false
	}
	left, right := data.Min.X+legendMargin, data.Max.X-legendMargin-sz.X
	top, bottom := data.Max.Y-legendMargin, data.Min.Y+legendMargin+sz.Y
	centre := (data.Min.X + data.Max.X - sz.X) / 2
	places := []vg.Point{
		{X: right, Y: top}, {X: left, Y: top}, {X: right, Y: bottom}, {X: left, Y: bottom},
		{X: centre, Y: top}, {X: centre, Y: bottom},
	}
	for j := 1; j < 8; j++ { // down the right and the left edge, between the curves
		y := top + vg.Length(j)/8*(bottom-top)
		places = append(places, vg.Point{X: right, Y: y}, vg.Point{X: left, Y: y})
	}
	for _, tl := range places {
		// The box and a clearance around it must be free.
		r := vg.Rectangle{Min: vg.Point{X: tl.X - legendClear, Y: tl.Y - sz.Y - legendClear}, Max: vg.Point{X: tl.X + sz.X + legendClear, Y: tl.Y + legendClear}}
		if !p.covers(r, data) {
			return tl, true
		}
	}
	return vg.Point{}, false
}
