package reproduce

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// planOf is the plan of some targets at smoke scale with seed 1.
func planOf(t *testing.T, env *Env, names ...string) []PlannedRun {
	t.Helper()
	ts, err := Resolve(names)
	require.NoError(t, err)
	plan, err := Plan(env, ts)
	require.NoError(t, err)
	return plan
}

// TestPlanCoversCompute is the invariant of Target.Plan: for every target
// and network (the ResMLP and the smoke scale's DiT on MNIST), once its
// plan is trained into an empty cache, its Compute trains nothing
// and uses exactly the planned runs. A target whose Compute trains a run
// its Plan does not declare (or declares one it never uses) fails here:
// declare every run in the target's plan function, and take Compute's
// specs from it.
func TestPlanCoversCompute(t *testing.T) {
	for _, tg := range Targets() {
		for _, model := range []string{"resmlp", "dit"} {
			t.Run(tg.Name+"/"+model, func(t *testing.T) { planCoversCompute(t, tg, model) })
		}
	}
}

// planCoversCompute is TestPlanCoversCompute of one target and model.
func planCoversCompute(t *testing.T, tg Target, model string) {
	out := t.TempDir()
	sweep := &Env{Scale: Smoke, Model: model, Out: out, Seed: 1, ClassifierDir: t.TempDir()}
	plan := planOf(t, sweep, tg.Name)
	for i := range plan {
		_, err := TrainPlanned(context.Background(), sweep, plan, i)
		require.NoError(t, err)
	}
	trained, _ := sweep.counts()
	require.Equal(t, len(plan), trained, "each planned run trained once")

	env := &Env{Scale: Smoke, Model: model, Out: out, Seed: 1, ClassifierDir: sweep.ClassifierDir}
	_, err := tg.Compute(context.Background(), env)
	require.NoError(t, err)
	trained, _ = env.counts()
	require.Zero(t, trained, "%s's Compute trains a run its Plan does not declare", tg.Name)
	var keys []string
	for _, p := range plan {
		keys = append(keys, p.Key)
	}
	used := slices.Sorted(maps.Keys(env.usedKeys()))
	slices.Sort(keys)
	require.Equal(t, keys, used, "%s's Compute uses exactly the runs of its plan", tg.Name)
}

// The plan of all is what the serial run trains: its keys are the folders
// of the smoke run's model cache, each once, in an order in which each can
// be trained.
func TestPlanIsWhatTheSerialRunTrains(t *testing.T) {
	dir, err := smokeRun()
	require.NoError(t, err)
	plan := planOf(t, &Env{Scale: Smoke, Seed: 1}, "all")
	var folders []string
	entries, err := os.ReadDir(filepath.Join(dir, "models"))
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			folders = append(folders, e.Name())
		}
	}
	var keys []string
	for i, p := range plan {
		require.Equal(t, i, p.Index)
		keys = append(keys, p.Key)
		for _, n := range p.Needs {
			require.Less(t, n, i, "%s: a run comes after what it needs", p.Key)
			require.Equal(t, filepath.Join("..", plan[n].Key), p.Spec.Init.From)
		}
		_, err := os.Stat(filepath.Join(dir, "models", p.Key+".lock"))
		require.NoError(t, err, "the serial run locks every run it trains")
	}
	require.ElementsMatch(t, folders, keys)
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(keys))), len(keys), "each run once")

	// fig2's base is fig5's ε/SNR model; its 4 fine-tunes come right after it.
	require.Equal(t, []string{"fig2", "fig5", "fig6"}, plan[0].Targets)
	for i := 1; i <= 4; i++ {
		require.Equal(t, FineTuneKind, plan[i].Kind)
		require.Equal(t, []int{0}, plan[i].Needs)
	}
}

