package demo

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/internal/prose"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// Markdown writes the demo's report: every section explains one result in
// plain words with the numbers of this run; every comparison in it
// ("grows", "closest", "lowers every bin") is decided from the numbers.
// Its list of files is Files (set by Render).
func (r *Result) Markdown() string {
	var b strings.Builder
	r.writeHead(&b)
	sections := []struct {
		heading string
		body    func(*strings.Builder)
	}{
		{"1. The weightings (weights.png)", r.writeWeights},
		{"2. Training (training.png)", r.writeTraining},
		{"3. Gradient conflict between timesteps (conflict/cosine.png, conflict/stats.png)", r.writeConflict},
		{"4. Pareto weights (pareto.png, pareto.csv)", r.writePareto},
		{"5. Pareto weights against Min-SNR-5 and the other closed forms", r.writeComparison},
		{"6. Samples (samples.png, quality.csv)", r.writeSamples},
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "## %s\n\n", s.heading)
		s.body(&b)
		b.WriteString("\n")
	}
	r.writeLimits(&b)
	r.writeFiles(&b)
	return b.String()
}

// writeHead writes the title, what the demo is, the summary and the
// settings.
func (r *Result) writeHead(b *strings.Builder) {
	sz := r.Sizes
	fmt.Fprintf(b, "# paretodiff demo: from a training run to Pareto weights\n\n")
	fmt.Fprintf(b, "Written by `paretodiff demo` from its own measurements: seed %d, device %s, wall time %s. "+
		"It trains a small diffusion model, measures how the gradients of its timesteps conflict, solves the "+
		"Pareto-optimal weighting of the timesteps (Hang et al., ICCV 2023, §3.3) and compares it with Min-SNR-5 and the "+
		"other classical weightings. The same seed gives the same numbers (wall times aside).\n\n",
		r.Seed, r.Device, r.Elapsed.Round(time.Second))

	b.WriteString("## In short\n\n")
	for _, l := range r.summary() {
		fmt.Fprintf(b, "- %s\n", l)
	}
	b.WriteString("\n## Settings\n\n")
	b.WriteString(reproduce.SizesTable(sz.Model))
	b.WriteString("\n")
	b.WriteString(reproduce.SizesTable(struct {
		Target, Strategy          string
		Bins, PerBin, ProbeEvery  int
		RelativeLambda, AbsLambda float64
	}{sz.Target, sz.Strategy, sz.Bins, sz.PerBin, sz.ProbeEvery, sz.Lambda, r.Lambda}))
	b.WriteString("\n")
}

// writeLimits says what one small run cannot show and where to go on.
func (r *Result) writeLimits(b *strings.Builder) {
	b.WriteString("## What this demo does not show\n\n")
	fmt.Fprintf(b, "It is one small model, one seed and a 2-D toy distribution: it shows the toolkit's analyses end to end and what "+
		"they say about this model, not the size of any effect on images. The Gram matrix comes from a fixed batch of %d "+
		"examples per bin, so gradient noise adds to its diagonal, and a probe measures first-order effects at one point of "+
		"training. The paper's claims, each with a verdict computed from the numbers, are the targets of `paretodiff reproduce`; "+
		"`paretodiff conflict --checkpoint DIR/%s` and `paretodiff eval --checkpoint DIR/%s` probe and evaluate the trained model further.\n\n",
		r.Sizes.PerBin, ModelDir, ModelDir)
}

// writeFiles links every file but the report, figures with their image.
func (r *Result) writeFiles(b *strings.Builder) {
	b.WriteString("## Files\n\n")
	for _, f := range r.Files {
		if f == ReportFile {
			continue
		}
		if strings.HasSuffix(f, ".png") {
			fmt.Fprintf(b, "- [%s](%s)\n\n  ![%s](%s)\n", f, f, f, f)
		} else {
			fmt.Fprintf(b, "- [%s](%s)\n", f, f)
		}
	}
}

