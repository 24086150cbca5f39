package diffusion

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// Random streams of a training run: every draw comes from
// rand.NewPCG(Seed, stream) with these streams, so CPU and GPU runs of the
// same seed see the same batches.
const (
	// StreamInit draws the initial weights (nn.InitResMLP uses stream 0).
	StreamInit = 0
	// StreamTrain draws each step's data, timesteps and noise (Batch.Draw).
	StreamTrain = 1
	// StreamEval draws the fixed held-out evaluation batches once.
	StreamEval = 2
)

// Fig6Ranges are the timestep ranges of the paper's Fig. 6, in thousandths
// of T: [0,100), [200,300), [600,700) and [800,900) for T = 1000.
var Fig6Ranges = [][2]int{{0, 100}, {200, 300}, {600, 700}, {800, 900}}

// TrainConfig configures NewTrainer. Zero fields take the documented
// defaults; Schedule, Weighting and Steps are required. It holds live
// values (a schedule, a parsed weighting and density); TrainSpec is its
// serialisable form, which checkpoints hold.
type TrainConfig struct {
	// Data names the training data (a data.Open spec such as
	// "toy:8gaussians"); it is recorded in checkpoints for readers and not
	// otherwise used: the trainer is given the Dataset itself.
	Data string
	// Schedule is the noise schedule (required).
	Schedule *Schedule
	// Target is what the network predicts (default ε).
	Target weighting.Target
	// Weighting weighs each example's loss (required): a closed-form
	// weighting.Strategy, w = weighting.Weight(Weighting, Target, SNR(t)),
	// or an OnlineWeighting, which makes each step's pass itself from the
	// step's own batch (package conflict's "pareto:…").
	Weighting weighting.Weighting
	// Density draws the training timesteps (default uniform). The effective
	// weighting of timestep t is then w(t)·p(t); no importance correction is
	// applied.
	Density weighting.Density
	// Steps is the step the run trains up to (required ≥ 1), recorded in
	// checkpoints; the caller's loop stops there.
	Steps int
	// Batch is the number of examples per step (default 128).
	Batch int
	// Optim configures AdamW, warm-up, clipping and the EMA (nn's defaults).
	Optim nn.OptimConfig
	// Seed seeds every random stream (see StreamTrain, StreamEval).
	Seed uint64
	// EvalSize is the number of held-out examples per Fig6Ranges range and
	// for the held-out weighted loss (default 256).
	EvalSize int
}

// OnlineWeighting is a weighting computed during training from each step's
// own batch, such as package conflict's online Pareto weighting. NewTrainer
// calls Start once, after building the trainer (also when it resumes one
// from a checkpoint); the StepPass it returns makes every step's forward
// and backward pass. The held-out "weighted" loss of a run with an online
// weighting is the unweighted x0-MSE (weighting.Constant).
type OnlineWeighting interface {
	weighting.Weighting
	Start(t *Trainer) (StepPass, error)
}

// StepPass makes one training step's forward and backward pass in place of
// Objective.Loss. Pass gets the step number, the batch and the per-example
// coefficients c (the unweighted x0 loss's, w(t_b)/B with w =
// weighting.Weight(Constant, target, SNR)), may change c, and must leave
// ∇θ Σ_b c_b·mse_b, for c as it leaves it, in the network's gradient buffer
// (zeroed before the call), write the per-example MSEs into mse as Loss
// does and return the sum. An error stops training.
type StepPass interface {
	Pass(step int, b Batch, c, mse []float64) (float64, error)
}

// StatePass is a StepPass with state carried from step to step, such as
// package conflict's online weighting (its last weights and a stateful
// aggregator's, GradVac's EMA targets). The trainer keeps the state in
// checkpoints (Checkpoint.PassState), so that a resumed run continues
// exactly as the uninterrupted one.
type StatePass interface {
	StepPass
	// PassState returns the complete state as JSON that SetPassState
	// reads back exactly.
	PassState() json.RawMessage
	// SetPassState sets the state to one PassState returned; a state of
	// another configuration is an error. A checkpoint that holds no state
	// (written before the pass saved one) gives nil: the pass starts
	// afresh when it can, and returns an error when it cannot resume
	// without.
	SetPassState(json.RawMessage) error
}

