package reproduce

import (
	"context"
	"math"
	"slices"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
)

// ConflictStats summarises the cosine matrices of one probe over its draws
// (independent probe batches): the noise of every statistic is its spread
// over the draws.
type ConflictStats struct {
	// Step is the training step probed.
	Step int
	// Negative and NegativeSE are the fraction of bin pairs with a negative
	// cosine (mean over draws) and its standard error.
	Negative, NegativeSE float64
	// SigNegative and SigPositive are the fractions of pairs whose cosine,
	// averaged over the draws, is below −2 (above +2) standard errors of
	// that mean: conflicting (agreeing) beyond the sampling noise.
	SigNegative, SigPositive float64
	// Slope and SlopeSE are the least-squares slope of the cosine against
	// bin distance over all pairs (CosineDistanceSlope; mean over draws)
	// and its standard error.
	Slope, SlopeSE float64
	// Near and Far are the mean cosines of pairs at most a quarter of the
	// bins apart and at least half of them apart (mean over draws), and
	// NearFarSE the standard error of their difference (paired by draw);
	// NaN when no pair is that near or far (K < 4).
	Near, Far, NearFarSE float64
	// ByDistance[d] and ByDistanceSE[d] are the mean cosine of pairs d bins
	// apart (d = 1..K−1; index 0 holds 1) and its standard error.
	ByDistance, ByDistanceSE []float64
}

// SummarizeConflict computes ConflictStats from the draws' records of one
// probe (recs[r] is draw r's, each with its cosine matrix). It needs at
// least 2 draws for standard errors (NaN otherwise).
func SummarizeConflict(recs []conflict.Record) ConflictStats {
	K := recs[0].Cosine.SymmetricDim()
	st := ConflictStats{Step: recs[0].Step, ByDistance: make([]float64, K), ByDistanceSE: make([]float64, K)}
	var neg, slope, nearFar, near, far []float64
	byD := make([][]float64, K)
	for _, r := range recs {
		neg = append(neg, r.Stats.NegativeFraction)
		slope = append(slope, CosineDistanceSlope(r.Cosine))
		mn, mf := nearFarCosines(r.Cosine)
		near, far, nearFar = append(near, mn), append(far, mf), append(nearFar, mn-mf)
		for d := 1; d < K; d++ {
			byD[d] = append(byD[d], r.Stats.CosineByDistance[d])
		}
	}
	st.Negative, st.NegativeSE = meanSE(neg)
	st.Slope, st.SlopeSE = meanSE(slope)
	st.Near, st.Far = meanOf(near), meanOf(far)
	_, st.NearFarSE = meanSE(nearFar)
	st.ByDistance[0] = 1
	for d := 1; d < K; d++ {
		st.ByDistance[d], st.ByDistanceSE[d] = meanSE(byD[d])
	}
	st.SigNegative, st.SigPositive = significantPairs(recs)
	return st
}

// nearFarCosines are the mean cosines of one draw's bin pairs at most a
// quarter of the bins apart and at least half of them apart (NaN cosines
// left out; NaN when there is no such pair).
func nearFarCosines(c *mat.SymDense) (near, far float64) {
	K := c.SymmetricDim()
	var n, f []float64
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			v := c.At(i, j)
			if math.IsNaN(v) {
				continue
			}
			switch d := j - i; {
			case 4*d <= K:
				n = append(n, v)
			case 2*d >= K:
				f = append(f, v)
			}
		}
	}
	return meanOf(n), meanOf(f)
}

