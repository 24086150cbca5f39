package reproduce

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// Tolerances of the fig3/fig4/conflict helpers.
const (
	// onePassTol: gram.Pass matches the brute-force per-bin Gram within 1e-5
	// of √(G_kk G_ll) (diffusion's tests), so ratios of its entries agree
	// with the brute force's to about that; 1e-4 leaves room.
	onePassTol = 1e-4
	// solverTol: the solvers stop at a relative duality gap of 1e-10.
	solverTol = 1e-9
)

func TestDispersion(t *testing.T) {
	// Pairwise L1 distances 2, 0, 2: mean 4/3; leaving one draw out gives
	// 2, 0, 2 again, so the jackknife SE is √(2/3 · 24/9) = 4/3.
	m, se := Dispersion([][]float64{{1, 0}, {0, 1}, {1, 0}})
	require.InDelta(t, 4.0/3, m, exactTol)
	require.InDelta(t, 4.0/3, se, exactTol)
	// Identical draws: no spread.
	m, se = Dispersion([][]float64{{0.2, 0.8}, {0.2, 0.8}, {0.2, 0.8}, {0.2, 0.8}})
	require.Zero(t, m)
	require.Zero(t, se)
	// Two draws have a distance but no standard error.
	m, se = Dispersion([][]float64{{0.5, 0.5}, {0, 1}})
	require.InDelta(t, 1, m, exactTol)
	require.True(t, math.IsNaN(se))
	require.Panics(t, func() { Dispersion([][]float64{{1}}) })
}

func TestFallsAndFig3Verdict(t *testing.T) {
	cases := []struct {
		name    string
		v, se   []float64
		overall Outcome
		rises   []int
		verdict Verdict
	}{
		{"falls", []float64{0.6, 0.5, 0.3}, []float64{0.01, 0.01, 0.01}, Supports, nil, Agrees},
		{"falls with a step up", []float64{0.6, 0.7, 0.3}, []float64{0.01, 0.01, 0.01}, Supports, []int{0}, Partly},
		// 0.6 → 0.59 with SE 0.05: within 2·√2·0.05.
		{"flat", []float64{0.6, 0.6, 0.59}, []float64{0.05, 0.05, 0.05}, WithinNoise, nil, Inconclusive},
		{"rises", []float64{0.3, 0.5, 0.6}, []float64{0.01, 0.01, 0.01}, Contradicts, []int{0, 1}, Disagrees},
		// A step up within noise is no violation.
		{"noisy step", []float64{0.6, 0.62, 0.3}, []float64{0.02, 0.02, 0.02}, Supports, nil, Agrees},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, r := Falls(c.v, c.se)
			require.Equal(t, c.overall, o)
			require.Equal(t, c.rises, r)
			v, _ := (&SampleSizeResult{Dispersion: c.v, DispersionSE: c.se}).Verdict()
			require.Equal(t, c.verdict, v)
		})
	}
}

func TestMedianDiagAndSlopes(t *testing.T) {
	require.Equal(t, 2.0, MedianDiag(mat.NewSymDense(3, []float64{3, 0, 0, 0, 1, 0, 0, 0, 2})))
	d4 := mat.NewSymDense(4, nil)
	for k, v := range []float64{4, 1, 3, 2} {
		d4.SetSym(k, k, v)
	}
	require.Equal(t, 2.5, MedianDiag(d4))

	require.InDelta(t, 2, Slope([]float64{0, 1, 2}, []float64{1, 3, 5}), exactTol)
	// C_ij = 1 − 0.1|i − j|: the cosine falls by 0.1 per bin of distance.
	K := 6
	c := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			c.SetSym(i, j, 1-0.1*float64(j-i))
		}
	}
	require.InDelta(t, -0.1, CosineDistanceSlope(c), exactTol)
	c.SetSym(0, 5, math.NaN()) // an undefined pair is left out
	require.InDelta(t, -0.1, CosineDistanceSlope(c), exactTol)
}

// smallObjective is a width-16 ResMLP's v-prediction objective on toy data.
func smallObjective(t *testing.T) (*diffusion.Objective, diffusion.Dataset) {
	t.Helper()
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 1}, 5)
	require.NoError(t, err)
	toy, err := data.NewToy("checkerboard")
	require.NoError(t, err)
	return diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.V), toy
}