// ParamPass is a StatePass with trainable parameters of its own, such as
// package learned's per-timestep uncertainties u, which it updates in Pass
// with an optimiser of its own. The trainer keeps its state (parameters and
// optimiser moments) in checkpoints (Checkpoint.PassState) and its
// parameters in every metrics record (Metrics.PassParams), so that a
// resumed run continues it exactly and its course over training can be
// drawn.
type ParamPass interface {
	StatePass
	// PassParams returns a copy of the current parameters.
	PassParams() []float64
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Density == nil && c.Schedule != nil {
		c.Density = weighting.Uniform{Steps: c.Schedule.T()}
	}
	if c.Batch == 0 {
		c.Batch = 128
	}
	if c.EvalSize == 0 {
		c.EvalSize = 256
	}
	c.Optim = c.Optim.WithDefaults()
	return c
}

func (c TrainConfig) validate() error {
	switch {
	case c.Schedule == nil:
		return errors.New("diffusion: training needs a schedule")
	case c.Weighting == nil:
		return errors.New("diffusion: training needs a weighting")
	case c.Steps < 1:
		return fmt.Errorf("diffusion: training needs steps ≥ 1, got %d", c.Steps)
	case c.Batch < 1:
		return fmt.Errorf("diffusion: batch must be ≥ 1, got %d", c.Batch)
	case c.EvalSize < 1:
		return fmt.Errorf("diffusion: eval size must be ≥ 1, got %d", c.EvalSize)
	case c.Density.T() != c.Schedule.T():
		return fmt.Errorf("diffusion: timestep density has T=%d but the schedule has T=%d", c.Density.T(), c.Schedule.T())
	}
	switch c.Weighting.(type) {
	case weighting.Strategy, OnlineWeighting:
	default:
		return fmt.Errorf("diffusion: weighting %q is neither a closed form nor an online weighting", c.Weighting)
	}
	if _, err := weighting.ParseTarget(c.Target.String()); err != nil {
		return fmt.Errorf("diffusion: %w", err)
	}
	if err := c.Schedule.CheckTarget(c.Target); err != nil {
		return err
	}
	return c.Optim.Validate()
}

// Metrics is one metrics record of a training run: the training loss since
// the previous record and the held-out evaluation of the current weights.
type Metrics struct {
	// Step is the number of steps taken.
	Step int
	// Loss is the mean weighted training loss of the steps since the
	// previous record (NaN when no step was taken since: the record of an
	// untrained network).
	Loss float64
	// EvalLoss is the weighted loss on the fixed held-out batch whose
	// timesteps follow the training density.
	EvalLoss float64
	// X0MSE is the unweighted x0-MSE, mean over examples of
	// (1/D)·‖x0 − x̂0‖², on the fixed held-out batch of each of Ranges.
	X0MSE []float64
	// Ranges are the timestep ranges [lo, hi) of X0MSE (Fig6Ranges scaled
	// to T).
	Ranges [][2]int
	// GradNorm is the last step's gradient norm before clipping and LR its
	// learning rate.
	GradNorm, LR float64
	// StepsPerSec is the speed since the run (or resume) started and
	// Elapsed the wall time since then; the trainer leaves them zero, the
	// loop that drives it fills them in.
	StepsPerSec float64
	Elapsed     time.Duration
	// PassParams are the parameters of the run's ParamPass at this step
	// (package learned's u); nil for other weightings.
	PassParams []float64
}

