package reproduce

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
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Fig3Sizes are the settings of fig3 beyond the model's.
type Fig3Sizes struct {
	// Target and Strategy name the trained model (a model of the strategy
	// grid, shared with fig5 through the model cache).
	Target, Strategy string
	// Bins is K, the number of equal-width timestep bins (the tasks).
	Bins int
	// PerBin are the numbers n of examples per bin compared.
	PerBin []int
	// Draws is the number of independent batches at each n.
	Draws int
	// Reference is the examples per bin of the reference batch that sets λ
	// and whose weights are drawn for comparison.
	Reference int
	// Rho sets λ = Rho × the median of the reference Gram's diagonal.
	Rho float64
	// Method is the solver ("ugd", the paper's).
	Method string
}

var fig3Sizes = map[Scale]Fig3Sizes{
	Smoke:  {Target: "v", Strategy: "min-snr:5", Bins: 4, PerBin: []int{1, 2, 4}, Draws: 3, Reference: 8, Rho: 1, Method: "ugd"},
	Quick:  {Target: "v", Strategy: "min-snr:5", Bins: 20, PerBin: []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}, Draws: 8, Reference: 4096, Rho: 1, Method: "ugd"},
	Medium: {Target: "x0", Strategy: "min-snr:5", Bins: 20, PerBin: []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}, Draws: 8, Reference: 1024, Rho: 1, Method: "ugd"},
	Paper:  {Target: "v", Strategy: "min-snr:5", Bins: 20, PerBin: []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}, Draws: 8, Reference: 1024, Rho: 1, Method: "ugd"},
}

// Fig3SizesFor returns fig3's sizes at a scale.
func Fig3SizesFor(s Scale) Fig3Sizes { return fig3Sizes[s] }

// fig3Seed offsets fig3's batches from every training stream.
const fig3Seed = 3000

// SampleSizeResult is what SampleSizeStudy measures.
type SampleSizeResult struct {
	// Bins are the tasks and Lambda the λ of every solve.
	Bins   weighting.Bins
	Lambda float64
	// PerBin are the n compared; Weights[i][d] are the weights of draw d
	// at n = PerBin[i].
	PerBin  []int
	Weights [][][]float64
	// Dispersion[i] and DispersionSE[i] are the mean pairwise L1 distance
	// between the draws' weights at PerBin[i] and its standard error
	// (Dispersion).
	Dispersion, DispersionSE []float64
	// Signal[i] are the bins' signal fractions at n = PerBin[i]
	// (SignalFractions, one split batch).
	Signal [][]float64
	// RefDistance[i] is the mean L1 distance of the draws' weights at
	// PerBin[i] to Reference.
	RefDistance []float64
	// Reference are the weights of the reference batch.
	Reference []float64
}

// SampleSizeStudy is fig3's measurement on a network (the objective's): for
// every n in sizes.PerBin it draws sizes.Draws independent batches of n
// examples in each of sizes.Bins equal-width bins, forms each batch's
// exact K×K Gram in one pass (DrawGram), solves Eq. 11 with sizes.Method
// and λ = sizes.Rho × MedianDiag of a reference batch of sizes.Reference
// examples per bin (the same λ for every batch), and measures how far
// apart the draws' weights are (Dispersion) and how much of each bin's
// squared gradient norm is signal (SignalFractions). Batches come from
// rand.NewPCG(seed, stream): stream i·Draws + d for draw d at the i-th n,
// 1<<20 for the reference and 1<<20 + 1 + i for the signal fractions.
func SampleSizeStudy(obj *diffusion.Objective, data diffusion.Dataset, sizes Fig3Sizes, seed uint64) (*SampleSizeResult, error) {
	bins, err := weighting.EqualT(obj.Schedule.T(), sizes.Bins)
	if err != nil {
		return nil, err
	}
	method, err := solvers.ParseMethod(sizes.Method)
	if err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	if sizes.Draws < 3 {
		return nil, fmt.Errorf("reproduce: fig3 needs ≥ 3 draws for a standard error, got %d", sizes.Draws)
	}
	bg, err := gram.NewPass(obj, gram.Config{})
	if err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
	res := &SampleSizeResult{Bins: bins, PerBin: append([]int(nil), sizes.PerBin...)}
	gref, _, err := DrawGram(bg, data, bins, sizes.Reference, rng(1<<20))
	if err != nil {
		return nil, err
	}
	res.Lambda = sizes.Rho * MedianDiag(gref)
	ref, err := ParetoWeights(gref, res.Lambda, method)
	if err != nil {
		return nil, err
	}
	res.Reference = ref.W
	for i, n := range sizes.PerBin {
		var ws [][]float64
		for d := 0; d < sizes.Draws; d++ {
			g, _, err := DrawGram(bg, data, bins, n, rng(uint64(i*sizes.Draws+d)))
			if err != nil {
				return nil, err
			}
			r, err := ParetoWeights(g, res.Lambda, method)
			if err != nil {
				return nil, err
			}
			ws = append(ws, r.W)
		}
		m, se := Dispersion(ws)
		s, err := SignalFractions(bg, data, bins, n, rng(1<<20+1+uint64(i)))
		if err != nil {
			return nil, err
		}
		rd := 0.0
		for _, w := range ws {
			for k := range w {
				rd += math.Abs(w[k]-res.Reference[k]) / float64(len(ws))
			}
		}
		res.RefDistance = append(res.RefDistance, rd)
		res.Weights = append(res.Weights, ws)
		res.Dispersion = append(res.Dispersion, m)
		res.DispersionSE = append(res.DispersionSE, se)
		res.Signal = append(res.Signal, s)
	}
	return res, nil
}

