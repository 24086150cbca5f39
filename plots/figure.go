package plots

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"gonum.org/v1/plot"
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

// Grid lays out panels row-major in rows × cols tiles on one page of the
// given size. Nil panels leave their tile empty.
type Grid struct {
	Rows, Cols    int
	Width, Height vg.Length
	Panels        []*plot.Plot
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
	dc := draw.New(c)
	tiles := draw.Tiles{
		Rows: g.Rows, Cols: g.Cols,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8),
		PadX: vg.Points(12), PadY: vg.Points(12),
	}
	grid := make([][]*plot.Plot, g.Rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, g.Cols)
		for col := range grid[r] {
			if i := r*g.Cols + col; i < len(g.Panels) {
				grid[r][col] = g.Panels[i]
			}
		}
	}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for col, p := range grid[r] {
			if p != nil {
				p.Draw(canvases[r][col])
			}
		}
	}
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
