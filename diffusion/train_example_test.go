package diffusion_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// Train a small ε-prediction model on 8 Gaussians with min-SNR-5 weighting,
// step by step, and then use its EMA weights as a Denoiser. (Package run
// drives a trainer with checkpoints, metrics logs and probes.)
func ExampleNewTrainer() {
	toy, _ := data.NewToy("8gaussians")
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 2}, 1)
	if err != nil {
		panic(err)
	}
	cfg := diffusion.TrainConfig{
		Schedule:  diffusion.Cosine(1000),
		Target:    weighting.Eps,
		Weighting: weighting.MinSNR{Gamma: 5},
		Steps:     400,
		Batch:     64,
		Seed:      1,
		Optim:     nn.OptimConfig{LR: 2e-3, Warmup: 50, ClipNorm: 1},
	}
	tr, err := diffusion.NewTrainer(net, toy, toy, cfg)
	if err != nil {
		panic(err)
	}
	before := tr.Evaluate().EvalLoss
	for tr.Step() < cfg.Steps {
		if err := tr.StepOnce(); err != nil {
			panic(err)
		}
		if tr.Step()%200 == 0 {
			fmt.Println("step", tr.Step())
		}
	}
	fmt.Println("held-out loss halved:", tr.Evaluate().EvalLoss < before/2)

	den, _ := tr.Denoiser(true) // EMA weights
	out := make([]float32, 2)
	den.Predict(out, []float32{0.5, -0.5}, []int{500})
	fmt.Println("denoiser:", den.Dim(), den.Target())
	// Output:
	// step 200
	// step 400
	// held-out loss halved: true
	// denoiser: 2 eps
}