// summary is the "In short" list.
func (r *Result) summary() []string {
	var out []string
	q := r.Quality
	tm := stat.Mean(q.Trained, nil)
	out = append(out, fmt.Sprintf("Training %d steps took %s; the samples' %s to real data %s from %s (untrained) to %s (real data against real data: %s).",
		r.Sizes.Model.Steps, r.TrainTime.Round(time.Second), q.Metric, prose.Change(q.Untrained, tm), prose.F3(q.Untrained), prose.F3(tm), prose.F3(q.Floor)))
	f := r.Final()
	pairs := r.Bins.K() * (r.Bins.K() - 1) / 2
	out = append(out, fmt.Sprintf("After training, %s of the %d pairs of timestep bins have conflicting gradients (negative cosine); the most negative cosine is %s.",
		prose.Pct(f.Stats.NegativeFraction), pairs, prose.F3(f.Stats.MinCosine)))
	if fw := r.Weighting("fw"); fw != nil {
		k := floats.MaxIdx(fw.W)
		out = append(out, fmt.Sprintf("The Pareto weights without λ put %s of the weight on timesteps %s; with λ they spread over %s effective bins.",
			prose.Pct(fw.W[k]), r.binName(k), prose.F3(effectiveBins(r.Weighting("fw"+lambdaSuffix).W))))
	}
	if m := r.Weighting("min-snr:5"); m != nil {
		out = append(out, fmt.Sprintf("Min-SNR-5's Eq. 11 objective (with λ) is %s× the optimum, %s; by distance to the Pareto weights it is %s.",
			prose.F3(m.RatioL), r.rankPhrase(m.Name, func(w Weighting) float64 { return w.RatioL }), r.closestPhrase(m.Name)))
	}
	return out
}

// writeWeights is section 1: what a weighting is and how the four closed
// forms differ on this schedule.
func (r *Result) writeWeights(b *strings.Builder) {
	sched := r.Schedule
	T := sched.T()
	capT := -1
	for t := 0; t < T; t++ {
		if sched.SNR(t) >= weighting.DefaultGamma {
			capT = t
		}
	}
	target, _ := weighting.ParseTarget(r.Sizes.Target)
	conv := map[weighting.Target]string{weighting.Eps: "divide it by SNR", weighting.X0: "use it as it is", weighting.V: "divide it by SNR + 1"}[target]
	mid := T / 2
	fmt.Fprintf(b, "A weighting multiplies the loss of each timestep t by w(t). Every strategy is stated on the x0 loss ‖x0 − x̂0‖² and converted to the model's prediction target (for %s-prediction, %s). "+
		"On the %s schedule the signal-to-noise ratio SNR(t) = ᾱ_t/(1 − ᾱ_t) falls from %s at t = 0 to %s at t = %d. "+
		"Constant weighting gives every timestep's x0 loss the same weight; SNR weighting (the plain ε-MSE of DDPM) weights t = 0 %s times more than t = %d; "+
		"max-SNR-1 is SNR floored at 1; Min-SNR-5 follows SNR where SNR < 5 and caps it at 5, which it does for t ≤ %d (the %d least noisy steps). "+
		"weights.png draws all four for each prediction target.\n",
		target, conv, sched.Name(), prose.F3(sched.SNR(0)), prose.F3(sched.SNR(T-1)), T-1, prose.F3(sched.SNR(0)/sched.SNR(mid)), mid, capT, capT+1)
}

// writeTraining is section 2: the run and its losses, then Fig. 6's
// x0-MSE by timestep range.
func (r *Result) writeTraining(b *strings.Builder) {
	m := r.Sizes.Model
	first, last := r.Records[0], r.Records[len(r.Records)-1]
	var firstLoss float64
	for _, rec := range r.Records {
		if !math.IsNaN(rec.Loss) {
			firstLoss = rec.Loss
			break
		}
	}
	fmt.Fprintf(b, "A residual MLP with %d parameters (width %d, %d blocks) learned to predict %s from noised points of the %s distribution: "+
		"%d steps of %d examples, AdamW at %g with %d warm-up steps, gradient clipping at %g, EMA %g, in %s (%s steps/s, probes included). "+
		"The weighted training loss %s from %s (mean over the first %d steps) to %s (the last %d); on held-out examples it %s from %s before training to %s.\n\n",
		r.Params, m.Width, m.Depth, r.Sizes.Target, strings.TrimPrefix(m.Data, "toy:"), m.Steps, m.Batch, m.LR, m.Warmup, m.ClipNorm, m.EMA,
		r.TrainTime.Round(time.Second), prose.F3(float64(m.Steps)/r.TrainTime.Seconds()),
		prose.Change(firstLoss, last.Loss), prose.F3(firstLoss), m.EvalEvery, prose.F3(last.Loss), m.EvalEvery,
		prose.Change(first.EvalLoss, last.EvalLoss), prose.F3(first.EvalLoss), prose.F3(last.EvalLoss))
	r.writeX0MSE(b, first, last)
}

