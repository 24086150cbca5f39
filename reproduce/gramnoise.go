package reproduce

import (
	"fmt"
	"math"
	"slices"

	"github.com/paretodiff/paretodiff/conflict"
	"gonum.org/v1/gonum/stat"
)

// probeEstimator is how the probes of this package estimate the bins'
// Gram: the split-half estimator (gram.Pass.RunSplit), whose diagonal
// carries no sampling noise (the plain Gram's diagonal is ‖g_k‖² plus
// tr Σ_k/n, an extra, bin-dependent λ in Eq. 11), projected to the nearest
// PSD matrix; every probe records each bin's signal fraction and how far
// the projection moved the estimate.
const probeEstimator = "split"

// GramNoise is how much of a probed model's Gram diagonal is signal at one
// probe: each bin's signal fraction s_k of the split-half estimator
// (conflict.Record.Signal: the share of the squared norm of a half bin's
// gradient, n/2 examples, that is the true gradient; near 1 signal, near 0
// or below noise), the mean over the draws, and the mean relative shift
// ‖P(Ĝ) − Ĝ‖_F/‖Ĝ‖_F of the PSD projection.
type GramNoise struct {
	Signal []float64
	Shift  float64
}

// NoiseAt returns the GramNoise of main probe i of a probed model (nil
// Signal when its probes used the plain estimator).
func (p *ProbeRun) NoiseAt(i int) GramNoise {
	return noiseOf(p.At(i))
}

// noiseOf averages the split-half statistics of one probe's draws.
func noiseOf(recs []conflict.Record) GramNoise {
	var n GramNoise
	for _, r := range recs {
		if r.Signal == nil || r.Projection == nil {
			return GramNoise{}
		}
		if n.Signal == nil {
			n.Signal = make([]float64, len(r.Signal))
		}
		for k, s := range r.Signal {
			n.Signal[k] += s / float64(len(recs))
		}
		n.Shift += r.Projection.Shift / float64(len(recs))
	}
	return n
}

// Median and Min are the median and smallest signal fraction over the
// bins (NaN without a split-half estimate; bins whose fraction is NaN, an
// empty bin, are left out).
func (n GramNoise) Median() float64 { return quantileOf(n.Signal, 0.5) }

// Min is the smallest signal fraction over the bins.
func (n GramNoise) Min() float64 { return quantileOf(n.Signal, 0) }

func quantileOf(v []float64, q float64) float64 {
	var x []float64
	for _, s := range v {
		if !math.IsNaN(s) {
			x = append(x, s)
		}
	}
	if len(x) == 0 {
		return math.NaN()
	}
	slices.Sort(x)
	return stat.Quantile(q, stat.Empirical, x, nil)
}

// noiseByModel is the GramNoise at the last main probe of every model of
// a cross-trained analysis: rows by training weighting, columns by seed.
type noiseByModel struct {
	Trained []string
	Seeds   []uint64
	Noise   [][]GramNoise
	Step    int
}

// signalTable is signal.csv: every model's signal fraction of every bin at
// the last probe (the mean over the draws), and the projection's shift.
func (t noiseByModel) signalTable(binLo func(k int) (lo, hi int)) Table {
	out := Table{Header: []string{"trained", "seed", "step", "bin", "t_lo", "t_hi", "signal", "projection_shift"}}
	for a, tr := range t.Trained {
		for s, sd := range t.Seeds {
			n := t.Noise[a][s]
			for k, v := range n.Signal {
				lo, hi := binLo(k)
				out.Add(tr, sd, t.Step, k, lo, hi, v, n.Shift)
			}
		}
	}
	return out
}

// section is the report's section on the Gram's noise: per training
// weighting the median and smallest signal fraction over the bins and
// the projection's shift, means over the seeds.
func (t noiseByModel) section(perBin int) Section {
	tab := Table{Header: []string{"trained with", "median s_k", "smallest s_k", "PSD projection moved Ĝ by"}}
	for a, tr := range t.Trained {
		var med, low, sh []float64
		for _, n := range t.Noise[a] {
			med, low, sh = append(med, n.Median()), append(low, n.Min()), append(sh, n.Shift)
		}
		tab.Add(ShortName(tr), fmt.Sprintf("%.2f", meanOf(med)), fmt.Sprintf("%.2f", meanOf(low)), fmt.Sprintf("%.1f%%", 100*meanOf(sh)))
	}
	return Section{
		Heading: fmt.Sprintf("How much of each G_kk is signal (step %d)", t.Step),
		Body: fmt.Sprintf("The probes estimate the Gram with split halves (each bin's %d examples in two halves A and B, Ĝ = ½(Ĝ_AB + Ĝ_BA)), whose diagonal has no sampling-noise term: the plain estimate's G_kk is ‖g_k‖² + tr Σ_k/n, an extra λ that differs between bins. Ĝ is projected to the nearest PSD matrix before it is solved. s_k = ⟨ĝ_A, ĝ_B⟩ / ½(‖ĝ_A‖² + ‖ĝ_B‖²) is the share of a half bin's squared gradient norm that is signal (1: all signal; 0 or below: noise), the mean over the draws; every bin's value is in signal.csv. Means over the seeds:\n\n%s",
			perBin, tab.Markdown()),
	}
}

// noiseOfGrid is the GramNoise of the probed models of a grid at their
// last main probe.
func noiseOfGrid(g *ModelGrid, trained []string, seeds []uint64) noiseByModel {
	t := noiseByModel{Trained: trained, Seeds: seeds}
	for _, a := range trained {
		var row []GramNoise
		for _, sd := range seeds {
			p := g.Probed(a, sd)
			last := len(p.Steps()) - 1
			row = append(row, p.NoiseAt(last))
			t.Step = p.Steps()[last]
		}
		t.Noise = append(t.Noise, row)
	}
	return t
}
