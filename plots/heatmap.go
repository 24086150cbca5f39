package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Heatmap describes a matrix drawn as coloured cells, row 0 at the top, as
// a matrix is read (a cosine or Gram matrix of timestep bins, say).
type Heatmap struct {
	Title, XLabel, YLabel string
	// Z is the matrix, Z[r][c]; every row has the same length.
	Z [][]float64
	// Labels name the columns and rows (both, for a square matrix of bins);
	// nil numbers them. When there are many, only some are shown.
	Labels []string
	// RowLabels, if set, name the rows instead (a matrix whose rows and
	// columns are different things: models trained with weighting A
	// against weightings B evaluated on them).
	RowLabels []string
	// Text, if set, is written in the cells (Text[r][c]; "" for none), in
	// black or white, whichever reads better on the cell's colour: the
	// numbers behind the colours, for small matrices.
	Text [][]string
	// Min and Max fix the colour range; if equal, the data's range is used.
	Min, Max float64
	// Diverging uses a blue–white–red map centred on the middle of the
	// range, the natural choice for cosines in [−1, 1].
	Diverging bool
}

type matrixGrid struct{ z [][]float64 }

func (g matrixGrid) Dims() (c, r int)   { return len(g.z[0]), len(g.z) }
func (g matrixGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g matrixGrid) X(c int) float64    { return float64(c) }
func (g matrixGrid) Y(r int) float64    { return float64(r) }

func (h Heatmap) colorMap() palette.ColorMap {
	lo, hi := h.Min, h.Max
	if lo == hi {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, row := range h.Z {
			for _, v := range row {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		if !(lo < hi) { // constant or empty matrix
			lo, hi = lo-0.5, lo+0.5
			if math.IsInf(lo, 0) || math.IsNaN(lo) {
				lo, hi = 0, 1
			}
		}
	}
	var cm palette.ColorMap
	if h.Diverging {
		cm = moreland.SmoothBlueRed()
	} else {
		cm = moreland.ExtendedBlackBody()
	}
	cm.SetMin(lo)
	cm.SetMax(hi)
	return cm
}

// Plots builds the heat map and its colour bar as two plots.
func (h Heatmap) Plots() (heat, bar *plot.Plot) {
	if len(h.Z) == 0 || len(h.Z[0]) == 0 {
		panic("plots: Heatmap needs a non-empty matrix")
	}
	for r, row := range h.Z {
		if len(row) != len(h.Z[0]) {
			panic(fmt.Sprintf("plots: Heatmap row %d has %d values, row 0 has %d", r, len(row), len(h.Z[0])))
		}
	}
	cm := h.colorMap()
	const colours = 255
	pal := cm.Palette(colours)
	hm := plotter.NewHeatMap(matrixGrid{h.Z}, pal)
	hm.Min, hm.Max = cm.Min(), cm.Max()
	hm.NaN = nil // cells without a value stay blank

	heat = plot.New()
	heat.Title.Text = h.Title
	heat.X.Label.Text = h.XLabel
	heat.Y.Label.Text = h.YLabel
	heat.Add(hm)
	if h.Text != nil {
		heat.Add(cellTexts{text: h.Text, z: h.Z, cm: cm})
	}
	heat.Y.Scale = plot.InvertedScale{Normalizer: plot.LinearScale{}}
	cols, rows := len(h.Z[0]), len(h.Z)
	rowLabels := h.Labels
	if h.RowLabels != nil {
		rowLabels = h.RowLabels
	}
	heat.X.Tick.Marker = indexTicks(cols, h.Labels)
	heat.Y.Tick.Marker = indexTicks(rows, rowLabels)
	heat.X.Min, heat.X.Max = -0.5, float64(cols)-0.5
	heat.Y.Min, heat.Y.Max = -0.5, float64(rows)-0.5

	bar = plot.New()
	bar.HideX()
	bar.Y.Padding = 0
	bar.Y.Tick.Marker = Ticks{}
	bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true, Colors: colours})
	return heat, bar
}

// cellTexts writes a text in every cell of a heat map, centred, in black
// on light cells and white on dark ones.
type cellTexts struct {
	text [][]string
	z    [][]float64
	cm   palette.ColorMap
}

