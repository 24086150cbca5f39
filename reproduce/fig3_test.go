package reproduce

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// fig3Made is a hand-made fig3 result with 4 bins, n = 1, 2, 4, 8, every
// training weighting of ProbedStrategies and the dispersions disp(a) of
// model a (SE 0.01): the draws' weights at every n are settled(a, d), the
// reference puts everything on the first bin. The closed forms weight the
// bins as constant (0.25 each), snr (0.7, 0.1, 0.1, 0.1), max-snr:1
// (0.55, 0.15, 0.15, 0.15) and min-snr:5 (0.4, 0.3, 0.2, 0.1). Every
// sensitivity study falls from 0.8 to 0.2.
func fig3Made(t *testing.T, disp func(a int) []float64, settled func(a, d int) []float64) *Fig3Result {
	t.Helper()
	bins, err := weighting.EqualT(1000, 4)
	require.NoError(t, err)
	fs := Fig3SizesFor(Smoke)
	fs.PerBin, fs.Bins = []int{1, 2, 4, 8}, "t:4"
	res := &Fig3Result{Scale: Smoke, Seed: 1, Model: ModelSizesFor(Smoke), Sizes: fs, Trained: ProbedStrategies, Strategies: PaperStrategies,
		Closed:   [][]float64{{0.25, 0.25, 0.25, 0.25}, {0.7, 0.1, 0.1, 0.1}, {0.55, 0.15, 0.15, 0.15}, {0.4, 0.3, 0.2, 0.1}},
		Binnings: []string{"t:4", "logsnr:4"}}
	for a := range res.Trained {
		st := &SampleSizeResult{Bins: bins, Lambda: 0.5, PerBin: fs.PerBin, Dispersion: disp(a), Reference: []float64{1, 0, 0, 0}}
		for range fs.PerBin {
			var ws [][]float64
			for d := range fs.Draws {
				ws = append(ws, settled(a, d))
			}
			st.Weights = append(st.Weights, ws)
			st.DispersionSE = append(st.DispersionSE, 0.01)
			st.RefDistance = append(st.RefDistance, 1.5)
			st.Signal = append(st.Signal, []float64{0.2, 0.4, 0.6, 0.8})
		}
		res.Studies = append(res.Studies, st)
	}
	for range res.Binnings {
		var row []*SampleSizeResult
		for range res.Trained {
			row = append(row, &SampleSizeResult{Bins: bins, PerBin: fs.BinningPerBin, Dispersion: []float64{0.8, 0.2}, DispersionSE: []float64{0.01, 0.01}})
		}
		res.BinningStudies = append(res.BinningStudies, row)
	}
	return res
}

// falling is a dispersion that falls beyond noise at every doubling.
func falling(int) []float64 { return []float64{0.8, 0.6, 0.4, 0.2} }

// nearMinSNR are settled weights at L1 0.02·(d+1) from min-SNR-5's.
func nearMinSNR(_, d int) []float64 {
	e := 0.01 * float64(d+1)
	return []float64{0.4 + e, 0.3 - e, 0.2, 0.1}
}

// Render writes fig3's files from a result alone, and the verdicts follow
// the dispersions and the distances.
func TestFig3RenderFollowsTheNumbers(t *testing.T) {
	dir := t.TempDir()
	r, err := fig3Made(t, falling, nearMinSNR).Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"weights.csv", "stability.csv", "reference.csv", "cross.csv", "sensitivity.csv", "fig3.png", "cross.png"}, r.Files)
	for _, f := range r.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	A := len(ProbedStrategies)
	require.Len(t, readCSV(t, filepath.Join(dir, "weights.csv")), 1+A*4*Fig3SizesFor(Smoke).Draws*4)
	require.Equal(t, []string{"constant", "0", "0", "250", "1", "0.25", "0.7", "0.55", "0.4"}, readCSV(t, filepath.Join(dir, "reference.csv"))[1])
	require.Equal(t, []string{"constant", "8", "0.2", "0.01", "1.5", "0.5", "0.2", "0.8"}, readCSV(t, filepath.Join(dir, "stability.csv"))[4])
	cross := readCSV(t, filepath.Join(dir, "cross.csv"))
	require.Equal(t, []string{"constant", "8", "constant", "true"}, cross[1][:4])
	require.Equal(t, []string{"bins", "k", "trained", "n_small", "dispersion_small", "se_small", "n_large", "dispersion_large", "se_large", "outcome"}, readCSV(t, filepath.Join(dir, "sensitivity.csv"))[0])
	require.Equal(t, []Verdict{Agrees, Agrees}, verdicts(r))
	require.Equal(t, RolePrimary, r.Findings[0].Role)
	md := r.Markdown()
	require.Contains(t, md, "| 8 | 0.50 | 0.50 |", "median signal fractions by training weighting")
	require.Contains(t, md, "| t:4 | 4 | 6 / 0 / 0 | agrees |", "sensitivity")
	require.Contains(t, r.Findings[1].Measured, "snr: min-snr:5 0.04 vs max-snr:1 0.36 (lower)", "snr's own weights are the diagonal, left out")

	// One training weighting's weights rise with n: the primary test
	// partly agrees; all of them rising: it does not agree.
	oneRises := func(a int) []float64 {
		if a == 1 {
			return []float64{0.2, 0.4, 0.6, 0.8}
		}
		return falling(a)
	}
	r, err = fig3Made(t, oneRises, nearMinSNR).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Partly, r.Findings[0].Verdict)
	require.Contains(t, r.Findings[0].Measured, "snr: 0.200 ± 0.010 at n = 1 → 0.800 ± 0.010 at n = 8, lowest at n = 1 (does not agree; rises beyond noise from n = 1 → 2, 2 → 4, 4 → 8)")
	r, err = fig3Made(t, func(int) []float64 { return []float64{0.2, 0.4, 0.6, 0.8} }, nearMinSNR).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, r.Findings[0].Verdict)
}

// The closeness flips off the diagonal: settled weights that follow the
// training weighting are closest to min-SNR-5 on its own model only.
func TestFig3ClosenessOffTheDiagonal(t *testing.T) {
	iMin := indexOf(ProbedStrategies, fig5MinSNR)
	followsTraining := func(a, d int) []float64 {
		e := 0.01 * float64(d+1)
		if a == iMin {
			return nearMinSNR(a, d)
		}
		return []float64{0.25 + e, 0.25 - e, 0.25, 0.25} // constant's, whatever the training
	}
	r, err := fig3Made(t, falling, followsTraining).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Agrees, r.Findings[0].Verdict, "the stability is another question")
	require.Equal(t, Partly, r.Findings[1].Verdict, "constant's own model leaves constant out, so there min-SNR-5 is the closest; elsewhere constant is")
	require.Contains(t, r.Findings[1].Measured, "snr: min-snr:5 0.40 vs constant 0.04 (higher)")
	require.Contains(t, r.Findings[1].Measured, "constant: min-snr:5 0.40 vs max-snr:1 0.56 (lower)")
}

func TestCombineVerdicts(t *testing.T) {
	require.Equal(t, Agrees, combineVerdicts([]Verdict{Agrees, Agrees}))
	require.Equal(t, Inconclusive, combineVerdicts([]Verdict{Inconclusive, Inconclusive}))
	require.Equal(t, Disagrees, combineVerdicts([]Verdict{Disagrees, Inconclusive}))
	require.Equal(t, Partly, combineVerdicts([]Verdict{Agrees, Inconclusive}))
	require.Equal(t, Partly, combineVerdicts([]Verdict{Partly, Disagrees}))
}