// Verdict applies fig3's rule (Falls): agrees if the dispersion at the
// largest n is below that at the smallest beyond noise and no step up in n
// raises it beyond noise; partly agrees if it falls overall but some step
// raises it; inconclusive if the overall change is within noise; does not
// agree if it rises overall.
func (r *SampleSizeResult) Verdict() (Verdict, []int) {
	overall, rises := Falls(r.Dispersion, r.DispersionSE)
	switch {
	case overall == Supports && len(rises) == 0:
		return Agrees, rises
	case overall == Supports:
		return Partly, rises
	case overall == WithinNoise:
		return Inconclusive, rises
	}
	return Disagrees, rises
}

const fig3Rule = "with D_n the mean pairwise L1 distance between the draws' weight vectors at n examples per bin and SE_n its jackknife standard error over the draws: agrees if D falls from the smallest to the largest n by more than 2·√(SE² + SE²) and no doubling of n raises it by more than twice the standard error of that step; partly agrees if it falls overall but some step raises it beyond noise; inconclusive if the overall change is within noise; does not agree if it rises beyond noise"

// Fig3Result is what fig3 measures: the sample-size study of one trained
// model and the closed-form weightings it is compared with.
type Fig3Result struct {
	// Scale and Seed are the run's; Model and Sizes its sizes.
	Scale Scale
	Seed  uint64
	Model ModelSizes
	Sizes Fig3Sizes
	// Study is SampleSizeStudy of the model's raw weights.
	Study *SampleSizeResult
	// Strategies are the closed forms compared (PaperStrategies) and
	// Closed[j] the per-bin weights of Strategies[j] (conflict.BinWeights
	// on the model's schedule and the study's bins, summing to 1).
	Strategies []string
	Closed     [][]float64
}

// Fig3 computes fig3: it trains (or reuses) the model of Fig3Sizes'
// Target and Strategy, runs SampleSizeStudy on its raw weights with the
// training data, and normalises the closed forms to the study's bins.
func Fig3(ctx context.Context, env *Env) (*Fig3Result, error) {
	ms, fs := ModelSizesFor(env.Scale), fig3Sizes[env.Scale]
	runs, err := planFig3(env)
	if err != nil {
		return nil, err
	}
	env.Logf("fig3: model")
	m, err := TrainModel(ctx, env, runs[0].Spec)
	if err != nil {
		return nil, err
	}
	obj, train, err := fig3Objective(env, m, ms.Data)
	if err != nil {
		return nil, err
	}
	env.Logf("fig3: %d bins, n = %v examples per bin, %d draws each", fs.Bins, fs.PerBin, fs.Draws)
	study, err := SampleSizeStudy(obj, train, fs, env.Seed+fig3Seed)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Fig3Result{Scale: env.Scale, Seed: env.Seed, Model: ms, Sizes: fs, Study: study, Strategies: slices.Clone(PaperStrategies)}
	for _, spec := range res.Strategies {
		res.Closed = append(res.Closed, conflict.BinWeights(weighting.MustParse(spec), nil, obj.Schedule, study.Bins))
	}
	return res, nil
}

// planFig3 is fig3's run: the model of Fig3Sizes' Target and Strategy.
func planFig3(env *Env) ([]CacheRun, error) {
	ms, fs := ModelSizesFor(env.Scale), fig3Sizes[env.Scale]
	return []CacheRun{ModelRun(ms.Model(fs.Target, fs.Strategy, env.Seed, env.Seed))}, nil
}