// DrawGram and SignalFractions against the brute-force per-group
// gradients (one backward pass per group) on the same batch.
func TestDrawGramAndSignalFractionsMatchBruteForce(t *testing.T) {
	obj, toy := smallObjective(t)
	bins, err := weighting.EqualT(1000, 3)
	require.NoError(t, err)
	bg, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	const n = 4

	g, losses, err := DrawGram(bg, toy, bins, n, rand.New(rand.NewPCG(7, 1)))
	require.NoError(t, err)
	b := diffusion.DrawBins(rand.New(rand.NewPCG(7, 1)), toy, bins, n)
	rows, bl := gram.BinGradientRows(obj, b, bins.K(), nil)
	ref := gram.FromRows(rows)
	for k := 0; k < bins.K(); k++ {
		require.InDelta(t, bl[k], losses[k], 1e-6*bl[k])
		for l := 0; l < bins.K(); l++ {
			require.InDelta(t, ref.At(k, l), g.At(k, l), onePassTol*math.Sqrt(ref.At(k, k)*ref.At(l, l)))
		}
	}

	s, err := SignalFractions(bg, toy, bins, n, rand.New(rand.NewPCG(7, 2)))
	require.NoError(t, err)
	b2 := diffusion.DrawBins(rand.New(rand.NewPCG(7, 2)), toy, bins, 2*n)
	halves, _ := gram.BinGradientRows(obj, b2, 2*bins.K(), nil) // group 2k: bin k's first n rows
	h := gram.FromRows(halves)
	for k := range s {
		a, c := 2*k, 2*k+1
		want := h.At(a, c) / ((h.At(a, a) + h.At(c, c)) / 2)
		require.InDelta(t, want, s[k], onePassTol, "bin %d", k)
		require.LessOrEqual(t, s[k], 1+onePassTol, "⟨a,b⟩ ≤ ½(‖a‖² + ‖b‖²)")
	}
}

func TestWeightingObjectives(t *testing.T) {
	// G = [[1, .5], [.5, 4]], λ = 0.5: on w = (a, 1 − a) the objective is
	// 1.5a² + a(1 − a) + 4.5(1 − a)², minimal at a = 0.8 with f* = 1.3;
	// uniform weights give 0.25·(1.5 + 1 + 4.5) = 1.75.
	g := mat.NewSymDense(2, []float64{1, 0.5, 0.5, 4})
	f, w, fstar, err := WeightingObjectives(g, 0.5, [][]float64{{3, 3}, {1, 0}}, Fig4Solvers)
	require.NoError(t, err)
	require.InDelta(t, 1.3, fstar, exactTol)
	require.Len(t, f, 2+len(Fig4Solvers))
	require.InDelta(t, 1.75, f[0], exactTol)
	require.InDeltaSlice(t, []float64{0.5, 0.5}, w[0], exactTol, "closed forms are normalised to the simplex")
	require.InDelta(t, 1.5, f[1], exactTol, "vertex e_1: G_11 + λ")
	for j := 2; j < len(f); j++ {
		require.InDelta(t, 1.3, f[j], solverTol*1.3, Fig4Solvers[j-2])
		require.InDeltaSlice(t, []float64{0.8, 0.2}, w[j], 1e-6, Fig4Solvers[j-2])
	}
	_, _, _, err = WeightingObjectives(g, 0.5, [][]float64{{-1, 2}}, nil)
	require.Error(t, err, "negative weights are bad data")
}

func TestSummarizeConflict(t *testing.T) {
	// Two draws of four bins; each Gram is built from explicit gradients.
	grads := [][][]float64{
		{{1, 0, 0}, {1, 1, 0}, {0, 1, 0}, {-1, 0.2, 0}},
		{{1, 0.1, 0}, {1, 1, 0.1}, {0, 1, 0.2}, {-1, 0, 0.1}},
	}
	var recs []conflict.Record
	var slopes []float64
	for _, gs := range grads {
		g := gram.FromRows(gs)
		c := gram.Cosine(g)
		recs = append(recs, conflict.Record{Step: 7, Gram: g, Cosine: c, Stats: conflict.Summarize(g)})
		slopes = append(slopes, CosineDistanceSlope(c))
	}
	st := SummarizeConflict(recs)
	require.Equal(t, 7, st.Step)
	require.InDelta(t, (slopes[0]+slopes[1])/2, st.Slope, exactTol)
	require.InDelta(t, math.Abs(slopes[0]-slopes[1])/2, st.SlopeSE, exactTol, "SE of a mean of two is half their difference")
	require.InDelta(t, (recs[0].Stats.NegativeFraction+recs[1].Stats.NegativeFraction)/2, st.Negative, exactTol)
	for d := 1; d < 4; d++ {
		require.InDelta(t, (recs[0].Stats.CosineByDistance[d]+recs[1].Stats.CosineByDistance[d])/2, st.ByDistance[d], exactTol)
	}
	// Near pairs are 1 bin apart (4·1 ≤ 4), far ones 2 or 3 apart.
	near := 0.0
	for _, r := range recs {
		near += (r.Cosine.At(0, 1) + r.Cosine.At(1, 2) + r.Cosine.At(2, 3)) / 6
	}
	require.InDelta(t, near, st.Near, exactTol)
	require.True(t, st.SigNegative >= 0 && st.SigNegative+st.SigPositive <= 1)
	require.Equal(t, []int{0, 10, 30, 60}, heatmapSteps([]int{0, 10, 20, 30, 40, 50, 60}))
	require.Equal(t, []int{0, 10}, heatmapSteps([]int{0, 10}))
}

