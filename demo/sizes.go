package demo

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/run"
)

// Sizes are the settings of the demo: the model it trains and how it
// probes the gradient conflict between timestep bins.
type Sizes struct {
	// Model are the data (toy data only), network, optimiser and
	// sample-quality settings. EvalEvery is the interval of the training
	// metrics records; Repeats the sample sets drawn from the trained
	// model; Seeds is not used (the demo trains one model, seed Env.Seed).
	Model reproduce.ModelSizes
	// Target and Strategy set the training loss (a weighting.Parse spec,
	// stated on the x0 loss as everywhere in the toolkit).
	Target, Strategy string
	// Bins is K, the number of equal-width timestep bins (the tasks).
	Bins int
	// PerBin is the number of examples per bin in every probe; each probe
	// uses the same fixed batch, so that changes over training are the
	// model's.
	PerBin int
	// ProbeEvery is the probing interval in steps; it divides
	// Model.Steps, and a probe also runs before the first step.
	ProbeEvery int
	// Lambda is the regulariser λ of Eq. 11 relative to the bins' mean
	// squared gradient norm: the weights "with λ" minimise
	// wᵀ(G + λ_abs·I)w with λ_abs = Lambda·tr(G)/K, which makes the choice
	// independent of the gradients' scale.
	Lambda float64
}

// sizes is the table of Sizes per scale: Quick is the default of
// `paretodiff demo` (about half a minute on two CPU cores, all of it), Smoke
// is for tests.
var sizes = map[reproduce.Scale]Sizes{
	reproduce.Smoke: {
		Model: reproduce.ModelSizes{
			Data: "toy:8gaussians", Width: 16, Depth: 1, Schedule: "cosine", T: 1000,
			Steps: 60, Batch: 32, LR: 1e-3, Warmup: 5, ClipNorm: 1, EMA: 0.99,
			EvalEvery: 20, EvalSize: 16, Samples: 128, Sampler: "heun", SamplerSteps: 4, Repeats: 2, Seeds: 1,
		},
		Target: "v", Strategy: "min-snr:5", Bins: 4, PerBin: 8, ProbeEvery: 20, Lambda: 0.1,
	},
	reproduce.Quick: {
		Model: reproduce.ModelSizes{
			Data: "toy:8gaussians", Width: 128, Depth: 3, Schedule: "cosine", T: 1000,
			Steps: 5000, Batch: 256, LR: 1e-3, Warmup: 100, ClipNorm: 1, EMA: 0.999,
			EvalEvery: 250, EvalSize: 512, Samples: 2000, Sampler: "heun", SamplerSteps: 30, Repeats: 2, Seeds: 1,
		},
		Target: "v", Strategy: "min-snr:5", Bins: 8, PerBin: 256, ProbeEvery: 250, Lambda: 0.1,
	},
}

// SizesFor returns the demo's sizes at a scale: reproduce.Smoke (tests)
// or reproduce.Quick (the default); the paper scale has no demo.
func SizesFor(s reproduce.Scale) (Sizes, error) {
	d, ok := sizes[s]
	if !ok {
		return Sizes{}, fmt.Errorf("demo: no %q size (want smoke or quick)", s)
	}
	return d, nil
}

// validate checks what training cannot check itself.
func (d Sizes) validate() error {
	switch {
	case !strings.HasPrefix(d.Model.Data, "toy:"):
		return fmt.Errorf("demo: the demo runs on toy data, not %q", d.Model.Data)
	case d.Bins < 2 || d.PerBin < 1:
		return fmt.Errorf("demo: the demo needs ≥ 2 bins and ≥ 1 example per bin, got %d and %d", d.Bins, d.PerBin)
	case d.ProbeEvery < 1 || d.Model.Steps%d.ProbeEvery != 0:
		return fmt.Errorf("demo: the probe interval %d must divide the steps %d", d.ProbeEvery, d.Model.Steps)
	case !(d.Lambda > 0) || math.IsInf(d.Lambda, 0):
		return fmt.Errorf("demo: the relative λ must be finite and > 0, got %g", d.Lambda)
	}
	return nil
}

// spec is the demo's run: the model of the sizes with the metrics (and the
// untrained network's at step 0) every Model.EvalEvery steps and the probe
// of the bins every ProbeEvery steps, solved with fw and ugd.
func (d Sizes) spec(seed uint64) run.Spec {
	s := d.Model.Model(d.Target, d.Strategy, seed, seed)
	s.Eval = run.EvalSpec{Every: d.Model.EvalEvery, AtStart: true}
	s.Probes = []conflict.ProbeSpec{{Name: ProbeName, Every: d.ProbeEvery, Bins: "t:" + strconv.Itoa(d.Bins), PerBin: d.PerBin,
		Seed: seed, Methods: conflict.DefaultMethods}}
	return s
}

// quality is the sample-quality measure of the demo's samples.
func (d Sizes) quality(seed uint64) run.QualitySpec {
	m := d.Model
	return run.QualitySpec{Samples: m.Samples, Sampler: m.Sampler, SamplerSteps: m.SamplerSteps, Repeats: m.Repeats, Seed: seed}
}