// fig3Objective is the model's loss on its raw weights (the ones the
// optimiser updates), with its schedule and target, and the training data.
func fig3Objective(env *Env, m *TrainedModel, dataSpec string) (*diffusion.Objective, diffusion.Dataset, error) {
	ck, err := m.Checkpoint()
	if err != nil {
		return nil, nil, err
	}
	tc, err := ck.Config.TrainConfig()
	if err != nil {
		return nil, nil, err
	}
	net, err := ck.Network(env.BackendOrCPU(), false)
	if err != nil {
		return nil, nil, err
	}
	train, _, err := data.Open(dataSpec, env.MNISTDir)
	if err != nil {
		return nil, nil, err
	}
	return diffusion.NewObjective(net, tc.Schedule, tc.Target), train, nil
}

// closed returns the per-bin weights of a closed form of Strategies.
func (r *Fig3Result) closed(spec string) []float64 { return r.Closed[indexOf(r.Strategies, spec)] }

// Render writes weights.csv (every draw's weights at every n),
// stability.csv (dispersion, distance to the reference and signal
// fractions per n), reference.csv (the reference batch's weights next to
// the closed forms) and fig3.png into dir and returns the report.
func (r *Fig3Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	for _, t := range []struct {
		name string
		tab  Table
	}{{"weights.csv", r.weightsTable()}, {"stability.csv", r.stabilityTable()}, {"reference.csv", r.referenceTable()}} {
		if err := t.tab.WriteCSV(out.path(t.name)); err != nil {
			return nil, err
		}
	}
	if err := fig3Figure(r.Study, r.closed(fig5MinSNR), r.Sizes, out.path("fig3.png")); err != nil {
		return nil, err
	}
	return r.report(out.files), nil
}

// weightsTable is weights.csv: every draw's weight of every bin at every n.
func (r *Fig3Result) weightsTable() Table {
	res := r.Study
	wt := Table{Header: []string{"n", "draw", "bin", "t_lo", "t_hi", "weight"}}
	for i, n := range res.PerBin {
		for d, w := range res.Weights[i] {
			for k, v := range w {
				lo, hi := res.Bins.Range(k)
				wt.Add(n, d, k, lo, hi, v)
			}
		}
	}
	return wt
}

// stabilityTable is stability.csv: per n, the dispersion and its SE, the
// distance to the reference weights and the bins' signal fractions.
func (r *Fig3Result) stabilityTable() Table {
	res := r.Study
	st := Table{Header: []string{"n", "dispersion", "se", "distance_to_reference", "signal_median", "signal_min", "signal_max"}}
	for i, n := range res.PerBin {
		st.Add(n, res.Dispersion[i], res.DispersionSE[i], res.RefDistance[i], median(res.Signal[i]), minOf(res.Signal[i]), maxOf(res.Signal[i]))
	}
	return st
}

// referenceTable is reference.csv: per bin, the reference batch's weight
// and every closed form's.
func (r *Fig3Result) referenceTable() Table {
	res := r.Study
	rt := Table{Header: append([]string{"bin", "t_lo", "t_hi", "reference_weight"}, r.Strategies...)}
	for k := range res.Reference {
		lo, hi := res.Bins.Range(k)
		row := []any{k, lo, hi, res.Reference[k]}
		for j := range r.Strategies {
			row = append(row, r.Closed[j][k])
		}
		rt.Add(row...)
	}
	return rt
}

// finding is fig3's claim with the dispersion at every n and its verdict.
func (r *Fig3Result) finding() Finding {
	res := r.Study
	v, rises := res.Verdict()
	var parts []string
	for i, n := range res.PerBin {
		parts = append(parts, fmt.Sprintf("n = %d: %.3f ± %.3f", n, res.Dispersion[i], res.DispersionSE[i]))
	}
	last := len(res.PerBin) - 1
	measured := fmt.Sprintf("mean pairwise L1 distance between the %d draws' UGD weights (± jackknife SE): %s.", r.Sizes.Draws, strings.Join(parts, "; "))
	if len(rises) > 0 {
		var rs []string
		for _, i := range rises {
			rs = append(rs, fmt.Sprintf("%d → %d", res.PerBin[i], res.PerBin[i+1]))
		}
		measured += fmt.Sprintf(" It rises beyond noise from n = %s.", strings.Join(rs, ", "))
	}
	low := argMin(res.Dispersion)
	measured += fmt.Sprintf(" Lowest at n = %d (%.3f); from n = %d to %d it changes by %+.3f (noise margin %.3f).", res.PerBin[low], res.Dispersion[low],
		res.PerBin[0], res.PerBin[last], res.Dispersion[last]-res.Dispersion[0], 2*math.Hypot(res.DispersionSE[0], res.DispersionSE[last]))
	return Finding{
		Claim:    "The Pareto weights solved by UGD are unstable when each timestep's gradient is estimated from few samples and become stable as the number of samples per timestep grows (the paper's Fig. 3, which motivates a closed-form weighting: stable UGD weights need many samples per timestep at every step).",
		Measured: measured,
		Rule:     fig3Rule,
		Verdict:  v,
	}
}

