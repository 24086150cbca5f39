package reproduce

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// figure draws fig3.png: for each training weighting, the draws' weights
// at the largest n (mean line, min–max band over the draws) with the
// reference batch's weights and min-SNR-5's, then the dispersion and the
// median signal fraction against n, a line per training weighting.
func (r *Fig3Result) figure(path string) error {
	minSNR := r.closed(fig5MinSNR)
	ymax := maxOf(minSNR)
	last := len(r.Sizes.PerBin) - 1
	for _, res := range r.Studies {
		ymax = math.Max(ymax, maxOf(res.Reference))
		for _, w := range res.Weights[last] {
			ymax = math.Max(ymax, maxOf(w))
		}
	}
	cols := (len(r.Studies) + 2 + 1) / 2
	grid := plots.Grid{Rows: 2, Cols: cols, Width: vg.Length(cols) * 5 * vg.Inch, Height: 9 * vg.Inch}
	for a, res := range r.Studies {
		p, err := fig3WeightsPanel(res, last, minSNR, r.Sizes, ymax, "trained with "+ShortName(r.Trained[a]))
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	ns := make([]float64, len(r.Sizes.PerBin))
	for i, n := range r.Sizes.PerBin {
		ns[i] = float64(n)
	}
	for _, panel := range []func([]float64) (*plots.Panel, error){r.dispersionPanel, r.signalPanel} {
		p, err := panel(ns)
		if err != nil {
			return err
		}
		setTicksX(p, ns)
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}

// fig3WeightsPanel draws the draws' weights at the i-th n of a study:
// their mean and (band) range in every bin, next to the reference batch's
// weights and min-SNR-5's, on a y axis up to 1.05 ymax.
func fig3WeightsPanel(res *SampleSizeResult, i int, minSNR []float64, fs Fig3Sizes, ymax float64, model string) (*plots.Panel, error) {
	centers := res.Bins.Centers()
	K := len(centers)
	mean, lo, hi := make([]float64, K), make([]float64, K), make([]float64, K)
	for k := range mean {
		lo[k], hi[k] = math.Inf(1), math.Inf(-1)
		for _, w := range res.Weights[i] {
			mean[k] += w[k] / float64(len(res.Weights[i]))
			lo[k], hi[k] = math.Min(lo[k], w[k]), math.Max(hi[k], w[k])
		}
	}
	p, err := plots.Lines{
		Title:  fmt.Sprintf("%s: %s weights, n = %d per bin (L1 spread %.2f)", model, fs.Method, res.PerBin[i], res.Dispersion[i]),
		XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's x0 loss (sum 1)",
		Series: []plots.Series{
			{Name: fmt.Sprintf("mean of %d draws (band: min–max)", len(res.Weights[i])), X: centers, Y: mean, Lo: lo, Hi: hi},
			{Name: fmt.Sprintf("reference batch (n = %d)", fs.Reference), X: centers, Y: res.Reference},
			{Name: "min-SNR-5", X: centers, Y: minSNR},
		},
	}.Plot()
	if err != nil {
		return nil, err
	}
	p.Y.Min, p.Y.Max = 0, 1.05*ymax
	return p, nil
}

// dispersionPanel draws every model's dispersion against n (ns); six
// overlapping bands would hide the lines, so the standard errors are left
// to stability.csv and the report.
func (r *Fig3Result) dispersionPanel(ns []float64) (*plots.Panel, error) {
	var ss []plots.Series
	for a, res := range r.Studies {
		ss = append(ss, plots.Series{Name: "trained with " + ShortName(r.Trained[a]), X: ns, Y: res.Dispersion})
	}
	p, err := plots.Lines{Title: "stability: spread of the weights between draws", XLabel: "examples per bin n (log scale)", YLabel: "mean L1 distance between weights (0–2)", LogX: true, Series: ss}.Plot()
	if err != nil {
		return nil, err
	}
	p.Y.Min = 0
	return p, nil
}

// signalPanel draws every model's median signal fraction over the bins
// against n (ns).
func (r *Fig3Result) signalPanel(ns []float64) (*plots.Panel, error) {
	var ss []plots.Series
	for a, res := range r.Studies {
		med := make([]float64, len(ns))
		for i, s := range res.Signal {
			med[i] = median(s)
		}
		ss = append(ss, plots.Series{Name: "trained with " + ShortName(r.Trained[a]), X: ns, Y: med})
	}
	ss = append(ss, plots.Series{Name: "1 (all signal)", X: []float64{ns[0], ns[len(ns)-1]}, Y: []float64{1, 1}, Reference: true})
	return plots.Lines{Title: "median signal fraction of the bins' gradients", XLabel: "examples per bin n (log scale)", YLabel: "signal share of the bins' squared gradient norms", LogX: true, Series: ss}.Plot()
}

// crossFigure draws cross.png: the L1 distance of every closed form to the
// settled weights of every training weighting's model, as a heat map.
func (r *Fig3Result) crossFigure(path string) error {
	z, txt := make([][]float64, len(r.Trained)), make([][]string, len(r.Trained))
	for a, tr := range r.Trained {
		for j, b := range r.Strategies {
			u := r.l1Cell(a, j)
			s := fmt.Sprintf("%.2f", u.Mean)
			if !OffDiagonal(tr, b) {
				s += "*"
			}
			z[a], txt[a] = append(z[a], u.Mean), append(txt[a], s)
		}
	}
	n := r.Sizes.PerBin[len(r.Sizes.PerBin)-1]
	g := plots.HeatmapGrid{Cols: 1, Width: 6 * vg.Inch, Height: 4 * vg.Inch, Maps: []plots.Heatmap{{
		Title: fmt.Sprintf("L1 to the UGD weights at n = %d (* trained with)", n), XLabel: "closed form (B)", YLabel: "trained with (A)",
		Z: z, Text: txt, Labels: r.Strategies, RowLabels: shortNames(r.Trained), Min: 0, Max: 2,
	}}}
	return g.Save(path)
}

// spreadIndices returns up to m indices of 0..n−1 spread evenly, first and
// last included.
func spreadIndices(n, m int) []int {
	if n <= m {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, m)
	for j := range out {
		out[j] = int(math.Round(float64(j) * float64(n-1) / float64(m-1)))
	}
	return out
}

// setTicksX puts the x axis' ticks at the given values, about seven of
// them labelled (powers of two of sample sizes on a log axis read better
// than gonum's powers of ten; bin distances on a linear one are integers).
func setTicksX(p *plots.Panel, xs []float64) {
	var ts plot.ConstantTicks
	every := (len(xs) + 6) / 7
	for i, x := range xs {
		t := plot.Tick{Value: x}
		if i%every == 0 || i == len(xs)-1 {
			t.Label = fmt.Sprint(x)
		}
		ts = append(ts, t)
	}
	p.X.Tick.Marker = ts
}
