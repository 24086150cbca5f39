package reproduce

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
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

// conflictRecord is a probe of 4 bins whose unit gradients lie at angles
// k·φ in a plane: the cosine of bins d apart is cos(dφ).
func conflictRecord(step int, phi float64) conflict.Record {
	var rows [][]float64
	for k := range 4 {
		rows = append(rows, []float64{math.Cos(float64(k) * phi), math.Sin(float64(k) * phi)})
	}
	g := gram.FromRows(rows)
	return conflict.Record{Step: step, Gram: g, Cosine: gram.Cosine(g), Stats: conflict.Summarize(g)}
}

// conflictMade is a hand-made conflict result: every training weighting
// of ProbedStrategies, one seed, 3 draws, probes at steps 0, 10 and 20 and
// one sensitivity binning at the last step; phi(a, step) is the angle step
// of model a (1% larger on each further draw).
func conflictMade(phi func(a, step int) float64) *ConflictResult {
	ms := ModelSizesFor(Smoke)
	ps := ms.Probes
	ps.Binnings = ps.Binnings[:1]
	r := &ConflictResult{Scale: Smoke, Sizes: ms, Probes: ps, Trained: ProbedStrategies, Seeds: []uint64{1}, Strategies: PaperStrategies,
		Closed:   [][]float64{{0.25, 0.25, 0.25, 0.25}, {0.7, 0.1, 0.1, 0.1}, {0.55, 0.15, 0.15, 0.15}, {0.4, 0.3, 0.2, 0.1}},
		Schedule: diffusion.Cosine(1000), HeatmapSteps: []int{0, 10, 20}}
	info := conflict.Info{Edges: []int{0, 250, 500, 750, 1000}, Labels: []string{"0-249", "250-499", "500-749", "750-999"}, PerBin: 8}
	for a, tr := range r.Trained {
		p := &ProbeRun{Info: info}
		for d := range 3 {
			var recs []conflict.Record
			for _, step := range []int{0, 10, 20} {
				recs = append(recs, conflictRecord(step, phi(a, step)*(1+0.01*float64(d))))
			}
			p.Draws = append(p.Draws, recs)
		}
		b := BinningProbes{Spec: ps.Binnings[0], Info: info}
		for d := range 3 {
			b.Draws = append(b.Draws, []conflict.Record{conflictRecord(0, 0.3), conflictRecord(20, 0.3*(1+0.01*float64(d)))})
		}
		p.Binnings = []BinningProbes{b}
		m := ConflictModel{Trained: tr, Seed: 1, Run: p}
		for i := range p.Steps() {
			m.Stats = append(m.Stats, SummarizeConflict(p.At(i)))
		}
		r.Models = append(r.Models, []ConflictModel{m})
	}
	return r
}

// conflict's verdicts: the primary test is the slope at the last probe on
// every training weighting's models; the cancellation finding compares
// each closed form's own cancellation with the others'.
func TestConflictVerdictFollowsTheSlopes(t *testing.T) {
	// Angles 0.3 apart: the cosine falls with distance (cos 0.3d).
	r := conflictMade(func(int, int) float64 { return 0.3 })
	dir := t.TempDir()
	rep, err := r.Render(dir)
	require.NoError(t, err)
	for _, f := range []string{"cosine.png", "stats.png", "pairs.csv", "summary.csv", "by_distance.csv", "cancellation.csv", "sensitivity.csv", "distance.png", "cross.png"} {
		require.Contains(t, rep.Files, f)
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	require.Equal(t, Agrees, rep.Findings[0].Verdict)
	require.Equal(t, RolePrimary, rep.Findings[0].Role)
	require.Equal(t, Agrees, rep.Overall())
	require.Contains(t, rep.Findings[0].Measured, "on the models of 6 of 6 training weightings")
	require.Contains(t, rep.Findings[0].Measured, fmt.Sprintf("constant %+.2f one bin apart", (math.Cos(0.3)+math.Cos(0.303)+math.Cos(0.306))/3))
	require.Contains(t, rep.Markdown(), "| t:4 | 4 | 8 | 6 / 0 / 0 | agrees |")
	require.Len(t, readCSV(t, filepath.Join(dir, "pairs.csv")), 1+len(ProbedStrategies)*3*3*6)

	// Angles 2π/3 apart: cosines −0.5, −0.5, +1 by distance, the slope
	// rises; for one training weighting only, the verdict is partly.
	rising := func(a, step int) float64 {
		if a == 2 && step > 0 {
			return 2 * math.Pi / 3
		}
		return 0.3
	}
	rep, err = conflictMade(rising).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Partly, rep.Findings[0].Verdict)
	require.Contains(t, rep.Findings[0].Measured, "rises beyond noise on 1")
	require.Contains(t, rep.Findings[0].Measured, "max-snr:1 +")
	require.Equal(t, Partly, rep.Findings[1].Verdict, "throughout training: 2 of 12 cases rise")
	rep, err = conflictMade(func(_, step int) float64 {
		if step > 0 {
			return 2 * math.Pi / 3
		}
		return 0.3
	}).Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Disagrees, rep.Findings[0].Verdict)
	require.Equal(t, Disagrees, rep.Overall(), "the primary test decides")
}

// cancellation is log(wᵀGw / Σ w_k² G_kk): 0 for orthogonal gradients,
// log 2 for two equal ones, −∞ for two opposite ones.
func TestCancellation(t *testing.T) {
	rec := func(rows [][]float64) conflict.Record { return conflict.Record{Gram: gram.FromRows(rows)} }
	w := []float64{0.5, 0.5}
	require.InDelta(t, 0, cancellation(rec([][]float64{{1, 0}, {0, 1}}), w), exactTol)
	require.InDelta(t, math.Log(2), cancellation(rec([][]float64{{1, 0}, {1, 0}}), w), exactTol)
	require.True(t, math.IsInf(cancellation(rec([][]float64{{1, 0}, {-1, 0}}), w), -1))
	// (1, 0) and (0.6, 0.8) with weights 0.5: ‖(0.8, 0.4)‖² = 0.8 over 0.5.
	require.InDelta(t, math.Log(1.6), cancellation(rec([][]float64{{1, 0}, {0.6, 0.8}}), w), exactTol)
}