// writeX0MSE is the Fig. 6 part of the training section: the x0-MSE by
// timestep range before and after training, and what it says.
func (r *Result) writeX0MSE(b *strings.Builder, first, last run.Record) {
	m := r.Sizes.Model
	fmt.Fprintf(b, "The paper's Fig. 6 follows the unweighted x0-MSE (1/D)‖x0 − x̂0‖² in four timestep ranges; here it is measured on %d fixed held-out examples per range. "+
		"For reference, always predicting the data mean scores the data variance, %s.\n\n", m.EvalSize, prose.F3(r.DataVar))
	t := reproduce.Table{Header: []string{"timesteps", "untrained", "trained", "trained / data variance", "change"}}
	fin := make([]float64, len(r.RangeLabels))
	drop := make([]float64, len(r.RangeLabels))
	for i := range r.RangeLabels {
		v0, v1 := first.X0MSE[i], last.X0MSE[i]
		fin[i], drop[i] = v1, (v0-v1)/v0
		t.Add(r.RangeLabels[i], prose.F3(v0), prose.F3(v1), prose.F3(v1/r.DataVar), fmt.Sprintf("%+.0f%%", -100*drop[i]))
	}
	b.WriteString(t.Markdown())
	b.WriteString("\n")
	n := len(fin)
	if n == 0 {
		return
	}
	increasing := sort.Float64sAreSorted(fin)
	if increasing {
		fmt.Fprintf(b, "The error grows with the noise level, from %s at %s to %s at %s: the noisier x_t is, the less it says about x0. ", prose.F3(fin[0]), r.RangeLabels[0], prose.F3(fin[n-1]), r.RangeLabels[n-1])
	} else {
		fmt.Fprintf(b, "The error does not grow steadily with the noise level here (%s at %s, %s at %s). ", prose.F3(fin[0]), r.RangeLabels[0], prose.F3(fin[n-1]), r.RangeLabels[n-1])
	}
	ratio := fin[n-1] / r.DataVar
	if ratio > 0.5 {
		fmt.Fprintf(b, "At %s it is %s of the data variance: there the best any model can do is close to predicting the mean, so that range has little left to learn. ", r.RangeLabels[n-1], prose.Pct(ratio))
	} else {
		fmt.Fprintf(b, "Even at %s it is only %s of the data variance: the model still recovers much of x0 from x_t there. ", r.RangeLabels[n-1], prose.Pct(ratio))
	}
	hi, lo := floats.MaxIdx(drop), floats.MinIdx(drop)
	switch {
	case drop[lo] >= 0:
		fmt.Fprintf(b, "Training lowered the x0-MSE most at %s (by %s) and least at %s (by %s).\n", r.RangeLabels[hi], prose.Pct(drop[hi]), r.RangeLabels[lo], prose.Pct(drop[lo]))
	case drop[hi] > 0:
		fmt.Fprintf(b, "Training lowered the x0-MSE most at %s (by %s) but raised it at %s (by %s).\n", r.RangeLabels[hi], prose.Pct(drop[hi]), r.RangeLabels[lo], prose.Pct(-drop[lo]))
	default:
		fmt.Fprintf(b, "Training lowered the x0-MSE in no range; it rose least at %s (by %s).\n", r.RangeLabels[hi], prose.Pct(-drop[hi]))
	}
}

