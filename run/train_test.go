package run_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// toySpec is the small run most tests share: a 2-block ResMLP on 8
// Gaussians, a metrics record every 10 steps, one probe every 10 steps.
func toySpec(steps int) run.Spec {
	return run.Spec{
		Net:   nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{Width: 16, Depth: 2}},
		Train: diffusion.TrainSpec{Data: "toy:8gaussians", Target: "v", Weighting: "min-snr:5", Batch: 32, EvalSize: 16, Seed: 3, Optim: nn.OptimConfig{LR: 2e-3, Warmup: 5}},
		Steps: steps,
		Eval:  run.EvalSpec{Every: 10},
		Probes: []conflict.ProbeSpec{
			{Name: "p", Every: 10, Bins: "t:4", PerBin: 4, Seed: 7, Methods: []string{"fw"}},
		},
	}
}

// outcome is what a run leaves that must not depend on how it was carried
// out: the final state, and the records without their timing fields.
type outcome struct {
	params, m, v, ema []float32
	rng               []byte
	records           []run.Record
	probes            []conflict.Record
}

func outcomeOf(t *testing.T, r *run.Run) outcome {
	t.Helper()
	ck, err := r.Checkpoint()
	require.NoError(t, err)
	recs, err := r.Records()
	require.NoError(t, err)
	for i := range recs {
		recs[i].StepsPerSec, recs[i].Elapsed = 0, 0
	}
	_, probes, err := r.Probe("p")
	require.NoError(t, err)
	for i := range probes {
		probes[i].Seconds = 0
	}
	return outcome{ck.Params, ck.M, ck.V, ck.EMA, ck.RNG, recs, probes}
}

