package reproduce

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/stretchr/testify/require"
)

// The split targets compute without writing into their folder, and their
// results render the files of `reproduce NAME` byte for byte (the smoke
// run's, from the same models).
func TestComputeThenRender(t *testing.T) {
	dir, err := smokeRun()
	require.NoError(t, err)
	env := &Env{Scale: Smoke, Out: t.TempDir(), Models: filepath.Join(dir, "models"), Seed: 1}
	for _, name := range []string{"fig5", "fig6", "table2", "conflict"} {
		t.Run(name, func(t *testing.T) {
			tg, _ := Lookup(name)
			res, err := tg.Compute(context.Background(), env)
			require.NoError(t, err)
			entries, _ := os.ReadDir(env.Out)
			for _, e := range entries {
				require.Equal(t, "models", e.Name(), "compute writes only the model cache")
			}
			out := t.TempDir()
			r, err := res.Render(out)
			require.NoError(t, err)
			var files []string
			for f := range wantFiles[name] {
				files = append(files, f)
			}
			require.ElementsMatch(t, files, r.Files)
			for _, f := range r.Files {
				a, err := os.ReadFile(filepath.Join(dir, name, f))
				require.NoError(t, err)
				b, err := os.ReadFile(filepath.Join(out, f))
				require.NoError(t, err)
				require.Equal(t, a, b, "%s/%s", name, f)
			}
		})
	}
}

// conflict's verdict: every probe after step 0 is a case, decided by its
// slope against ±2 standard errors.
func TestConflictVerdictFollowsTheSlopes(t *testing.T) {
	stats := func(slopes ...float64) []ConflictStats {
		var sts []ConflictStats
		for i, s := range slopes {
			sts = append(sts, ConflictStats{Step: 10 * i, Slope: s, SlopeSE: 0.01, ByDistance: []float64{1, 0.5, 0.2, 0.3}, ByDistanceSE: make([]float64, 4)})
		}
		return sts
	}
	r := &ConflictResult{Scale: Smoke, Probes: ProbeSizesFor(Smoke), Run: &ProbeRun{Info: conflict.Info{Edges: []int{0, 10, 20, 30, 40}}},
		HeatmapSteps: []int{0, 10, 20}, Stats: stats(0.5, -0.1, -0.03)}
	f := r.distanceFinding()
	require.Equal(t, Agrees, f.Verdict, "step 0's rising slope does not count")
	require.Contains(t, f.Measured, "beyond noise at 2 of 2 probes")
	require.Contains(t, f.Measured, "lowest 2 bins apart (+0.20)")
	r.Stats = stats(0, -0.1, 0.01)
	require.Equal(t, Partly, r.distanceFinding().Verdict)
	r.Stats = stats(0, 0.1, 0.01)
	require.Equal(t, Disagrees, r.distanceFinding().Verdict)
	r.Stats = stats(0, 0.01, -0.01)
	require.Equal(t, Inconclusive, r.distanceFinding().Verdict)
}