// writeConflict is section 3: what a probe measures and how the bins'
// gradients conflict after training, then over training.
func (r *Result) writeConflict(b *strings.Builder) {
	K := r.Bins.K()
	f := r.Final()
	fmt.Fprintf(b, "Each timestep is a task. The demo splits the %d timesteps into %d bins of equal width (%s) and, before training and every %d steps, "+
		"takes the same batch of %d examples per bin, runs one forward and backward pass and forms the exact %d×%d Gram matrix G_kl = ⟨∇L_k, ∇L_l⟩ "+
		"of the bins' loss gradients over all %d parameters (L_k: the bin's mean unweighted x0-MSE). Its cosine C_kl = G_kl/√(G_kk·G_ll) says whether two bins "+
		"agree (C > 0: a small step that lowers one bin's loss lowers the other's too, to first order) or conflict (C < 0: it raises the other's).\n\n",
		r.Bins.T(), K, strings.Join(r.binNames(), ", "), r.Sizes.ProbeEvery, r.Sizes.PerBin, K, K, r.Params)

	pairs := K * (K - 1) / 2
	neg := int(math.Round(f.Stats.NegativeFraction * float64(pairs)))
	ci, cj := mostNegative(f)
	fmt.Fprintf(b, "After training (step %d), %d of the %d bin pairs (%s) have a negative cosine; the mean off-diagonal cosine is %s and the most negative is %s, between timesteps %s and %s.",
		f.Step, neg, pairs, prose.Pct(f.Stats.NegativeFraction), prose.F3(f.Stats.MeanCosine), prose.F3(f.Stats.MinCosine), r.binName(ci), r.binName(cj))
	if ci >= 0 && f.Stats.MinCosine < 0 {
		fmt.Fprintf(b, " A step that helps one of those two bins hurts the other.")
	}
	byD := f.Stats.CosineByDistance
	if K > 2 {
		near, far := byD[1], byD[K-1]
		fmt.Fprintf(b, " Neighbouring bins have a mean cosine of %s, the two bins farthest apart %s", prose.F3(near), prose.F3(far))
		switch {
		case near > far && far < 0:
			b.WriteString(": agreement fades with distance in t, and distant timesteps pull the weights in opposite directions.")
		case near > far:
			b.WriteString(": agreement fades with distance in t.")
		default:
			b.WriteString(": here distant bins agree no less than neighbours.")
		}
	}
	b.WriteString("\n\n")
	r.writeConflictOverTraining(b)
}

// writeConflictOverTraining follows the conflict from the first probe to
// the last and compares the bins' gradient norms.
func (r *Result) writeConflictOverTraining(b *strings.Builder) {
	f, f0 := r.Final(), r.Probes[0]
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range r.Probes {
		lo, hi = math.Min(lo, p.Stats.NegativeFraction), math.Max(hi, p.Stats.NegativeFraction)
	}
	fmt.Fprintf(b, "Over training (conflict/stats.png): before the first step %s of the pairs conflicted (mean cosine %s); across the %d probes the share ranged from %s to %s, and it ends at %s",
		prose.Pct(f0.Stats.NegativeFraction), prose.F3(f0.Stats.MeanCosine), len(r.Probes), prose.Pct(lo), prose.Pct(hi), prose.Pct(f.Stats.NegativeFraction))
	switch d := f.Stats.MeanCosine - f0.Stats.MeanCosine; {
	case d < -0.1:
		b.WriteString(": the bins' gradients start out aligned and pull apart as the network learns, so that what helps one range of timesteps no longer helps all the others. ")
	case d > 0.1:
		b.WriteString(": the bins' gradients agree more after training than before. ")
	default:
		b.WriteString(": the mean agreement between bins changed little during training. ")
	}
	norms := f.Stats.Norms
	kmax, kmin := floats.MaxIdx(norms), floats.MinIdx(norms)
	fmt.Fprintf(b, "The bins' gradient norms √G_kk differ by a factor of %s, from %s for timesteps %s to %s for %s",
		prose.F3(norms[kmax]/norms[kmin]), prose.F3(norms[kmax]), r.binName(kmax), prose.F3(norms[kmin]), r.binName(kmin))
	if norms[kmax] > 3*norms[kmin] {
		fmt.Fprintf(b, ": an unweighted sum of the bins' x0 losses is dominated by the gradients of the bins near %s.", r.binName(kmax))
	} else {
		b.WriteString(": no bin dominates an unweighted sum by its scale alone.")
	}
	b.WriteString(" conflict/cosine.png shows the cosine matrices of the first, middle and last probes.\n")
}