// smokeProbeSpec is the smoke scale's probed min-SNR-5 model: the
// strategy grid's, with the probes ModelSizes.Model adds.
func smokeProbeSpec(seed uint64) run.Spec {
	ms := ModelSizesFor(Smoke)
	return ms.Model(ms.Probes.Target, "min-snr:5", seed, seed)
}

// A probed model trains exactly the model an unprobed spec trains (the
// probes change neither the parameters nor the training random stream),
// records every probe of every draw and binning, and comes from the cache
// the second time with the same matrices.
func TestProbedRunTrainsTheCachedModel(t *testing.T) {
	env := &Env{Scale: Smoke, Out: t.TempDir(), Seed: 2}
	cfg := smokeProbeSpec(2)
	ms := ModelSizesFor(Smoke)
	ps := ms.Probes
	require.Len(t, cfg.Probes, ps.Draws*(1+len(ps.Binnings)), "Model adds the probes to the probe target's models")
	p, err := TrainProbed(context.Background(), env, cfg)
	require.NoError(t, err)
	require.False(t, p.Cached)
	plain := ms
	plain.Probes = ProbeSizes{}
	pcfg := plain.Model(ps.Target, "min-snr:5", 2, 2)
	require.Empty(t, pcfg.Probes)
	m, err := TrainModel(context.Background(), env, pcfg)
	require.NoError(t, err)
	require.Nil(t, m.Probes)
	withProbes, err := TrainModel(context.Background(), env, cfg)
	require.NoError(t, err)
	require.True(t, withProbes.Cached)
	a, err := diffusion.LoadCheckpoint(filepath.Join(p.Dir, run.CheckpointFile))
	require.NoError(t, err)
	b, err := m.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, b.Step, a.Step)
	require.True(t, slices.Equal(a.Params, b.Params), "the same weights")
	require.True(t, slices.Equal(a.EMA, b.EMA), "the same EMA")
	require.Equal(t, m.Quality, withProbes.Quality, "the same sample quality at every record")
	require.Equal(t, m.Final, withProbes.Final)

	require.Equal(t, []int{0, 20, 40}, p.Steps())
	require.Len(t, p.Draws, ps.Draws)
	K := binsK(ps.Bins)
	for _, recs := range p.Draws {
		require.Len(t, recs, 3)
		for _, r := range recs {
			require.Equal(t, K, r.Gram.SymmetricDim())
			require.Empty(t, r.Solutions)
		}
	}
	require.False(t, mat.Equal(p.Draws[0][1].Gram, p.Draws[1][1].Gram), "draws are independent batches")
	require.Equal(t, K, p.Bins().K())
	require.Len(t, p.Binnings, len(ps.Binnings))
	for i, bp := range p.Binnings {
		require.Equal(t, ps.Binnings[i], bp.Spec)
		require.Equal(t, binsK(bp.Spec), bp.Bins().K())
		require.Equal(t, ps.BinningExamples/bp.Bins().K(), bp.Info.PerBin, "the binnings share one budget of examples")
		require.GreaterOrEqual(t, bp.Bins().K(), 3, "a slope against distance needs two distances")
		require.Len(t, bp.Draws, ps.Draws)
		for _, d := range bp.Draws {
			require.Equal(t, []int{0, 40}, []int{d[0].Step, d[1].Step}, "at step 0 and the last step")
		}
		require.Len(t, bp.Last(), ps.Draws)
	}

	var log bytes.Buffer
	env2 := &Env{Scale: Smoke, Out: env.Out, Seed: 2, Log: &log}
	again, err := TrainProbed(context.Background(), env2, cfg)
	require.NoError(t, err)
	require.True(t, again.Cached)
	require.Contains(t, log.String(), "reusing")
	for r := range p.Draws {
		for i := range p.Draws[r] {
			require.True(t, mat.Equal(p.Draws[r][i].Gram, again.Draws[r][i].Gram), "draw %d probe %d", r, i)
		}
	}
	other := ms
	other.Probes.PerBin++
	h1, err := cfg.Hash()
	require.NoError(t, err)
	h2, err := other.Model(ps.Target, "min-snr:5", 2, 2).Hash()
	require.NoError(t, err)
	require.NotEqual(t, h1, h2)
	bad := ms
	bad.Probes.Every = 15
	_, err = TrainProbed(context.Background(), env, bad.Model(ps.Target, "min-snr:5", 2, 2))
	require.ErrorContains(t, err, "must divide")
	_, err = TrainProbed(context.Background(), env, pcfg)
	require.ErrorContains(t, err, "no probes")
}

