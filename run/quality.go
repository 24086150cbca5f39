package run

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/metrics"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/sampler"
)

// QualitySpec says how the sample quality of a model is measured: draw
// Samples samples from the EMA weights with Sampler in SamplerSteps steps
// (every x̂0 clipped to the data's range), and compare them with real data:
//   - toy data: the sliced Wasserstein distance SW_1 (metrics.
//     SlicedWasserstein, 256 directions) to 2·Samples fresh points of the
//     distribution;
//   - MNIST: the Fréchet distance (FID's formula) between the Gaussian fits
//     of the samples' and the test split's features in the toolkit's MNIST
//     classifier (package classifier, trained once and cached).
//
// Lower is better. Every model of a run is measured with the same
// reference set, directions and sampler noise (all from Seed), so
// differences between models are not differences of noise.
type QualitySpec struct {
	Samples      int    `json:"samples"`
	Sampler      string `json:"sampler"`
	SamplerSteps int    `json:"sampler_steps"`
	// Repeats is the number of independent sample sets at the last step.
	Repeats int `json:"repeats"`
	// Seed seeds the reference set, the directions and the sampler noise.
	Seed uint64 `json:"seed"`
	// Classifier configures the MNIST classifier of the FD (zero: the
	// package's defaults, about 98% test accuracy); unused for toy data.
	Classifier classifier.Config `json:"classifier"`
}

// DefaultQualitySamples and the other defaults of a QualitySpec.
const (
	DefaultQualitySamples = 2000
	DefaultQualitySampler = "heun"
	DefaultQualityRepeats = 1
)

// normalize fills in the defaults and checks the sampler, on sched where
// given (DDPM and DDIM refuse the flow schedule, the flow samplers a VP one).
func (q QualitySpec) normalize(sched *diffusion.Schedule) (QualitySpec, error) {
	if q.Samples == 0 {
		q.Samples = DefaultQualitySamples
	}
	if q.Sampler == "" {
		q.Sampler = DefaultQualitySampler
	}
	if q.Repeats == 0 {
		q.Repeats = DefaultQualityRepeats
	}
	if q.Samples < 2 || q.Repeats < 1 || q.SamplerSteps < 0 {
		return q, fmt.Errorf("need ≥ 2 samples, ≥ 1 repeat and sampler steps ≥ 0, got %d, %d and %d", q.Samples, q.Repeats, q.SamplerSteps)
	}
	smp, err := sampler.Parse(q.Sampler)
	if err != nil {
		return q, err
	}
	if sched != nil {
		if _, err := smp.Evaluations(sched, &sampler.Settings{Steps: q.SamplerSteps}); err != nil {
			return q, err
		}
	}
	return q, nil
}

// Random streams of the quality measurement, under QualitySpec.Seed.
const (
	streamRef     = 100 // the real reference set
	streamFloor   = 101 // a second real set: the noise floor
	streamProj    = 102 // SWD's directions
	streamClip    = 103 // points whose range is the x̂0 clip
	streamSamples = 200 // + draw: the sampler's noise of each sample set
)

// QualityMeasure measures the sample quality of a denoiser.
type QualityMeasure interface {
	// Metric names the measure ("SWD").
	Metric() string
	// Measure samples the denoiser (draw d uses its own noise stream) and
	// returns the distance to the reference data.
	Measure(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) (float64, error)
	// Sample returns the samples Measure compares for the same draw:
	// (Samples, D), x̂0 clipped to the data's range.
	Sample(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) ([]float32, error)
	// Distance is the measure of samples (n, D) drawn by any means against
	// the reference data (MNIST samples are clamped to [−1, 1] in place).
	Distance(x []float32) (float64, error)
	// DataRange is c of the x̂0 clip to [−c, c] every sample is drawn with:
	// the data's range.
	DataRange() float64
	// Reference returns the real data the measure compares with (toy data:
	// the 2·Samples reference points; nil for MNIST, whose reference is the
	// test split's classifier features).
	Reference() []float32
	// Floor is the measure between two independent real sets of the sizes
	// used: the value of a perfect model, up to noise.
	Floor() float64
}

// NewQualityMeasure builds the quality measure of cfg for a data spec ("toy:NAME"
// or "mnist"). For MNIST it loads the data from mnistDir ("": the module
// cache) and the classifier from its cache folder classifierDir ("": the
// classifier package's default), training the classifier on be if no
// cached one matches; log, if set, hears about that.
func NewQualityMeasure(ctx context.Context, cfg QualitySpec, dataSpec string, be nn.Backend, mnistDir, classifierDir string, log io.Writer) (QualityMeasure, error) {
	smp, err := sampler.Parse(cfg.Sampler)
	if err != nil {
		return nil, err
	}
	name, arg, _ := strings.Cut(dataSpec, ":")
	switch name {
	case "toy":
		toy, err := data.NewToy(arg)
		if err != nil {
			return nil, err
		}
		return newSWDQuality(cfg, toy, smp), nil
	case "mnist":
		return newFDQuality(ctx, cfg, smp, be, mnistDir, classifierDir, log)
	}
	return nil, fmt.Errorf("run: no sample quality measure for data %q", dataSpec)
}

// swdQuality is the SW_1 distance of samples to real toy data.
type swdQuality struct {
	cfg   QualitySpec
	toy   *data.Toy
	smp   sampler.Sampler
	set   sampler.Settings
	ref   []float32 // (2·Samples, 2)
	floor float64
}

