package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/metrics"
	"github.com/spf13/cobra"
)

func init() { register(newEvalCmd) }

// evalClassifier is the MNIST classifier eval uses (zero: the package's
// default). Tests set a reduced one that trains in seconds.
var evalClassifier classifier.Config

type evalOptions struct {
	samplingOptions
	metrics []string
	cache   string
}

func newEvalCmd() *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure the sample quality of a trained checkpoint (SWD, MMD or FD) and print JSON",
		Long: `eval draws --n samples from the model in a run folder written by train (as sample
does) and prints one JSON object with the sample-quality metrics.

2-D toy data (--metric swd, mmd; both by default), against --n fresh ground-truth
points drawn with the same seed:
  swd   sliced Wasserstein distance SW_1 (256 random directions)
  mmd   unbiased MMD² with an RBF kernel at the median-distance bandwidth
Each comes with its noise floor: the same metric between two independent
ground-truth sets of the same size, what a perfect model would score. For
8gaussians the samples are also counted by nearest mode.

MNIST (--metric fd, the default):
  fd    Fréchet distance between Gaussian fits of the features (the 128-unit
        penultimate layer) of an MNIST classifier, samples against the test
        split; beside it the same distance for --n real training images, the
        floor at this sample size (FD is biased upwards for small N)
plus the classifier's label entropies of the samples (mean: low when digits are
recognisable; marginal: ln 10 = 2.303 when all classes appear) and its test
accuracy. The classifier is trained on the first use (about half a minute on
two cores), then loaded from the cache (--cache, $PARETODIFF_CACHE or the user
cache folder), where a corrupt or mismatching file is retrained, never trusted.
The MNIST samples are clamped to [−1, 1] before the classifier sees them.

` + samplerHelp,
		Example: `  paretodiff eval --checkpoint runs/toy --n 2000
  paretodiff eval --checkpoint runs/toy --untrained --n 2000      # the untrained baseline
  paretodiff eval --checkpoint runs/mnist --metric fd --n 2000 --sampler ddim --steps 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd.Flags(), 2000)
	f := cmd.Flags()
	f.StringSliceVar(&o.metrics, "metric", nil, "metric: swd, mmd (2-D data) or fd (MNIST); repeatable (default: swd,mmd or fd)")
	f.StringVar(&o.cache, "cache", "", "folder of the cached MNIST classifier (default $"+classifier.CacheEnv+", else the user cache folder)")
	return cmd
}

// evalResult is the JSON eval prints.
type evalResult struct {
	Checkpoint  string  `json:"checkpoint"`
	Data        string  `json:"data"`
	Step        int     `json:"step"`
	Weights     string  `json:"weights"`
	Sampler     string  `json:"sampler"`
	Steps       int     `json:"steps"`
	Evaluations int     `json:"evaluations"` // denoiser calls per sample
	N           int     `json:"n"`
	Seed        uint64  `json:"seed"`
	Seconds     float64 `json:"seconds"`
	// Metrics holds swd, mmd or fd.
	Metrics      map[string]metricResult `json:"metrics"`
	Modes        *modeResult             `json:"modes,omitempty"`
	LabelEntropy *labelResult            `json:"label_entropy,omitempty"`
	Classifier   *classifierResult       `json:"classifier,omitempty"`
}

type metricResult struct {
	Value float64 `json:"value"`
	// NoiseFloor is the metric between two ground-truth sets (toy data).
	NoiseFloor *float64 `json:"noise_floor,omitempty"`
	// TrainVsTest is FD of real training images against the test split.
	TrainVsTest *float64 `json:"train_vs_test,omitempty"`
	// Bandwidth is MMD's kernel σ.
	Bandwidth *float64 `json:"bandwidth,omitempty"`
}

type modeResult struct {
	// Counts[k] is the number of samples nearest mode k.
	Counts []int `json:"counts"`
	// Covered counts the modes that hold at least a quarter of their fair
	// share n/K of samples.
	Covered int `json:"covered"`
	// OffMode is the share of samples farther than 3σ from every mode.
	OffMode float64 `json:"off_mode"`
	// TruthOffMode is that share for the ground truth (≈ e^{−4.5} ≈ 1.1%).
	TruthOffMode float64 `json:"truth_off_mode"`
}

type labelResult struct {
	Mean           float64 `json:"mean"`
	Marginal       float64 `json:"marginal"`
	InceptionScore float64 `json:"inception_score"`
	// Train is the same for the real training images.
	Train *labelResult `json:"train,omitempty"`
}

type classifierResult struct {
	TestAccuracy float64 `json:"test_accuracy"`
	Path         string  `json:"path"`
	Cached       bool    `json:"cached"`
}

func (o *evalOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	m, err := o.open(2, stderr)
	if err != nil {
		return err
	}
	want := o.metrics
	if len(want) == 0 {
		want = []string{"swd", "mmd"}
		if m.isMNIST() {
			want = []string{"fd"}
		}
	}
	for i, name := range want {
		want[i] = strings.ToLower(strings.TrimSpace(name))
		switch name := want[i]; {
		case name != "swd" && name != "mmd" && name != "fd":
			return usagef("--metric %q: want swd, mmd or fd", name)
		case m.isMNIST() && name != "fd":
			return usagef("--metric %s is for 2-D toy data; this checkpoint generates MNIST (use fd)", name)
		case !m.isMNIST() && name == "fd":
			return usagef("--metric fd is for MNIST; this checkpoint generates %s (use swd or mmd)", m.data)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)

	var cls *classifier.Model
	var train, test *data.MNIST
	if m.isMNIST() {
		// Load (or train) the classifier before sampling, so that bad
		// MNIST files fail fast.
		if train, err = data.LoadMNIST(o.mnistDir, "train"); err != nil {
			return usagef("--mnist-dir: %v", err)
		}
		if test, err = data.LoadMNIST(o.mnistDir, "test"); err != nil {
			return usagef("--mnist-dir: %v", err)
		}
		if cls, err = classifier.MNIST(ctx, m.be, train, test, &classifier.Options{CacheDir: o.cache, Config: evalClassifier, Log: stderr}); err != nil {
			return failure(err)
		}
	}

	start := time.Now()
	x, err := m.draw(o.n, o.seed, o.progress, stderr)
	if err != nil {
		return err
	}
	steps, _ := m.smp.Timesteps(m.sched, &m.set)
	res := evalResult{
		Checkpoint: m.path, Data: m.data, Step: m.ck.Step, Weights: m.weights, Sampler: m.smp.String(),
		Steps: len(steps), Evaluations: m.evals, N: o.n, Seed: o.seed, Metrics: map[string]metricResult{},
	}
	if m.isMNIST() {
		err = o.evalMNIST(&res, cls, x, train)
	} else {
		err = o.evalToy(&res, m, x, want)
	}
	if err != nil {
		return failure(err)
	}
	res.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return failure(err)
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}

// evalToy compares the samples with fresh ground truth.
func (o *evalOptions) evalToy(res *evalResult, m *model, x []float32, want []string) error {
	truth := m.truth(o.n, o.seed, streamTruth)
	truth2 := m.truth(o.n, o.seed, streamTruth2)
	D := m.toy.Dim()
	for _, name := range want {
		switch name {
		case "swd":
			// The same directions for both comparisons.
			proj := func() *rand.Rand { return rand.New(rand.NewPCG(o.seed, streamProjections)) }
			v, err := metrics.SlicedWasserstein(x, truth, D, proj(), nil)
			if err != nil {
				return err
			}
			floor, err := metrics.SlicedWasserstein(truth2, truth, D, proj(), nil)
			if err != nil {
				return err
			}
			res.Metrics["swd"] = metricResult{Value: v, NoiseFloor: &floor}
		case "mmd":
			v, err := metrics.MMD2(x, truth, D, nil)
			if err != nil {
				return err
			}
			floor, err := metrics.MMD2(truth2, truth, D, nil)
			if err != nil {
				return err
			}
			res.Metrics["mmd"] = metricResult{Value: v.MMD2, NoiseFloor: &floor.MMD2, Bandwidth: &v.Bandwidth}
		}
	}
	if centres, std := m.toy.Modes(); centres != nil {
		counts, off := modeCounts(x, centres, 3*std)
		_, truthOff := modeCounts(truth, centres, 3*std)
		mr := &modeResult{Counts: counts, OffMode: off, TruthOffMode: truthOff}
		for _, c := range counts {
			if 4*len(centres)*c >= o.n {
				mr.Covered++
			}
		}
		res.Modes = mr
	}
	return nil
}

// modeCounts counts the points of x (N, 2) by nearest centre and returns the
// share of points farther than far from every centre.
func modeCounts(x []float32, centres [][2]float64, far float64) ([]int, float64) {
	counts := make([]int, len(centres))
	off := 0
	for i := 0; i < len(x); i += 2 {
		best, bd := 0, math.Inf(1)
		for k, c := range centres {
			if d := math.Hypot(float64(x[i])-c[0], float64(x[i+1])-c[1]); d < bd {
				best, bd = k, d
			}
		}
		counts[best]++
		if !(bd <= far) {
			off++
		}
	}
	return counts, float64(off) / float64(len(x)/2)
}

// evalMNIST measures FD and label entropies of the samples, and the same
// for as many real training images.
func (o *evalOptions) evalMNIST(res *evalResult, cls *classifier.Model, x []float32, train *data.MNIST) error {
	for i, v := range x {
		x[i] = max(-1, min(1, v))
	}
	real := make([]float32, len(x))
	train.Sample(rand.New(rand.NewPCG(o.seed, streamReal)), real)
	a := cls.Arch()
	measure := func(x []float32) (float64, *labelResult, error) {
		n := len(x) / a.In
		feat, probs := make([]float32, n*a.Features()), make([]float32, n*a.Classes)
		cls.Eval(feat, probs, x)
		st, err := metrics.FitStats(feat, a.Features())
		if err != nil {
			return 0, nil, err
		}
		fd, err := metrics.FrechetStats(st, cls.TestStats)
		if err != nil {
			return 0, nil, err
		}
		ls, err := metrics.LabelEntropy(probs, a.Classes)
		if err != nil {
			return 0, nil, err
		}
		return fd, &labelResult{Mean: ls.MeanEntropy, Marginal: ls.MarginalEntropy, InceptionScore: ls.InceptionScore}, nil
	}
	fd, lr, err := measure(x)
	if err != nil {
		return err
	}
	fdReal, lrReal, err := measure(real)
	if err != nil {
		return err
	}
	res.Metrics["fd"] = metricResult{Value: fd, TrainVsTest: &fdReal}
	lr.Train = lrReal
	res.LabelEntropy = lr
	res.Classifier = &classifierResult{TestAccuracy: cls.TestAccuracy, Path: cls.Path, Cached: cls.Cached}
	return nil
}
