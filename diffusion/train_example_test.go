package diffusion_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// Train a small ε-prediction model on 8 Gaussians with min-SNR-5 weighting,
// probing it with a callback, and then use its EMA weights as a Denoiser.
func ExampleTrain() {
	toy, _ := data.NewToy("8gaussians")
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 2}, 1)
	if err != nil {
		panic(err)
	}
	cfg := diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000),
		Target:   weighting.Eps,
		Strategy: weighting.MinSNR{Gamma: 5},
		Steps:    400,
		Batch:    64,
		Seed:     1,
		Optim:    nn.OptimConfig{LR: 2e-3, Warmup: 50, ClipNorm: 1},
		Callback: func(tr *diffusion.Trainer) error {
			fmt.Println("callback at step", tr.Step())
			return nil
		},
		CallbackEvery: 200,
	}
	tr, err := diffusion.NewTrainer(net, toy, toy, cfg)
	if err != nil {
		panic(err)
	}
	before := tr.Evaluate().EvalLoss
	if err := tr.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println("held-out loss halved:", tr.Evaluate().EvalLoss < before/2)

	den, _ := tr.Denoiser(true) // EMA weights
	out := make([]float32, 2)
	den.Predict(out, []float32{0.5, -0.5}, []int{500})
	fmt.Println("denoiser:", den.Dim(), den.Target())
	// Output:
	// callback at step 200
	// callback at step 400
	// held-out loss halved: true
	// denoiser: 2 eps
}

// Per-bin gradients: K = 4 timestep bins, 8 examples each, one backward pass
// per bin, and their Gram matrix in float64.
func ExampleObjective_BinGradients() {
	toy, _ := data.NewToy("moons")
	be := nn.NewCPU()
	net, _ := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 1}, 1)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.V)
	edges := weighting.BinEdges(1000, 4)
	batch := diffusion.DrawBins(rand.New(rand.NewPCG(1, 2)), toy, edges, 8)
	K, P := 4, net.Params().Len()
	grads := be.Alloc(K * P)
	losses := obj.BinGradients(grads, batch, K, nil) // nil: unweighted x0-MSE per bin
	gram := make([]float64, K*K)
	be.Gram(gram, grads, K, P)
	fmt.Println(len(losses), "bins,", P, "parameters; Gram is", len(gram), "numbers, symmetric:", gram[1] == gram[4])
	// Output: 4 bins, 1762 parameters; Gram is 16 numbers, symmetric: true
}
