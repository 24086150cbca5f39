package reproduce

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
)

// Fig3Result is what fig3 measures: the sample-size study of the first
// seed's probed model of every training weighting, the closed-form
// weightings they are compared with, and the sensitivity studies on the
// other binnings.
type Fig3Result struct {
	// Scale and Seed are the run's; Model and Sizes its sizes.
	Scale Scale
	Seed  uint64
	Model ModelSizes
	Sizes Fig3Sizes
	// Trained are the training weightings (ProbedStrategies) and
	// Studies[a] the SampleSizeStudy of Trained[a]'s model of seed Seed
	// (its raw weights; every study draws the same batches).
	Trained []string
	Studies []*SampleSizeResult
	// Strategies are the closed forms compared (PaperStrategies) and
	// Closed[j] the per-bin weights of Strategies[j] (conflict.BinWeights
	// on the model's schedule and the study's bins, summing to 1).
	Strategies []string
	Closed     [][]float64
	// Binnings are the bin specs of the sensitivity (ProbeSizes.AllBinnings)
	// and BinningStudies[i][a] the study on Binnings[i] of Trained[a]'s
	// model, of the sizes' BinningPerBin, BinningDraws and
	// BinningReference.
	Binnings       []string
	BinningStudies [][]*SampleSizeResult
}

// Fig3 computes fig3: it trains (or reuses) the probed models
// (TrainProbedGrid of ProbedStrategies: fig5's models of the probe
// target), runs SampleSizeStudy on the raw weights of every training
// weighting's first-seed model with the training data, the two-point
// studies of every sensitivity binning on the same models, and
// normalises the closed forms to the study's bins.
func Fig3(ctx context.Context, env *Env) (*Fig3Result, error) {
	ms, fs := env.ModelSizes(), fig3Sizes[env.Scale]
	g, err := TrainProbedGrid(ctx, env, "fig3", ProbedStrategies)
	if err != nil {
		return nil, err
	}
	res := &Fig3Result{Scale: env.Scale, Seed: env.Seed, Model: ms, Sizes: fs, Trained: slices.Clone(ProbedStrategies),
		Strategies: slices.Clone(PaperStrategies), Binnings: ms.Probes.AllBinnings()}
	res.BinningStudies = make([][]*SampleSizeResult, len(res.Binnings))
	var sched *diffusion.Schedule
	for _, a := range res.Trained {
		obj, train, err := fig3Objective(env, g.Model(ms.Probes.Target, a, env.Seed), ms.Data)
		if err != nil {
			return nil, err
		}
		sched = obj.Schedule
		env.Logf("fig3: model of %s: %s, n = %v examples per bin, %d draws each", ShortName(a), fs.Bins, fs.PerBin, fs.Draws)
		study, err := SampleSizeStudy(obj, train, fs, env.Seed+fig3Seed)
		if err != nil {
			return nil, err
		}
		res.Studies = append(res.Studies, study)
		for i, b := range res.Binnings {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			st, err := SampleSizeStudy(obj, train, fs.binningSizes(b), env.Seed+fig3Seed)
			if err != nil {
				return nil, err
			}
			res.BinningStudies[i] = append(res.BinningStudies[i], st)
		}
	}
	res.Closed = closedWeights(res.Strategies, sched, res.Studies[0].Bins)
	return res, nil
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

// Render writes weights.csv (every draw's weights at every n of every
// model), stability.csv (dispersion, distance to the reference and signal
// fractions per model and n), reference.csv (the reference batches'
// weights next to the closed forms), cross.csv (the L1 distances of the
// closed forms to every model's settled weights), sensitivity.csv (the
// primary comparison per binning), fig3.png and cross.png into dir and
// returns the report.
func (r *Fig3Result) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	for _, t := range []struct {
		name string
		tab  Table
	}{{"weights.csv", r.weightsTable()}, {"stability.csv", r.stabilityTable()}, {"reference.csv", r.referenceTable()}, {"cross.csv", r.crossTable()}, {"sensitivity.csv", r.sensitivityCSV()}} {
		if err := t.tab.WriteCSV(out.path(t.name)); err != nil {
			return nil, err
		}
	}
	if err := r.figure(out.path("fig3.png")); err != nil {
		return nil, err
	}
	if err := r.crossFigure(out.path("cross.png")); err != nil {
		return nil, err
	}
	return r.report(out.files), nil
}