// significantPairs are the fractions of bin pairs whose cosine, averaged
// over the draws, is below −2 (above +2) standard errors of that mean;
// pairs with fewer than 2 draws of a cosine are left out.
func significantPairs(recs []conflict.Record) (negative, positive float64) {
	K := recs[0].Cosine.SymmetricDim()
	pairs, sn, sp := 0, 0, 0
	for i := 0; i < K; i++ {
		for j := i + 1; j < K; j++ {
			var v []float64
			for _, r := range recs {
				if x := r.Cosine.At(i, j); !math.IsNaN(x) {
					v = append(v, x)
				}
			}
			if len(v) < 2 {
				continue
			}
			pairs++
			m, se := meanSE(v)
			if m < -2*se {
				sn++
			}
			if m > 2*se {
				sp++
			}
		}
	}
	return ratio(sn, pairs), ratio(sp, pairs)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// heatmapSteps picks the probes whose cosine matrices are drawn: step 0,
// the first probe after it, the middle one and the last.
func heatmapSteps(steps []int) []int {
	var out []int
	seen := map[int]bool{}
	for _, i := range []int{0, 1, len(steps) / 2, len(steps) - 1} {
		if i < len(steps) && !seen[steps[i]] {
			seen[steps[i]] = true
			out = append(out, steps[i])
		}
	}
	return out
}

// ConflictModel is conflict's view of one probed model.
type ConflictModel struct {
	// Trained is the weighting the model was trained with, Seed its
	// training seed.
	Trained string
	Seed    uint64
	// Run holds its probes: every draw's Gram and cosine matrices.
	Run *ProbeRun
	// Stats[i] summarises the draws of probe i (SummarizeConflict).
	Stats []ConflictStats
}

// ConflictResult is what conflict measured: the cosine statistics of the
// probed models (the probe target's, one per training weighting of
// ProbedStrategies and seed, shared with fig4) at every probe.
type ConflictResult struct {
	// Scale, Sizes and Probes are the run's.
	Scale  Scale
	Sizes  ModelSizes
	Probes ProbeSizes
	// Trained are the training weightings and Seeds the seeds;
	// Models[a][s] is the model of Trained[a] and Seeds[s].
	Trained []string
	Seeds   []uint64
	Models  [][]ConflictModel
	// Noise is the Gram noise of every model at its last probe.
	Noise noiseByModel
	// Strategies are the closed forms whose cancellation is measured and
	// Closed[j] their weights on the main probes' bins.
	Strategies []string
	Closed     [][]float64
	// Schedule is the models' noise schedule (for the conflict package's
	// figures).
	Schedule *diffusion.Schedule
	// HeatmapSteps are the probes whose cosine matrices are drawn.
	HeatmapSteps []int
}

// Conflict trains (or takes from the cache) the probed models
// (TrainProbedGrid of ProbedStrategies) and summarises every probe of
// every model over its draws (SummarizeConflict). It writes nothing into
// the target's folder (Render does).
func Conflict(ctx context.Context, env *Env) (*ConflictResult, error) {
	ms := env.ModelSizes()
	g, err := TrainProbedGrid(ctx, env, "conflict", ProbedStrategies)
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(ms.Schedule, ms.T, false)
	if err != nil {
		return nil, err
	}
	r := &ConflictResult{Scale: env.Scale, Sizes: ms, Probes: ms.Probes, Trained: slices.Clone(ProbedStrategies), Seeds: g.SeedsOf(ms.Probes.Target),
		Strategies: slices.Clone(PaperStrategies), Schedule: sched}
	for _, a := range r.Trained {
		var row []ConflictModel
		for _, sd := range r.Seeds {
			p := g.Probed(a, sd)
			m := ConflictModel{Trained: a, Seed: sd, Run: p}
			for i := range p.Steps() {
				m.Stats = append(m.Stats, SummarizeConflict(p.At(i)))
			}
			row = append(row, m)
		}
		r.Models = append(r.Models, row)
	}
	r.Noise = noiseOfGrid(g, r.Trained, r.Seeds)
	first := r.Models[0][0].Run
	r.HeatmapSteps = heatmapSteps(first.Steps())
	r.Closed = closedWeights(r.Strategies, sched, first.Bins())
	return r, nil
}

// shown is the model whose cosine matrices the conflict package's figures
// draw: the first seed's min-SNR-5 model (the paper's setting).
func (r *ConflictResult) shown() ConflictModel { return r.Models[indexOf(r.Trained, fig5MinSNR)][0] }

// steps are the probed steps and bins the main probes' bins.
func (r *ConflictResult) steps() []int         { return r.Models[0][0].Run.Steps() }
func (r *ConflictResult) bins() weighting.Bins { return r.Models[0][0].Run.Bins() }
func (r *ConflictResult) last() int            { return len(r.steps()) - 1 }

// perDraw gathers a statistic of every draw of the models trained with
// Trained[a] at one probe: out[s][d] = stat(record).
func (r *ConflictResult) perDraw(a int, recs func(ConflictModel) []conflict.Record, stat func(conflict.Record) float64) [][]float64 {
	out := make([][]float64, len(r.Models[a]))
	for s, m := range r.Models[a] {
		for _, rec := range recs(m) {
			out[s] = append(out[s], stat(rec))
		}
	}
	return out
}

// probeAt selects the draws' records of main probe i.
func probeAt(i int) func(ConflictModel) []conflict.Record {
	return func(m ConflictModel) []conflict.Record { return m.Run.At(i) }
}

// binningAt selects the draws' last records of sensitivity binning i (−1:
// the main probes' last).
func (r *ConflictResult) binningAt(i int) func(ConflictModel) []conflict.Record {
	if i < 0 {
		return probeAt(r.last())
	}
	return func(m ConflictModel) []conflict.Record { return m.Run.Binnings[i].Last() }
}

// slopeOf is a record's cosine slope against bin distance.
func slopeOf(rec conflict.Record) float64 { return CosineDistanceSlope(rec.Cosine) }

// slope is the cosine slope of the models trained with Trained[a] at the
// records recs selects, over the units.
func (r *ConflictResult) slope(a int, recs func(ConflictModel) []conflict.Record) Units {
	return UnitMean(r.perDraw(a, recs, slopeOf))
}

// byDistance is the mean cosine of pairs d bins apart (d = 1..K−1; index 0
// holds 1) of the models trained with Trained[a] at probe i, over the
// units.
func (r *ConflictResult) byDistance(a, i int) []Units {
	K := r.bins().K()
	out := []Units{{Mean: 1}}
	for d := 1; d < K; d++ {
		out = append(out, UnitMean(r.perDraw(a, probeAt(i), func(rec conflict.Record) float64 { return rec.Stats.CosineByDistance[d] })))
	}
	return out
}

// cancellation is log c_B of a draw's Gram for the weights w of a closed
// form: c = wᵀGw / Σ_k w_k² G_kk, the squared norm of the weighted sum of
// the bins' gradients relative to what it would be if they were
// orthogonal (< 1: they cancel, on net; > 1: they add up).
func cancellation(rec conflict.Record, w []float64) float64 {
	num, den := 0.0, 0.0
	for i := range w {
		den += w[i] * w[i] * rec.Gram.At(i, i)
		for j := range w {
			num += w[i] * w[j] * rec.Gram.At(i, j)
		}
	}
	return math.Log(num / den)
}

// cancellations gathers log c of every closed form on every draw of the
// models trained with Trained[a] at probe i: out[s][d][j].
func (r *ConflictResult) cancellations(a, i int) [][][]float64 {
	out := make([][][]float64, len(r.Models[a]))
	for s, m := range r.Models[a] {
		for _, rec := range m.Run.At(i) {
			row := make([]float64, len(r.Closed))
			for j, w := range r.Closed {
				row[j] = cancellation(rec, w)
			}
			out[s] = append(out[s], row)
		}
	}
	return out
}

// cancellationCell is the mean log c of closed form j on the models
// trained with Trained[a] at probe i, over the units.
func (r *ConflictResult) cancellationCell(a, j, i int) Units {
	v := r.cancellations(a, i)
	x := make([][]float64, len(v))
	for s := range v {
		for _, row := range v[s] {
			x[s] = append(x[s], row[j])
		}
	}
	return UnitMean(x)
}

// slopeCases are the cosine slopes of every training weighting at the
// records recs selects, each a case: Supports if below −2 SE.
func (r *ConflictResult) slopeCases(recs func(ConflictModel) []conflict.Record) ([]Outcome, []Units) {
	var outs []Outcome
	var us []Units
	for a := range r.Trained {
		u := r.slope(a, recs)
		outs, us = append(outs, outcomeOf(u.Mean, u.SE, true)), append(us, u)
	}
	return outs, us
}

// fallWords say what a slope's outcome means.
var fallWords = map[Outcome]string{Supports: "falls", Contradicts: "rises", WithinNoise: "within noise"}
