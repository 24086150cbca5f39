package plots

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/internal/golden"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// render writes a figure as PNG.
func render(t *testing.T, write func(b *bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, write(&b))
	return b.Bytes()
}

// trainingCurves is a line panel over training steps: two decaying losses
// (one with a band), a reference floor.
func trainingCurves() Lines {
	var x, train, held, lo, hi []float64
	for s := 0; s <= 5000; s += 250 {
		f := float64(s) / 5000
		x = append(x, float64(s))
		train = append(train, 0.22+0.1*math.Exp(-6*f)+0.004*math.Sin(9*f))
		h := 0.24 + 0.12*math.Exp(-5*f)
		held = append(held, h)
		lo, hi = append(lo, h-0.01), append(hi, h+0.01)
	}
	return Lines{
		Title: "weighted loss", XLabel: "training step", YLabel: "loss",
		Series: []Series{
			{Name: "training", X: x, Y: train},
			{Name: "held-out (band: ± 2 SE)", X: x, Y: held, Lo: lo, Hi: hi},
			{Name: "floor", X: []float64{0, 5000}, Y: []float64{0.2, 0.2}, Reference: true},
		},
	}
}

// TestGoldenLines: one line panel; its legend goes to the empty top right.
func TestGoldenLines(t *testing.T) {
	p, err := trainingCurves().Plot()
	require.NoError(t, err)
	g := Grid{Rows: 1, Cols: 1, Width: 5 * vg.Inch, Height: 3.2 * vg.Inch, Panels: []*Panel{p}}
	golden.PNG(t, filepath.Join("testdata", "lines.png"), render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") }), *update)
	checkTexts(t, g)
}

// weightCurves are weight-like curves over 1000 timesteps on a log axis,
// two of which coincide over half the axis.
func weightCurves(title string, scale float64) Lines {
	t := make([]float64, 1000)
	snr, maxSNR, minSNR, one := make([]float64, 1000), make([]float64, 1000), make([]float64, 1000), make([]float64, 1000)
	for i := range t {
		t[i] = float64(i)
		a := math.Cos((float64(i)/1000 + 0.008) / 1.008 * math.Pi / 2)
		s := scale * a * a / (1 - a*a + 1e-9)
		snr[i], maxSNR[i], minSNR[i], one[i] = s, math.Max(s, 1), math.Min(s, 5), 1
	}
	return Lines{Title: title, XLabel: "timestep t", YLabel: "weight (log scale)", LogY: true, Series: []Series{
		{Name: "constant", X: t, Y: one}, {Name: "snr", X: t, Y: snr}, {Name: "max-snr:1", X: t, Y: maxSNR}, {Name: "min-snr:5", X: t, Y: minSNR},
	}}
}

// TestGoldenSharedLegend: three panels with one legend below them, titles
// of different lengths on one line, coinciding curves told apart by their
// dashes and markers.
func TestGoldenSharedLegend(t *testing.T) {
	g := Grid{Rows: 1, Cols: 3, Width: 10 * vg.Inch, Height: 3.4 * vg.Inch, SharedLegend: true}
	for i, title := range []string{"a short title", "a rather longer title for the middle panel", "scaled"} {
		p, err := weightCurves(title, math.Pow(10, float64(i))).Plot()
		require.NoError(t, err)
		g.Panels = append(g.Panels, p)
	}
	golden.PNG(t, filepath.Join("testdata", "shared_legend.png"), render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") }), *update)
	checkTexts(t, g)
}

// TestGoldenManySeries: twelve ordered series (bins) take twelve colours
// of a sequential map, and a legend that fits no corner goes outside.
func TestGoldenManySeries(t *testing.T) {
	l := Lines{Title: "per-bin gradient norm", XLabel: "training step", YLabel: "‖grad L_k‖ (log scale)", LogY: true, Ordered: true}
	for k := range 12 {
		var x, y []float64
		for s := 0; s <= 2000; s += 100 {
			x, y = append(x, float64(s)), append(y, math.Pow(1.6, float64(k))*(0.02+0.05*math.Exp(-float64(s)/500))*(1+0.1*math.Sin(float64(s+97*k)/150)))
		}
		l.Series = append(l.Series, Series{Name: fmt.Sprintf("t %d-%d", 83*k, 83*k+82), X: x, Y: y})
	}
	p, err := l.Plot()
	require.NoError(t, err)
	g := Grid{Rows: 1, Cols: 1, Width: 6 * vg.Inch, Height: 3.6 * vg.Inch, Panels: []*Panel{p}}
	golden.PNG(t, filepath.Join("testdata", "many_series.png"), render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") }), *update)
	checkTexts(t, g)
}

// TestGoldenHeatmap: two cosine matrices with their colour bars.
func TestGoldenHeatmap(t *testing.T) {
	z := func(s float64) [][]float64 {
		m := make([][]float64, 8)
		for i := range m {
			m[i] = make([]float64, 8)
			for j := range m[i] {
				m[i][j] = math.Cos(s * float64(i-j))
			}
		}
		return m
	}
	labels := []string{"0", "125", "250", "375", "500", "625", "750", "875"}
	g := HeatmapGrid{Cols: 2, Width: 7 * vg.Inch, Height: 3 * vg.Inch, Maps: []Heatmap{
		{Title: "cosine, step 0", XLabel: "bin (first timestep)", YLabel: "bin (first timestep)", Z: z(0.2), Labels: labels, Min: -1, Max: 1, Diverging: true},
		{Title: "cosine, step 5000", XLabel: "bin (first timestep)", YLabel: "bin (first timestep)", Z: z(0.9), Labels: labels, Min: -1, Max: 1, Diverging: true},
	}}
	golden.PNG(t, filepath.Join("testdata", "heatmap.png"), render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") }), *update)
}

// TestGoldenScatter: two scatter panels on the same axes.
func TestGoldenScatter(t *testing.T) {
	ring := func(n int, r float64) []float32 {
		var pts []float32
		for i := range n {
			a := 2 * math.Pi * float64(i) / float64(n)
			rr := r * (1 + 0.08*math.Sin(float64(7*i)))
			pts = append(pts, float32(rr*math.Cos(a)), float32(rr*math.Sin(a)))
		}
		return pts
	}
	a, err := Scatter{Title: "samples", Points: ring(300, 1.4), Min: -2, Max: 2}.Plot()
	require.NoError(t, err)
	b, err := Scatter{Title: "ground truth", Points: ring(300, 1.5), Min: -2, Max: 2, Color: translucent(qualitative[3], 90)}.Plot()
	require.NoError(t, err)
	g := Grid{Rows: 1, Cols: 2, Width: 6 * vg.Inch, Height: 3.2 * vg.Inch, Panels: []*Panel{a, b}}
	golden.PNG(t, filepath.Join("testdata", "scatter.png"), render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") }), *update)
}

// TestGoldenTiles: a grid of 6 grey-scale 8×8 images, 2× enlarged.
func TestGoldenTiles(t *testing.T) {
	var imgs []float32
	for k := range 6 {
		for y := range 8 {
			for x := range 8 {
				imgs = append(imgs, float32(math.Sin(float64(x*(k+1))/5+float64(y)/3)))
			}
		}
	}
	tl := Tiles{Images: imgs, Width: 8, Height: 8, Cols: 3, Pad: 2, Scale: 2}
	golden.PNG(t, filepath.Join("testdata", "tiles.png"), render(t, func(b *bytes.Buffer) error { return tl.WriteTo(b, "png") }), *update)
}

// TestGridRendersAgain: a grid renders to the same bytes twice (Grid puts
// back the texts it takes out of the panels) and to SVG and PDF too.
func TestGridRendersAgain(t *testing.T) {
	p, err := trainingCurves().Plot()
	require.NoError(t, err)
	g := Grid{Rows: 1, Cols: 2, Width: 8 * vg.Inch, Height: 3 * vg.Inch, Panels: []*Panel{p, nil}, Title: "a figure"}
	first := render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") })
	require.Equal(t, "weighted loss", p.Title.Text)
	require.Equal(t, "training step", p.X.Label.Text)
	require.Equal(t, first, render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, "png") }))
	for _, f := range []string{"svg", "pdf"} {
		require.NotEmpty(t, render(t, func(b *bytes.Buffer) error { return g.WriteTo(b, f) }))
	}
}