// signalTable summarises the bins' signal fractions at every n.
func (r *Fig3Result) signalTable() Table {
	res := r.Study
	sig := Table{Header: []string{"n per bin", "median over bins", "lowest bin", "highest bin", "bins below 0.5"}}
	for i, n := range res.PerBin {
		below := 0
		for _, s := range res.Signal[i] {
			if s < 0.5 {
				below++
			}
		}
		sig.Add(n, fmt.Sprintf("%.2f", median(res.Signal[i])), fmt.Sprintf("%.2f", minOf(res.Signal[i])), fmt.Sprintf("%.2f", maxOf(res.Signal[i])), fmt.Sprintf("%d of %d", below, res.Bins.K()))
	}
	return sig
}

// closedDistances are the L1 distances of the reference batch's weights to
// every closed form, for prose.
func (r *Fig3Result) closedDistances() []string {
	var dists []string
	for j, spec := range r.Strategies {
		d := 0.0
		for k := range r.Closed[j] {
			d += math.Abs(r.Study.Reference[k] - r.Closed[j][k])
		}
		dists = append(dists, fmt.Sprintf("%s %.2f", spec, d))
	}
	return dists
}

// report builds fig3's report.
func (r *Fig3Result) report(files []string) *Report {
	ms, fs, K := r.Model, r.Sizes, r.Study.Bins.K()
	sig := r.signalTable()
	return &Report{
		Title:    "UGD weights against the number of samples per timestep bin",
		Paper:    "Fig. 3 of Hang et al. (ICCV 2023): the weights UGD solves (Eq. 11–13) from per-timestep gradients estimated with more and more samples per timestep",
		Sizes:    []any{ms, fs},
		Findings: []Finding{r.finding()},
		Sections: []Section{
			{Heading: "Setting", Body: fmt.Sprintf("The model is the %s-prediction, %s-weighted model of the strategy grid (seed %d, %d steps; the raw weights the optimiser updates, not the EMA). The tasks are %d equal-width timestep bins; each bin's task loss is its mean unweighted x0-MSE ‖x0 − x̂0‖²/D (the conflict package's default, the paper's per-timestep loss). For each n, %d independent batches of n examples per bin (data, timestep within the bin and noise all drawn afresh) give %d exact Gram matrices (one forward and backward pass each, gram.Pass), and %s solves min_{w∈Δ} wᵀ(G + λI)w for each. λ = %g × the median of the diagonal of a reference batch's Gram (%d examples per bin) = %.4g, the same for every batch, so that only the sampling of the Gram changes with n.",
				fs.Target, fs.Strategy, r.Seed, ms.Steps, K, fs.Draws, fs.Draws, fs.Method, fs.Rho, fs.Reference, r.Study.Lambda)},
			{Heading: "How much of each bin's gradient is signal", Body: "Each bin's gradient from n examples is its true gradient g_k plus sampling noise of variance tr Σ_k/n. Splitting a batch of 2n examples per bin into two halves A and B, s_k = ⟨ĝ_A, ĝ_B⟩ / ½(‖ĝ_A‖² + ‖ĝ_B‖²) estimates ‖g_k‖²/E‖ĝ_k‖², the fraction of the Gram's diagonal that is signal (one split per n, so each value is itself noisy). Weights can only settle once the Gram entries are mostly signal.\n\n" + sig.Markdown()},
			{Heading: "The weights", Body: fmt.Sprintf("fig3.png draws, for six of the n, each bin's mean weight over the draws (line) with the range of the draws (band), next to the weights from the reference batch and Min-SNR-5 normalised the same way (conflict.BinWeights: a closed form w(t) on the x0 loss puts W_k ∝ Σ_{t∈bin k} w(t) on bin k's mean x0 loss, summing to 1); its last panels draw the dispersion and the mean distance to the reference batch's weights against n (± 2 SE), and the signal fractions. L1 distance (0–2) of the reference batch's %s weights to the closed forms normalised the same way: %s.", fs.Method, strings.Join(r.closedDistances(), ", "))},
		},
		Limits: analysisLimits(r.Scale) + fmt.Sprintf(" Here the tasks are %d bins of %d timesteps, not single timesteps, and the model is a small MLP of 2-D data near the end of its training, where the mean gradient of each bin is small next to its per-example spread; the sample sizes at which weights settle depend on that ratio, so only the direction of the trend carries over to the paper's setting. λ is our choice (the paper gives none): a larger λ pulls the weights toward uniform and makes them stabler at every n.", K, ms.T/K),
		Files:  files,
	}
}