// Plot implements plot.Plotter.
func (ct cellTexts) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	sty := text.Style{Font: font.From(plot.DefaultFont, vg.Points(9)), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
	for r, row := range ct.text {
		for col, txt := range row {
			if txt == "" || r >= len(ct.z) || col >= len(ct.z[r]) {
				continue
			}
			sty.Color = color.Black
			if v := ct.z[r][col]; !math.IsNaN(v) && luminance(ct.at(v)) < 0.45 {
				sty.Color = color.White
			}
			c.FillText(sty, vg.Point{X: trX(float64(col)), Y: trY(float64(r))}, txt)
		}
	}
}

// at is the colour of a value, clamped to the map's range.
func (ct cellTexts) at(v float64) color.Color {
	v = math.Max(ct.cm.Min(), math.Min(ct.cm.Max(), v))
	col, err := ct.cm.At(v)
	if err != nil {
		return color.White
	}
	return col
}

// luminance is a colour's relative luminance in [0, 1] (ITU-R BT.709
// weights on the gamma-encoded channels: enough to choose black or white
// text).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// indexTicks labels about ten evenly spaced cells of n.
func indexTicks(n int, labels []string) plot.ConstantTicks {
	step := max(1, (n+9)/10)
	var ticks []plot.Tick
	for i := 0; i < n; i += step {
		label := fmt.Sprint(i)
		if i < len(labels) {
			label = labels[i]
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	return plot.ConstantTicks(ticks)
}

// HeatmapGrid lays out heat maps, each with its colour bar to its right,
// in rows of Cols tiles.
type HeatmapGrid struct {
	Cols          int
	Width, Height vg.Length
	Maps          []Heatmap
}

// WriteTo renders the grid in format ("png", "svg" or "pdf") to w.
func (g HeatmapGrid) WriteTo(w io.Writer, format string) error {
	c, err := draw.NewFormattedCanvas(g.Width, g.Height, format)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	g.draw(draw.New(c))
	_, err = c.WriteTo(w)
	return err
}

// barWidth is the width of a colour bar with its labels.
var barWidth = vg.Points(44)

// draw draws the grid on dc: every map with its title centred over it, the
// titles on one line per row, and its colour bar as high as the map.
func (g HeatmapGrid) draw(dc draw.Canvas) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	cols := max(1, g.Cols)
	rows := max(1, (len(g.Maps)+cols-1)/cols)
	area := vg.Rectangle{
		Min: vg.Point{X: dc.Min.X + pagePad, Y: dc.Min.Y + pagePad},
		Max: vg.Point{X: dc.Max.X - pagePad, Y: dc.Max.Y - pagePad},
	}
	tileW := (area.Max.X - area.Min.X - gapX*vg.Length(cols-1)) / vg.Length(cols)
	tileH := (area.Max.Y - area.Min.Y - gapY*vg.Length(rows-1)) / vg.Length(rows)
	var th vg.Length
	for _, m := range g.Maps {
		if m.Title != "" {
			th = max(th, titleStyle(vg.Points(12)).Height(m.Title)+titleGap)
		}
	}
	for i, m := range g.Maps {
		heat, bar := m.Plots()
		heat.Title.Text = ""
		x0 := area.Min.X + vg.Length(i%cols)*(tileW+gapX)
		top := area.Max.Y - vg.Length(i/cols)*(tileH+gapY)
		tile := vg.Rectangle{Min: vg.Point{X: x0, Y: top - tileH}, Max: vg.Point{X: x0 + tileW, Y: top}}
		heatC := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: tile.Min, Max: vg.Point{X: tile.Max.X - barWidth, Y: top - th}}}
		heat.Draw(heatC)
		d := heat.DataCanvas(heatC)
		barC := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: tile.Max.X - barWidth + vg.Points(10), Y: d.Min.Y},
			Max: vg.Point{X: tile.Max.X, Y: d.Max.Y},
		}}
		for range 3 { // line the bar up with the map
			b := bar.DataCanvas(barC)
			barC.Min.Y += d.Min.Y - b.Min.Y
			barC.Max.Y += d.Max.Y - b.Max.Y
		}
		bar.Draw(barC)
		drawTitle(dc, titleStyle(vg.Points(12)), m.Title, (d.Min.X+d.Max.X)/2, top, tile.Min.X, tile.Max.X)
	}
}

// Save writes the grid to path (format from the extension), atomically.
func (g HeatmapGrid) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return g.WriteTo(w, format) })
}