func TestTrainWritesTheRunFolder(t *testing.T) {
	dir := t.TempDir()
	var recs []run.Record
	var probes []int
	var progress []int
	r, err := run.Train(context.Background(), dir, toySpec(25), run.Options{
		OnRecord:   func(rec run.Record) error { recs = append(recs, rec); return nil },
		OnProbe:    func(name string, rec conflict.Record) error { probes = append(probes, rec.Step); return nil },
		OnProgress: func(p run.Progress) { progress = append(progress, p.Step) },
	})
	require.NoError(t, err)
	require.True(t, r.Complete)
	require.Equal(t, 25, r.Step)
	require.Empty(t, r.Legacy)
	for _, f := range []string{run.SpecFile, run.CheckpointFile, run.MetricsFile, run.ProgressFile, run.DoneFile, "probes/p/probe.json", "probes/p/probes.jsonl"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	require.Equal(t, []int{0, 10, 20}, probes)
	require.Len(t, progress, 25)
	require.Len(t, recs, 3, "records at 10, 20 and the last step")
	require.Equal(t, []int{10, 20, 25}, []int{recs[0].Step, recs[1].Step, recs[2].Step})

	// What the callbacks saw is what the folder holds.
	back, err := r.Records()
	require.NoError(t, err)
	require.Equal(t, recs, back)
	opened, err := run.Open(dir)
	require.NoError(t, err)
	require.Equal(t, r.Spec, opened.Spec)
	require.True(t, opened.Complete)
	require.Positive(t, opened.TrainTime)

	// The spec on disk is normalised: defaults and the data's dimension.
	require.Equal(t, 2, r.Spec.Net.ResMLP.Dim)
	require.Equal(t, 32, r.Spec.Net.ResMLP.Hidden)
	require.Equal(t, "uniform", r.Spec.Train.Density)
	require.Equal(t, "cosine", r.Spec.Train.Schedule)
	require.Equal(t, 1000, r.Spec.Train.T)

	var p struct {
		Step  int    `json:"step"`
		State string `json:"state"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, run.ProgressFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &p))
	require.Equal(t, 25, p.Step)
	require.Equal(t, "complete", p.State)

	den, err := r.Denoiser(nn.NewCPU(), true)
	require.NoError(t, err)
	require.Equal(t, 2, den.Dim())
}

// A run cancelled between steps writes its checkpoint and says so; its
// resume ends bit-identical to an uninterrupted run, with the same records
// and probes.
func TestInterruptAndResumeIsBitIdentical(t *testing.T) {
	const N = 40
	straight, err := run.Train(context.Background(), t.TempDir(), toySpec(N), run.Options{})
	require.NoError(t, err)
	want := outcomeOf(t, straight)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = run.Train(ctx, dir, toySpec(N), run.Options{OnProgress: func(p run.Progress) {
		if p.Step == 17 {
			cancel()
		}
	}})
	var stop *run.Interrupted
	require.ErrorAs(t, err, &stop)
	require.Equal(t, 17, stop.Step)
	require.ErrorIs(t, err, context.Canceled)
	half, err := run.Open(dir)
	require.NoError(t, err)
	require.False(t, half.Complete)
	require.Equal(t, 17, half.Step)
	require.NoFileExists(t, filepath.Join(dir, run.DoneFile))

	resumed, err := run.Train(context.Background(), dir, toySpec(N), run.Options{Existing: run.Resume})
	require.NoError(t, err)
	require.Equal(t, want, outcomeOf(t, resumed))
}

// A session killed after its last checkpoint leaves records later than
// it; the resumed run drops them, writes them again, and still ends where
// an uninterrupted run does. Here the kill is a failing callback after the
// probe at step 30, with checkpoints every 20 steps.
func TestFailureKeepsTheLastCheckpointAndResumes(t *testing.T) {
	const N = 40
	straight, err := run.Train(context.Background(), t.TempDir(), toySpec(N), run.Options{})
	require.NoError(t, err)
	want := outcomeOf(t, straight)

	dir := t.TempDir()
	boom := errors.New("boom")
	_, err = run.Train(context.Background(), dir, toySpec(N), run.Options{CheckpointEvery: 20, OnProbe: func(_ string, rec conflict.Record) error {
		if rec.Step == 30 {
			return boom
		}
		return nil
	}})
	require.ErrorIs(t, err, boom)
	half, err := run.Open(dir)
	require.NoError(t, err)
	require.Equal(t, 20, half.Step)
	raw, err := os.ReadFile(filepath.Join(dir, run.MetricsFile))
	require.NoError(t, err)
	require.Contains(t, string(raw), `{"step":30,`, "the killed session's record is on disk")
	recs, err := half.Records()
	require.NoError(t, err)
	require.Equal(t, 20, recs[len(recs)-1].Step, "but not part of the run")
	raw, err = os.ReadFile(filepath.Join(dir, run.ProgressFile))
	require.NoError(t, err)
	require.Contains(t, string(raw), `"state": "failed"`)
	require.Contains(t, string(raw), "boom")

	resumed, err := run.Train(context.Background(), dir, toySpec(N), run.Options{Existing: run.Resume})
	require.NoError(t, err)
	require.Equal(t, want, outcomeOf(t, resumed))
}

// A resume may train further than the run first asked for: the result is
// that of a run asked for the longer length from the start.
func TestResumeToMoreSteps(t *testing.T) {
	dir := t.TempDir()
	_, err := run.Train(context.Background(), dir, toySpec(25), run.Options{})
	require.NoError(t, err)
	longer, err := run.Train(context.Background(), dir, toySpec(35), run.Options{Existing: run.Resume})
	require.NoError(t, err)
	require.Equal(t, 35, longer.Spec.Steps)
	require.True(t, longer.Complete)
	straight, err := run.Train(context.Background(), t.TempDir(), toySpec(35), run.Options{})
	require.NoError(t, err)
	a, b := outcomeOf(t, straight), outcomeOf(t, longer)
	require.Equal(t, a.params, b.params)
	require.Equal(t, a.probes, b.probes)
	// The record of step 25, the old last step, is extra.
	require.Len(t, b.records, len(a.records)+1)
	require.Equal(t, 25, b.records[2].Step)
}

func TestExistingRuns(t *testing.T) {
	dir := t.TempDir()
	bg := context.Background()

	_, err := run.Train(bg, dir, toySpec(10), run.Options{Existing: run.Resume})
	require.ErrorIs(t, err, run.ErrNoRun)
	require.ErrorIs(t, err, run.ErrInput)
	missing := filepath.Join(dir, "missing")
	_, err = run.Train(bg, missing, toySpec(10), run.Options{Existing: run.Resume})
	require.ErrorIs(t, err, run.ErrNoRun)
	require.NoDirExists(t, missing, "a run that cannot start leaves no folder it made")

	first, err := run.Train(bg, dir, toySpec(10), run.Options{})
	require.NoError(t, err)

	_, err = run.Train(bg, dir, toySpec(10), run.Options{})
	require.ErrorIs(t, err, run.ErrExists)
	require.ErrorIs(t, err, run.ErrInput)

	other := toySpec(20)
	other.Train.Weighting, other.Train.Seed = "snr", 4
	_, err = run.Train(bg, dir, other, run.Options{Existing: run.Resume})
	require.ErrorIs(t, err, run.ErrMismatch)
	require.ErrorContains(t, err, `train.seed: 3 vs 4`)
	require.ErrorContains(t, err, `train.weighting: "min-snr:5" vs "snr"`)

	_, err = run.Train(bg, dir, toySpec(10), run.Options{Existing: run.Resume})
	require.ErrorIs(t, err, run.ErrFinished)

	// Reuse returns a complete run of the same spec untouched...
	again, err := run.Train(bg, dir, toySpec(10), run.Options{Existing: run.Reuse, OnProgress: func(run.Progress) { t.Fatal("trained") }})
	require.NoError(t, err)
	require.True(t, again.Cached)
	require.Equal(t, outcomeOf(t, first), outcomeOf(t, again))
	// ...and replaces one of another spec; unrelated files stay.
	keep := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(keep, []byte("mine"), 0o644))
	var log strings.Builder
	replaced, err := run.Train(bg, dir, other, run.Options{Existing: run.Reuse, Log: &log})
	require.NoError(t, err)
	require.False(t, replaced.Cached)
	require.Equal(t, "snr", replaced.Spec.Train.Weighting)
	require.Contains(t, log.String(), "training anew")
	require.FileExists(t, keep)

	// Replace trains anew whatever is there.
	fresh, err := run.Train(bg, dir, toySpec(10), run.Options{Existing: run.Replace})
	require.NoError(t, err)
	require.Equal(t, outcomeOf(t, first), outcomeOf(t, fresh))

	// A damaged checkpoint: Reuse trains anew, Resume refuses.
	require.NoError(t, os.WriteFile(filepath.Join(dir, run.CheckpointFile), []byte("junk"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, run.DoneFile)))
	_, err = run.Train(bg, dir, toySpec(20), run.Options{Existing: run.Resume})
	require.ErrorIs(t, err, run.ErrInput)
	_, err = run.Train(bg, dir, toySpec(10), run.Options{Existing: run.Reuse})
	require.NoError(t, err)
}

// Stale temporary files of a killed write are removed when a run starts.
func TestStaleTempsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{".checkpoint.bin.tmp-1", "probes/p/.probes.jsonl.tmp-2", "probes/p/gram/.step-00000000.npy.tmp-3"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte("half"), 0o644))
	}
	_, err := run.Train(context.Background(), dir, toySpec(5), run.Options{})
	require.NoError(t, err)
	stale, _ := filepath.Glob(filepath.Join(dir, "**", ".*.tmp-*"))
	require.Empty(t, stale)
	require.NoFileExists(t, filepath.Join(dir, ".checkpoint.bin.tmp-1"))
	require.NoFileExists(t, filepath.Join(dir, "probes/p/gram/.step-00000000.npy.tmp-3"))
}

// The online Pareto weighting is a weighting like any other: its spec is
// in the run's spec and checkpoint, its run resumes bit-identically, and
// its default density stratifies the batch over its bins.
func TestOnlineWeightingRun(t *testing.T) {
	spec := toySpec(12)
	spec.Train.Weighting = "pareto:fw,bins=4"
	spec.Probes = nil
	straight, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
	require.NoError(t, err)
	require.Equal(t, "pareto:fw,lambda=0,bins=t:4,every=1,norm=none,tol=0.0001", straight.Spec.Train.Weighting)
	require.Equal(t, "stratified:4", straight.Spec.Train.Density)
	ck, err := straight.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, straight.Spec.Train.Weighting, ck.Config.Weighting)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = run.Train(ctx, dir, spec, run.Options{OnProgress: func(p run.Progress) {
		if p.Step == 5 {
			cancel()
		}
	}})
	require.Error(t, err)
	resumed, err := run.Train(context.Background(), dir, spec, run.Options{Existing: run.Resume})
	require.NoError(t, err)
	a, err := resumed.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, ck.Params, a.Params, "every=1: the resumed run solves at its first step, as the uninterrupted one")
}

// Sample quality is measured at every record on the EMA weights, Repeats
// times at the last step, and is part of the records.
func TestQualityRecords(t *testing.T) {
	spec := toySpec(20)
	spec.Probes = nil
	spec.Eval.Quality = &run.QualitySpec{Samples: 64, SamplerSteps: 3, Repeats: 3, Seed: 1}
	spec.Eval.AtStart = true
	r, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
	require.NoError(t, err)
	recs, err := r.Records()
	require.NoError(t, err)
	require.Equal(t, []int{0, 10, 20}, []int{recs[0].Step, recs[1].Step, recs[2].Step})
	require.True(t, math.IsNaN(recs[0].Loss), "no training loss before the first step")
	for _, rec := range recs {
		require.NotNil(t, rec.Quality)
		require.Equal(t, "SWD", rec.Quality.Metric)
		require.Positive(t, rec.Quality.Value)
		require.Positive(t, rec.Quality.Floor)
	}
	last := recs[2].Quality
	require.Len(t, last.Repeats, 3)
	require.Equal(t, last.Value, last.Repeats[0])
	require.Nil(t, recs[1].Quality.Repeats)
	require.Less(t, last.Value, recs[0].Quality.Value, "training improves the samples")
}

func TestSpecNormalizeDiffHash(t *testing.T) {
	a, err := toySpec(10).Normalize()
	require.NoError(t, err)
	b, err := a.Normalize()
	require.NoError(t, err)
	require.Equal(t, a, b, "normalising is idempotent")
	ha, err := toySpec(10).Hash()
	require.NoError(t, err)
	hb, err := a.Hash()
	require.NoError(t, err)
	require.Equal(t, ha, hb)
	require.Len(t, ha, 12)
	other := toySpec(10)
	other.Train.Optim.LR = 1e-3
	ho, err := other.Hash()
	require.NoError(t, err)
	require.NotEqual(t, ha, ho)
	d, err := a.Diff(other, false)
	require.NoError(t, err)
	require.Equal(t, []string{"train.optim.lr: 0.002 vs 0.001"}, d)
	longer := toySpec(99)
	d, err = a.Diff(longer, true)
	require.NoError(t, err)
	require.Empty(t, d, "steps may differ on resume")

	for field, mutate := range map[string]func(*run.Spec){
		"spec train.data":      func(s *run.Spec) { s.Train.Data = "toy:nope" },
		"spec train.schedule":  func(s *run.Spec) { s.Train.Schedule = "sqrt" },
		"spec train.target":    func(s *run.Spec) { s.Train.Target = "score" },
		"spec train.weighting": func(s *run.Spec) { s.Train.Weighting = "min-snr:-1" },
		"spec train.density":   func(s *run.Spec) { s.Train.Density = "stratified:0" },
		"spec train.optim":     func(s *run.Spec) { s.Train.Optim.LR = -1 },
		"spec net":             func(s *run.Spec) { s.Net.Kind = "unet" },
		"spec steps":           func(s *run.Spec) { s.Steps = 0 },
		"spec eval.every":      func(s *run.Spec) { s.Eval.Every = -1 },
		"spec eval.quality":    func(s *run.Spec) { s.Eval.Quality = &run.QualitySpec{Sampler: "euler"} },
		"spec probes.0":        func(s *run.Spec) { s.Probes[0].Bins = "t:1" },
		"probes.1.name":        func(s *run.Spec) { s.Probes = append(s.Probes, s.Probes[0]) },
		"probes.0.every":       func(s *run.Spec) { s.Probes[0].Every = 0 },
	} {
		s := toySpec(10)
		mutate(&s)
		_, err := s.Normalize()
		require.ErrorIs(t, err, run.ErrInput, field)
		require.ErrorContains(t, err, field)
	}
}

// Probing and measuring never change the training: the same spec without
// probes trains the same weights.
func TestProbesDoNotChangeTraining(t *testing.T) {
	with, err := run.Train(context.Background(), t.TempDir(), toySpec(15), run.Options{})
	require.NoError(t, err)
	spec := toySpec(15)
	spec.Probes = nil
	spec.Eval.Quality = &run.QualitySpec{Samples: 16, SamplerSteps: 2}
	without, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
	require.NoError(t, err)
	a, err := with.Checkpoint()
	require.NoError(t, err)
	b, err := without.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, a.Params, b.Params)
	require.Equal(t, a.EMA, b.EMA)
}

// A deadline is an interruption like a signal.
func TestDeadlineInterrupts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	_, err := run.Train(ctx, t.TempDir(), toySpec(10), run.Options{})
	var stop *run.Interrupted
	require.ErrorAs(t, err, &stop)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 0, stop.Step)
}

// A run with Init starts from another run's weights: it ends where a
// trainer built on those weights by hand ends.
func TestInitFromAnotherRun(t *testing.T) {
	base, err := run.Train(context.Background(), t.TempDir(), toySpec(10), run.Options{})
	require.NoError(t, err)
	ft := toySpec(5)
	ft.Probes = nil
	ft.Train.Density, ft.Train.Optim.Warmup = "range:100,200", 0
	ft.Init = &run.InitSpec{From: base.Dir, EMA: true}
	got, err := run.Train(context.Background(), t.TempDir(), ft, run.Options{})
	require.NoError(t, err)
	// A relative From is relative to the run's folder.
	rel := ft
	rel.Init = &run.InitSpec{From: filepath.Join("..", filepath.Base(base.Dir)), EMA: true}
	beside, err := run.Train(context.Background(), filepath.Join(filepath.Dir(base.Dir), "ft"), rel, run.Options{})
	require.NoError(t, err)
	b, err := beside.Checkpoint()
	require.NoError(t, err)

	ck, err := base.Checkpoint()
	require.NoError(t, err)
	net, err := ck.Network(nn.NewCPU(), true)
	require.NoError(t, err)
	n, err := ft.Normalize()
	require.NoError(t, err)
	tc, err := n.Train.TrainConfig()
	require.NoError(t, err)
	tc.Steps = 5
	toy, _, err := data.Open("toy:8gaussians", "")
	require.NoError(t, err)
	tr, err := diffusion.NewTrainer(net, toy, toy, tc)
	require.NoError(t, err)
	for tr.Step() < 5 {
		require.NoError(t, tr.StepOnce())
	}
	a, err := got.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, tr.Checkpoint().Params, a.Params)
	require.Equal(t, a.Params, b.Params)

	bad := ft
	bad.Net = nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{Width: 8, Depth: 1}}
	_, err = run.Train(context.Background(), t.TempDir(), bad, run.Options{})
	require.ErrorIs(t, err, run.ErrInput)
	require.ErrorContains(t, err, "another network")
}

// A learned weighting's u and its optimiser state are in the checkpoint:
// a run interrupted and resumed ends bit-identical to an uninterrupted
// one, u included, with the same records (which hold u's parameters), for
// both models of u.
func TestLearnedWeightingResumesBitIdentical(t *testing.T) {
	for _, w := range []string{"learned:bins=t:4", "learned:mlp=8,lr=0.02"} {
		spec := toySpec(30)
		spec.Train.Weighting = w
		straight, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
		require.NoError(t, err)
		want := outcomeOf(t, straight)
		ck, err := straight.Checkpoint()
		require.NoError(t, err)
		require.NotEmpty(t, ck.PassState, w)
		require.NotNil(t, want.records[len(want.records)-1].PassParams, w)
		require.NotEqual(t, 0.0, want.records[len(want.records)-1].PassParams[0], "%s: u has moved", w)

		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err = run.Train(ctx, dir, spec, run.Options{OnProgress: func(p run.Progress) {
			if p.Step == 13 {
				cancel()
			}
		}})
		var stop *run.Interrupted
		require.ErrorAs(t, err, &stop, w)
		resumed, err := run.Train(context.Background(), dir, spec, run.Options{Existing: run.Resume})
		require.NoError(t, err)
		require.Equal(t, want, outcomeOf(t, resumed), w)
		rck, err := resumed.Checkpoint()
		require.NoError(t, err)
		require.JSONEq(t, string(ck.PassState), string(rck.PassState), w)
		require.Equal(t, ck.PassState, rck.PassState, "%s: the state's bytes", w)
	}
}

// An online weighting's state — its last weights (every=N), GradVac's EMA
// targets — is in the checkpoint, and PCGrad's and GradVac's orders are
// the step's, so an interrupted and resumed run with any of them is
// bit-identical to an uninterrupted one. The interruption at step 13 falls
// between upgrad's solves (every=5: steps 1, 6, 11, 16, …).
func TestOnlineWeightingResumesBitIdentical(t *testing.T) {
	for _, w := range []string{"mtl:pcgrad,bins=4", "mtl:gradvac,bins=4,beta=0.3", "mtl:upgrad,bins=4,every=5", "pareto:fw,bins=4,every=5"} {
		spec := toySpec(30)
		spec.Train.Weighting = w
		straight, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
		require.NoError(t, err)
		want := outcomeOf(t, straight)
		ck, err := straight.Checkpoint()
		require.NoError(t, err)
		require.NotEmpty(t, ck.PassState, w)

		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err = run.Train(ctx, dir, spec, run.Options{OnProgress: func(p run.Progress) {
			if p.Step == 13 {
				cancel()
			}
		}})
		var stop *run.Interrupted
		require.ErrorAs(t, err, &stop, w)
		resumed, err := run.Train(context.Background(), dir, spec, run.Options{Existing: run.Resume})
		require.NoError(t, err)
		require.Equal(t, want, outcomeOf(t, resumed), w)
		rck, err := resumed.Checkpoint()
		require.NoError(t, err)
		require.Equal(t, string(ck.PassState), string(rck.PassState), "%s: the state's bytes", w)
	}
}
