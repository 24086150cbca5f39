// Notebook fig3: do the Pareto weights of the timesteps settle as each
// timestep's gradient is estimated from more samples?
//
// The paper (Hang et al., ICCV 2023, Fig. 3) solves the Pareto weighting of
// the timesteps (Eq. 11, by unconstrained gradient descent, UGD) from
// per-timestep gradients, and finds the weights unstable with few samples
// per timestep and stable with many. That is one reason it prefers a
// closed form (Min-SNR-γ) to solving the weights during training: solving
// them reliably would need many samples per timestep at every step.
//
// This program retells that analysis with the library, step by step:
//
//	go run ./notebooks/fig3                  # quick scale, a minute or two on 2 cores
//	go run ./notebooks/fig3 -scale smoke     # seconds, numbers are noise
//
// It writes fig3.png and report.md into -out (default out/notebooks/fig3).
// `paretodiff reproduce fig3` is the full version with CSV files and a
// verdict rule; this notebook shows the steps. It draws its own batches,
// so its numbers differ from the target's by the sampling noise the
// standard errors measure.
package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/plot/vg"
)

func main() { nb.Main("fig3", run) }

func run(ctx context.Context, o nb.Options) error {
	scale := o.Scale

	// Step 1: a trained model. We take the x0-prediction, Min-SNR-5 model of
	// the reproductions' strategy grid; TrainModel trains it once and
	// caches it (fig5 of `paretodiff reproduce` trains the same one).
	env := o.Env()
	sizes := reproduce.ModelSizesFor(scale)
	study := reproduce.Fig3SizesFor(scale) // bins, sample sizes, draws, λ
	model, err := reproduce.TrainModel(ctx, env, sizes.Model(sizes.Probes.Target, "min-snr:5", o.Seed, o.Seed))
	if err != nil {
		return err
	}

	// Step 2: its loss as a function of the weights. We look at the raw
	// weights (the ones the optimiser moves), with the model's schedule and
	// prediction target.
	ck, err := model.Checkpoint()
	if err != nil {
		return err
	}
	tc, err := ck.Config.TrainConfig()
	if err != nil {
		return err
	}
	net, err := ck.Network(env.Backend, false)
	if err != nil {
		return err
	}
	obj := diffusion.NewObjective(net, tc.Schedule, tc.Target)
	train, _, err := data.Open(sizes.Data, "")
	if err != nil {
		return err
	}

	// Step 3: the tasks. K equal-width timestep bins; each bin's task loss
	// is its mean unweighted x0-MSE. gram.Pass forms the exact K×K Gram
	// matrix G_kl = ⟨∇L_k, ∇L_l⟩ from ONE forward and backward pass over a
	// batch stratified into the bins.
	bins, err := weighting.ParseBins(study.Bins, tc.Schedule.LogSNRs())
	if err != nil {
		return err
	}
	bg, err := gram.NewPass(obj, gram.Config{})
	if err != nil {
		return err
	}
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(o.Seed, stream)) }

	// Step 4: λ. Eq. 11 adds λ‖w‖² so that the weights do not collapse on
	// the few bins with the smallest gradients; the paper gives no value.
	// We fix it once, as ρ times the median diagonal entry of a large
	// reference batch's Gram (a typical bin's squared gradient norm), so
	// that every batch below is solved with the same λ.
	ref, _, err := reproduce.DrawGram(bg, train, bins, study.Reference, rng(1<<20))
	if err != nil {
		return err
	}
	lambda := study.Rho * reproduce.MedianDiag(ref)
	refW, err := reproduce.ParetoWeights(ref, lambda, solvers.UGD)
	if err != nil {
		return err
	}

	// Step 5: the experiment. For each n, draw several independent batches
	// of n examples per bin, solve UGD's weights from each, and measure how
	// far apart the draws' weights are (mean pairwise L1 distance, 0 for
	// identical weights, 2 for disjoint ones, with a jackknife standard
	// error). SignalFractions says how much of each bin's squared gradient
	// norm is true gradient rather than sampling noise at that n.
	var spread, spreadSE, signal []float64
	weights := map[int][][]float64{}
	for i, n := range study.PerBin {
		var ws [][]float64
		for d := 0; d < study.Draws; d++ {
			g, _, err := reproduce.DrawGram(bg, train, bins, n, rng(uint64(i*study.Draws+d)))
			if err != nil {
				return err
			}
			r, err := reproduce.ParetoWeights(g, lambda, solvers.UGD)
			if err != nil {
				return err
			}
			ws = append(ws, r.W)
		}
		m, se := reproduce.Dispersion(ws)
		s, err := reproduce.SignalFractions(bg, train, bins, n, rng(1<<20+1+uint64(i)))
		if err != nil {
			return err
		}
		spread, spreadSE, signal = append(spread, m), append(spreadSE, se), append(signal, median(s))
		weights[n] = ws
		o.Logf("n = %4d: spread %.3f ± %.3f, median signal fraction %.2f", n, m, se, median(s))
	}

	// Step 6: the figure. Left, the draws' weights at the smallest and the
	// largest n next to the reference batch's and to Min-SNR-5 normalised
	// the same way (BinWeights: the weight training with min(SNR, 5) puts
	// on each bin's x0 loss). Right, the spread and the signal fraction
	// against n.
	minSNR := conflict.BinWeights(weighting.MinSNR{Gamma: 5}, nil, tc.Schedule, bins)
	centers := bins.Centers()
	var panels []*plots.Panel
	for _, n := range []int{study.PerBin[0], study.PerBin[len(study.PerBin)-1]} {
		// The draws' mean, lowest and highest weight in each bin.
		mean, lo, hi := make([]float64, bins.K()), make([]float64, bins.K()), make([]float64, bins.K())
		for k := range mean {
			lo[k], hi[k] = math.Inf(1), math.Inf(-1)
			for _, w := range weights[n] {
				mean[k] += w[k] / float64(len(weights[n]))
				lo[k], hi[k] = math.Min(lo[k], w[k]), math.Max(hi[k], w[k])
			}
		}
		l := plots.Lines{Title: fmt.Sprintf("UGD weights, n = %d per bin, %d draws", n, study.Draws), XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's x0 loss", Series: []plots.Series{
			{Name: "draws: mean (band: lowest–highest)", X: centers, Y: mean, Lo: lo, Hi: hi},
			{Name: "reference batch", X: centers, Y: refW.W}, {Name: "min-SNR-5", X: centers, Y: minSNR},
		}}
		p, err := l.Plot()
		if err != nil {
			return err
		}
		panels = append(panels, p)
	}
	ns := make([]float64, len(study.PerBin))
	for i, n := range study.PerBin {
		ns[i] = float64(n)
	}
	p, err := plots.Lines{Title: "stability against samples per bin", XLabel: "n (log scale)", LogX: true, Series: []plots.Series{
		{Name: "spread of the weights (mean pairwise L1)", X: ns, Y: spread},
		{Name: "median signal fraction of the bins' gradients", X: ns, Y: signal},
	}}.Plot()
	if err != nil {
		return err
	}
	panels = append(panels, p)
	if err := (plots.Grid{Rows: 1, Cols: 3, Width: 16 * vg.Inch, Height: 4.5 * vg.Inch, Panels: panels}).Save(o.Path("fig3.png")); err != nil {
		return err
	}

	// Step 7: what it says. Falls tells whether the spread falls from the
	// smallest to the largest n beyond twice its standard error, and which
	// steps up in n raise it beyond noise.
	overall, rises := reproduce.Falls(spread, spreadSE)
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook fig3: UGD weights against samples per bin\n\nScale `%s`, seed %d; model %s; %d bins; λ = %g × median G_kk = %.4g.\n\n", scale, o.Seed, model.Label(), bins.K(), study.Rho, lambda)
	b.WriteString("| n per bin | spread of the weights (± SE) | median signal fraction |\n|---|---|---|\n")
	for i, n := range study.PerBin {
		fmt.Fprintf(&b, "| %d | %.3f ± %.3f | %.2f |\n", n, spread[i], spreadSE[i], signal[i])
	}
	dist := 0.0
	for k := range minSNR {
		dist += math.Abs(refW.W[k] - minSNR[k])
	}
	fmt.Fprintf(&b, "\nFrom n = %d to %d the spread %s (steps up beyond noise: %d). The reference batch's UGD weights are %.2f (L1) from Min-SNR-5's.\n\n![fig3](fig3.png)\n",
		study.PerBin[0], study.PerBin[len(study.PerBin)-1],
		map[reproduce.Outcome]string{reproduce.Supports: "falls beyond noise", reproduce.Contradicts: "rises beyond noise", reproduce.WithinNoise: "changes within noise"}[overall], len(rises), dist)
	return o.WriteReport(b.String())
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}