// The paper scale's plan needs no data (it is specs only): 46 models (the
// 24 of the strategy grid, 18 more for table2, 4 for online, whose x0
// models carry the probes of fig3, fig4 and conflict) and fig2's 4
// fine-tunes.
func TestPaperPlanSize(t *testing.T) {
	plan := planOf(t, &Env{Scale: Paper, Seed: 1}, "all")
	kinds := map[RunKind]int{}
	for _, p := range plan {
		kinds[p.Kind]++
	}
	require.Equal(t, map[RunKind]int{ModelKind: 46, FineTuneKind: 4}, kinds)
}

// Every line of WritePlan reads back (ReadPlannedRun) and is found at its
// index (Find); bad lines and runs of another plan are bad input.
func TestPlanLinesReadBack(t *testing.T) {
	env := &Env{Scale: Smoke, Seed: 1}
	plan := planOf(t, env, "all")
	var buf bytes.Buffer
	require.NoError(t, WritePlan(&buf, plan))
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, len(plan))
	for i, l := range lines {
		p, err := ReadPlannedRun(strings.NewReader(l + "\n\n"))
		require.NoError(t, err)
		j, err := Find(plan, p)
		require.NoError(t, err)
		require.Equal(t, i, j)
	}
	other := planOf(t, &Env{Scale: Smoke, Seed: 2}, "all")
	var ob bytes.Buffer
	require.NoError(t, WritePlan(&ob, other[:1]))
	changed := strings.Replace(lines[0], `"steps":40`, `"steps":41`, 1)
	require.NotEqual(t, lines[0], changed)
	for name, c := range map[string]struct{ line, want string }{
		"empty":        {"", "got 0"},
		"two lines":    {lines[0] + "\n" + lines[1], "got 2"},
		"not json":     {"index 3", "not a line of"},
		"cut":          {lines[0][:len(lines[0])/2], "not a line of"},
		"unknown":      {`{"index":0,"key":"a","bogus":1}`, "unknown field"},
		"no key":       {`{"index":0}`, "no key"},
		"other seed":   {ob.String(), "is not in the plan"},
		"other spec":   {changed, "its spec differs: steps"},
		"bad spec":     {strings.Replace(lines[0], `"weighting":"snr"`, `"weighting":"nonsense"`, 1), "its spec cannot run"},
		"wrong target": {strings.Replace(lines[0], plan[0].Key, "x_"+plan[0].Key, 1), "is not in the plan"},
	} {
		p, err := ReadPlannedRun(strings.NewReader(c.line))
		if err == nil {
			_, err = Find(plan, p)
		}
		require.ErrorIs(t, err, run.ErrInput, name)
		require.ErrorContains(t, err, c.want, name)
	}
	_, err := TrainPlanned(context.Background(), env, plan, len(plan))
	require.ErrorIs(t, err, run.ErrInput)
	require.ErrorContains(t, err, "out of range")
}

// A fine-tune trained on its own trains its base first, resuming the
// base's interrupted run: the fine-tune ends as in the serial run, byte
// for byte; a fine-tune whose base is incomplete never starts from it.
func TestTrainPlannedTrainsTheBaseFirst(t *testing.T) {
	serial := t.TempDir()
	ts, err := Resolve([]string{"fig2"})
	require.NoError(t, err)
	_, err = Run(context.Background(), &Env{Scale: Smoke, Out: serial, Seed: 1}, ts)
	require.NoError(t, err)

	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &Env{Scale: Smoke, Out: out, Seed: 1, Log: &cancelWriter{marker: "step 20/40", cancel: cancel}}
	plan := planOf(t, env, "fig2")
	_, err = TrainPlanned(ctx, env, plan, 0)
	require.ErrorIs(t, err, context.Canceled)

	ft := plan[2]
	_, _, err = ft.run.train(context.Background(), &Env{Scale: Smoke, Out: out, Seed: 1})
	require.ErrorContains(t, err, "is not complete; train it first")
	_, err = os.Stat(filepath.Join(out, "models", ft.Key))
	require.True(t, errors.Is(err, os.ErrNotExist), "no fine-tune folder from an incomplete base")

	var log bytes.Buffer
	trained, err := TrainPlanned(context.Background(), &Env{Scale: Smoke, Out: out, Seed: 1, Log: &log}, plan, 2)
	require.NoError(t, err)
	require.Equal(t, []string{plan[0].Key, ft.Key}, trained)
	require.Contains(t, log.String(), "resuming at step 20")
	for _, p := range []PlannedRun{plan[0], ft} {
		a, err := os.ReadFile(filepath.Join(serial, "models", p.Key, run.CheckpointFile))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(out, "models", p.Key, run.CheckpointFile))
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, b), "%s: the same checkpoint as the serial run's", p.Key)
	}
	trained, err = TrainPlanned(context.Background(), &Env{Scale: Smoke, Out: out, Seed: 1}, plan, 2)
	require.NoError(t, err)
	require.Empty(t, trained, "a complete run is a no-op")
}

