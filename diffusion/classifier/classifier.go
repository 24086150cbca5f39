package classifier

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// EvalBatch is the number of rows Classifier.Eval sends through the network
// at once.
const EvalBatch = 1000

// Classifier is a trained MLP seen from the host: feature rows and class
// probabilities of float32 input rows. It owns device buffers for one
// batch and is not safe for concurrent use.
type Classifier struct {
	net    *MLP
	xT, zT nn.Tensor // (EvalBatch, In), (EvalBatch, K)
	logits []float32 // (EvalBatch, K)
}

// New wraps a trained network.
func New(net *MLP) *Classifier { return &Classifier{net: net} }

// Net returns the wrapped network.
func (c *Classifier) Net() *MLP { return c.net }

// Arch returns the network's architecture.
func (c *Classifier) Arch() Arch { return c.net.arch }

// Eval runs the network on x (N, In) and writes the feature rows (the last
// hidden layer's activations) into feat (N, F) and the class probabilities
// softmax(logits) into probs (N, K); either may be nil to skip it. Rows are
// independent: the result does not depend on how they are batched.
func (c *Classifier) Eval(feat, probs, x []float32) {
	a := c.net.arch
	D, F, K := a.In, a.Features(), a.Classes
	if len(x)%D != 0 {
		panic(fmt.Sprintf("classifier: Eval: len(x) = %d is not a multiple of %d", len(x), D))
	}
	N := len(x) / D
	if (feat != nil && len(feat) != N*F) || (probs != nil && len(probs) != N*K) {
		panic(fmt.Sprintf("classifier: Eval of %d rows: feat has %d values (want %d), probs %d (want %d)", N, len(feat), N*F, len(probs), N*K))
	}
	be := c.net.be
	if c.xT.IsZero() {
		c.xT, c.zT, c.logits = be.Alloc(EvalBatch*D), be.Alloc(EvalBatch*K), make([]float32, EvalBatch*K)
	}
	p := make([]float64, K)
	for lo := 0; lo < N; lo += EvalBatch {
		rows := min(EvalBatch, N-lo)
		be.Upload(c.xT, x[lo*D:(lo+rows)*D])
		c.net.Forward(c.zT, c.xT, rows)
		if feat != nil {
			be.Download(feat[lo*F:(lo+rows)*F], c.net.Features())
		}
		if probs != nil {
			be.Download(c.logits[:rows*K], c.zT)
			for r := range rows {
				logSumExp(p, c.logits[r*K:(r+1)*K])
				for k, v := range p {
					probs[(lo+r)*K+k] = float32(v)
				}
			}
		}
	}
}

// EvalExamples is Eval over a labelled set; it returns the labels (N).
func (c *Classifier) EvalExamples(feat, probs []float32, ex Examples) []int {
	N, D := ex.Len(), ex.Dim()
	labels := make([]int, N)
	x := make([]float32, min(N, EvalBatch)*D)
	F, K := c.net.arch.Features(), c.net.arch.Classes
	for lo := 0; lo < N; lo += EvalBatch {
		rows := min(EvalBatch, N-lo)
		for r := range rows {
			labels[lo+r] = ex.Example(x[r*D:(r+1)*D], lo+r)
		}
		var f, p []float32
		if feat != nil {
			f = feat[lo*F : (lo+rows)*F]
		}
		if probs != nil {
			p = probs[lo*K : (lo+rows)*K]
		}
		c.Eval(f, p, x[:rows*D])
	}
	return labels
}

// Accuracy returns the share of rows of probs (N, k) whose most probable
// class (the first, on ties) is the label.
func Accuracy(probs []float32, labels []int, k int) float64 {
	if len(probs) != len(labels)*k {
		panic(fmt.Sprintf("classifier: Accuracy: %d probabilities for %d labels of %d classes", len(probs), len(labels), k))
	}
	if len(labels) == 0 {
		return math.NaN()
	}
	right := 0
	for i, y := range labels {
		best := 0
		row := probs[i*k : (i+1)*k]
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		if best == y {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}
