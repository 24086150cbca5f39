package gram_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// One forward and backward pass over a batch stratified into 4 timestep
// bins gives the training gradient (here of Min-SNR-5 weights) and the
// exact 4×4 Gram of the bins' unweighted x0-MSE gradients.
func ExamplePass() {
	net, _ := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 64, Depth: 2}, 1)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.Eps)
	toy, _ := data.NewToy("moons")
	b := diffusion.DrawBins(rand.New(rand.NewPCG(1, 2)), toy, weighting.MustEqualT(1000, 4), 16) // rows grouped by bin
	counts := []int{16, 16, 16, 16}
	c := make([]float64, b.Len()) // training coefficients
	for i, t := range b.T {
		c[i] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.Eps, sched.SNR(t)) / float64(b.Len())
	}
	g, err := gram.NewPass(obj, gram.Config{})
	if err != nil {
		panic(err)
	}
	res, err := g.Run(b, counts, c) // net.Params().Grad now holds ∇ Σ c_n mse_n
	if err != nil {
		panic(err)
	}
	fmt.Println("K =", res.K, "Gram entries:", len(res.Gram))
	fmt.Println("Linear layers by ghost products:", res.Ghost, "materialised:", res.Materialized)
	// Output:
	// K = 4 Gram entries: 16
	// Linear layers by ghost products: 6 materialised: 2
}

// Per-bin gradients: K = 4 timestep bins, 8 examples each, one backward pass
// per bin, and their Gram matrix in float64.
func ExampleBinGradients() {
	toy, _ := data.NewToy("moons")
	be := nn.NewCPU()
	net, _ := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 1}, 1)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.V)
	batch := diffusion.DrawBins(rand.New(rand.NewPCG(1, 2)), toy, weighting.MustEqualT(1000, 4), 8)
	K, P := 4, net.Params().Len()
	grads := be.Alloc(K * P)
	losses := gram.BinGradients(obj, grads, batch, K, nil) // nil: unweighted x0-MSE per bin
	gram := make([]float64, K*K)
	be.Gram(gram, grads, K, P)
	fmt.Println(len(losses), "bins,", P, "parameters; Gram is", len(gram), "numbers, symmetric:", gram[1] == gram[4])
	// Output: 4 bins, 1762 parameters; Gram is 16 numbers, symmetric: true
}

// The split-half estimator: the same one pass over the 2K halves of 4
// bins gives the unbiased Gram (projected to PSD), each bin's signal
// fraction and the plain Gram of the same batch.
func ExamplePass_RunSplit() {
	net, _ := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 1}, 1)
	obj := diffusion.NewObjective(net, diffusion.Cosine(1000), weighting.Eps)
	toy, _ := data.NewToy("moons")
	b := diffusion.DrawBins(rand.New(rand.NewPCG(1, 2)), toy, weighting.MustEqualT(1000, 4), 16)
	g, err := gram.NewPass(obj, gram.Config{})
	if err != nil {
		panic(err)
	}
	res, err := g.RunSplit(b, []int{16, 16, 16, 16}, nil) // halves of 8
	if err != nil {
		panic(err)
	}
	below := true
	for k := range res.Signal {
		below = below && res.Signal[k] <= 1 && res.Raw[k*res.K+k] < res.Plain[k*res.K+k]
	}
	fmt.Println(res.K, "bins; signal fractions ≤ 1 and unbiased G_kk below the plain ones:", below)
	// Output: 4 bins; signal fractions ≤ 1 and unbiased G_kk below the plain ones: true
}
