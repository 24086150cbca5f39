package conflict_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// A split probe's record: the one-pass estimate equals the reference (one
// backward pass per half), its Gram is the PSD projection of the
// split-half estimate of the same batch's halves, its solutions are
// those of that Gram, and it carries each bin's signal fraction and the
// projection's statistics; a plain probe's carries neither.
func TestSplitProbe(t *testing.T) {
	obj, toy := toyProbeNet(t, 16, 1)
	bins := weighting.MustEqualT(1000, 4)
	for _, perBin := range []int{6, 5} { // even halves, then 2 and 3
		cfg := conflict.ProbeConfig{Bins: bins, PerBin: perBin, Seed: 4, Estimator: gram.Split, Solve: conflict.SolveConfig{Lambda: 1e-3}}
		fast, err := conflict.NewProbe(obj, toy, cfg)
		require.NoError(t, err)
		cfg.Reference = true
		ref, err := conflict.NewProbe(obj, toy, cfg)
		require.NoError(t, err)
		a, err := fast.Measure(3)
		require.NoError(t, err)
		b, err := ref.Measure(3)
		require.NoError(t, err)
		K := bins.K()
		require.Len(t, a.Signal, K)
		require.NotNil(t, a.Projection)
		for k := 0; k < K; k++ {
			// The halves' products agree to probeGramTol of their scale,
			// which the full bins' squared norms bound.
			require.InDelta(t, b.Signal[k], a.Signal[k], 4*probeGramTol, "s_%d", k)
			require.InDelta(t, b.Losses[k], a.Losses[k], 1e-6*b.Losses[k])
		}

		// The reference's Gram, by hand: the halves' brute-force Gram,
		// SplitFromHalves, ProjectPSD.
		halves, err := gram.Halves([]int{perBin, perBin, perBin, perBin})
		require.NoError(t, err)
		batch := ref.Batch(3)
		var rows [][]float64
		var losses []float64
		off := 0
		for _, n := range halves {
			g, l := gram.BinGradientRows(obj, batch.Slice(off, off+n), 1, nil)
			rows, losses = append(rows, g[0]), append(losses, l[0])
			off += n
		}
		want, err := gram.SplitFromHalves(gram.FromRows(rows), losses, []int{perBin, perBin, perBin, perBin})
		require.NoError(t, err)
		scale := 0.0
		for k := 0; k < K; k++ {
			scale = math.Max(scale, want.Plain[k*K+k])
		}
		for i := 0; i < K; i++ {
			for j := 0; j < K; j++ {
				require.InDelta(t, want.Gram[i*K+j], b.Gram.At(i, j), 1e-12*scale)
				require.InDelta(t, want.Gram[i*K+j], a.Gram.At(i, j), 4*probeGramTol*scale)
			}
		}
		// (The probe packs the parameters in another order: the sums
		// differ in rounding.)
		require.InDeltaSlice(t, want.Signal, b.Signal, 1e-12)
		require.Equal(t, want.Projection.Clipped, b.Projection.Clipped)
		require.InDelta(t, want.Projection.MinEigenvalue, b.Projection.MinEigenvalue, 1e-12*scale)
		require.InDelta(t, want.Projection.Shift, b.Projection.Shift, 1e-9)

		sols, err := cfg.Solve.Solve(a.Gram, a.Losses)
		require.NoError(t, err)
		require.Equal(t, sols, a.Solutions, "the solutions are the projected Gram's")
		require.Equal(t, "split", fast.Info().GramEstimator)
	}

	plain, err := conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: bins, PerBin: 6, Seed: 4, NoSolve: true})
	require.NoError(t, err)
	r, err := plain.Measure(3)
	require.NoError(t, err)
	require.Nil(t, r.Signal)
	require.Nil(t, r.Projection)
	require.Empty(t, plain.Info().GramEstimator)

	_, err = conflict.NewProbe(obj, toy, conflict.ProbeConfig{Bins: bins, PerBin: 1, Estimator: gram.Split})
	require.ErrorContains(t, err, "≥ 2 examples per bin")
}

