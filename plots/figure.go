package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Formats lists the file extensions Save accepts.
var Formats = []string{".png", ".svg", ".pdf"}

// FormatOf returns the format name ("png", "svg" or "pdf") of a path from its
// extension, or an error naming the path.
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range Formats {
		if ext == f {
			return ext[1:], nil
		}
	}
	return "", fmt.Errorf("plots: %s: unsupported image format %q (want .png, .svg or .pdf)", path, ext)
}

// Page geometry, in points.
var (
	pagePad    = vg.Points(6) // around the page
	gapX, gapY = vg.Points(18), vg.Points(16)
	titleGap   = vg.Points(6) // between a title and what it heads
	labelGap   = vg.Points(3) // between an axis label and the tick labels
	minTitle   = vg.Points(7) // the smallest font a long title is shrunk to
)

// Grid lays out panels row-major in rows × cols tiles on one page of the
// given size, so that their plot areas have the same height, line up in
// rows and start at the same x in a column (a panel with its legend right
// of it is narrower). Every panel's title is centred over its plot area,
// and the titles of a row share one line above the row; the axis labels
// of a row and of a column line up too. Nil panels leave their tile
// empty.
//
// Legends are placed from what the panels draw: inside the plot area in a
// place where they hide no data, or right of it (Lines.Legend); with
// SharedLegend, one legend below all panels instead.
type Grid struct {
	Rows, Cols    int
	Width, Height vg.Length
	Panels        []*Panel
	// Title, if set, heads the whole figure.
	Title string
	// SharedLegend draws one legend, below the panels, of the first
	// panel's series, and none in the panels: for panels that draw the
	// same series (one per prediction target, say).
	SharedLegend bool
}

// slot is where one panel goes.
type slot struct {
	canvas   draw.Canvas  // the canvas the panel draws itself on
	data     vg.Rectangle // its plot area
	tile     vg.Rectangle // its column's width, for its title
	titleTop vg.Length    // the top of its row's titles
	right    vg.Length    // the panel's own width right of its plot area
	// xLabel and yLabel are where the axis labels go: the bottom of the
	// row's x labels and the left of the column's y labels.
	xLabel, yLabel vg.Length
}

// labels are a panel's texts that Grid draws itself, lined up across the
// panels: gonum centres an axis label's room on the midpoint of the data
// range, which on a log axis lies near its end, and pads the plot area for
// it there.
type labels struct{ title, x, y string }

// detach takes the texts out of the panels (so gonum draws none of them)
// and returns them with a function that puts them back.
func detach(panels []*Panel) ([]labels, func()) {
	out := make([]labels, len(panels))
	for i, p := range panels {
		if p != nil {
			out[i] = labels{p.Title.Text, p.X.Label.Text, p.Y.Label.Text}
			p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "", "", ""
		}
	}
	return out, func() {
		for i, p := range panels {
			if p != nil {
				p.Title.Text, p.X.Label.Text, p.Y.Label.Text = out[i].title, out[i].x, out[i].y
			}
		}
	}
}

// drawAxisLabels draws a panel's x label centred under its plot area with
// its bottom at s.xLabel, and its y label turned, centred beside the plot
// area with its top at s.yLabel.
func drawAxisLabels(c draw.Canvas, p *Panel, l labels, s slot) {
	if l.x != "" {
		sty := p.X.Label.TextStyle
		c.FillText(sty, vg.Point{X: (s.data.Min.X + s.data.Max.X) / 2, Y: s.xLabel + sty.FontExtents().Descent}, l.x)
	}
	if l.y != "" {
		sty := p.Y.Label.TextStyle
		sty.Rotation += math.Pi / 2
		x := s.yLabel + p.Y.Label.TextStyle.Height(l.y) - p.Y.Label.TextStyle.FontExtents().Descent
		c.FillText(sty, vg.Point{X: x, Y: (s.data.Min.Y + s.data.Max.Y) / 2}, l.y)
	}
}

// WriteTo renders the grid in format ("png", "svg" or "pdf") to w.
func (g Grid) WriteTo(w io.Writer, format string) error {
	if len(g.Panels) > g.Rows*g.Cols {
		panic(fmt.Sprintf("plots: %d panels do not fit %d×%d tiles", len(g.Panels), g.Rows, g.Cols))
	}
	c, err := draw.NewFormattedCanvas(g.Width, g.Height, format)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	g.draw(draw.New(c))
	_, err = c.WriteTo(w)
	return err
}

// Save writes the grid to path, choosing the format from the extension, and
// replaces the file atomically.
func (g Grid) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return g.WriteTo(w, format) })
}

