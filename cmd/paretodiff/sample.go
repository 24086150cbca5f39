package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"codeberg.org/sbinet/npyio"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/spf13/cobra"
	"gonum.org/v1/plot/vg"
)

func init() { register(newSampleCmd) }

type sampleOptions struct {
	samplingOptions
	out string
}

func newSampleCmd() *cobra.Command {
	o := &sampleOptions{}
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Draw samples from a trained checkpoint: an image grid, a scatter plot or a .npy array",
		Long: `sample draws --n samples from the model in a run folder written by train, with the
chosen sampler and number of steps, using the EMA weights unless --ema=false
(--untrained: the same network at its initial weights, a baseline).

--out decides what is written (atomically):
  FILE.png|.svg|.pdf  MNIST: a grid of the digits (pixels from [−1, 1] to grey, 2× enlarged);
                      2-D data: a scatter plot of the samples beside as many fresh
                      ground-truth points drawn with the same seed
  FILE.npy            the raw samples, an (N, D) float32 array

` + samplerHelp,
		Example: `  paretodiff sample --checkpoint runs/toy --n 2000 --out toy.png
  paretodiff sample --checkpoint runs/mnist --sampler ddim:0 --steps 50 --n 64 --out digits.png
  paretodiff sample --checkpoint runs/mnist --n 1000 --out samples.npy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr()) },
	}
	o.addFlags(cmd.Flags(), 1000)
	cmd.Flags().StringVar(&o.out, "out", "", "output file: .png, .svg, .pdf or .npy (required)")
	return cmd
}

func (o *sampleOptions) run(stdout, stderr io.Writer) error {
	if o.out == "" {
		return usagef("--out: give a .png, .svg, .pdf or .npy file")
	}
	ext := strings.ToLower(filepath.Ext(o.out))
	if ext != ".npy" {
		if _, err := plots.FormatOf(o.out); err != nil {
			return usagef("--out %s: want a .png, .svg, .pdf or .npy file", o.out)
		}
	}
	m, err := o.open(1, stderr)
	if err != nil {
		return err
	}
	x, err := m.draw(o.n, o.seed, o.progress, stderr)
	if err != nil {
		return err
	}
	D := m.den.Dim()
	switch {
	case ext == ".npy":
		err = writeNPY(o.out, x, D)
	case m.isMNIST():
		err = plots.Tiles{Images: x, Width: data.MNISTSide, Height: data.MNISTSide, Pad: 2, Scale: 2}.Save(o.out)
	default:
		err = o.scatter(m, x)
	}
	if err != nil {
		return failure(err)
	}
	fmt.Fprintf(stdout, "wrote %d samples to %s: %s\n", o.n, o.out, m.describe())
	return nil
}

// scatter writes the samples beside fresh ground truth, on the same axes.
func (o *sampleOptions) scatter(m *model, x []float32) error {
	truth := m.truth(o.n, o.seed, streamTruth)
	lim := 1.15 * max(quantileAbs(truth, 1), quantileAbs(x, 0.99))
	title := fmt.Sprintf("samples: %s, %s", m.smp, m.weights)
	if m.weights != "init" {
		title += fmt.Sprintf(" (step %d)", m.ck.Step)
	}
	a, err := plots.Scatter{Title: title, Points: x, Min: -lim, Max: lim}.Plot()
	if err != nil {
		return err
	}
	b, err := plots.Scatter{Title: "ground truth: " + m.data, Points: truth, Min: -lim, Max: lim,
		Color: color.NRGBA{R: 214, G: 39, B: 40, A: 90}}.Plot()
	if err != nil {
		return err
	}
	return plots.Grid{Rows: 1, Cols: 2, Width: 10 * vg.Inch, Height: 5 * vg.Inch, Panels: []*plots.Panel{a, b}}.Save(o.out)
}

// quantileAbs returns the q-quantile of the finite |values| of x (0 if none).
func quantileAbs(x []float32, q float64) float64 {
	a := make([]float64, 0, len(x))
	for _, v := range x {
		if f := math.Abs(float64(v)); !math.IsInf(f, 0) && !math.IsNaN(f) {
			a = append(a, f)
		}
	}
	if len(a) == 0 {
		return 0
	}
	slices.Sort(a)
	return a[min(len(a)-1, int(q*float64(len(a))))]
}

// writeNPY writes x (N, D) as an (N, D) float32 .npy file, atomically.
func writeNPY(path string, x []float32, D int) error {
	rows := make([][]float32, len(x)/D) // views of x, so npyio writes shape (N, D)
	for i := range rows {
		rows[i] = x[i*D : (i+1)*D]
	}
	return atomicfile.Write(path, func(w io.Writer) error { return npyio.Write(w, rows) })
}
