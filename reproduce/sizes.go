package reproduce

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// ModelSizes are the settings of every model a scale trains (fig2's base
// model, the fig5/fig6 strategy grid, table2's γ sweep): the data, the
// network, the optimiser and how quality is measured along the way.
type ModelSizes struct {
	// Data is the training data spec ("toy:checkerboard", "mnist").
	Data string
	// Width and Depth size the ResMLP (inner width 2·Width).
	Width, Depth int
	// Schedule and T are the noise schedule (the paper's: cosine, 1000).
	Schedule string
	T        int
	// Steps is the training length and Batch the examples per step.
	Steps, Batch int
	// LR, Warmup, ClipNorm and EMA configure AdamW (no weight decay).
	LR       float64
	Warmup   int
	ClipNorm float64
	EMA      float64
	// EvalEvery is the interval, in steps, of the metrics records (Fig. 6's
	// x0-MSE) and of the quality evaluations (Fig. 5); it divides Steps.
	EvalEvery int
	// EvalSize is the held-out examples per Fig. 6 timestep range.
	EvalSize int
	// Samples is the number of samples per quality evaluation, drawn with
	// Sampler in SamplerSteps steps from the EMA weights.
	Samples      int
	Sampler      string
	SamplerSteps int
	// Repeats is the number of independent sample sets drawn at the last
	// step (the spread of the final quality from sampling alone).
	Repeats int
	// Seeds is the number of training seeds per configuration of the
	// primary target (PrimaryTarget): the independent units of the primary
	// tests' standard errors and bootstrap intervals. OtherSeeds is the
	// number for the other targets (0: Seeds), whose findings are
	// secondary.
	Seeds, OtherSeeds int
}

// PrimaryTarget is the prediction target of the primary tests of fig5,
// fig6, table2 and online: x0, the paper's main case (its Fig. 6 and the
// Min-SNR-γ derivation are stated on the x0 loss).
const PrimaryTarget = "x0"

// modelSizes is the table of ModelSizes per scale.
var modelSizes = map[Scale]ModelSizes{
	Smoke: {
		Data: "toy:checkerboard", Width: 16, Depth: 1, Schedule: "cosine", T: 1000,
		Steps: 40, Batch: 32, LR: 1e-3, Warmup: 5, ClipNorm: 1, EMA: 0.99,
		EvalEvery: 20, EvalSize: 16, Samples: 128, Sampler: "heun", SamplerSteps: 4, Repeats: 2, Seeds: 1,
	},
	Quick: {
		Data: "toy:checkerboard", Width: 64, Depth: 2, Schedule: "cosine", T: 1000,
		Steps: 2000, Batch: 256, LR: 1e-3, Warmup: 100, ClipNorm: 1, EMA: 0.999,
		EvalEvery: 200, EvalSize: 512, Samples: 2000, Sampler: "heun", SamplerSteps: 30, Repeats: 2, Seeds: 2,
	},
	Medium: {
		Data: "mnist", Width: 128, Depth: 2, Schedule: "cosine", T: 1000,
		Steps: 6000, Batch: 64, LR: 1e-3, Warmup: 200, ClipNorm: 1, EMA: 0.999,
		EvalEvery: 500, EvalSize: 512, Samples: 5000, Sampler: "heun", SamplerSteps: 10, Repeats: 2, Seeds: 5, OtherSeeds: 2,
	},
	Paper: {
		Data: "mnist", Width: 1024, Depth: 3, Schedule: "cosine", T: 1000,
		Steps: 50000, Batch: 128, LR: 1e-4, Warmup: 1000, ClipNorm: 1, EMA: 0.9999,
		EvalEvery: 2500, EvalSize: 1000, Samples: 5000, Sampler: "heun", SamplerSteps: 18, Repeats: 2, Seeds: 2,
	},
}

// ModelSizesFor returns the model sizes of a scale.
func ModelSizesFor(s Scale) ModelSizes {
	m, ok := modelSizes[s]
	if !ok {
		panic(fmt.Sprintf("reproduce: no sizes for scale %q", s))
	}
	return m
}

// Model returns the run of one model of these sizes: target ("eps", "x0",
// "v"), weighting (a weighting.Parse spec), the training seed and the seed
// of the quality evaluation (shared by every model of a run so that all
// are measured on the same noise).
func (s ModelSizes) Model(target, strategy string, seed, evalSeed uint64) run.Spec {
	net := nn.ResMLPConfig{Width: s.Width, Depth: s.Depth}
	if tg, err := weighting.ParseTarget(target); err == nil {
		// The same input skips as `paretodiff train --skip auto` (on for MNIST
		// with ε or v; the toy scales are unaffected).
		net.SigmaData, net.Skip = diffusion.AutoPrecond(s.Data, tg)
	}
	return run.Spec{
		Net: nn.Spec{Kind: "resmlp", ResMLP: &net},
		Train: diffusion.TrainSpec{
			Data: s.Data, Schedule: s.Schedule, T: s.T, Target: target, Weighting: strategy,
			Batch: s.Batch, Seed: seed, EvalSize: s.EvalSize,
			Optim: nn.OptimConfig{LR: s.LR, Warmup: s.Warmup, ClipNorm: s.ClipNorm, EMADecay: s.EMA}.WithDefaults(),
		},
		Steps: s.Steps,
		Eval: run.EvalSpec{Every: s.EvalEvery, Quality: &run.QualitySpec{
			Samples: s.Samples, Sampler: s.Sampler, SamplerSteps: s.SamplerSteps, Repeats: s.Repeats, Seed: evalSeed,
		}},
	}
}

// SeedsFor returns the number of training seeds of a target's models:
// Seeds for PrimaryTarget, OtherSeeds (or Seeds) for the others.
func (s ModelSizes) SeedsFor(target string) int {
	if target != PrimaryTarget && s.OtherSeeds > 0 {
		return s.OtherSeeds
	}
	return s.Seeds
}

// seeds returns the training seeds of a target's models: base, base+1, …
// (SeedsFor of them).
func (s ModelSizes) seeds(base uint64, target string) []uint64 {
	out := make([]uint64, s.SeedsFor(target))
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out
}
