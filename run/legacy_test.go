package run_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// legacyDir copies a folder of testdata/legacy (see its README) to a
// temporary folder, so that a test may write into it.
func legacyDir(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "legacy", name)
	dst := filepath.Join(t.TempDir(), filepath.Base(name))
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

// Every layout of the earlier releases opens: its spec is derived from
// its checkpoint and files, its records, probes and network read back.
func TestOpenLegacyFolders(t *testing.T) {
	for _, c := range []struct {
		dir, layout, weighting, data string
		steps, every, records        int
		probes                       map[string]int // name → records
		quality                      bool
	}{
		{dir: "train", layout: "train", weighting: "min-snr:5", data: "toy:8gaussians", steps: 20, every: 10, records: 2},
		{dir: "train-pareto", layout: "train", weighting: "pareto:fw,lambda=0,bins=t:4,every=1,norm=none,tol=0.0001", data: "toy:moons", steps: 20, every: 10, records: 2},
		{dir: "conflict", layout: "conflict", weighting: "min-snr:5", data: "toy:8gaussians", steps: 20, every: 10, records: 2, probes: map[string]int{"conflict": 3}},
		{dir: "demo/model", layout: "train", weighting: "min-snr:5", data: "toy:8gaussians", steps: 60, every: 20, records: 3},
		{dir: "reproduce/v_min-snr-5_s1_715a91b1007e", layout: "reproduce-model", weighting: "min-snr:5", data: "toy:checkerboard", steps: 40, every: 20, records: 2, quality: true},
		{dir: "reproduce/v_min-snr-5_s1_probe_ce2851d50b84", layout: "reproduce-probed", weighting: "min-snr:5", data: "toy:checkerboard", steps: 40, every: 40, records: 0,
			probes: map[string]int{"draw-0": 3, "draw-1": 3, "draw-2": 3}},
	} {
		r, err := run.Open(filepath.Join("testdata", "legacy", c.dir))
		require.NoError(t, err, c.dir)
		require.Equal(t, c.layout, r.Legacy, c.dir)
		require.True(t, r.Complete, c.dir)
		require.Equal(t, c.steps, r.Step, c.dir)
		require.Equal(t, c.steps, r.Spec.Steps, c.dir)
		require.Equal(t, c.data, r.Spec.Train.Data, c.dir)
		require.Equal(t, c.weighting, r.Spec.Train.Weighting, c.dir)
		require.Equal(t, c.every, r.Spec.Eval.Every, c.dir)
		require.Equal(t, c.quality, r.Spec.Eval.Quality != nil, c.dir)
		recs, err := r.Records()
		require.NoError(t, err, c.dir)
		require.Len(t, recs, c.records, c.dir)
		for _, rec := range recs {
			require.Len(t, rec.X0MSE, 4, c.dir)
			require.Equal(t, c.quality, rec.Quality != nil, c.dir)
		}
		if c.quality {
			last := recs[len(recs)-1].Quality
			require.Equal(t, "SWD", last.Metric)
			require.Len(t, last.Repeats, 2, "model.json's final values")
			require.Positive(t, last.Floor)
		}
		require.Len(t, r.ProbeNames(), len(c.probes), c.dir)
		for name, n := range c.probes {
			info, probes, err := r.Probe(name)
			require.NoError(t, err, c.dir)
			require.Len(t, probes, n, c.dir)
			require.Equal(t, info.Bins().String(), r.Spec.Probes[0].Bins)
			require.NotNil(t, probes[0].Gram)
		}
		den, err := r.Denoiser(nn.NewCPU(), true)
		require.NoError(t, err, c.dir)
		out := make([]float32, 2)
		den.Predict(out, []float32{0.3, -0.2}, []int{500})
		require.NotZero(t, out[0], c.dir)
	}
	// A checkpoint file on its own opens too.
	r, err := run.Open(filepath.Join("testdata", "legacy", "train", run.CheckpointFile))
	require.NoError(t, err)
	require.Equal(t, "checkpoint", r.Legacy)
	require.Equal(t, 20, r.Step)
}

// A train folder of an earlier release resumes in the current layout, and
// ends bit-identical to a new run of its spec: the numbers of training did
// not change with the run layer. (The online Pareto run too: its spec was
// stored as "constant" plus a meta field then.)
func TestResumeLegacyTrainFolder(t *testing.T) {
	for _, name := range []string{"train", "train-pareto"} {
		dir := legacyDir(t, name)
		old, err := run.Open(dir)
		require.NoError(t, err)
		spec := old.Spec
		spec.Steps = 30
		resumed, err := run.Train(context.Background(), dir, spec, run.Options{Existing: run.Resume})
		require.NoError(t, err, name)
		require.Empty(t, resumed.Legacy, "written in the current layout from then on")
		require.FileExists(t, filepath.Join(dir, run.SpecFile))
		fresh, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
		require.NoError(t, err)
		a, err := resumed.Checkpoint()
		require.NoError(t, err)
		b, err := fresh.Checkpoint()
		require.NoError(t, err)
		require.Equal(t, b.Params, a.Params, name)
		require.Equal(t, b.EMA, a.EMA, name)
		ra, err := resumed.Records()
		require.NoError(t, err)
		rb, err := fresh.Records()
		require.NoError(t, err)
		require.Len(t, ra, len(rb))
		for i := range ra {
			require.Equal(t, rb[i].EvalLoss, ra[i].EvalLoss, "%s record %d", name, i)
			require.Equal(t, rb[i].X0MSE, ra[i].X0MSE, "%s record %d", name, i)
		}
	}
	// A probed run of an earlier release cannot resume (its logs are in
	// the old places); it says so.
	dir := legacyDir(t, "conflict")
	old, err := run.Open(dir)
	require.NoError(t, err)
	spec := old.Spec
	spec.Steps = 30
	_, err = run.Train(context.Background(), dir, spec, run.Options{Existing: run.Resume})
	require.ErrorIs(t, err, run.ErrInput)
	require.ErrorContains(t, err, "cannot resume")
}

// Foreign and damaged folders are errors naming the file, never a panic.
func TestOpenBadFolders(t *testing.T) {
	_, err := run.Open(t.TempDir())
	require.ErrorIs(t, err, run.ErrNoRun)
	_, err = run.Open(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, run.ErrNoRun)
	for name, content := range map[string]string{
		run.SpecFile:       `{"paretodiff_run": "9", "spec": {}}`,
		run.CheckpointFile: "PDIFFCK3 not really",
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
		_, err := run.Open(dir)
		require.ErrorIs(t, err, run.ErrInput, name)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, run.SpecFile), []byte(`{"paretodiff_run": "1", "spec": {"steps": 0}}`), 0o644))
	_, err = run.Open(dir)
	require.ErrorIs(t, err, run.ErrInput)
	require.ErrorContains(t, err, "spec.json")

	// A metrics log with a garbled line in the middle.
	dir = legacyDir(t, "train")
	raw, err := os.ReadFile(filepath.Join(dir, run.MetricsFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, run.MetricsFile), append([]byte("{garbage\n"), raw...), 0o644))
	_, err = run.Open(dir)
	require.ErrorIs(t, err, run.ErrInput)
	require.ErrorContains(t, err, "line 1")
}