// clipPoints is the number of real points whose largest |coordinate| is
// the x̂0 clip (as `paretodiff sample --clip-x0 auto`).
const clipPoints = 10000

func newSWDQuality(cfg QualitySpec, toy *data.Toy, smp sampler.Sampler) *swdQuality {
	D := toy.Dim()
	draw := func(n int, stream uint64) []float32 {
		x := make([]float32, n*D)
		toy.Sample(rand.New(rand.NewPCG(cfg.Seed, stream)), x)
		return x
	}
	clip := 0.0
	for _, v := range draw(clipPoints, streamClip) {
		clip = math.Max(clip, math.Abs(float64(v)))
	}
	q := &swdQuality{cfg: cfg, toy: toy, smp: smp, ref: draw(2*cfg.Samples, streamRef),
		set: sampler.Settings{Steps: cfg.SamplerSteps, ClipX0: clip}}
	q.floor, _ = q.Distance(draw(cfg.Samples, streamFloor))
	return q
}

// Metric returns "SWD".
func (q *swdQuality) Metric() string { return "SWD" }

// Floor returns the distance of real data to the reference.
func (q *swdQuality) Floor() float64 { return q.floor }

// Reference returns the reference points.
func (q *swdQuality) Reference() []float32 { return q.ref }

// DataRange returns the largest |coordinate| of clipPoints real points.
func (q *swdQuality) DataRange() float64 { return q.set.ClipX0 }

// Distance is the SW_1 distance of x to the reference points.
func (q *swdQuality) Distance(x []float32) (float64, error) {
	return metrics.SlicedWasserstein(x, q.ref, q.toy.Dim(), rand.New(rand.NewPCG(q.cfg.Seed, streamProj)), nil)
}

// Sample draws the samples of one draw.
func (q *swdQuality) Sample(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) ([]float32, error) {
	return sampleDraw(ctx, q.cfg, q.smp, &q.set, den, sched, draw)
}

// Measure returns the distance of one draw's samples to the reference.
func (q *swdQuality) Measure(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) (float64, error) {
	x, err := q.Sample(ctx, den, sched, draw)
	if err != nil {
		return 0, err
	}
	return q.Distance(x)
}

// sampleDraw draws the samples of one draw: cfg.Samples rows from the
// sampler with the draw's noise stream.
func sampleDraw(ctx context.Context, cfg QualitySpec, smp sampler.Sampler, set *sampler.Settings, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := make([]float32, cfg.Samples*den.Dim())
	if err := smp.Sample(x, den, sched, rand.New(rand.NewPCG(cfg.Seed, streamSamples+uint64(draw))), set); err != nil {
		return nil, err
	}
	return x, nil
}

// fdQuality is the Fréchet distance of samples to the MNIST test split in
// the classifier's feature space.
type fdQuality struct {
	cfg   QualitySpec
	cls   *classifier.Model
	smp   sampler.Sampler
	set   sampler.Settings
	floor float64
}

func newFDQuality(ctx context.Context, cfg QualitySpec, smp sampler.Sampler, be nn.Backend, mnistDir, classifierDir string, log io.Writer) (*fdQuality, error) {
	train, err := data.LoadMNIST(mnistDir, "train")
	if err != nil {
		return nil, err
	}
	test, err := data.LoadMNIST(mnistDir, "test")
	if err != nil {
		return nil, err
	}
	cls, err := classifier.MNIST(ctx, be, train, test, &classifier.Options{CacheDir: classifierDir, Config: cfg.Classifier, Log: log})
	if err != nil {
		return nil, err
	}
	q := &fdQuality{cfg: cfg, cls: cls, smp: smp, set: sampler.Settings{Steps: cfg.SamplerSteps, ClipX0: 1}}
	real := make([]float32, cfg.Samples*data.MNISTDim)
	train.Sample(rand.New(rand.NewPCG(cfg.Seed, streamFloor)), real)
	if q.floor, err = q.Distance(real); err != nil {
		return nil, err
	}
	return q, nil
}

// Metric returns "FD".
func (q *fdQuality) Metric() string { return "FD" }

// Floor returns the distance of real data to the reference.
func (q *fdQuality) Floor() float64 { return q.floor }

// Reference returns nil: the reference is the test split's features.
func (q *fdQuality) Reference() []float32 { return nil }

// DataRange returns 1: MNIST pixels are in [−1, 1].
func (q *fdQuality) DataRange() float64 { return q.set.ClipX0 }

// Distance is the FD between the features of x (N, 784), clamped to
// [−1, 1], and those of the test split.
func (q *fdQuality) Distance(x []float32) (float64, error) {
	for i, v := range x {
		x[i] = max(-1, min(1, v))
	}
	a := q.cls.Arch()
	feat := make([]float32, len(x)/a.In*a.Features())
	q.cls.Eval(feat, nil, x)
	st, err := metrics.FitStats(feat, a.Features())
	if err != nil {
		return 0, err
	}
	return metrics.FrechetStats(st, q.cls.TestStats)
}

// Sample draws the samples of one draw.
func (q *fdQuality) Sample(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) ([]float32, error) {
	return sampleDraw(ctx, q.cfg, q.smp, &q.set, den, sched, draw)
}

// Measure returns the distance of one draw's samples to the reference.
func (q *fdQuality) Measure(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) (float64, error) {
	x, err := q.Sample(ctx, den, sched, draw)
	if err != nil {
		return 0, err
	}
	return q.Distance(x)
}
