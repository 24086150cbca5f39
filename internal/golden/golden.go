// Package golden compares the figures tests render with golden images kept
// in testdata, so that a change in how a figure looks shows as a failing
// test (and, with the test's -update flag, as a diff of the image).
//
// A golden image is the figure at half its size (every 2×2 block of
// pixels averaged), so it stays small: a moved line or letter still
// changes it, beyond the tolerance.
package golden

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/cmpimg"
)

// Delta is the tolerance of the comparison (cmpimg's normalised colour
// distance of every pixel): enough for anti-aliasing differences between
// platforms, not for a moved line or letter.
const Delta = 0.02

// PNG compares the PNG image got, halved, with the golden file path,
// pixel by pixel within Delta; with update it first rewrites the file. On
// a mismatch it writes the halved image into the system's temporary folder
// and names it in the failure, for a look.
func PNG(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, Half(img)); err != nil {
		t.Fatal(err)
	}
	half := b.Bytes()
	if update {
		if err := os.WriteFile(path, half, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	ok, err := cmpimg.EqualApprox("png", half, want, Delta)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		dir := filepath.Join(os.TempDir(), "paretodiff-golden")
		out := filepath.Join(dir, filepath.Base(path))
		if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(out, half, 0o644) == nil {
			t.Errorf("figure differs from %s; got is %s (run go test -update after an intended change)", path, out)
			return
		}
		t.Errorf("figure differs from %s (run go test -update after an intended change)", path)
	}
}

// Half returns img at half its size, every 2×2 block averaged (a last odd
// row or column is dropped).
func Half(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range b.Dy() / 2 {
		for x := range b.Dx() / 2 {
			var s [4]uint32
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+2*x+d[0], b.Min.Y+2*y+d[1])).(color.NRGBA)
				s[0], s[1], s[2], s[3] = s[0]+uint32(c.R), s[1]+uint32(c.G), s[2]+uint32(c.B), s[3]+uint32(c.A)
			}
			out.SetNRGBA(x, y, color.NRGBA{R: uint8((s[0] + 2) / 4), G: uint8((s[1] + 2) / 4), B: uint8((s[2] + 2) / 4), A: uint8((s[3] + 2) / 4)})
		}
	}
	return out
}