// Which models carry probes: the probe target's, trained with one of
// ProbedStrategies (spelled any way weighting.Parse reads), no others.
func TestProbedModels(t *testing.T) {
	ps := ProbeSizesFor(Quick)
	require.True(t, ps.Probed("x0", "min-snr:5"))
	require.True(t, ps.Probed("x0", "max-snr:1"))
	require.True(t, ps.Probed("x0", OnlineStrategies[0]))
	require.False(t, ps.Probed("eps", "min-snr:5"), "another target")
	require.False(t, ps.Probed("x0", "min-snr:10"), "table2's other γ")
	require.False(t, ProbeSizes{}.Probed("v", "min-snr:5"))
	require.Equal(t, PrimaryTarget, ProbeSizesFor(Medium).Target, "every scale probes the paper's main case")
	require.Equal(t, "none", ProbeSizes{}.String())
	require.Equal(t, "t10-draw-2", BinningDrawName("t:10", 2))
	ms := ModelSizesFor(Quick)
	names := map[string]bool{}
	for _, p := range ms.Model("x0", "snr", 5, 1).Probes {
		require.False(t, names[p.Name], "unique probe names")
		names[p.Name] = true
		require.Zero(t, ms.Steps%p.Every)
	}
	require.Empty(t, ms.Model("v", "snr", 5, 1).Probes)
}

// A probed model interrupted after a probe resumes from its checkpoint and
// ends with the same records and weights as an uninterrupted one.
func TestProbedRunResumes(t *testing.T) {
	cfg := smokeProbeSpec(3)
	whole, err := TrainProbed(context.Background(), &Env{Scale: Smoke, Out: t.TempDir(), Seed: 3}, cfg)
	require.NoError(t, err)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = TrainProbed(ctx, &Env{Scale: Smoke, Out: dir, Seed: 3, Log: &cancelWriter{marker: "step 20/40", cancel: cancel}}, cfg)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	h, err := cfg.Hash()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "models", ModelLabel(cfg)+"_"+h, run.DoneFile))
	require.True(t, errors.Is(err, os.ErrNotExist), "no completion marker after an interrupt")

	var log bytes.Buffer
	resumed, err := TrainProbed(context.Background(), &Env{Scale: Smoke, Out: dir, Seed: 3, Log: &log}, cfg)
	require.NoError(t, err)
	require.Contains(t, log.String(), "resuming at step 20")
	for r := range whole.Draws {
		require.Len(t, resumed.Draws[r], len(whole.Draws[r]))
		for i := range whole.Draws[r] {
			require.Equal(t, whole.Draws[r][i].Step, resumed.Draws[r][i].Step)
			require.True(t, mat.Equal(whole.Draws[r][i].Gram, resumed.Draws[r][i].Gram), "draw %d probe %d", r, i)
		}
	}
	for i := range whole.Binnings {
		for r := range whole.Binnings[i].Draws {
			require.True(t, mat.Equal(whole.Binnings[i].Last()[r].Gram, resumed.Binnings[i].Last()[r].Gram), "binning %d draw %d", i, r)
		}
	}
	a, _ := os.ReadFile(filepath.Join(whole.Dir, run.CheckpointFile))
	b, _ := os.ReadFile(filepath.Join(resumed.Dir, run.CheckpointFile))
	require.Equal(t, a, b, "the resumed run ends bit-identical")
	// The log on disk holds every probe once.
	_, recs, err := conflict.ReadLog(filepath.Join(resumed.Dir, run.ProbesDir, DrawName(0)))
	require.NoError(t, err)
	require.Len(t, recs, 3)
}