// weightsTable is weights.csv: every draw's weight of every bin at every n
// of every model.
func (r *Fig3Result) weightsTable() Table {
	wt := Table{Header: []string{"trained", "n", "draw", "bin", "t_lo", "t_hi", "weight"}}
	for a, res := range r.Studies {
		for i, n := range res.PerBin {
			for d, w := range res.Weights[i] {
				for k, v := range w {
					lo, hi := res.Bins.Range(k)
					wt.Add(r.Trained[a], n, d, k, lo, hi, v)
				}
			}
		}
	}
	return wt
}

// stabilityTable is stability.csv: per model and n, the dispersion and its
// SE, the distance to the reference weights and the bins' signal
// fractions.
func (r *Fig3Result) stabilityTable() Table {
	st := Table{Header: []string{"trained", "n", "dispersion", "se", "distance_to_reference", "signal_median", "signal_min", "signal_max"}}
	for a, res := range r.Studies {
		for i, n := range res.PerBin {
			st.Add(r.Trained[a], n, res.Dispersion[i], res.DispersionSE[i], res.RefDistance[i], median(res.Signal[i]), minOf(res.Signal[i]), maxOf(res.Signal[i]))
		}
	}
	return st
}

// referenceTable is reference.csv: per model and bin, the reference
// batch's weight and every closed form's.
func (r *Fig3Result) referenceTable() Table {
	rt := Table{Header: append([]string{"trained", "bin", "t_lo", "t_hi", "reference_weight"}, r.Strategies...)}
	for a, res := range r.Studies {
		for k := range res.Reference {
			lo, hi := res.Bins.Range(k)
			row := []any{r.Trained[a], k, lo, hi, res.Reference[k]}
			for j := range r.Strategies {
				row = append(row, r.Closed[j][k])
			}
			rt.Add(row...)
		}
	}
	return rt
}

// l1Values are, for Trained[a]'s model, the L1 distance of every closed
// form to each draw's weights at the largest n: out[0][d][j] (one seed).
func (r *Fig3Result) l1Values(a int) [][][]float64 {
	res := r.Studies[a]
	last := len(res.PerBin) - 1
	var out [][]float64
	for _, w := range res.Weights[last] {
		row := make([]float64, len(r.Closed))
		for j, c := range r.Closed {
			for k := range w {
				row[j] += math.Abs(w[k] - c[k])
			}
		}
		out = append(out, row)
	}
	return [][][]float64{out}
}

// l1Cell is the mean L1 distance of closed form j to the settled weights
// of Trained[a]'s model, over its draws.
func (r *Fig3Result) l1Cell(a, j int) Units {
	v := r.l1Values(a)[0]
	x := make([]float64, len(v))
	for d := range v {
		x[d] = v[d][j]
	}
	return UnitMean([][]float64{x})
}

// crossTable is cross.csv: the L1 distance of every closed form to every
// model's UGD weights at the largest n.
func (r *Fig3Result) crossTable() Table {
	t := Table{Header: []string{"trained", "n", "weighting", "diagonal", "l1", "se", "units"}}
	for a, tr := range r.Trained {
		n := r.Studies[a].PerBin[len(r.Studies[a].PerBin)-1]
		for j, b := range r.Strategies {
			u := r.l1Cell(a, j)
			t.Add(tr, n, b, !OffDiagonal(tr, b), u.Mean, u.SE, u.Unit)
		}
	}
	return t
}

