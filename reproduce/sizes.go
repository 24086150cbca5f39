package reproduce

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/diffusion/data"
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
	// Net is the network, as the train command's --model names it:
	// "resmlp" (ModelSizesFor's; "" reads as it) or a DiT, "dit" or
	// "dit-s" (ModelSizesOf), which needs image data.
	Net string
	// Width and Depth size the ResMLP (inner width 2·Width) or the DiT
	// (token width, transformer blocks).
	Width, Depth int
	// Patch, Heads and MLPRatio are the DiT's patch side, attention heads
	// and MLP ratio (zero for the ResMLP).
	Patch, Heads int
	MLPRatio     float64
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

	// classifier is the FD's MNIST classifier (zero: the classifier
	// package's defaults); the smoke scale's DiT trains a tiny one.
	classifier classifier.Config
}

// PrimaryTarget is the prediction target of the primary tests of fig5,
// fig6, table2 and online: x0, the paper's main case (its Fig. 6 and the
// Min-SNR-γ derivation are stated on the x0 loss).
const PrimaryTarget = "x0"

// modelSizes is the table of ModelSizes per scale.
var modelSizes = map[Scale]ModelSizes{
	Smoke: {
		Data: "toy:checkerboard", Net: "resmlp", Width: 16, Depth: 1, Schedule: "cosine", T: 1000,
		Steps: 40, Batch: 32, LR: 1e-3, Warmup: 5, ClipNorm: 1, EMA: 0.99,
		EvalEvery: 20, EvalSize: 16, Samples: 128, Sampler: "heun", SamplerSteps: 4, Repeats: 2, Seeds: 1,
		Probes: ProbeSizes{Target: PrimaryTarget, Bins: "t:4", PerBin: 8, Draws: 3, Every: 20, Binnings: []string{"t:3", "logsnr:4"}, BinningExamples: 32},
	},
	Quick: {
		Data: "toy:checkerboard", Net: "resmlp", Width: 64, Depth: 2, Schedule: "cosine", T: 1000,
		Steps: 2000, Batch: 256, LR: 1e-3, Warmup: 100, ClipNorm: 1, EMA: 0.999,
		EvalEvery: 200, EvalSize: 512, Samples: 2000, Sampler: "heun", SamplerSteps: 30, Repeats: 2, Seeds: 2,
		Probes: quickProbes,
	},
	Medium: {
		Data: "mnist", Net: "resmlp", Width: 128, Depth: 2, Schedule: "cosine", T: 1000,
		Steps: 6000, Batch: 64, LR: 1e-3, Warmup: 200, ClipNorm: 1, EMA: 0.999,
		EvalEvery: 500, EvalSize: 512, Samples: 5000, Sampler: "heun", SamplerSteps: 10, Repeats: 2, Seeds: 5, OtherSeeds: 2,
		Probes: ProbeSizes{Target: PrimaryTarget, Bins: "t:20", PerBin: 128, Draws: 2, Every: 1000, Binnings: sensitivityBinnings, BinningExamples: 2560},
	},
	Paper: {
		Data: "mnist", Net: "resmlp", Width: 1024, Depth: 3, Schedule: "cosine", T: 1000,
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

// ModelSizesFor returns the model sizes of a scale, with the ResMLP.
func ModelSizesFor(s Scale) ModelSizes {
	m, ok := modelSizes[s]
	if !ok {
		panic(fmt.Sprintf("reproduce: no sizes for scale %q", s))
	}
	return m
}

// Models are the networks a scale of MNIST can train (ModelSizesOf): the
// ResMLP and the train command's DiT presets (run.Models).
var Models = run.Models

// smokeDiT is the smoke scale's DiT sizes, for either DiT name: MNIST (the
// DiT needs images) with a DiT of 16 tokens of 7×7 pixels, 8 wide, one
// block, few samples and a tiny FD classifier, so that the pipeline runs
// in seconds.
var smokeDiT = ModelSizes{
	Data: "mnist", Width: 8, Depth: 1, Patch: 7, Heads: 2, MLPRatio: 2, Schedule: "cosine", T: 1000,
	Steps: 20, Batch: 8, LR: 1e-3, Warmup: 2, ClipNorm: 1, EMA: 0.9,
	EvalEvery: 10, EvalSize: 4, Samples: 16, Sampler: "heun", SamplerSteps: 2, Repeats: 2, Seeds: 1,
	Probes:     ProbeSizes{Target: PrimaryTarget, Bins: "t:4", PerBin: 2, Draws: 2, Every: 10, Binnings: []string{"t:3", "logsnr:4"}, BinningExamples: 8},
	classifier: classifier.Config{Arch: classifier.Arch{Hidden: []int{16}}, Epochs: 1, TrainSize: 500},
}

// ModelSizesOf returns the model sizes of a scale with the network model
// (one of Models; "" is the ResMLP). A DiT keeps the scale's data,
// training and evaluation sizes (the medium and paper scales' MNIST) with
// its preset's architecture; the smoke scale's is smokeDiT; the quick
// scale's toy data has no images, and its DiT is an error.
func ModelSizesOf(s Scale, model string) (ModelSizes, error) {
	if _, ok := modelSizes[s]; !ok {
		return ModelSizes{}, fmt.Errorf("reproduce: unknown scale %q", s)
	}
	m := ModelSizesFor(s)
	if model == "" {
		model = "resmlp"
	}
	net, err := run.ModelNet(model)
	if err != nil {
		return ModelSizes{}, fmt.Errorf("reproduce: %w", err)
	}
	if net.Kind != "dit" {
		return m, nil
	}
	if s == Smoke {
		m = smokeDiT
	} else {
		if _, _, image, err := data.ImageShapeOf(m.Data); err != nil || !image {
			return ModelSizes{}, fmt.Errorf("reproduce: --model %s needs image data: the %s scale trains on %s (2-D points); use the medium or paper scale", model, s, m.Data)
		}
		c := net.DiT
		m.Width, m.Depth, m.Patch, m.Heads, m.MLPRatio = c.Width, c.Depth, c.Patch, c.Heads, c.MLPRatio
	}
	m.Net = model
	return m, nil
}

// net is the network of these sizes, without the data's shape and the
// input skips.
func (s ModelSizes) net() nn.Spec {
	if s.isDiT() {
		return nn.Spec{Kind: "dit", DiT: &nn.DiTConfig{Patch: s.Patch, Width: s.Width, Depth: s.Depth, Heads: s.Heads, MLPRatio: s.MLPRatio}}
	}
	return nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{Width: s.Width, Depth: s.Depth}}
}

// NetPhrase names the network in report prose: "64-wide, 2-block
// residual MLP", or "DiT (patch 4, 64 wide, 4 blocks of 4 heads)"; plural:
// "…MLPs", "DiTs (…)".
func (s ModelSizes) NetPhrase(plural bool) string {
	n := ""
	if plural {
		n = "s"
	}
	if s.isDiT() {
		return fmt.Sprintf("DiT%s (patch %d, %d wide, %d blocks of %d heads)", n, s.Patch, s.Width, s.Depth, s.Heads)
	}
	return fmt.Sprintf("%d-wide, %d-block residual MLP%s", s.Width, s.Depth, n)
}

// NetNoun is the network's kind in prose with its article: "an MLP" or
// "a DiT".
func (s ModelSizes) NetNoun() string {
	if s.kindName() == "DiT" {
		return "a DiT"
	}
	return "an MLP"
}

// isDiT reports whether the network is a DiT.
func (s ModelSizes) isDiT() bool {
	net, err := run.ModelNet(s.Net)
	return err == nil && net.Kind == "dit"
}

// kindName is "MLP" or "DiT".
func (s ModelSizes) kindName() string {
	if s.isDiT() {
		return "DiT"
	}
	return "MLP"
}

// Model returns the run of one model of these sizes: target ("eps", "x0",
// "v"), weighting (a weighting.Parse spec), the training seed and the seed
// of the quality evaluation (shared by every model of a run so that all
// are measured on the same noise). A model of the probe target trained
// with one of ProbedStrategies carries the probes (ProbeSizes.Probed):
// they change none of its numbers, so it is the same model for every
// target that uses it.
func (s ModelSizes) Model(target, strategy string, seed, evalSeed uint64) run.Spec {
	net := s.net()
	if tg, err := weighting.ParseTarget(target); err == nil {
		// The same input skips as `paretodiff train --skip auto` (on for MNIST
		// with ε or v; the toy scales are unaffected).
		sd, skip := diffusion.AutoPrecond(s.Data, tg)
		if net.DiT != nil {
			net.DiT.SigmaData, net.DiT.Skip = sd, skip
		} else {
			net.ResMLP.SigmaData, net.ResMLP.Skip = sd, skip
		}
	}
	spec := run.Spec{
		Net: net,
		Train: diffusion.TrainSpec{
			Data: s.Data, Schedule: s.Schedule, T: s.T, Target: target, Weighting: strategy,
			Batch: s.Batch, Seed: seed, EvalSize: s.EvalSize,
			Optim: nn.OptimConfig{LR: s.LR, Warmup: s.Warmup, ClipNorm: s.ClipNorm, EMADecay: s.EMA}.WithDefaults(),
		},
		Steps: s.Steps,
		Eval: run.EvalSpec{Every: s.EvalEvery, Quality: &run.QualitySpec{
			Samples: s.Samples, Sampler: s.Sampler, SamplerSteps: s.SamplerSteps, Repeats: s.Repeats, Seed: evalSeed,
			Classifier: s.classifier,
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
