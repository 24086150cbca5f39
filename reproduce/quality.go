package reproduce

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/metrics"
	"github.com/paretodiff/paretodiff/diffusion/sampler"
)

// QualityConfig says how the sample quality of a model is measured: draw
// Samples samples from the EMA weights with Sampler in SamplerSteps steps
// (every x̂0 clipped to the data's range), and compare them with real data:
// for toy data the sliced Wasserstein distance SW_1 (metrics.
// SlicedWasserstein, 256 directions) to 2·Samples fresh points of the
// distribution. Lower is better. Every model of a run is measured with the
// same reference set, directions and sampler noise (all from Seed), so
// differences between models are not differences of noise.
type QualityConfig struct {
	Samples      int    `json:"samples"`
	Sampler      string `json:"sampler"`
	SamplerSteps int    `json:"sampler_steps"`
	// Repeats is the number of independent sample sets at the last step.
	Repeats int `json:"repeats"`
	// Seed seeds the reference set, the directions and the sampler noise.
	Seed uint64 `json:"seed"`
}

// Random streams of the quality measurement, under QualityConfig.Seed.
const (
	streamRef     = 100 // the real reference set
	streamFloor   = 101 // a second real set: the noise floor
	streamProj    = 102 // SWD's directions
	streamClip    = 103 // points whose range is the x̂0 clip
	streamSamples = 200 // + draw: the sampler's noise of each sample set
)

// Quality measures the sample quality of a denoiser.
type Quality interface {
	// Metric names the measure ("SWD").
	Metric() string
	// Measure samples the denoiser (draw d uses its own noise stream) and
	// returns the distance to the reference data.
	Measure(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) (float64, error)
	// Floor is the measure between two independent real sets of the sizes
	// used: the value of a perfect model, up to noise.
	Floor() float64
}

// NewQuality builds the quality measure of cfg for a data spec.
func NewQuality(cfg QualityConfig, dataSpec string) (Quality, error) {
	smp, err := sampler.Parse(cfg.Sampler)
	if err != nil {
		return nil, err
	}
	name, arg, _ := strings.Cut(dataSpec, ":")
	if name != "toy" {
		return nil, fmt.Errorf("reproduce: sample quality of %q data is not available in this build (toy data only)", dataSpec)
	}
	toy, err := data.NewToy(arg)
	if err != nil {
		return nil, err
	}
	return newSWDQuality(cfg, toy, smp), nil
}

// swdQuality is the SW_1 distance of samples to real toy data.
type swdQuality struct {
	cfg   QualityConfig
	toy   *data.Toy
	smp   sampler.Sampler
	set   sampler.Settings
	ref   []float32 // (2·Samples, 2)
	floor float64
}

// clipPoints is the number of real points whose largest |coordinate| is
// the x̂0 clip (as `paretodiff sample --clip-x0 auto`).
const clipPoints = 10000

func newSWDQuality(cfg QualityConfig, toy *data.Toy, smp sampler.Sampler) *swdQuality {
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
	q.floor, _ = q.distance(draw(cfg.Samples, streamFloor))
	return q
}

func (q *swdQuality) Metric() string { return "SWD" }
func (q *swdQuality) Floor() float64 { return q.floor }

func (q *swdQuality) distance(x []float32) (float64, error) {
	return metrics.SlicedWasserstein(x, q.ref, q.toy.Dim(), rand.New(rand.NewPCG(q.cfg.Seed, streamProj)), nil)
}

func (q *swdQuality) Measure(ctx context.Context, den diffusion.Denoiser, sched *diffusion.Schedule, draw int) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	x := make([]float32, q.cfg.Samples*den.Dim())
	if err := q.smp.Sample(x, den, sched, rand.New(rand.NewPCG(q.cfg.Seed, streamSamples+uint64(draw))), &q.set); err != nil {
		return 0, err
	}
	return q.distance(x)
}

// quality returns the (memoised) quality measure of a model configuration.
func (e *Env) quality(cfg ModelConfig) (Quality, error) {
	b, _ := json.Marshal(struct {
		Q    QualityConfig
		Data string
	}{cfg.Quality, cfg.Data})
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if q, ok := e.qualities[string(b)]; ok {
		return q, nil
	}
	q, err := NewQuality(cfg.Quality, cfg.Data)
	if err != nil {
		return nil, err
	}
	if e.qualities == nil {
		e.qualities = map[string]Quality{}
	}
	e.qualities[string(b)] = q
	return q, nil
}
