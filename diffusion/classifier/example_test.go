package classifier_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// halves is a labelled 2-D set: class 1 right of the line x = 0, class 0
// left of it, with a margin.
type halves struct{ x []float32 }

func (h halves) Dim() int { return 2 }
func (h halves) Len() int { return len(h.x) / 2 }
func (h halves) Example(dst []float32, i int) int {
	copy(dst, h.x[2*i:2*i+2])
	if h.x[2*i] > 0 {
		return 1
	}
	return 0
}

func newHalves(n int, seed uint64) halves {
	rng := rand.New(rand.NewPCG(seed, 0))
	x := make([]float32, 2*n)
	for i := range n {
		a := 0.2 + rng.Float64()
		if rng.IntN(2) == 0 {
			a = -a
		}
		x[2*i], x[2*i+1] = float32(a), float32(2*rng.Float64()-1)
	}
	return halves{x}
}

func Example() {
	cfg := classifier.Config{Arch: classifier.Arch{In: 2, Hidden: []int{16, 8}, Classes: 2}, Epochs: 10, Batch: 32, LR: 1e-2, Seed: 1}
	c, err := classifier.Train(context.Background(), nn.NewCPU(), cfg, newHalves(1000, 1), nil)
	if err != nil {
		panic(err)
	}
	test := newHalves(500, 2)
	feat := make([]float32, test.Len()*c.Arch().Features()) // (N, F): the last hidden layer
	probs := make([]float32, test.Len()*2)                  // (N, K)
	labels := c.EvalExamples(feat, probs, test)
	fmt.Printf("features per example %d, test accuracy %.2f\n", c.Arch().Features(), classifier.Accuracy(probs, labels, 2))
	// Output: features per example 8, test accuracy 1.00
}