// signalWriter closes seen when a log line contains a marker, then calls
// then (if set) before the line's writer goes on.
type signalWriter struct {
	marker string
	then   func()
	once   sync.Once
	seen   chan struct{}
	buf    bytes.Buffer
	mu     sync.Mutex
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	if strings.Contains(string(p), w.marker) {
		w.once.Do(func() {
			close(w.seen)
			if w.then != nil {
				w.then()
			}
		})
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Two trainings of one run at once, the second started while the first is
// half-way (the first pauses there until the second waits for it, or has
// ended): the second waits for the first's lock and then finds the run
// complete; one run is trained, and its checkpoint is the serial run's.
func TestConcurrentTrainingOfOneRunWaits(t *testing.T) {
	plan := planOf(t, &Env{Scale: Smoke, Seed: 1}, "fig3")
	out := t.TempDir()
	second := &signalWriter{marker: "waiting", seen: make(chan struct{})}
	secondDone := make(chan struct{})
	first := &signalWriter{marker: "step 20/40", seen: make(chan struct{}), then: func() {
		select {
		case <-second.seen:
		case <-secondDone:
		}
	}}
	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		results[0], errs[0] = TrainPlanned(context.Background(), &Env{Scale: Smoke, Out: out, Seed: 1, Log: first}, plan, 0)
	}()
	<-first.seen
	go func() {
		defer wg.Done()
		defer close(secondDone)
		results[1], errs[1] = TrainPlanned(context.Background(), &Env{Scale: Smoke, Out: out, Seed: 1, Log: second}, plan, 0)
	}()
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, [][]string{{plan[0].Key}, nil}, results, "the first trains, the second finds it complete")
	require.Contains(t, second.String(), "another process is training it (pid ")
	require.Contains(t, second.String(), "reusing")

	serial := t.TempDir()
	_, err := TrainModel(context.Background(), &Env{Scale: Smoke, Out: serial, Seed: 1}, plan[0].Spec)
	require.NoError(t, err)
	a, err := os.ReadFile(filepath.Join(serial, "models", plan[0].Key, run.CheckpointFile))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(out, "models", plan[0].Key, run.CheckpointFile))
	require.NoError(t, err)
	require.True(t, bytes.Equal(a, b))
}

// With CachedOnly, a run missing from the cache is an error (bad input:
// the cache given lacks it) and nothing is trained.
func TestCachedOnlyTrainsNothing(t *testing.T) {
	out := t.TempDir()
	env := &Env{Scale: Smoke, Out: out, Seed: 1, CachedOnly: true}
	fig3, _ := Lookup("fig3")
	_, err := fig3.Compute(context.Background(), env)
	require.ErrorIs(t, err, ErrNotCached)
	require.ErrorIs(t, err, run.ErrInput)
	trained, _ := env.counts()
	require.Zero(t, trained)
	entries, _ := filepath.Glob(filepath.Join(out, "models", "*"))
	for _, e := range entries {
		require.True(t, strings.HasSuffix(e, ".lock"), "no run folder: %s", e)
	}
}