// combineVerdicts combines the verdicts of the training weightings'
// studies: their common verdict if they share one, does not agree if none
// agrees or partly agrees and some does not agree, partly agrees
// otherwise.
func combineVerdicts(vs []Verdict) Verdict {
	n := map[Verdict]int{}
	for _, v := range vs {
		n[v]++
	}
	switch {
	case len(n) == 1:
		return vs[0]
	case n[Agrees] == 0 && n[Partly] == 0 && n[Disagrees] > 0:
		return Disagrees
	}
	return Partly
}

// combineRule states combineVerdicts for the reports.
const combineRule = "overall: the training weightings' common verdict if they share one, does not agree if none agrees or partly agrees and some does not agree, partly agrees otherwise"

// sensitivityOutcome is the two-point comparison of a sensitivity study:
// Falls' overall outcome between its smallest and largest n.
func sensitivityOutcome(st *SampleSizeResult) Outcome {
	o, _ := Falls(st.Dispersion, st.DispersionSE)
	return o
}

// sensitivityCSV is sensitivity.csv: the sensitivity studies' dispersions
// at their two n.
func (r *Fig3Result) sensitivityCSV() Table {
	t := Table{Header: []string{"bins", "k", "trained", "n_small", "dispersion_small", "se_small", "n_large", "dispersion_large", "se_large", "outcome"}}
	for i, b := range r.Binnings {
		for a, st := range r.BinningStudies[i] {
			last := len(st.PerBin) - 1
			t.Add(b, st.Bins.K(), r.Trained[a], st.PerBin[0], st.Dispersion[0], st.DispersionSE[0], st.PerBin[last], st.Dispersion[last], st.DispersionSE[last], fallWords[sensitivityOutcome(st)])
		}
	}
	return t
}

// primaryTest is fig3's primary test as declared before measuring.
func (r *Fig3Result) primaryTest() string {
	fs := r.Sizes
	return fmt.Sprintf("On the model of each of the %d training weightings (%s; the first seed's, at the end of training), with %s bins, n = %v examples per bin, %d draws per n and λ = %g × the median G_kk of a reference batch of %d per bin: %s. Each training weighting's study gets that verdict, and the %s. The findings below it are secondary.",
		len(r.Trained), strings.Join(shortNames(r.Trained), ", "), fs.Bins, fs.PerBin, fs.Draws, fs.Rho, fs.Reference, fig3Rule, combineRule)
}

// primaryFinding is fig3's claim on every training weighting's model.
func (r *Fig3Result) primaryFinding() Finding {
	var vs []Verdict
	var parts []string
	for a, res := range r.Studies {
		v, rises := res.Verdict()
		vs = append(vs, v)
		last := len(res.PerBin) - 1
		p := fmt.Sprintf("%s: %.3f ± %.3f at n = %d → %.3f ± %.3f at n = %d, lowest at n = %d (%s", ShortName(r.Trained[a]), res.Dispersion[0], res.DispersionSE[0], res.PerBin[0],
			res.Dispersion[last], res.DispersionSE[last], res.PerBin[last], res.PerBin[argMin(res.Dispersion)], v)
		if len(rises) > 0 {
			var rs []string
			for _, i := range rises {
				rs = append(rs, fmt.Sprintf("%d → %d", res.PerBin[i], res.PerBin[i+1]))
			}
			p += "; rises beyond noise from n = " + strings.Join(rs, ", ")
		}
		parts = append(parts, p+")")
	}
	return Finding{
		Role:     RolePrimary,
		Claim:    "The Pareto weights solved by UGD are unstable when each timestep's gradient is estimated from few samples and become stable as the number of samples per timestep grows (the paper's Fig. 3, which motivates a closed-form weighting: stable UGD weights need many samples per timestep at every step), on models trained with each weighting.",
		Measured: fmt.Sprintf("mean pairwise L1 distance between the %d draws' UGD weights (± jackknife SE): %s.", r.Sizes.Draws, strings.Join(parts, "; ")),
		Rule:     "as declared above",
		Verdict:  combineVerdicts(vs),
	}
}

