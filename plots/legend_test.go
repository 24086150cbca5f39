package plots

import (
	"image/color"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// placeLegends arranges a one-panel grid and returns where its legend
// went and the panel's plot area.
func placeLegends(t *testing.T, l Lines) (placedLegend, vg.Rectangle) {
	t.Helper()
	p, err := l.Plot()
	require.NoError(t, err)
	g := Grid{Rows: 1, Cols: 1, Width: 5 * vg.Inch, Height: 3.5 * vg.Inch, Panels: []*Panel{p}}
	dc := draw.New(vgimg.New(g.Width, g.Height))
	texts, restore := detach(g.Panels)
	defer restore()
	slots, legends := g.arrange(dc, dc.Rectangle, texts)
	return legends[0], p.DataCanvas(slots[0].canvas).Rectangle
}

func line(name string, x, y []float64) Series { return Series{Name: name, X: x, Y: y} }

func TestLegendGoesWhereNoDataIs(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4}
	// A falling line crosses the top-left and bottom-right corners: the
	// legend goes top right.
	l, data := placeLegends(t, Lines{Series: []Series{line("falling", x, []float64{4, 3, 2, 1, 0})}})
	require.False(t, l.outside)
	require.Greater(t, l.at.X, (data.Min.X+data.Max.X)/2, "right half")
	require.InDelta(t, float64(data.Max.Y-legendMargin), float64(l.at.Y), 1e-9, "at the top")

	// Rising lines fill the top right and the bottom left, and a second
	// series the top left: the bottom right is the free corner.
	l, data = placeLegends(t, Lines{Series: []Series{line("rising", x, []float64{0, 1, 2, 3, 4}), line("high", x, []float64{4, 4, 4, 3.5, 3.5})}})
	require.False(t, l.outside)
	require.Greater(t, l.at.X, (data.Min.X+data.Max.X)/2)
	require.Less(t, l.at.Y, (data.Min.Y+data.Max.Y)/2)

	// Lines along the top and the bottom leave the middle of the edges.
	l, data = placeLegends(t, Lines{Series: []Series{line("top", x, []float64{10, 10, 10, 10, 10}), line("bottom", x, []float64{0, 0, 0, 0, 0})}})
	require.False(t, l.outside)
	require.Less(t, l.at.Y, data.Max.Y-legendMargin, "not in a top corner")
	require.Greater(t, l.at.Y, data.Min.Y+legendMargin+l.box.size().Y, "nor in a bottom one")

	// A band over the whole plot area leaves no room: outside.
	l, data = placeLegends(t, Lines{Series: []Series{{Name: "band", X: x, Y: []float64{1, 1, 1, 1, 1}, Lo: []float64{0, 0, 0, 0, 0}, Hi: []float64{2, 2, 2, 2, 2}}}})
	require.True(t, l.outside)
	require.Greater(t, l.at.X, data.Max.X)

	// A reference line may run under the legend.
	l, _ = placeLegends(t, Lines{Series: []Series{line("falling", x, []float64{4, 3, 2, 1, 0}), {Name: "zero", X: []float64{0, 4}, Y: []float64{3.9, 3.9}, Reference: true}}})
	require.False(t, l.outside)

	// LegendNone: none; LegendOutside: outside even with room inside.
	l, _ = placeLegends(t, Lines{Legend: LegendNone, Series: []Series{line("falling", x, []float64{4, 3, 2, 1, 0})}})
	require.Empty(t, l.box.entries)
	l, _ = placeLegends(t, Lines{Legend: LegendOutside, Series: []Series{line("falling", x, []float64{4, 3, 2, 1, 0})}})
	require.True(t, l.outside)
}

func TestSeriesStyles(t *testing.T) {
	for _, n := range []int{4, 8, 9, 12, 20} {
		for _, ordered := range []bool{false, true} {
			seen := map[color.Color]bool{}
			for i := range n {
				ls, gs := seriesStyle(i, n, ordered)
				require.False(t, seen[ls.Color], "n=%d ordered=%v: colour of series %d repeats", n, ordered, i)
				seen[ls.Color] = true
				require.Equal(t, ls.Color, gs.Color)
				if i > 0 {
					prev, pg := seriesStyle(i-1, n, ordered)
					require.NotEqual(t, prev.Dashes, ls.Dashes, "neighbours' dashes differ")
					require.NotEqual(t, pg.Shape, gs.Shape, "neighbours' markers differ")
				}
			}
		}
	}
}

func TestLinesRanges(t *testing.T) {
	// One point: a range around it, integer ticks on an integer axis.
	p, err := Lines{Series: []Series{line("one", []float64{5000}, []float64{0.3})}}.Plot()
	require.NoError(t, err)
	require.Less(t, p.X.Min, 5000.0)
	require.Greater(t, p.X.Max, 5000.0)
	require.Equal(t, Ticks{Integer: true}, p.X.Tick.Marker)
	require.Less(t, p.Y.Min, 0.3)
	require.Greater(t, p.Y.Max, 0.3)
	// Headroom above and below the data.
	p, err = Lines{Series: []Series{line("a", []float64{0, 1}, []float64{0, 1})}}.Plot()
	require.NoError(t, err)
	require.InDelta(t, -headroom, p.Y.Min, 1e-12)
	require.InDelta(t, 1+headroom, p.Y.Max, 1e-12)
	require.Equal(t, 0.0, p.X.Min)
	// No data at all still has axes.
	p, err = Lines{LogY: true, Series: []Series{line("none", nil, nil)}}.Plot()
	require.NoError(t, err)
	require.Equal(t, 1.0, p.Y.Min)
	require.Panics(t, func() { Lines{Series: []Series{{X: []float64{1}, Y: []float64{1}, Lo: []float64{0}}}}.Plot() })
}