// fig3Figure draws the weights at six of the n (mean line, min–max band
// over the draws, the reference batch's weights and Min-SNR-5's), the
// dispersion against n and the signal fractions against n.
func fig3Figure(res *SampleSizeResult, minSNR []float64, fs Fig3Sizes, path string) error {
	idx := spreadIndices(len(res.PerBin), 6)
	ymax := math.Max(maxOf(res.Reference), maxOf(minSNR))
	for _, i := range idx {
		for _, w := range res.Weights[i] {
			ymax = math.Max(ymax, maxOf(w))
		}
	}
	grid := plots.Grid{Rows: 2, Cols: 4, Width: 20 * vg.Inch, Height: 9 * vg.Inch}
	for _, i := range idx {
		p, err := fig3WeightsPanel(res, i, minSNR, fs, ymax)
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	ns := make([]float64, len(res.PerBin))
	for i, n := range res.PerBin {
		ns[i] = float64(n)
	}
	for _, panel := range []func(*SampleSizeResult, []float64) (*plots.Panel, error){fig3DispersionPanel, fig3SignalPanel} {
		p, err := panel(res, ns)
		if err != nil {
			return err
		}
		setTicksX(p, ns)
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}

// fig3WeightsPanel draws the draws' weights at the i-th n: their mean and
// (band) range in every bin, next to the reference batch's weights and
// Min-SNR-5's, on a y axis up to 1.05 ymax.
func fig3WeightsPanel(res *SampleSizeResult, i int, minSNR []float64, fs Fig3Sizes, ymax float64) (*plots.Panel, error) {
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
		Title:  fmt.Sprintf("n = %d per bin: %s weights of %d draws (L1 spread %.2f)", res.PerBin[i], fs.Method, len(res.Weights[i]), res.Dispersion[i]),
		XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's x0 loss (sum 1)",
		Series: []plots.Series{
			{Name: "mean over draws (band: min–max)", X: centers, Y: mean, Lo: lo, Hi: hi},
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

// fig3DispersionPanel draws the dispersion (band: ± 2 SE) and the mean
// distance to the reference weights against n (ns).
func fig3DispersionPanel(res *SampleSizeResult, ns []float64) (*plots.Panel, error) {
	up, dn := make([]float64, len(ns)), make([]float64, len(ns))
	for i := range ns {
		up[i] = res.Dispersion[i] + 2*res.DispersionSE[i]
		dn[i] = math.Max(0, res.Dispersion[i]-2*res.DispersionSE[i])
	}
	p, err := plots.Lines{
		Title: "stability: spread of the weights between draws", XLabel: "examples per bin n (log scale)", YLabel: "mean L1 distance between weights (0–2)", LogX: true,
		Series: []plots.Series{{Name: "between draws (band: ± 2 SE)", X: ns, Y: res.Dispersion, Lo: dn, Hi: up}, {Name: "to the reference batch's weights", X: ns, Y: res.RefDistance}},
	}.Plot()
	if err != nil {
		return nil, err
	}
	p.Y.Min = 0
	return p, nil
}

// fig3SignalPanel draws the bins' signal fractions against n (ns): the
// median over the bins, the band from the lowest to the highest.
func fig3SignalPanel(res *SampleSizeResult, ns []float64) (*plots.Panel, error) {
	med, lo, hi := make([]float64, len(ns)), make([]float64, len(ns)), make([]float64, len(ns))
	for i, s := range res.Signal {
		med[i], lo[i], hi[i] = median(s), minOf(s), maxOf(s)
	}
	p, err := plots.Lines{
		Title: "signal fraction of the bins' gradients", XLabel: "examples per bin n (log scale)", YLabel: "signal share of the bins' squared gradient norms", LogX: true,
		Series: []plots.Series{{Name: "median over bins (band: lowest–highest bin)", X: ns, Y: med, Lo: lo, Hi: hi}, {Name: "1 (all signal)", X: []float64{ns[0], ns[len(ns)-1]}, Y: []float64{1, 1}, Reference: true}},
	}.Plot()
	if err != nil {
		return nil, err
	}
	return p, nil
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
