package reproduce

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// fig3Made is a hand-made fig3 result with 4 bins, n = 1, 2, 4, 8 and the
// given dispersions (SE 0.01): the draws' weights are uniform, the
// reference puts everything on the first bin.
func fig3Made(t *testing.T, dispersion []float64) *Fig3Result {
	t.Helper()
	bins, err := weighting.EqualT(1000, 4)
	require.NoError(t, err)
	fs := Fig3SizesFor(Smoke)
	fs.PerBin, fs.Bins = []int{1, 2, 4, 8}, 4
	st := &SampleSizeResult{Bins: bins, Lambda: 0.5, PerBin: fs.PerBin, Dispersion: dispersion, Reference: []float64{1, 0, 0, 0}}
	for range fs.PerBin {
		var ws [][]float64
		for range fs.Draws {
			ws = append(ws, []float64{0.25, 0.25, 0.25, 0.25})
		}
		st.Weights = append(st.Weights, ws)
		st.DispersionSE = append(st.DispersionSE, 0.01)
		st.RefDistance = append(st.RefDistance, 1.5)
		st.Signal = append(st.Signal, []float64{0.2, 0.4, 0.6, 0.8})
	}
	res := &Fig3Result{Scale: Smoke, Seed: 1, Model: ModelSizesFor(Smoke), Sizes: fs, Study: st, Strategies: PaperStrategies}
	for range res.Strategies {
		res.Closed = append(res.Closed, []float64{0.4, 0.3, 0.2, 0.1})
	}
	return res
}

// Render writes fig3's files from a result alone, and the verdict follows
// the dispersions.
func TestFig3RenderFollowsTheNumbers(t *testing.T) {
	dir := t.TempDir()
	r, err := fig3Made(t, []float64{0.8, 0.6, 0.4, 0.2}).Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"weights.csv", "stability.csv", "reference.csv", "fig3.png"}, r.Files)
	for _, f := range r.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	require.Len(t, readCSV(t, filepath.Join(dir, "weights.csv")), 1+4*Fig3SizesFor(Smoke).Draws*4)
	require.Equal(t, []string{"0", "0", "250", "1", "0.4", "0.4", "0.4", "0.4"}, readCSV(t, filepath.Join(dir, "reference.csv"))[1])
	require.Equal(t, []string{"8", "0.2", "0.01", "1.5", "0.5", "0.2", "0.8"}, readCSV(t, filepath.Join(dir, "stability.csv"))[4])
	require.Equal(t, Agrees, r.Findings[0].Verdict)
	md := r.Markdown()
	require.Contains(t, md, "| 8 | 0.50 | 0.20 | 0.80 | 2 of 4 |", "signal fractions")
	require.Contains(t, md, "constant 1.20, snr 1.20", "L1 distances of the reference to the closed forms")

	r, err = fig3Made(t, []float64{0.8, 0.9, 0.4, 0.2}).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Partly, r.Findings[0].Verdict)
	require.Contains(t, r.Findings[0].Measured, "It rises beyond noise from n = 1 → 2.")
	r, err = fig3Made(t, []float64{0.2, 0.4, 0.6, 0.8}).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, r.Findings[0].Verdict)
}