// titleStyle is the style of a title of the given size.
func titleStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, size),
		XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
}

// drawTitle draws txt with its top at y, centred on cx but kept within
// [lo, hi], in a smaller font if it is wider than that.
func drawTitle(c draw.Canvas, sty text.Style, txt string, cx, y, lo, hi vg.Length) {
	if txt == "" {
		return
	}
	if w := sty.Width(txt); w > hi-lo {
		sty.Font.Size = max(minTitle, sty.Font.Size*(hi-lo)/w)
	}
	half := sty.Width(txt) / 2
	cx = max(lo+half, min(hi-half, cx))
	c.FillText(sty, vg.Point{X: cx, Y: y}, txt)
}

// draw draws the grid on dc.
func (g Grid) draw(dc draw.Canvas) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	area := vg.Rectangle{
		Min: vg.Point{X: dc.Min.X + pagePad, Y: dc.Min.Y + pagePad},
		Max: vg.Point{X: dc.Max.X - pagePad - vg.Points(4), Y: dc.Max.Y - pagePad},
	}
	if g.Title != "" {
		sty := titleStyle(vg.Points(13))
		drawTitle(dc, sty, g.Title, (area.Min.X+area.Max.X)/2, area.Max.Y, area.Min.X, area.Max.X)
		area.Max.Y -= sty.Height(g.Title) + titleGap
	}
	var shared legendBox
	if g.SharedLegend {
		for _, p := range g.Panels {
			if p != nil && len(p.entries) > 0 {
				shared = legendBox{entries: p.entries}.fitWidth(area.Max.X - area.Min.X)
				break
			}
		}
		if sz := shared.size(); sz.Y > 0 {
			shared.draw(dc, vg.Point{X: (area.Min.X + area.Max.X - sz.X) / 2, Y: area.Min.Y + sz.Y})
			area.Min.Y += sz.Y + titleGap
		}
	}

	texts, restore := detach(g.Panels)
	defer restore()
	slots, legends := g.arrange(dc, area, texts)
	for i, p := range g.Panels {
		if p == nil {
			continue
		}
		s := slots[i]
		p.Draw(s.canvas)
		drawTitle(dc, p.Title.TextStyle, texts[i].title, (s.data.Min.X+s.data.Max.X)/2, s.titleTop, s.tile.Min.X, s.tile.Max.X)
		drawAxisLabels(dc, p, texts[i], s)
		legends[i].box.draw(dc, legends[i].at)
	}
}

// placedLegend is a panel's legend and the top-left corner it goes at.
type placedLegend struct {
	box     legendBox // no entries: no legend
	at      vg.Point
	outside bool // right of the plot area
}

// arrange lays the panels out in area and places their legends: inside
// where they hide no data, else outside, with room kept for them (which
// narrows the plot area and so may push another panel's legend out too;
// the loop settles in a few passes).
func (g Grid) arrange(dc draw.Canvas, area vg.Rectangle, texts []labels) ([]slot, []placedLegend) {
	legends := make([]placedLegend, len(g.Panels))
	for i, p := range g.Panels {
		if p != nil && p.hasLegend() && !g.SharedLegend {
			legends[i] = placedLegend{box: legendBox{entries: p.entries, cols: 1, framed: true}, outside: p.legend == LegendOutside}
		}
	}
	reserve := make([]vg.Length, len(g.Panels))
	var slots []slot
	for pass := 0; pass < 4; pass++ {
		slots = g.layout(dc, area, texts, reserve)
		changed := false
		for i, p := range g.Panels {
			l := &legends[i]
			if len(l.box.entries) == 0 {
				continue
			}
			if !l.outside {
				if _, ok := placeInside(l.box, p, p.DataCanvas(slots[i].canvas)); !ok {
					l.outside, changed = true, true
				}
			}
			if l.outside {
				l.box.framed = false
				l.box = l.box.fitHeight(slots[i].data.Max.Y - slots[i].data.Min.Y)
				if r := l.box.size().X + legendMargin; r != reserve[i] {
					reserve[i], changed = r, true
				}
			}
		}
		if !changed {
			break
		}
	}
	for i, p := range g.Panels {
		l := &legends[i]
		if len(l.box.entries) == 0 {
			continue
		}
		data := p.DataCanvas(slots[i].canvas)
		if l.outside {
			l.at = vg.Point{X: data.Max.X + slots[i].right + legendMargin, Y: data.Max.Y}
			continue
		}
		at, ok := placeInside(l.box, p, data)
		if !ok { // no place is free even after the layout settled: the top right
			at = vg.Point{X: data.Max.X - legendMargin - l.box.size().X, Y: data.Max.Y - legendMargin}
		}
		l.at = at
	}
	return slots, legends
}