// Trainer trains a network as a diffusion denoiser: each step draws a batch
// (Batch.Draw from the StreamTrain generator), weighs each example's loss by
// the weighting, takes one AdamW step with warm-up and clipping, and
// updates the EMA. Build one with NewTrainer or ResumeTrainer; the loop
// that calls StepOnce, records metrics and writes checkpoints is the
// caller's (package run).
type Trainer struct {
	cfg      TrainConfig
	strategy weighting.Strategy // closed form, or Constant with an online weighting
	pass     StepPass           // nil for a closed form
	net      nn.Network
	opt      *nn.Optimizer
	obj      *Objective
	data     Dataset
	pcg      *rand.PCG
	rng      *rand.Rand
	step     int
	batch    Batch
	w, mse   []float64
	evals    []Batch // Fig6Ranges batches, then the density batch
	ranges   [][2]int
	lossSum  float64 // weighted loss summed since the last record
	lossN    int
	last     float64 // the last step's loss
	norm     float64
	lr       float64
}

// NewTrainer prepares to train net (already initialised) on train, with
// held-out examples from heldOut (which may be train itself: its examples
// are then drawn from another random stream). With an OnlineWeighting it
// starts the weighting on the new trainer.
func NewTrainer(net nn.Network, train, heldOut Dataset, cfg TrainConfig) (*Trainer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if train.Dim() != net.Dim() || heldOut.Dim() != net.Dim() {
		return nil, fmt.Errorf("diffusion: data of dimension %d (held-out %d) for a network of dimension %d", train.Dim(), heldOut.Dim(), net.Dim())
	}
	opt, err := nn.NewOptimizer(net.Backend(), net.Params(), cfg.Optim)
	if err != nil {
		return nil, err
	}
	t := &Trainer{
		cfg: cfg, net: net, opt: opt, obj: NewObjective(net, cfg.Schedule, cfg.Target), data: train,
		pcg: rand.NewPCG(cfg.Seed, StreamTrain), batch: NewBatch(cfg.Batch, net.Dim()),
		w: make([]float64, cfg.Batch), mse: make([]float64, cfg.Batch), strategy: weighting.Constant{},
	}
	t.rng = rand.New(t.pcg)
	// The fixed held-out batches: one per Fig. 6 range, scaled to T, then
	// one with timesteps from the training density.
	T := cfg.Schedule.T()
	erng := rand.New(rand.NewPCG(cfg.Seed, StreamEval))
	for _, r := range Fig6Ranges {
		lo, hi := r[0]*T/1000, r[1]*T/1000
		if hi <= lo {
			continue // T too small to resolve this range
		}
		t.ranges = append(t.ranges, [2]int{lo, hi})
		t.evals = append(t.evals, DrawRange(erng, heldOut, lo, hi, cfg.EvalSize))
	}
	eb := NewBatch(cfg.EvalSize, net.Dim())
	eb.Draw(erng, heldOut, cfg.Density)
	t.evals = append(t.evals, eb)
	switch w := cfg.Weighting.(type) {
	case weighting.Strategy:
		t.strategy = w
	case OnlineWeighting:
		if t.pass, err = w.Start(t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Net returns the network being trained.
func (t *Trainer) Net() nn.Network { return t.net }

// Optimizer returns the optimiser (its EMA holds the averaged weights).
func (t *Trainer) Optimizer() *nn.Optimizer { return t.opt }

// Objective returns the loss evaluator of the run.
func (t *Trainer) Objective() *Objective { return t.obj }

// Config returns the configuration with defaults filled in.
func (t *Trainer) Config() TrainConfig { return t.cfg }

// Step returns the number of steps taken.
func (t *Trainer) Step() int { return t.step }

// StepPass returns the pass an OnlineWeighting started on this trainer
// (nil for a closed form), through which callers reach its state.
func (t *Trainer) StepPass() StepPass { return t.pass }

// WindowLoss returns the mean weighted training loss of the steps since
// the last Record (NaN if none was taken since): the Loss the next record
// will have.
func (t *Trainer) WindowLoss() float64 {
	if t.lossN == 0 {
		return math.NaN()
	}
	return t.lossSum / float64(t.lossN)
}

// LastLoss returns the weighted training loss of the last step taken.
func (t *Trainer) LastLoss() float64 { return t.last }

// StepOnce takes one training step. A non-finite loss or gradient is an
// error naming the step; the network is not updated then (a ParamPass
// has stepped its own parameters in its pass).
func (t *Trainer) StepOnce() error {
	s := t.step + 1
	b, B := t.batch, t.cfg.Batch
	b.Draw(t.rng, t.data, t.cfg.Density)
	for i, tt := range b.T {
		t.w[i] = weighting.Weight(t.strategy, t.cfg.Target, t.cfg.Schedule.SNR(tt)) / float64(B)
	}
	ps := t.net.Params()
	ps.ZeroGrad(t.net.Backend())
	var loss float64
	if t.pass != nil {
		var err error
		if loss, err = t.pass.Pass(s, b, t.w, t.mse); err != nil {
			return fmt.Errorf("diffusion: step %d: %w", s, err)
		}
	} else {
		loss = t.obj.Loss(b, t.w, t.mse, true)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		if err := t.net.Backend().Sync(); err != nil { // a failed GPU backend reads back NaN
			return fmt.Errorf("diffusion: step %d: %w", s, err)
		}
		return fmt.Errorf("diffusion: step %d: training loss is %v", s, loss)
	}
	norm, lr, err := t.opt.Update()
	if err != nil {
		if serr := t.net.Backend().Sync(); serr != nil {
			err = serr
		}
		return fmt.Errorf("diffusion: step %d: %w", s, err)
	}
	if err := t.net.Backend().Sync(); err != nil {
		return fmt.Errorf("diffusion: step %d: %w", s, err)
	}
	t.step, t.norm, t.lr, t.last = s, norm, lr, loss
	t.lossSum += loss
	t.lossN++
	return nil
}

// Evaluate computes the held-out metrics of the current weights (the loss
// window and timing fields are left zero).
func (t *Trainer) Evaluate() Metrics {
	m := Metrics{Step: t.step, Ranges: t.ranges}
	for i, b := range t.evals {
		n := b.Len()
		c, mse := make([]float64, n), make([]float64, n)
		for r, tt := range b.T {
			if i < len(t.ranges) {
				c[r] = t.obj.X0Scale(tt) / float64(n)
			} else {
				c[r] = weighting.Weight(t.strategy, t.cfg.Target, t.cfg.Schedule.SNR(tt)) / float64(n)
			}
		}
		v := t.obj.Loss(b, c, mse, false)
		if i < len(t.ranges) {
			m.X0MSE = append(m.X0MSE, v)
		} else {
			m.EvalLoss = v
		}
	}
	return m
}

// Record returns the metrics record of the current step: Evaluate, the
// mean training loss since the previous record (NaN if no step was taken
// since), the last step's gradient norm and learning rate, and the
// parameters of a ParamPass. It starts a new loss window.
func (t *Trainer) Record() Metrics {
	m := t.Evaluate()
	m.Loss = t.WindowLoss()
	t.lossSum, t.lossN = 0, 0
	m.GradNorm, m.LR = t.norm, t.lr
	if p, ok := t.pass.(ParamPass); ok {
		m.PassParams = p.PassParams()
	}
	return m
}

// Denoiser returns the network as a Denoiser: with ema set, a copy holding
// the EMA weights as they are now; otherwise the live network itself.
func (t *Trainer) Denoiser(ema bool) (*NetDenoiser, error) {
	if !ema {
		return NewNetDenoiser(t.net, t.cfg.Target, t.cfg.Schedule), nil
	}
	be := t.net.Backend()
	net, err := nn.Build(be, t.net.Spec())
	if err != nil {
		return nil, err
	}
	be.Copy(net.Params().Flat, t.opt.EMA)
	return NewNetDenoiser(net, t.cfg.Target, t.cfg.Schedule), nil
}
