package plots

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
)

// Three 2×1 images in a grid of 2 columns, padding 1, scale 1: the layout
// and every grey level are known by hand.
func TestTilesPixels(t *testing.T) {
	imgs := []float32{
		-1, 1, // black, white
		0, 0.5, // 128 (127.5 rounded), 191 (191.25 rounded)
		-3, float32(math.NaN()), // clamped to black; NaN is black
	}
	g := Tiles{Images: imgs, Width: 2, Height: 1, Cols: 2, Pad: 1}.Image()
	// Width: 2 tiles × (2 + 1) + 1 = 7; height: 2 rows × (1 + 1) + 1 = 5.
	require.Equal(t, 7, g.Bounds().Dx())
	require.Equal(t, 5, g.Bounds().Dy())
	want := [][]uint8{
		{128, 128, 128, 128, 128, 128, 128},
		{128, 0, 255, 128, 128, 191, 128},
		{128, 128, 128, 128, 128, 128, 128},
		{128, 0, 0, 128, 128, 128, 128},
		{128, 128, 128, 128, 128, 128, 128},
	}
	for y, row := range want {
		require.Equal(t, row, g.Pix[y*g.Stride:y*g.Stride+7], "row %d", y)
	}
}

func TestTilesScaleAndDefaults(t *testing.T) {
	// Four 1×1 images: ⌈√4⌉ = 2 columns; scale 3 repeats each pixel 3×3.
	g := Tiles{Images: []float32{-1, 1, 1, -1}, Width: 1, Height: 1, Scale: 3, Lo: 0, Hi: 0}.Image()
	require.Equal(t, 6, g.Bounds().Dx())
	require.Equal(t, 6, g.Bounds().Dy())
	require.Equal(t, uint8(0), g.GrayAt(2, 2).Y)
	require.Equal(t, uint8(255), g.GrayAt(3, 0).Y)
	require.Equal(t, uint8(255), g.GrayAt(0, 5).Y)
	// A custom range [0, 10].
	g = Tiles{Images: []float32{5}, Width: 1, Height: 1, Lo: 0, Hi: 10}.Image()
	require.Equal(t, uint8(128), g.GrayAt(0, 0).Y)
	require.Panics(t, func() { Tiles{Images: []float32{1, 2, 3}, Width: 2, Height: 1}.Image() })
	require.Panics(t, func() { Tiles{Width: 2, Height: 1}.Image() })
}

func TestTilesSave(t *testing.T) {
	dir := t.TempDir()
	tl := Tiles{Images: []float32{-1, 0, 1, 0.5}, Width: 2, Height: 2, Pad: 1, Scale: 2}
	p := filepath.Join(dir, "t.png")
	require.NoError(t, tl.Save(p))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, tl.Image().Bounds(), img.Bounds())
	for _, ext := range []string{"svg", "pdf"} {
		var b bytes.Buffer
		require.NoError(t, tl.WriteTo(&b, ext))
		require.NotEmpty(t, b.Bytes())
	}
	require.ErrorContains(t, tl.Save(filepath.Join(dir, "t.gif")), "unsupported image format")
	_, err = os.Stat(filepath.Join(dir, "t.gif"))
	require.True(t, os.IsNotExist(err))
}

func TestScatter(t *testing.T) {
	pts := []float32{0, 0, 1, 2, float32(math.Inf(1)), 3, -1, -2}
	p, err := Scatter{Title: "s", Points: pts}.Plot()
	require.NoError(t, err)
	require.Equal(t, -1.0, p.X.Min, "the infinite point is left out")
	require.Equal(t, 2.0, p.Y.Max)
	p, err = Scatter{Points: pts, Min: -5, Max: 5}.Plot()
	require.NoError(t, err)
	require.Equal(t, -5.0, p.X.Min)
	require.Equal(t, 5.0, p.Y.Max)
	var b bytes.Buffer
	require.NoError(t, Grid{Rows: 1, Cols: 1, Width: 3 * vg.Inch, Height: 3 * vg.Inch, Panels: []*Panel{p}}.WriteTo(&b, "svg"))
	require.Contains(t, b.String(), "<svg")
	require.Panics(t, func() { Scatter{Points: []float32{1}}.Plot() })
}