// layout places the panels in area: reserve[i] is room kept right of
// panel i's plot area (for a legend outside it).
func (g Grid) layout(dc draw.Canvas, area vg.Rectangle, texts []labels, reserve []vg.Length) []slot {
	rows, cols := max(1, g.Rows), max(1, g.Cols)
	type insets struct{ left, right, bottom, top vg.Length }
	in := make([]insets, len(g.Panels))
	L, R := make([]vg.Length, cols), make([]vg.Length, cols)
	B, T, th := make([]vg.Length, rows), make([]vg.Length, rows), make([]vg.Length, rows)
	xl, yl := make([]vg.Length, rows), make([]vg.Length, cols) // the axis labels' room
	probe := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
		Min: area.Min,
		Max: vg.Point{X: area.Min.X + (area.Max.X-area.Min.X)/vg.Length(cols), Y: area.Min.Y + (area.Max.Y-area.Min.Y)/vg.Length(rows)},
	}}
	for i, p := range g.Panels {
		if p == nil {
			continue
		}
		r, c := i/cols, i%cols
		d := p.DataCanvas(probe)
		in[i] = insets{d.Min.X - probe.Min.X, probe.Max.X - d.Max.X, d.Min.Y - probe.Min.Y, probe.Max.Y - d.Max.Y}
		L[c], R[c] = max(L[c], in[i].left), max(R[c], in[i].right+reserve[i])
		B[r], T[r] = max(B[r], in[i].bottom), max(T[r], in[i].top)
		if texts[i].title != "" {
			th[r] = max(th[r], p.Title.TextStyle.Height(texts[i].title)+titleGap)
		}
		if texts[i].x != "" {
			xl[r] = max(xl[r], p.X.Label.TextStyle.Height(texts[i].x)+labelGap)
		}
		if texts[i].y != "" {
			yl[c] = max(yl[c], p.Y.Label.TextStyle.Height(texts[i].y)+labelGap)
		}
	}
	var sumX, sumY vg.Length
	for c := range cols {
		L[c] += yl[c]
		sumX += L[c] + R[c]
	}
	for r := range rows {
		T[r] += th[r]
		B[r] += xl[r]
		sumY += T[r] + B[r]
	}
	dataW := max(vg.Points(10), (area.Max.X-area.Min.X-sumX-gapX*vg.Length(cols-1))/vg.Length(cols))
	dataH := max(vg.Points(10), (area.Max.Y-area.Min.Y-sumY-gapY*vg.Length(rows-1))/vg.Length(rows))
	colX, rowY := make([]vg.Length, cols), make([]vg.Length, rows)
	for c, x := 0, area.Min.X; c < cols; c++ {
		colX[c] = x
		x += L[c] + dataW + R[c] + gapX
	}
	for r, y := 0, area.Max.Y; r < rows; r++ {
		rowY[r] = y
		y -= T[r] + dataH + B[r] + gapY
	}
	slots := make([]slot, len(g.Panels))
	for i, p := range g.Panels {
		if p == nil {
			continue
		}
		r, c := i/cols, i%cols
		// Plot areas line up on the left; one without a legend beside it
		// takes the room its column keeps for others' legends.
		data := vg.Rectangle{Min: vg.Point{X: colX[c] + L[c], Y: rowY[r] - T[r] - dataH}}
		data.Max = vg.Point{X: data.Min.X + dataW + R[c] - in[i].right - reserve[i], Y: data.Min.Y + dataH}
		cv := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: data.Min.X - in[i].left, Y: data.Min.Y - in[i].bottom},
			Max: vg.Point{X: data.Max.X + in[i].right, Y: data.Max.Y + in[i].top},
		}}
		for range 3 { // the insets depend a little on the canvas's size
			d := p.DataCanvas(cv)
			cv.Min.X += data.Min.X - d.Min.X
			cv.Max.X += data.Max.X - d.Max.X
			cv.Min.Y += data.Min.Y - d.Min.Y
			cv.Max.Y += data.Max.Y - d.Max.Y
		}
		slots[i] = slot{
			canvas:   cv,
			data:     data,
			tile:     vg.Rectangle{Min: vg.Point{X: colX[c], Y: data.Min.Y}, Max: vg.Point{X: colX[c] + L[c] + dataW + R[c], Y: rowY[r]}},
			titleTop: rowY[r],
			right:    in[i].right,
			xLabel:   data.Min.Y - B[r],
			yLabel:   colX[c],
		}
	}
	return slots
}