// closenessFinding is whether min-SNR-5's weights are the closed form
// closest to the settled UGD weights off the diagonal.
func (r *Fig3Result) closenessFinding() Finding {
	var cs []CrossCase
	var lines []string
	for a, tr := range r.Trained {
		if !OffDiagonal(tr, fig5MinSNR) {
			continue
		}
		c := CompareMinSNR(tr, r.Strategies, r.l1Values(a))
		cs = append(cs, c)
		lines = append(lines, c.Line(func(x float64) string { return fmt.Sprintf("%.2f", x) }))
	}
	v, n := casesVerdict(cs)
	last := r.Sizes.PerBin[len(r.Sizes.PerBin)-1]
	return Finding{
		Role:     RoleSecondary,
		Claim:    "The settled UGD weights lie close to min-SNR-5's (normalised the same way), closer than to the other closed forms', on models trained with the other weightings.",
		Measured: fmt.Sprintf("L1 distance (0–2) of each closed form to the draws' UGD weights at n = %d (mean over the draws): min-SNR-5 the closest eligible closed form beyond noise on %d of %d training weightings, farther beyond noise on %d, within noise on %d: %s. %s", last, n[Supports], len(cs), n[Contradicts], n[WithinNoise], strings.Join(lines, "; "), stillClosest(cs)),
		Rule:     crossRule(fmt.Sprintf("L1 distance to each draw's UGD weights at n = %d", last)) + " (one seed: the draws are the units); " + verdictRule,
		Verdict:  v,
	}
}

// signalTable summarises the bins' signal fractions at every n: the median
// over the bins of each training weighting's model.
func (r *Fig3Result) signalTable() Table {
	sig := Table{Header: append([]string{"n per bin"}, shortNames(r.Trained)...)}
	for i, n := range r.Sizes.PerBin {
		row := []any{n}
		for _, res := range r.Studies {
			row = append(row, fmt.Sprintf("%.2f", median(res.Signal[i])))
		}
		sig.Add(row...)
	}
	return sig
}

// crossMarkdown is the table of L1 distances of the closed forms to every
// model's settled weights.
func (r *Fig3Result) crossMarkdown() Table {
	t := Table{Header: append([]string{"trained with (A)"}, r.Strategies...)}
	for a, tr := range r.Trained {
		row := []any{ShortName(tr)}
		for j, b := range r.Strategies {
			u := r.l1Cell(a, j)
			c := fmt.Sprintf("%.2f ± %.2f", u.Mean, u.SE)
			if !OffDiagonal(tr, b) {
				c = "*" + c + "*"
			}
			row = append(row, c)
		}
		t.Add(row...)
	}
	return t
}

// sensitivityMarkdown is the table of the primary comparison per binning.
func (r *Fig3Result) sensitivityMarkdown() Table {
	fs := r.Sizes
	t := Table{Header: []string{"bins", "K", fmt.Sprintf("falls / rises / within noise (n = %d → %d)", fs.BinningPerBin[0], fs.BinningPerBin[len(fs.BinningPerBin)-1]), "verdict"}}
	for i, b := range r.Binnings {
		var outs []Outcome
		n := map[Outcome]int{}
		for _, st := range r.BinningStudies[i] {
			o := sensitivityOutcome(st)
			outs = append(outs, o)
			n[o]++
		}
		t.Add(b, r.BinningStudies[i][0].Bins.K(), fmt.Sprintf("%d / %d / %d", n[Supports], n[Contradicts], n[WithinNoise]), string(VerdictOf(outs...)))
	}
	return t
}

