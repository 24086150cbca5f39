package reproduce

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fig2Made is a hand-made fig2 result: each run changes the loss by
// inside at its own timesteps and by far elsewhere, with standard error se.
func fig2Made(inside, far, se float64) *Fig2Result {
	ms, fs := ModelSizesFor(Smoke), Fig2SizesFor(Smoke)
	res := &Fig2Result{Scale: Smoke, Model: ms, Sizes: fs, Runs: fig2Runs(ms.T)}
	for i := range res.Runs {
		r := &res.Runs[i]
		for _, t := range GridTimesteps(ms.T, fs.Grid) {
			rel := far
			if t >= r.Lo && t < r.Hi {
				rel = inside
			}
			r.Changes = append(r.Changes, LossChange{T: t, Before: 1, After: 1 + rel, Rel: rel, SE: se})
		}
	}
	return res
}

// Render writes fig2's files from a result alone, and its verdict follows
// the numbers: better inside and worse far away agrees, worse inside
// does not agree, changes within noise are inconclusive.
func TestFig2RenderFollowsTheNumbers(t *testing.T) {
	dir := t.TempDir()
	res := fig2Made(-0.1, 0.05, 0.01)
	r, err := res.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"loss_change.csv", "loss_change.png"}, r.Files)
	for _, f := range r.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	rows := readCSV(t, filepath.Join(dir, "loss_change.csv"))
	require.Len(t, rows, 1+len(res.Runs)*res.Sizes.Grid)
	require.Equal(t, []string{"[100,200)", "100", "200"}, rows[1][:3])
	require.Equal(t, []string{"[200,300)", "200", "300"}, rows[1+res.Sizes.Grid][:3], "the second run's first row")
	require.Equal(t, Agrees, r.Findings[0].Verdict)
	require.Contains(t, r.Markdown(), "| [100,200) | -10.00% ± ")

	for _, c := range []struct {
		inside, far, se float64
		want            Verdict
	}{
		{0.1, 0.05, 0.01, Disagrees},
		{-0.1, -0.05, 0.01, Disagrees},
		{-0.001, 0.001, 0.01, Inconclusive},
	} {
		r, err := fig2Made(c.inside, c.far, c.se).Render(t.TempDir())
		require.NoError(t, err)
		require.Equal(t, c.want, r.Findings[0].Verdict, "inside %g, far %g", c.inside, c.far)
	}
}