// fig3's study at a tiny size: shapes, finite numbers, weights on the
// simplex, and the same numbers from the same seed.
func TestSampleSizeStudy(t *testing.T) {
	obj, toy := smallObjective(t)
	sizes := Fig3SizesFor(Smoke)
	a, err := SampleSizeStudy(obj, toy, sizes, 11)
	require.NoError(t, err)
	require.Len(t, a.Weights, len(sizes.PerBin))
	require.Positive(t, a.Lambda)
	for i := range sizes.PerBin {
		require.Len(t, a.Weights[i], sizes.Draws)
		for _, w := range a.Weights[i] {
			sum := 0.0
			for _, v := range w {
				require.GreaterOrEqual(t, v, 0.0)
				sum += v
			}
			require.InDelta(t, 1, sum, 1e-9)
		}
		require.False(t, math.IsNaN(a.Dispersion[i]) || math.IsNaN(a.DispersionSE[i]) || math.IsNaN(a.RefDistance[i]))
		require.Len(t, a.Signal[i], binsK(sizes.Bins))
	}
	b, err := SampleSizeStudy(obj, toy, sizes, 11)
	require.NoError(t, err)
	require.Equal(t, a.Dispersion, b.Dispersion)
	require.Equal(t, a.Reference, b.Reference)
	bad := sizes
	bad.Draws = 2
	_, err = SampleSizeStudy(obj, toy, bad, 11)
	require.ErrorContains(t, err, "≥ 3 draws")
	// A sensitivity study: other bins, two n, no signal fractions.
	c, err := SampleSizeStudy(obj, toy, sizes.binningSizes("logsnr:4"), 11)
	require.NoError(t, err)
	require.Equal(t, 4, c.Bins.K())
	require.Equal(t, sizes.BinningPerBin, c.PerBin)
	require.Nil(t, c.Signal[0])
	c, err = SampleSizeStudy(obj, toy, sizes.binningSizes("logsnr:50"), 11)
	require.NoError(t, err, "the tail's bins hold one timestep each")
	require.Equal(t, 50, c.Bins.K())
	_, err = SampleSizeStudy(obj, toy, sizes.binningSizes("logsnr:1001"), 11)
	require.ErrorContains(t, err, "1 ≤ K ≤ T")
}

// Every scale's sizes of the gradient targets are valid, including the
// paper scale's, which the tests do not run.
func TestGradientTargetSizesAreValid(t *testing.T) {
	sched := diffusion.Cosine(1000)
	for _, s := range Scales {
		ms := ModelSizesFor(s)
		ps := ms.Probes
		for _, st := range ProbedStrategies {
			cfg := ms.Model(ps.Target, st, 1, 1)
			require.NotEmpty(t, cfg.Probes, "%s %s", s, st)
			require.NoError(t, validateModel(cfg), s)
			_, err := cfg.Normalize()
			require.NoError(t, err, "%s %s", s, st)
		}
		for _, b := range ps.AllBinnings() {
			bins, err := weighting.ParseBins(b, sched.LogSNRs())
			require.NoError(t, err, "%s %s", s, b)
			require.GreaterOrEqual(t, bins.K(), 3, "%s %s: a slope against distance needs two distances", s, b)
		}
		f3 := Fig3SizesFor(s)
		require.GreaterOrEqual(t, f3.Draws, 3, s)
		require.GreaterOrEqual(t, f3.BinningDraws, 3, s)
		require.Len(t, f3.BinningPerBin, 2, s)
		require.True(t, slices.IsSorted(f3.PerBin) && f3.PerBin[0] >= 1, s)
		require.Positive(t, f3.Reference, s)
		require.Equal(t, ps.Bins, f3.Bins, "%s: fig3 studies the probes' bins", s)
		f4 := Fig4SizesFor(s)
		require.Positive(t, f4.Rho, s)
		require.Greater(t, f4.Close, 1.0, s)
		require.True(t, slices.IsSorted(f4.RhoGrid) && f4.RhoGrid[0] > 0, s)
		require.GreaterOrEqual(t, ps.Draws, 2, "%s: standard errors need draws", s)
	}
}