// report builds fig3's report.
func (r *Fig3Result) report(files []string) *Report {
	ms, fs := r.Model, r.Sizes
	K := r.Studies[0].Bins.K()
	sig, cross, sens := r.signalTable(), r.crossMarkdown(), r.sensitivityMarkdown()
	return &Report{
		Title:    "UGD weights against the number of samples per timestep bin, on models trained with each weighting",
		Paper:    "Fig. 3 of Hang et al. (ICCV 2023): the weights UGD solves (Eq. 11–13) from per-timestep gradients estimated with more and more samples per timestep",
		Primary:  r.primaryTest(),
		Sizes:    []any{ms, fs},
		Findings: []Finding{r.primaryFinding(), r.closenessFinding()},
		Sections: []Section{
			{Heading: "Setting", Body: fmt.Sprintf("The models are the %s-prediction models of the strategy grid trained with each of %s (seed %d, %d steps; the raw weights the optimiser updates, not the EMA). The tasks are %d timestep bins (%s); each bin's task loss is its mean unweighted x0-MSE ‖x0 − x̂0‖²/D (the conflict package's default, the paper's per-timestep loss). For each n, %d independent batches of n examples per bin (data, timestep within the bin and noise all drawn afresh, the same batches for every model) give %d exact Gram matrices (one forward and backward pass each, gram.Pass), and %s solves min_{w∈Δ} wᵀ(G + λI)w for each. λ = %g × the median of the diagonal of a reference batch's Gram (%d examples per bin), one λ per model for every batch, so that only the sampling of the Gram changes with n.",
				ms.Probes.Target, strings.Join(shortNames(r.Trained), ", "), r.Seed, ms.Steps, K, fs.Bins, fs.Draws, fs.Draws, fs.Method, fs.Rho, fs.Reference)},
			{Heading: "How much of each bin's gradient is signal", Body: "Each bin's gradient from n examples is its true gradient g_k plus sampling noise of variance tr Σ_k/n. Splitting a batch of 2n examples per bin into two halves A and B, s_k = ⟨ĝ_A, ĝ_B⟩ / ½(‖ĝ_A‖² + ‖ĝ_B‖²) estimates ‖g_k‖²/E‖ĝ_k‖², the fraction of the Gram's diagonal that is signal (one split per n, so each value is itself noisy). Weights can only settle once the Gram entries are mostly signal. Median over the bins, by training weighting:\n\n" + sig.Markdown()},
			{Heading: "Distance of the closed forms to the settled weights (rows: training weighting A)", Body: fmt.Sprintf("L1 distance (0–2) of each closed form's weights (conflict.BinWeights: a closed form w(t) on the x0 loss puts W_k ∝ Σ_{t∈bin k} w(t) on bin k's mean x0 loss, summing to 1) to the draws' UGD weights at n = %d, mean ± SE over the draws; *italic*: the diagonal. cross.png draws it as a heat map.\n\n", fs.PerBin[len(fs.PerBin)-1]) + cross.Markdown()},
			{Heading: "Sensitivity to the bins", Body: fmt.Sprintf("The primary test's comparison of the smallest and the largest n (its rule without the step-by-step part) on every binning, on the same models: n = %d and %d examples per bin, %d draws, a reference batch of %d per bin, no signal fractions, so each binning costs one small study per model. %s\n\n", fs.BinningPerBin[0], fs.BinningPerBin[len(fs.BinningPerBin)-1], fs.BinningDraws, fs.BinningReference, binningNote) + sens.Markdown()},
			{Heading: "The weights", Body: "fig3.png draws, for each training weighting, each bin's mean UGD weight over the draws at the largest n (line) with the range of the draws (band), next to the reference batch's weights and min-SNR-5's; its last panels draw the dispersion and the median signal fraction against n, a line per training weighting."},
		},
		Limits: analysisLimits(r.Scale, r.Model) + fmt.Sprintf(" Here the tasks are %d bins of %d timesteps, not single timesteps, and the models are studied at the end of their training, where the mean gradient of each bin is small next to its per-example spread; the sample sizes at which weights settle depend on that ratio, so only the direction of the trend carries over to the paper's setting. The studies use the first seed's models (their draws are the units). λ is our choice (the paper gives none): a larger λ pulls the weights toward uniform and makes them stabler at every n.", K, ms.T/K),
		Files:  files,
	}
}
