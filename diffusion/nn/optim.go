package nn

import (
	"fmt"
	"math"
)

// OptimConfig configures AdamW with linear warm-up, gradient-norm clipping
// and an exponential moving average (EMA) of the weights. Zero fields take
// the documented defaults.
type OptimConfig struct {
	// LR is the peak learning rate (default 1e-4, the paper's).
	LR float64 `json:"lr"`
	// Beta1, Beta2 and Eps are Adam's (defaults 0.9, 0.999 and 1e-8).
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"` // see Beta1
	Eps   float64 `json:"eps"`   // see Beta1
	// WeightDecay is AdamW's decoupled decay (default 0), applied to the
	// parameters marked Decay (Linear weights) only.
	WeightDecay float64 `json:"weight_decay"`
	// Warmup is the number of steps over which the learning rate rises
	// linearly to LR: lr(s) = LR·min(1, s/Warmup) at step s = 1, 2, …
	// (default 0: none).
	Warmup int `json:"warmup"`
	// ClipNorm rescales the gradient to this global L2 norm when it is
	// larger, as torch.nn.utils.clip_grad_norm_ does (default 0: no
	// clipping).
	ClipNorm float64 `json:"clip_norm"`
	// EMADecay is the EMA's decay (default 0.9999, the paper's). The decay
	// used at step s is min(EMADecay, (1 + s)/(10 + s)), the usual warm-up,
	// so the average follows the weights early in short runs.
	EMADecay float64 `json:"ema_decay"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c OptimConfig) WithDefaults() OptimConfig {
	if c.LR == 0 {
		c.LR = 1e-4
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.EMADecay == 0 {
		c.EMADecay = 0.9999
	}
	return c
}

// Validate reports a configuration no optimiser can run with.
func (c OptimConfig) Validate() error {
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("nn: learning rate must be positive and finite, got %g", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("nn: Adam betas must be in [0, 1), got %g and %g", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("nn: Adam eps must be positive, got %g", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("nn: weight decay must be ≥ 0, got %g", c.WeightDecay)
	case c.Warmup < 0:
		return fmt.Errorf("nn: warm-up must be ≥ 0 steps, got %d", c.Warmup)
	case !(c.ClipNorm >= 0):
		return fmt.Errorf("nn: clip norm must be ≥ 0, got %g", c.ClipNorm)
	case !(c.EMADecay > 0 && c.EMADecay < 1):
		return fmt.Errorf("nn: EMA decay must be in (0, 1), got %g", c.EMADecay)
	}
	return nil
}

// Optimizer updates a ParamSet from its gradients: clipping, AdamW, EMA. Its
// state (moments M and V, the EMA weights and the step count) has the
// ParamSet's flat layout, so ParamSet.View names its parts.
type Optimizer struct {
	cfg OptimConfig
	be  Backend
	ps  *ParamSet
	// M and V are Adam's first and second moments, EMA the averaged weights,
	// each (P) in the ParamSet's layout.
	M, V, EMA Tensor
	// Step counts the updates taken; the next update is step Step+1.
	Step int
}

// NewOptimizer allocates the optimiser state for ps on be, with the EMA
// starting at the current parameter values. cfg gets its defaults.
func NewOptimizer(be Backend, ps *ParamSet, cfg OptimConfig) (*Optimizer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	P := ps.Len()
	o := &Optimizer{cfg: cfg, be: be, ps: ps, M: be.Alloc(P), V: be.Alloc(P), EMA: be.Alloc(P)}
	be.Copy(o.EMA, ps.Flat)
	return o, nil
}

// Config returns the configuration with defaults filled in.
func (o *Optimizer) Config() OptimConfig { return o.cfg }

// LR returns the learning rate of step s ≥ 1 after warm-up.
func (o *Optimizer) LR(s int) float64 {
	if o.cfg.Warmup > 0 && s < o.cfg.Warmup {
		return o.cfg.LR * float64(s) / float64(o.cfg.Warmup)
	}
	return o.cfg.LR
}

// EMADecay returns the EMA decay of step s: min(EMADecay, (1+s)/(10+s)).
func (o *Optimizer) EMADecay(s int) float64 {
	return math.Min(o.cfg.EMADecay, (1+float64(s))/(10+float64(s)))
}

// GradNorm returns the global L2 norm of the gradients, √Σ g².
func (o *Optimizer) GradNorm() float64 { return math.Sqrt(o.be.Dot(o.ps.Grad, o.ps.Grad)) }

// Update takes one step from the gradients in the ParamSet: if ClipNorm > 0
// and the gradient norm ‖g‖ exceeds it, g is scaled by ClipNorm/(‖g‖+1e-6)
// (PyTorch's rule); then AdamW with the warm-up learning rate, then the
// EMA. It returns the norm before clipping and the learning rate used. If
// the norm is not finite it changes nothing and returns an error.
func (o *Optimizer) Update() (gradNorm, lr float64, err error) {
	norm := o.GradNorm()
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, 0, fmt.Errorf("nn: gradient norm is %g", norm)
	}
	if c := o.cfg.ClipNorm; c > 0 {
		if coef := c / (norm + 1e-6); coef < 1 {
			o.be.Scale(o.ps.Grad, float32(coef))
		}
	}
	o.Step++
	s := o.Step
	lr = o.LR(s)
	// The bias corrections use the β's as the kernels see them (float32),
	// so that m/bc1 is exactly g on the first step.
	b1, b2 := float32(o.cfg.Beta1), float32(o.cfg.Beta2)
	h := AdamW{
		LR: float32(lr), Beta1: b1, Beta2: b2, Eps: float32(o.cfg.Eps),
		WeightDecay: float32(o.cfg.WeightDecay),
		BC1:         float32(1 - math.Pow(float64(b1), float64(s))),
		BC2:         float32(1 - math.Pow(float64(b2), float64(s))),
	}
	P, nd := o.ps.Len(), o.ps.DecayLen()
	part := func(t Tensor, lo, hi int) Tensor { return t.View(lo, hi-lo) }
	if nd > 0 {
		o.be.AdamW(part(o.ps.Flat, 0, nd), part(o.ps.Grad, 0, nd), part(o.M, 0, nd), part(o.V, 0, nd), h)
	}
	if nd < P {
		h.WeightDecay = 0
		o.be.AdamW(part(o.ps.Flat, nd, P), part(o.ps.Grad, nd, P), part(o.M, nd, P), part(o.V, nd, P), h)
	}
	o.be.EMA(o.EMA, o.ps.Flat, float32(o.EMADecay(s)))
	return norm, lr, nil
}
