package reproduce

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// ModelSizes are the settings of every model a scale trains (fig2's base
// model, the fig5/fig6 strategy grid, table2's γ sweep, the probed models
// of the gradient analyses): the data, the network, the optimiser, how
// quality is measured along the way and which models carry gradient
// probes.
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
	// Probes are the gradient probes of the probe target's models (zero:
	// none), which Model adds to their specs.
	Probes ProbeSizes
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
		Probes: ProbeSizes{Target: PrimaryTarget, Bins: "t:4", PerBin: 8, Draws: 3, Every: 20, Binnings: []string{"t:3", "logsnr:4"}, BinningExamples: 32},
	},
	Quick: {
		Data: "toy:checkerboard", Width: 64, Depth: 2, Schedule: "cosine", T: 1000,
		Steps: 2000, Batch: 256, LR: 1e-3, Warmup: 100, ClipNorm: 1, EMA: 0.999,
		EvalEvery: 200, EvalSize: 512, Samples: 2000, Sampler: "heun", SamplerSteps: 30, Repeats: 2, Seeds: 2,
		Probes: quickProbes,
	},
	Medium: {
		Data: "mnist", Width: 128, Depth: 2, Schedule: "cosine", T: 1000,
		Steps: 6000, Batch: 64, LR: 1e-3, Warmup: 200, ClipNorm: 1, EMA: 0.999,
		EvalEvery: 500, EvalSize: 512, Samples: 5000, Sampler: "heun", SamplerSteps: 10, Repeats: 2, Seeds: 5, OtherSeeds: 2,
		Probes: ProbeSizes{Target: PrimaryTarget, Bins: "t:20", PerBin: 128, Draws: 2, Every: 1000, Binnings: sensitivityBinnings, BinningExamples: 2560},
	},
	Paper: {
		Data: "mnist", Width: 1024, Depth: 3, Schedule: "cosine", T: 1000,
		Steps: 50000, Batch: 128, LR: 1e-4, Warmup: 1000, ClipNorm: 1, EMA: 0.9999,
		EvalEvery: 2500, EvalSize: 1000, Samples: 5000, Sampler: "heun", SamplerSteps: 18, Repeats: 2, Seeds: 2,
		Probes: ProbeSizes{Target: PrimaryTarget, Bins: "t:20", PerBin: 256, Draws: 4, Every: 2500, Binnings: sensitivityBinnings, BinningExamples: 5120},
	},
}

// sensitivityBinnings are the binnings besides t:20 on which the gradient
// analyses' verdicts are checked: 10 and 50 equal-width bins in t, and 10,
// 20 and 50 bins of equal width in log-SNR (on the cosine schedule with
// T = 1000 the finest log-SNR bins of its tail hold one timestep each,
// weighting.EqualLogSNR).
var sensitivityBinnings = []string{"t:10", "t:50", "logsnr:10", "logsnr:20", "logsnr:50"}

// quickProbes are the quick scale's probes. Six probes (every 400 of
// 2000 steps) of 4 draws × 20 bins × 512 examples per bin on the 12 probed
// models (6 weightings × 2 seeds), and the 4 binnings at step 0 and the
// end at 10 240 examples per draw (as many as a main probe), add about a
// minute to `reproduce all` on two cores (a probe passes about 120 000
// examples a second). 512 per bin is where fig3 finds the bins' gradients
// become mostly signal at the end of training (median signal fraction about
// 0.6): smaller batches make every Gram mostly noise, larger ones cost
// time in proportion.
var quickProbes = ProbeSizes{Target: PrimaryTarget, Bins: "t:20", PerBin: 512, Draws: 4, Every: 400, Binnings: sensitivityBinnings, BinningExamples: 10240}

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
// are measured on the same noise). A model of the probe target trained
// with one of ProbedStrategies carries the probes (ProbeSizes.Probed):
// they change none of its numbers, so it is the same model for every
// target that uses it.
func (s ModelSizes) Model(target, strategy string, seed, evalSeed uint64) run.Spec {
	net := nn.ResMLPConfig{Width: s.Width, Depth: s.Depth}
	if tg, err := weighting.ParseTarget(target); err == nil {
		// The same input skips as `paretodiff train --skip auto` (on for MNIST
		// with ε or v; the toy scales are unaffected).
		net.SigmaData, net.Skip = diffusion.AutoPrecond(s.Data, tg)
	}
	spec := run.Spec{
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
	if s.Probes.Probed(target, strategy) {
		spec.Probes = s.Probes.specs(seed, s.Steps)
	}
	return spec
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