// The ProbeSpec field: "split" gives the split estimator; plain is the
// canonical "" (a spec without the option is unchanged); a bad value, or
// split with one example per bin, is a SpecError naming its field.
func TestProbeSpecGramEstimator(t *testing.T) {
	sched := diffusion.Cosine(1000)
	cfg, err := conflict.ProbeSpec{GramEstimator: "split", PerBin: 2}.Config(sched)
	require.NoError(t, err)
	require.Equal(t, gram.Split, cfg.Estimator)
	cfg, err = conflict.ProbeSpec{GramEstimator: "plain"}.Config(sched)
	require.NoError(t, err)
	require.Equal(t, gram.Plain, cfg.Estimator)
	require.Equal(t, conflict.ProbeSpec{}.WithDefaults(), conflict.ProbeSpec{GramEstimator: "plain"}.WithDefaults())
	require.Equal(t, "split", conflict.ProbeSpec{GramEstimator: "split"}.WithDefaults().GramEstimator)

	for field, s := range map[string]conflict.ProbeSpec{
		"gram_estimator": {GramEstimator: "halves"},
		"per_bin":        {GramEstimator: "split", PerBin: 1},
	} {
		_, err := s.Config(sched)
		var se *conflict.SpecError
		require.ErrorAs(t, err, &se)
		require.Equal(t, field, se.Field)
		require.NotContains(t, err.Error(), "\n")
	}
}

// A split log reads back with its estimator, signal fractions and
// projections; a plain log is written as before the option (no new keys)
// and reads back without them; a signal of the wrong length or an unknown
// estimator is an error naming the file.
func TestSplitLogRoundTrip(t *testing.T) {
	dir := t.TempDir()
	info := conflict.Info{Edges: []int{0, 300, 600, 1000}, Labels: []string{"0-299", "300-599", "600-999"}, PerBin: 4, Params: "all",
		Task: "constant", Target: "eps", Schedule: "cosine", T: 1000, Methods: []string{"fw"}, Normalizer: "none", Gram: "one-pass",
		GramEstimator: "split"}
	log, err := conflict.CreateLog(dir, info)
	require.NoError(t, err)
	rec := sampleRecord(10)
	rec.Signal = []float64{0.9, -0.1, math.NaN()}
	rec.Projection = &gram.Projection{MinEigenvalue: -0.05, Clipped: 1, Shift: 0.01}
	require.NoError(t, log.Append(rec))
	got, recs, err := conflict.ReadLog(dir)
	require.NoError(t, err)
	require.Equal(t, info, got)
	est, err := got.Estimator()
	require.NoError(t, err)
	require.Equal(t, gram.Split, est)
	require.Equal(t, rec.Signal[:2], recs[0].Signal[:2])
	require.True(t, math.IsNaN(recs[0].Signal[2]))
	require.Equal(t, *rec.Projection, *recs[0].Projection)
	require.True(t, mat.Equal(rec.Gram, recs[0].Gram))

	raw, err := os.ReadFile(filepath.Join(dir, conflict.RecordsFile))
	require.NoError(t, err)
	require.Contains(t, string(raw), `"signal":[0.9,-0.1,"NaN"],"projection":{"min_eigenvalue":-0.05,"clipped":1,"shift":0.01}`)
	writeRecords(t, dir, strings.Replace(string(raw), `"signal":[0.9,-0.1,"NaN"]`, `"signal":[0.9]`, 1))
	_, _, err = conflict.ReadLog(dir)
	require.ErrorContains(t, err, filepath.Join(dir, conflict.RecordsFile)+" line 1: signal has 1 values for 3 bins")

	// The plain log of writeLog: the keys of before the option, read back
	// as the plain estimator.
	old, lines := writeLog(t)
	infoRaw, err := os.ReadFile(filepath.Join(old, conflict.InfoFile))
	require.NoError(t, err)
	require.NotContains(t, string(infoRaw), "estimator")
	for _, l := range lines {
		require.NotContains(t, l, "signal")
		require.NotContains(t, l, "projection")
	}
	got, recs, err = conflict.ReadLog(old)
	require.NoError(t, err)
	est, err = got.Estimator()
	require.NoError(t, err)
	require.Equal(t, gram.Plain, est)
	require.Nil(t, recs[0].Signal)
	require.Nil(t, recs[0].Projection)

	var m map[string]any
	require.NoError(t, json.Unmarshal(infoRaw, &m))
	m["gram_estimator"] = "halves"
	bad, err := json.Marshal(m)
	require.NoError(t, err)
	writeInfo(t, old, string(bad))
	_, _, err = conflict.ReadLog(old)
	require.ErrorContains(t, err, filepath.Join(old, conflict.InfoFile)+`: gram: estimator "halves"`)
}