// writePareto is section 4: the Pareto weights without and with λ and
// their Eq. 8 check.
func (r *Result) writePareto(b *strings.Builder) {
	fmt.Fprintf(b, "Theorem 1 of the paper (after MGDA): the weights w on the simplex that minimise ‖Σ_k w_k g_k‖² = wᵀGw (Eq. 10) give a step "+
		"δ = −Σ_k w_k g_k that lowers every bin's loss at once (Eq. 8), unless the bins are Pareto stationary. Eq. 11 adds λ‖w‖², "+
		"which keeps the weights from collapsing onto a few bins. The demo solves both on the last probe's Gram matrix with Frank-Wolfe (fw, as MGDA) "+
		"and the paper's unconstrained gradient descent over softmax logits (ugd), λ = %g × the mean squared gradient norm = %s.\n\n", r.Sizes.Lambda, prose.F3(r.Lambda))
	fw, ugd := r.Weighting("fw"), r.Weighting("ugd")
	if fw == nil {
		return
	}
	norms := r.Final().Stats.Norms
	k := floats.MaxIdx(fw.W)
	fmt.Fprintf(b, "Without λ, fw reaches the objective %s", prose.F3(fw.F0))
	if ugd != nil {
		fmt.Fprintf(b, " and ugd %s; their weights differ by at most %s", prose.F3(ugd.F0), prose.F3(floats.Distance(fw.W, ugd.W, math.Inf(1))))
	}
	fmt.Fprintf(b, ". The weights put %s on timesteps %s and give %d of the %d bins more than 1%% (effective number of bins 1/Σw² = %s). ",
		prose.Pct(fw.W[k]), r.binName(k), countAbove(fw.W, 0.01), len(fw.W), prose.F3(effectiveBins(fw.W)))
	rank := 1
	for _, n := range norms {
		if n < norms[k] {
			rank++
		}
	}
	if rank == 1 {
		fmt.Fprintf(b, "That bin has the smallest gradient norm of all: the shortest combination of the gradients leans on the shortest gradients. ")
	} else {
		fmt.Fprintf(b, "That bin's gradient norm is the %s smallest of %d: the minimum-norm combination leans on short gradients that do not point against the others. ", prose.Ordinal(rank), len(norms))
	}
	d := fw.Descent
	if d.DecreasesAll {
		fmt.Fprintf(b, "Eq. 8 holds: along δ every bin's loss falls to first order (the least helped bin, %s, has ⟨δ, g_k⟩ = %s < 0).\n\n", r.binName(d.Task), prose.F3(d.Worst))
	} else {
		fmt.Fprintf(b, "Eq. 8 fails at this point: ⟨δ, g_k⟩ = %s ≥ 0 for timesteps %s, so the bins are (numerically) Pareto stationary.\n\n", prose.F3(d.Worst), r.binName(d.Task))
	}
	if fl := r.Weighting("fw" + lambdaSuffix); fl != nil {
		kl := floats.MaxIdx(fl.W)
		fmt.Fprintf(b, "With λ = %s the weights spread over %s effective bins (from %s without λ), the largest being %s on timesteps %s; %d of %d bins get more than 1%%. ",
			prose.F3(r.Lambda), prose.F3(effectiveBins(fl.W)), prose.F3(effectiveBins(fw.W)), prose.F3(fl.W[kl]), r.binName(kl), countAbove(fl.W, 0.01), len(fl.W))
		if fl.Descent.DecreasesAll {
			b.WriteString("Their step still lowers every bin's loss to first order (Eq. 8).\n")
		} else {
			fmt.Fprintf(b, "The price of spreading: their step no longer lowers every bin's loss (timesteps %s rise to first order, ⟨δ, g_k⟩ = %s).\n", r.binName(fl.Descent.Task), prose.F3(fl.Descent.Worst))
		}
	}
}

