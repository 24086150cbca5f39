package diffusion_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// One forward and backward pass over a batch stratified into 4 timestep
// bins gives the training gradient (here of Min-SNR-5 weights) and the
// exact 4×4 Gram of the bins' unweighted x0-MSE gradients.
func ExampleBinGram() {
	net, _ := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 64, Depth: 2}, 1)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.Eps)
	toy, _ := data.NewToy("moons")
	edges := weighting.BinEdges(1000, 4)
	b := diffusion.DrawBins(rand.New(rand.NewPCG(1, 2)), toy, edges, 16) // rows grouped by bin
	counts := []int{16, 16, 16, 16}
	c := make([]float64, b.Len()) // training coefficients
	for i, t := range b.T {
		c[i] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.Eps, sched.SNR(t)) / float64(b.Len())
	}
	g, err := diffusion.NewBinGram(obj, diffusion.BinGramSettings{})
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
