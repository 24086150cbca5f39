package plots

import (
	"bytes"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
)

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]string{"a.png": "png", "b.SVG": "svg", "dir/c.pdf": "pdf"} {
		got, err := FormatOf(path)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := FormatOf("x.jpeg")
	require.ErrorContains(t, err, `unsupported image format ".jpeg"`)
}

func TestLinesDropsUnusablePointsOnLogAxis(t *testing.T) {
	l := Lines{LogY: true, Series: []Series{
		{Name: "ok", X: []float64{0, 1, 2, 3}, Y: []float64{1, 0, math.NaN(), 10}},
		{Name: "empty", X: []float64{0}, Y: []float64{-1}},
	}}
	p, err := l.Plot()
	require.NoError(t, err)
	// 0 and NaN are left out of the log axis, which spans [1, 10] and the
	// headroom.
	f := math.Pow(10, headroom)
	require.InDelta(t, 1/f, p.Y.Min, 1e-12)
	require.InDelta(t, 10*f, p.Y.Max, 1e-12)
	var buf bytes.Buffer
	require.NoError(t, Grid{Rows: 1, Cols: 1, Width: 3 * vg.Inch, Height: 2 * vg.Inch, Panels: []*Panel{p}}.WriteTo(&buf, "svg"))
	require.Contains(t, buf.String(), "<svg")
	require.Panics(t, func() { Lines{Series: []Series{{X: []float64{1}, Y: nil}}}.Plot() })
}

func TestGridSaveRejectsFormat(t *testing.T) {
	err := Grid{Rows: 1, Cols: 1, Width: vg.Inch, Height: vg.Inch}.Save(filepath.Join(t.TempDir(), "x.bmp"))
	require.ErrorContains(t, err, "unsupported image format")
}

func TestHeatmapGrid(t *testing.T) {
	z := [][]float64{{1, -0.5, 0.2}, {-0.5, 1, math.NaN()}, {0.2, 0.3, 1}}
	g := HeatmapGrid{Cols: 2, Width: 8 * vg.Inch, Height: 3 * vg.Inch, Maps: []Heatmap{
		{Title: "cosine", Z: z, Min: -1, Max: 1, Diverging: true, Labels: []string{"a", "b", "c"}},
		{Title: "norms", Z: [][]float64{{1, 2}, {3, 4}}},
		{Title: "constant", Z: [][]float64{{2}}},
	}}
	p := filepath.Join(t.TempDir(), "h.png")
	require.NoError(t, g.Save(p))
	heat, _ := g.Maps[0].Plots()
	require.Equal(t, -0.5, heat.X.Min)
	require.Panics(t, func() { Heatmap{Z: [][]float64{{1, 2}, {3}}}.Plots() })
	require.Panics(t, func() { Heatmap{}.Plots() })
}

// Row labels name the rows apart from the columns, and cell texts are
// drawn black on light cells and white on dark ones.
func TestHeatmapRowLabelsAndTexts(t *testing.T) {
	h := Heatmap{Z: [][]float64{{0, 1}, {1, 0}, {0.5, 0.5}}, Labels: []string{"b1", "b2"}, RowLabels: []string{"a1", "a2", "a3"},
		Text: [][]string{{"x", "y"}, {"z", ""}, {"w", "v"}}}
	heat, _ := h.Plots()
	var rows, cols []string
	for _, tk := range heat.Y.Tick.Marker.Ticks(heat.Y.Min, heat.Y.Max) {
		rows = append(rows, tk.Label)
	}
	for _, tk := range heat.X.Tick.Marker.Ticks(heat.X.Min, heat.X.Max) {
		cols = append(cols, tk.Label)
	}
	require.Equal(t, []string{"a1", "a2", "a3"}, rows)
	require.Equal(t, []string{"b1", "b2"}, cols)
	// ExtendedBlackBody runs from black (the minimum) to white (the maximum).
	ct := cellTexts{z: h.Z, cm: h.colorMap()}
	require.Less(t, luminance(ct.at(0)), 0.1, "the minimum is dark")
	require.Greater(t, luminance(ct.at(1)), 0.9, "the maximum is light")
	require.Equal(t, 1.0, luminance(color.White))
	require.NoError(t, HeatmapGrid{Cols: 1, Width: 3 * vg.Inch, Height: 3 * vg.Inch, Maps: []Heatmap{h}}.Save(filepath.Join(t.TempDir(), "h.png")))
}