// writeComparison is section 5: every weighting on the same problem, and
// where Min-SNR-5 ranks.
func (r *Result) writeComparison(b *strings.Builder) {
	fmt.Fprintf(b, "A closed-form strategy weights bin k's mean x0 loss by W_k ∝ Σ_{t∈k} w_x0(SNR(t)) (conflict.BinWeights, normalised to sum to 1 as the Pareto weights are), "+
		"so every weighting below is a point of the same problem. Objectives are divided by the best Pareto solve of the same λ (1 = optimal); "+
		"the distance is the total variation ½Σ|W_k − R_k| to the Pareto weights with λ (fw), 0 for the same weights and 1 for disjoint ones.\n\n")
	t := reproduce.Table{Header: []string{"weighting", "weights on " + strings.Join(r.binStarts(), ", "), "Eq. 11, λ = 0", "Eq. 11, with λ", "lowers every bin (Eq. 8)", "distance to Pareto"}}
	for _, w := range r.Weightings {
		name := w.Name
		if w.Pareto {
			name = "Pareto " + name
		}
		yes := "yes"
		if !w.Descent.DecreasesAll {
			yes = "no: " + r.binName(w.Descent.Task) + " rises"
		}
		t.Add(name, fmtWeights(w.W), prose.F3(w.Ratio0)+"×", prose.F3(w.RatioL)+"×", yes, prose.F3(w.TV))
	}
	b.WriteString(t.Markdown())
	b.WriteString("\n")
	m := r.Weighting("min-snr:5")
	if m == nil {
		return
	}
	fmt.Fprintf(b, "Min-SNR-5 puts %s on the least noisy bin and %s on the noisiest. On the regularised objective it is %s× the optimum, %s; without λ %s× the optimum, %s. ",
		prose.F3(m.W[0]), prose.F3(m.W[len(m.W)-1]), prose.F3(m.RatioL), r.rankPhrase(m.Name, func(w Weighting) float64 { return w.RatioL }),
		prose.F3(m.Ratio0), r.rankPhrase(m.Name, func(w Weighting) float64 { return w.Ratio0 }))
	fmt.Fprintf(b, "By distance to the Pareto weights it is %s. ", r.closestPhrase(m.Name))
	if m.Descent.DecreasesAll {
		b.WriteString("Its step lowers every bin's loss to first order, as the Pareto step does.")
	} else {
		fmt.Fprintf(b, "Its step raises the loss of timesteps %s to first order", r.binName(m.Descent.Task))
		if fw := r.Weighting("fw"); fw != nil && fw.Descent.DecreasesAll {
			b.WriteString(", which the Pareto step (λ = 0) does not.")
		} else {
			b.WriteString(".")
		}
	}
	fmt.Fprintf(b, " The paper's argument (§3.3–3.4) is that Min-SNR-γ approximates the Pareto weighting without solving anything during training; on this model the numbers above say how close it comes.\n")
}

// writeSamples is section 6: the sample quality against the untrained
// network and the floor.
func (r *Result) writeSamples(b *strings.Builder) {
	q := r.Quality
	m := r.Sizes.Model
	tm := stat.Mean(q.Trained, nil)
	var sets []string
	for _, v := range q.Trained {
		sets = append(sets, prose.F3(v))
	}
	fmt.Fprintf(b, "From pure noise, the %s sampler (%d steps) drew %d points from the EMA weights. Their sliced Wasserstein distance (SW₁, lower is better) to real points is %s "+
		"(independent sample sets: %s), against %s for the untrained network and %s for a second set of real points: the floor, what a perfect model scores at this sample size. ",
		m.Sampler, m.SamplerSteps, m.Samples, prose.F3(tm), strings.Join(sets, ", "), prose.F3(q.Untrained), prose.F3(q.Floor))
	gap := (q.Untrained - tm) / (q.Untrained - q.Floor)
	fmt.Fprintf(b, "Training closed %s of the gap between the untrained network and the floor", prose.Pct(gap))
	switch {
	case tm <= 1.5*q.Floor:
		fmt.Fprintf(b, "; at %s× the floor the samples are about as close to the data as real points are.", prose.F3(tm/q.Floor))
	case tm <= 3*q.Floor:
		fmt.Fprintf(b, "; at %s× the floor the samples are near the data but measurably off it.", prose.F3(tm/q.Floor))
	default:
		fmt.Fprintf(b, "; at %s× the floor the samples are still far from the data: the model needs more training.", prose.F3(tm/q.Floor))
	}
	b.WriteString(" samples.png shows real data, the untrained network's samples and the trained model's side by side.\n")
}
