package reproduce

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// fig4Cell names one value of a hand-made fig4 result: weighting J on
// draw D of the model trained with Trained[A], at ρ (0: λ = 0) and on
// sensitivity binning Binning (−1: the main probes).
type fig4Cell struct {
	A, J, D, Binning int
	Rho              float64
	Step             int
}

// fig4Made is a hand-made fig4 result of 2 bins, every training weighting
// of ProbedStrategies, 2 seeds and 3 draws, probes at steps 0, 20 and 40,
// where every point's f* is 1 and the objective of each cell is f(cell);
// the closed forms weight the bins (0.5, 0.5), (0.9, 0.1), (0.8, 0.2),
// (0.7, 0.3), the solvers (0.7, 0.3).
func fig4Made(t *testing.T, f func(c fig4Cell) float64) *Fig4Result {
	t.Helper()
	bins, err := weighting.EqualT(1000, 2)
	require.NoError(t, err)
	ms := ModelSizesFor(Smoke)
	ps := ms.Probes
	ps.Bins = "t:2"
	res := &Fig4Result{Scale: Smoke, Seed: 1, Model: ms, Probe: ps, Sizes: Fig4SizesFor(Smoke), Bins: bins, Binnings: []weighting.Bins{bins, bins},
		Trained: ProbedStrategies, Seeds: []uint64{1, 2}, Strategies: PaperStrategies, Solvers: Fig4Solvers,
		Closed: [][]float64{{0.5, 0.5}, {0.9, 0.1}, {0.8, 0.2}, {0.7, 0.3}}}
	weights := append(slices.Clone(res.Closed), []float64{0.7, 0.3}, []float64{0.7, 0.3}, []float64{0.7, 0.3})
	point := func(a, step, binning int, rho float64) Fig4Point {
		pt := Fig4Point{Step: step, Rho: rho, Lambda: 2 * rho}
		for d := range 3 {
			var fd []float64
			for j := range res.weightings() {
				fd = append(fd, f(fig4Cell{A: a, J: j, D: d, Binning: binning, Rho: rho, Step: step}))
			}
			pt.F, pt.W, pt.FStar = append(pt.F, fd), append(pt.W, weights), append(pt.FStar, 1)
		}
		return pt
	}
	for a, tr := range res.Trained {
		var row []Fig4Model
		for _, sd := range res.Seeds {
			m := Fig4Model{Trained: tr, Seed: sd}
			for _, step := range []int{0, 20, 40} {
				m.Main, m.Zero = append(m.Main, point(a, step, -1, res.Sizes.Rho)), append(m.Zero, point(a, step, -1, 0))
			}
			for _, rho := range res.Sizes.RhoGrid {
				m.Sweep = append(m.Sweep, point(a, 40, -1, rho))
			}
			for i := range res.Binnings {
				m.Binnings = append(m.Binnings, point(a, 40, i, res.Sizes.Rho))
			}
			row = append(row, m)
		}
		res.Models = append(res.Models, row)
	}
	return res
}

// objectives gives the closed forms (constant, snr, max-snr:1, min-snr:5)
// the objectives base (varying by 1% between draws) and the solvers the
// optimum, 1.
func objectives(base func(c fig4Cell) []float64) func(c fig4Cell) float64 {
	return func(c fig4Cell) float64 {
		if c.J < len(PaperStrategies) {
			return base(c)[c.J] * (1 + 0.01*float64(c.D))
		}
		return 1
	}
}

// Render writes fig4's files from a result alone, and the verdicts follow
// the objectives.
func TestFig4RenderFollowsTheNumbers(t *testing.T) {
	good := objectives(func(fig4Cell) []float64 { return []float64{2, 3, 4, 1.5} })
	dir := t.TempDir()
	res := fig4Made(t, good)
	r, err := res.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"objective.csv", "weights.csv", "cross.csv", "sensitivity.csv", "signal.csv", "fig4.png", "cross.png"}, r.Files)
	for _, f := range r.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	n := len(res.weightings())
	obj := readCSV(t, filepath.Join(dir, "objective.csv"))
	points := 3 + 3 + len(res.Sizes.RhoGrid) + len(res.Binnings)
	require.Len(t, obj, 1+len(ProbedStrategies)*2*points*3*n)
	// Model 0 (constant, seed 1), point 1 (step 20 at ρ = 1), draw 2, min-SNR-5.
	require.Equal(t, []string{"constant", "1", "t:2", "20", "1", "2", "2", "min-snr:5", "1.53", "1.53", "0"}, obj[1+(1*3+2)*n+3])
	require.InDelta(t, 0.4, mustFloat(t, obj[1+(1*3+2)*n+0][10]), 1e-15, "constant's L1 distance to the Pareto weights (0.7, 0.3)")
	ws := readCSV(t, filepath.Join(dir, "weights.csv"))
	require.Len(t, ws, 1+len(ProbedStrategies)*2*n*2)
	require.Equal(t, []string{"constant", "1", "500", "1000", "0", "constant", "0.5"}, ws[1+n*2+1], "λ = 0, constant, bin 1")
	cross := readCSV(t, filepath.Join(dir, "cross.csv"))
	require.Len(t, cross, 1+len(res.tablePoints())*len(ProbedStrategies)*len(PaperStrategies))
	require.Equal(t, []string{"constant", "20", "constant", "true"}, cross[1][:4], "the diagonal is marked")
	require.Equal(t, "draws", cross[1][8], "two seeds: the draws are the units")
	require.InDelta(t, math.Log(2)+(math.Log(1.01)+math.Log(1.02))/3, mustFloat(t, cross[1][4]), 1e-12, "mean log ratio: the draws' mean of log 2(1 + 0.01 d)")

	want := []Verdict{Agrees, Agrees, Agrees, Agrees, Agrees, Agrees, Agrees, Agrees, Agrees}
	require.Equal(t, want, verdicts(r))
	require.Equal(t, RolePrimary, r.Findings[0].Role)
	for _, f := range r.Findings[1:] {
		require.Equal(t, RoleSecondary, f.Role)
	}
	md := r.Markdown()
	require.Less(t, strings.Index(md, "## Primary test"), strings.Index(md, "## Sizes"), "the primary test comes before the numbers")
	require.Contains(t, md, "ρ = 1 (fixed in advance")
	require.Contains(t, r.Findings[0].Measured, "constant: min-snr:5 1.51× vs snr 3.03× (lower)", "the diagonal cell (constant on its own model) is left out")
	require.Contains(t, r.Findings[0].Measured, "Min-SNR-5 is still the closest closed form")
	require.Contains(t, md, "| constant | 20 | *2.02* | 3.03 | 4.04 | **1.51** |", "diagonal italic, the lowest off-diagonal bold")
	require.Contains(t, md, "| t:2 | 2 | 8 | 5 / 0 / 0 | agrees |", "the sensitivity table's main row")
	require.Equal(t, Agrees, r.Overall(), "the primary test decides")
}

