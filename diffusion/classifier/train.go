package classifier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// Examples is a labelled data set.
type Examples interface {
	// Dim returns the length of one example row.
	Dim() int
	// Len returns the number of examples.
	Len() int
	// Example writes example i into dst (Dim) and returns its class.
	Example(dst []float32, i int) int
}

// mnistExamples adapts a data.MNIST split.
type mnistExamples struct{ m *data.MNIST }

// MNISTExamples returns the split as Examples: images scaled to [−1, 1] as
// the diffusion models see them (data.MNIST.Image) and their digits.
func MNISTExamples(m *data.MNIST) Examples { return mnistExamples{m} }

func (e mnistExamples) Dim() int { return data.MNISTDim }
func (e mnistExamples) Len() int { return e.m.N }
func (e mnistExamples) Example(dst []float32, i int) int {
	e.m.Image(dst, i)
	return e.m.Label(i)
}

// Config is everything that determines a trained classifier: its
// architecture and its training run. Zero fields take the documented
// defaults (WithDefaults).
type Config struct {
	Arch Arch `json:"arch"`
	// Epochs is the number of passes over the training set (default 5).
	Epochs int `json:"epochs"`
	// Batch is the number of examples per step (default 128); the last
	// batch of an epoch may be smaller.
	Batch int `json:"batch"`
	// LR is AdamW's peak learning rate (default 2e-3), decayed linearly to
	// 0 over the run after a warm-up of one twentieth of an epoch.
	LR float64 `json:"lr"`
	// WeightDecay is AdamW's decoupled weight decay on the Linear weights
	// (default 0).
	WeightDecay float64 `json:"weight_decay"`
	// Seed fixes the initial weights (stream 0) and the order of examples
	// (stream 1).
	Seed uint64 `json:"seed"`
	// TrainSize, when positive, uses only the first TrainSize training
	// examples (for quick tests); 0 uses all.
	TrainSize int `json:"train_size"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Arch = c.Arch.WithDefaults()
	if c.Epochs == 0 {
		c.Epochs = 5
	}
	if c.Batch == 0 {
		c.Batch = 128
	}
	if c.LR == 0 {
		c.LR = 2e-3
	}
	return c
}

func (c Config) validate() error {
	if err := c.Arch.validate(); err != nil {
		return err
	}
	if c.Epochs < 1 || c.Batch < 1 || c.TrainSize < 0 {
		return fmt.Errorf("classifier: need epochs and batch ≥ 1 and train size ≥ 0, got %d, %d, %d", c.Epochs, c.Batch, c.TrainSize)
	}
	if !(c.LR > 0) || math.IsInf(c.LR, 0) || !(c.WeightDecay >= 0) {
		return fmt.Errorf("classifier: learning rate %g must be positive and weight decay %g ≥ 0", c.LR, c.WeightDecay)
	}
	return nil
}

// Progress is what Train reports after every step.
type Progress struct {
	Step, Steps int
	// Epoch counts from 1.
	Epoch int
	// Loss is the mean cross-entropy of the step's batch (nats).
	Loss    float64
	Elapsed time.Duration
}

// Train trains an MLP classifier on be by minimising the mean softmax
// cross-entropy
//
//	L = (1/B) Σ_b [ log Σ_k exp(z_bk) − z_{b,y_b} ],  ∂L/∂z_bk = (softmax(z_b)_k − [k = y_b])/B
//
// with AdamW (gradients clipped to norm 1; see lrAt for the rate). The
// logits are downloaded and the loss and its gradient computed on the host
// in float64 (K values per row, negligible beside the layers), then the
// gradient is uploaded for the backward pass. Examples are visited in a
// fresh permutation every epoch. progress may be nil; ctx stops training
// between steps.
func Train(ctx context.Context, be nn.Backend, cfg Config, train Examples, progress func(Progress)) (*Classifier, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if train.Dim() != cfg.Arch.In {
		return nil, fmt.Errorf("classifier: examples have %d values, the network takes %d", train.Dim(), cfg.Arch.In)
	}
	N := train.Len()
	if cfg.TrainSize > 0 {
		N = min(N, cfg.TrainSize)
	}
	if N < 1 {
		return nil, fmt.Errorf("classifier: no training examples")
	}
	net, err := InitMLP(be, cfg.Arch, cfg.Seed)
	if err != nil {
		return nil, err
	}
	B, D, K := cfg.Batch, cfg.Arch.In, cfg.Arch.Classes
	perEpoch := (N + B - 1) / B
	steps := cfg.Epochs * perEpoch
	warmup := max(1, perEpoch/20)
	opt := newAdamW(be, net.Params(), cfg.WeightDecay)
	var (
		rng     = rand.New(rand.NewPCG(cfg.Seed, 1))
		x       = make([]float32, B*D) // (B, D)
		labels  = make([]int, B)       // (B)
		logits  = make([]float32, B*K) // (B, K)
		dlogits = make([]float32, B*K) // (B, K)
		xT      = be.Alloc(B * D)
		zT      = be.Alloc(B * K)
		dzT     = be.Alloc(B * K)
		start   = time.Now()
	)
	step := 0
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		perm := rng.Perm(N)
		for lo := 0; lo < N; lo += B {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rows := min(B, N-lo)
			for r := range rows {
				labels[r] = train.Example(x[r*D:(r+1)*D], perm[lo+r])
			}
			be.Upload(xT, x[:rows*D])
			net.Forward(zT, xT, rows)
			be.Download(logits[:rows*K], zT)
			loss := softmaxXent(dlogits[:rows*K], logits[:rows*K], labels[:rows], K)
			be.Upload(dzT, dlogits[:rows*K])
			net.Params().ZeroGrad(be)
			net.Backward(dzT, rows)
			step++
			if err := opt.step(lrAt(cfg.LR, step, steps, warmup)); err != nil {
				return nil, fmt.Errorf("classifier: step %d: %w", step, err)
			}
			if err := be.Sync(); err != nil {
				return nil, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("classifier: step %d: loss is %g", step, loss)
			}
			if progress != nil {
				progress(Progress{Step: step, Steps: steps, Epoch: epoch, Loss: loss, Elapsed: time.Since(start)})
			}
		}
	}
	return New(net), nil
}

// lrAt is the learning rate of step s ≥ 1 of steps: a linear warm-up over
// warmup steps to peak, then a linear decay that reaches peak/(steps −
// warmup + 1) at the last step.
func lrAt(peak float64, s, steps, warmup int) float64 {
	if s <= warmup {
		return peak * float64(s) / float64(warmup)
	}
	return peak * float64(steps-s+1) / float64(steps-warmup+1)
}

// clipNorm is the global gradient norm the classifier's steps are clipped
// to (PyTorch's clip_grad_norm_ rule, as nn.Optimizer).
const clipNorm = 1

// adamW is AdamW with a learning rate given at every step. nn.Optimizer
// keeps its rate constant after warm-up and maintains an EMA the classifier
// does not use, so the classifier drives Backend.AdamW itself, with Adam's
// default β1 = 0.9, β2 = 0.999, ε = 1e-8 and weight decay on the Linear
// weights only.
type adamW struct {
	be   nn.Backend
	ps   *nn.ParamSet
	m, v nn.Tensor // (P) each, the ParamSet's layout
	wd   float64
	t    int
}

func newAdamW(be nn.Backend, ps *nn.ParamSet, wd float64) *adamW {
	return &adamW{be: be, ps: ps, m: be.Alloc(ps.Len()), v: be.Alloc(ps.Len()), wd: wd}
}

// step clips the gradient and takes one AdamW step with learning rate lr.
func (o *adamW) step(lr float64) error {
	norm := math.Sqrt(o.be.Dot(o.ps.Grad, o.ps.Grad))
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fmt.Errorf("gradient norm is %g", norm)
	}
	if coef := clipNorm / (norm + 1e-6); coef < 1 {
		o.be.Scale(o.ps.Grad, float32(coef))
	}
	o.t++
	const b1, b2 float32 = 0.9, 0.999
	h := nn.AdamW{
		LR: float32(lr), Beta1: b1, Beta2: b2, Eps: 1e-8, WeightDecay: float32(o.wd),
		BC1: float32(1 - math.Pow(float64(b1), float64(o.t))),
		BC2: float32(1 - math.Pow(float64(b2), float64(o.t))),
	}
	P, nd := o.ps.Len(), o.ps.DecayLen()
	if nd > 0 {
		o.be.AdamW(o.ps.Flat.View(0, nd), o.ps.Grad.View(0, nd), o.m.View(0, nd), o.v.View(0, nd), h)
	}
	h.WeightDecay = 0
	o.be.AdamW(o.ps.Flat.View(nd, P-nd), o.ps.Grad.View(nd, P-nd), o.m.View(nd, P-nd), o.v.View(nd, P-nd), h)
	return nil
}

// softmaxXent writes the gradient of the mean cross-entropy of logits (B, K)
// against labels (B) into dlogits (B, K) and returns the mean loss.
// It is generic so that tests run it on the float64 twin backend.
func softmaxXent[T float32 | float64](dlogits, logits []T, labels []int, K int) float64 {
	B := len(labels)
	loss := 0.0
	p := make([]float64, K)
	for b, y := range labels {
		z := logits[b*K : (b+1)*K]
		lse := logSumExp(p, z)
		loss += lse - float64(z[y])
		for k := range p {
			g := p[k]
			if k == y {
				g--
			}
			dlogits[b*K+k] = T(g / float64(B))
		}
	}
	return loss / float64(B)
}

// logSumExp returns log Σ exp(z_k) and writes softmax(z) into p, computed
// stably in float64 around the maximum.
func logSumExp[T float32 | float64](p []float64, z []T) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	s := 0.0
	for k, v := range z {
		p[k] = math.Exp(float64(v) - m)
		s += p[k]
	}
	for k := range p {
		p[k] /= s
	}
	return m + math.Log(s)
}
