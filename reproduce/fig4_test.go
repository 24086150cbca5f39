package reproduce

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// fig4Made is a hand-made fig4 result of 2 bins, 3 draws and probes at
// steps 0, 20 and 40, where every point's f* is 1 and weighting j's
// objective on draw d is f(j, d); every weighting weights the bins 0.7,
// 0.3.
func fig4Made(t *testing.T, f func(j, d int) float64) *Fig4Result {
	t.Helper()
	bins, err := weighting.EqualT(1000, 2)
	require.NoError(t, err)
	ps := ProbeSizesFor(Smoke)
	ps.Bins, ps.Draws = 2, 3
	res := &Fig4Result{Scale: Smoke, Seed: 1, Model: ModelSizesFor(Smoke), Probe: ps, Sizes: Fig4SizesFor(Smoke), Bins: bins,
		Strategies: PaperStrategies, Solvers: Fig4Solvers}
	point := func(step int, rho float64) Fig4Point {
		pt := Fig4Point{Step: step, Rho: rho, Lambda: 2 * rho}
		for d := range ps.Draws {
			var fd []float64
			var wd [][]float64
			for j := range res.weightings() {
				fd, wd = append(fd, f(j, d)), append(wd, []float64{0.7, 0.3})
			}
			pt.F, pt.W, pt.FStar = append(pt.F, fd), append(pt.W, wd), append(pt.FStar, 1)
		}
		return pt
	}
	for _, step := range []int{0, 20, 40} {
		res.Main, res.Zero = append(res.Main, point(step, res.Sizes.Rho)), append(res.Zero, point(step, 0))
	}
	for _, rho := range res.Sizes.RhoGrid {
		res.Sweep = append(res.Sweep, point(40, rho))
	}
	return res
}

// Render writes fig4's files from a result alone, and the verdicts follow
// the objectives.
func TestFig4RenderFollowsTheNumbers(t *testing.T) {
	// constant, snr, max-snr:1, min-snr:5, then ugd, fw and exact; the
	// closed forms' objectives vary by 1% between draws.
	objectives := func(f ...float64) func(j, d int) float64 {
		return func(j, d int) float64 {
			if j < len(PaperStrategies) {
				return f[j] * (1 + 0.01*float64(d))
			}
			return f[j]
		}
	}
	good := objectives(2, 3, 4, 1.5, 1, 1, 1)
	dir := t.TempDir()
	res := fig4Made(t, good)
	r, err := res.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"objective.csv", "weights.csv", "fig4.png"}, r.Files)
	for _, f := range r.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	n := len(res.weightings())
	obj := readCSV(t, filepath.Join(dir, "objective.csv"))
	require.Len(t, obj, 1+(3+3+len(res.Sizes.RhoGrid))*3*n)
	require.Equal(t, []string{"20", "1", "2", "2", "min-snr:5", "1.53", "1.53"}, obj[1+(1*3+2)*n+3], "step 20, draw 2, min-SNR-5")
	ws := readCSV(t, filepath.Join(dir, "weights.csv"))
	require.Len(t, ws, 1+2*n*2)
	require.Equal(t, []string{"1", "500", "1000", "0", "constant", "0.3"}, ws[1+n*2+1], "λ = 0, constant, bin 1")
	require.Equal(t, []Verdict{Agrees, Agrees, Agrees, Agrees}, verdicts(r))
	require.Contains(t, r.Markdown(), "| 0.1 | 0.2 | 2.02 | 3.03 | 4.04 | **1.51** |", "the sweep's row, the lowest in bold")

	// min-SNR-5 above constant and beyond 2× of f*; ugd off the optimum.
	bad := objectives(2, 3, 4, 5, 1.001, 1, 1)
	r, err = fig4Made(t, bad).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []Verdict{Disagrees, Disagrees, Disagrees, Disagrees}, verdicts(r))
	require.Contains(t, r.Findings[0].Measured, "step 20: 5.05× vs constant 2.02× (higher)")
}