// The verdict flips off the diagonal: min-SNR-5 is lowest on its own
// models (the paper's setting) but not on the models trained with the
// others, where constant is; and a λ band or a binning can disagree on
// its own.
func TestFig4VerdictFlipsOffTheDiagonal(t *testing.T) {
	iMin := indexOf(ProbedStrategies, fig5MinSNR)
	circular := objectives(func(c fig4Cell) []float64 {
		if c.A == iMin {
			return []float64{2, 3, 4, 1.2}
		}
		return []float64{1.3, 1.4, 4, 2}
	})
	r, err := fig4Made(t, circular).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, r.Findings[0].Verdict, "off the diagonal constant is lower")
	require.Equal(t, Agrees, r.Findings[1].Verdict, "on its own models min-SNR-5 is lowest")
	require.Equal(t, Disagrees, r.Overall())
	require.Contains(t, r.Findings[0].Measured, "snr: min-snr:5 2.02× vs constant 1.31× (higher)")
	require.Contains(t, r.Findings[0].Measured, "Min-SNR-5 is not the closest closed form everywhere off the diagonal: another closed form is closer beyond noise on the models trained with constant, snr, max-snr:1, pareto:fw, pareto:ugd.")
	require.Contains(t, r.Findings[0].Measured, "constant: min-snr:5 2.02× vs snr 1.41× (higher)", "on constant's own models constant is the diagonal, left out")

	// The trained-with weighting's own cell is left out even when it is
	// the lowest: on snr's models snr is lowest, min-SNR-5 second.
	own := objectives(func(c fig4Cell) []float64 {
		v := []float64{2, 3, 4, 1.5}
		if c.A < len(PaperStrategies) {
			v[c.A] = 1.1
		}
		return v
	})
	r, err = fig4Made(t, own).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Agrees, r.Findings[0].Verdict, "1.5 beats the eligible others; the own weighting's 1.1 does not count")
	require.Contains(t, r.Findings[0].Measured, "snr: min-snr:5 1.51× vs constant 2.02× (lower)")

	// λ bands: min-SNR-5 lowest for ρ < 10, constant above.
	bands := objectives(func(c fig4Cell) []float64 {
		if c.Rho >= 10 {
			return []float64{1.1, 1.2, 4, 1.5}
		}
		return []float64{2, 3, 4, 1.5}
	})
	r, err = fig4Made(t, bands).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []Verdict{Agrees, Agrees, Disagrees}, []Verdict{r.Findings[3].Verdict, r.Findings[4].Verdict, r.Findings[5].Verdict})
	require.Contains(t, r.Findings[3].Claim, "ρ < 0.1 and λ = 0")
	require.Contains(t, r.Findings[3].Measured, "at ρ ∈ {λ = 0, 0.01}")

	// One binning disagrees: the sensitivity table says so, the primary
	// test (main probes) does not move.
	binned := objectives(func(c fig4Cell) []float64 {
		if c.Binning == 1 {
			return []float64{1.1, 1.2, 4, 1.5}
		}
		return []float64{2, 3, 4, 1.5}
	})
	r, err = fig4Made(t, binned).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Agrees, r.Findings[0].Verdict)
	require.Contains(t, r.Markdown(), "| logsnr:4 | 2 | 16 | 0 / 5 / 0 | does not agree |")

	// Noise: min-SNR-5 and constant equal but for the draws' 1% spread.
	tie := objectives(func(c fig4Cell) []float64 { return []float64{1.5, 1.5, 4, 1.5} })
	r, err = fig4Made(t, tie).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Inconclusive, r.Findings[0].Verdict, "a zero paired difference is within noise")
}

// mustFloat parses a CSV cell.
func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v
}
