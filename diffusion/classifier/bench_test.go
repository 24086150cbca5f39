package classifier

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// randomExamples is N random 784-value rows with random labels.
type randomExamples struct {
	x      []float32
	labels []int
}

func newRandomExamples(n int) randomExamples {
	rng := rand.New(rand.NewPCG(1, 1))
	e := randomExamples{x: make([]float32, n*784), labels: make([]int, n)}
	for i := range e.x {
		e.x[i] = float32(2*rng.Float64() - 1)
	}
	for i := range e.labels {
		e.labels[i] = rng.IntN(10)
	}
	return e
}

func (e randomExamples) Dim() int { return 784 }
func (e randomExamples) Len() int { return len(e.labels) }
func (e randomExamples) Example(dst []float32, i int) int {
	copy(dst, e.x[i*784:(i+1)*784])
	return e.labels[i]
}

// One epoch of 1280 examples is 10 training steps of batch 128 of the
// default 784→256→128→10 network.
func BenchmarkTrain_10Steps_B128(b *testing.B) {
	ex := newRandomExamples(1280)
	for b.Loop() {
		if _, err := Train(context.Background(), nn.NewCPU(), Config{Epochs: 1}, ex, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval_N1000(b *testing.B) {
	net, err := InitMLP(nn.NewCPU(), Arch{}, 1)
	if err != nil {
		b.Fatal(err)
	}
	c := New(net)
	ex := newRandomExamples(1000)
	feat, probs := make([]float32, 1000*128), make([]float32, 1000*10)
	for b.Loop() {
		c.Eval(feat, probs, ex.x)
	}
}
