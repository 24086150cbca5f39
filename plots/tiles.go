package plots

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Tiles lays out grey-scale images (such as generated digits) in a grid.
type Tiles struct {
	// Images is (N, Height·Width): one row-major image per row.
	Images        []float32
	Width, Height int
	// Cols is the number of tiles per row; zero means ⌈√N⌉.
	Cols int
	// Lo and Hi map a value to grey: Lo (and below) is black, Hi (and
	// above) white, linear in between. Lo = Hi = 0 means [−1, 1].
	Lo, Hi float64
	// Pad is the number of pixels between tiles and around them (drawn in
	// mid grey); Scale repeats every pixel Scale×Scale times (default 1).
	Pad, Scale int
}

// Image renders the tiles. Non-finite values are drawn black.
func (t Tiles) Image() *image.Gray {
	px := t.Width * t.Height
	if px <= 0 || len(t.Images)%px != 0 || len(t.Images) == 0 {
		panic(fmt.Sprintf("plots: Tiles of %d values for %d×%d images", len(t.Images), t.Width, t.Height))
	}
	n := len(t.Images) / px
	cols := t.Cols
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	rows := (n + cols - 1) / cols
	lo, hi := t.Lo, t.Hi
	if lo == 0 && hi == 0 {
		lo, hi = -1, 1
	}
	s := max(t.Scale, 1)
	pad := max(t.Pad, 0)
	W := cols*(t.Width*s+pad) + pad
	H := rows*(t.Height*s+pad) + pad
	img := image.NewGray(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	for k := range n {
		x0 := pad + (k%cols)*(t.Width*s+pad)
		y0 := pad + (k/cols)*(t.Height*s+pad)
		src := t.Images[k*px : (k+1)*px]
		for y := range t.Height {
			for x := range t.Width {
				v := (float64(src[y*t.Width+x]) - lo) / (hi - lo)
				g := uint8(0)
				if v >= 1 {
					g = 255
				} else if v > 0 {
					g = uint8(math.Round(255 * v))
				}
				for dy := range s {
					row := img.Pix[(y0+y*s+dy)*img.Stride:]
					for dx := range s {
						row[x0+x*s+dx] = g
					}
				}
			}
		}
	}
	return img
}

// WriteTo renders the tiles in format: "png" writes the pixels exactly;
// "svg" and "pdf" embed them as an image one point per pixel.
func (t Tiles) WriteTo(w io.Writer, format string) error {
	img := t.Image()
	if format == "png" {
		return png.Encode(w, img)
	}
	b := img.Bounds()
	width, height := vg.Points(float64(b.Dx())), vg.Points(float64(b.Dy()))
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	c.DrawImage(vg.Rectangle{Max: vg.Point{X: width, Y: height}}, img)
	_, err = c.WriteTo(w)
	return err
}

// Save writes the tiles to path, choosing the format from the extension
// (FormatOf), and replaces the file atomically.
func (t Tiles) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return t.WriteTo(w, format) })
}
