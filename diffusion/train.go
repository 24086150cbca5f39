package diffusion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
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

// TrainConfig configures Train and NewTrainer. Zero fields take the
// documented defaults; Schedule, Strategy and Steps are required.
type TrainConfig struct {
	// Schedule is the noise schedule (required).
	Schedule *Schedule
	// Target is what the network predicts (default ε).
	Target weighting.Target
	// Strategy weights each example's loss: w = weighting.Weight(Strategy,
	// Target, SNR(t)) (required).
	Strategy weighting.Strategy
	// Density draws the training timesteps (default uniform). The effective
	// weighting of timestep t is then w(t)·p(t); no importance correction is
	// applied.
	Density weighting.Density
	// Steps is the step to train up to (required ≥ 1); a resumed run
	// continues to it.
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
	// LogEvery is how often (in steps) a metrics record is written (default
	// 100); the last step always writes one.
	LogEvery int
	// Metrics receives one JSON object per line (see Metrics); nil for none.
	Metrics io.Writer
	// CheckpointDir is where checkpoint.bin is written ("" for none): every
	// CheckpointEvery steps, after the last step, and when the context is
	// cancelled.
	CheckpointDir string
	// CheckpointEvery is the checkpoint interval in steps (0: only at the
	// end and on cancellation).
	CheckpointEvery int
	// Callback, if set, runs every CallbackEvery steps, after the step's
	// metrics and before its checkpoint. It sees the trainer (the network,
	// its EMA, the step) and may run forward and backward passes on the
	// network (they overwrite gradients and activations, which the next
	// step recomputes), but must not change parameters or optimiser state.
	// An error stops training and is returned.
	Callback func(*Trainer) error
	// CallbackEvery is the callback interval in steps (≥ 1 with a callback).
	CallbackEvery int
	// WeightFunc, if set, may overwrite the per-example loss weights of each
	// step: it gets the step number, the batch's timesteps and the
	// strategy's weights w(t_b), and may change w in place (online
	// weightings such as a per-step Pareto solve).
	WeightFunc func(step int, t []int, w []float64)
	// StepPass, if set, makes the step's forward and backward pass in place
	// of Objective.Loss. It gets the step number, the batch and the
	// per-example coefficients c (the weights after WeightFunc, divided by
	// the batch size), may change c, and must leave ∇θ Σ_b c_b·mse_b, for c
	// as it leaves it, in the network's gradient buffer (zeroed before the
	// call), write the per-example MSEs into mse as Loss does and return
	// the sum. An online weighting that solves its weights from a pass of its
	// own (conflict.Online) uses it to train on that same forward pass
	// (Objective.Rebackward). An error stops training.
	StepPass func(step int, b Batch, c, mse []float64) (float64, error)
	// Progress, if set, is called after every step.
	Progress func(Progress)
	// Meta is stored in checkpoints as is (the CLI keeps its flags there).
	Meta map[string]string
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
	if c.LogEvery == 0 {
		c.LogEvery = 100
	}
	c.Optim = c.Optim.WithDefaults()
	return c
}

func (c TrainConfig) validate() error {
	switch {
	case c.Schedule == nil:
		return errors.New("diffusion: training needs a schedule")
	case c.Strategy == nil:
		return errors.New("diffusion: training needs a weighting strategy")
	case c.Steps < 1:
		return fmt.Errorf("diffusion: training needs steps ≥ 1, got %d", c.Steps)
	case c.Batch < 1:
		return fmt.Errorf("diffusion: batch must be ≥ 1, got %d", c.Batch)
	case c.EvalSize < 1 || c.LogEvery < 1 || c.CheckpointEvery < 0 || c.CallbackEvery < 0:
		return fmt.Errorf("diffusion: eval size and log interval must be ≥ 1 and checkpoint and callback intervals ≥ 0")
	case c.Density.T() != c.Schedule.T():
		return fmt.Errorf("diffusion: timestep density has T=%d but the schedule has T=%d", c.Density.T(), c.Schedule.T())
	case c.Callback != nil && c.CallbackEvery == 0:
		return errors.New("diffusion: a callback needs CallbackEvery ≥ 1")
	}
	c.Target.LossScale(1)
	return c.Optim.Validate()
}

// Progress is what TrainConfig.Progress sees after each step.
type Progress struct {
	// Step is the step just taken, Steps the step the run trains up to.
	Step, Steps int
	// Loss is the step's weighted training loss.
	Loss float64
	// StepsPerSec is measured since the run (or the resume) started.
	StepsPerSec float64
	// Elapsed is the wall time since then.
	Elapsed time.Duration
}

// Metrics is one record of the JSONL metrics log.
type Metrics struct {
	// Step is the number of steps taken.
	Step int
	// Loss is the mean weighted training loss of the steps since the
	// previous record.
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
	// Elapsed the wall time since then.
	StepsPerSec float64
	Elapsed     time.Duration
}

// MarshalJSON writes the record with flat keys in a fixed order: step,
// loss, eval_loss, x0_mse_LO_HI for each range, grad_norm, lr, steps_per_s,
// elapsed_s.
func (m Metrics) MarshalJSON() ([]byte, error) {
	b := []byte(`{"step":` + strconv.Itoa(m.Step))
	num := func(key string, v float64) {
		b = append(b, `,"`+key+`":`...)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = strconv.AppendQuote(b, strconv.FormatFloat(v, 'g', -1, 64))
			return
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	num("loss", m.Loss)
	num("eval_loss", m.EvalLoss)
	for i, r := range m.Ranges {
		num(fmt.Sprintf("x0_mse_%d_%d", r[0], r[1]), m.X0MSE[i])
	}
	num("grad_norm", m.GradNorm)
	num("lr", m.LR)
	num("steps_per_s", m.StepsPerSec)
	num("elapsed_s", m.Elapsed.Seconds())
	return append(b, '}'), nil
}

// Trainer trains a network as a diffusion denoiser: each step draws a batch
// (Batch.Draw from the StreamTrain generator), weighs each example's loss by
// the strategy, takes one AdamW step with warm-up and clipping, and updates
// the EMA. Build one with NewTrainer (or let Train do it).
type Trainer struct {
	cfg     TrainConfig
	net     nn.Network
	opt     *nn.Optimizer
	obj     *Objective
	data    Dataset
	pcg     *rand.PCG
	rng     *rand.Rand
	step    int
	batch   Batch
	w, mse  []float64
	evals   []Batch // Fig6Ranges batches, then the density batch
	ranges  [][2]int
	lossSum float64 // weighted loss summed since the last record
	lossN   int
	norm    float64
	lr      float64
	start   time.Time
	startAt int
}

// NewTrainer prepares to train net (already initialised) on train, with
// held-out examples from heldOut (which may be train itself: its examples
// are then drawn from another random stream).
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
		w: make([]float64, cfg.Batch), mse: make([]float64, cfg.Batch), start: time.Now(),
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
		t.evals = append(t.evals, DrawBins(erng, heldOut, []int{lo, hi}, cfg.EvalSize))
	}
	eb := NewBatch(cfg.EvalSize, net.Dim())
	eb.Draw(erng, heldOut, cfg.Density)
	t.evals = append(t.evals, eb)
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

// StepOnce takes one training step. A non-finite loss or gradient is an
// error naming the step; nothing is updated then.
func (t *Trainer) StepOnce() error {
	s := t.step + 1
	b, B := t.batch, t.cfg.Batch
	b.Draw(t.rng, t.data, t.cfg.Density)
	for i, tt := range b.T {
		t.w[i] = weighting.Weight(t.cfg.Strategy, t.cfg.Target, t.cfg.Schedule.SNR(tt))
	}
	if t.cfg.WeightFunc != nil {
		t.cfg.WeightFunc(s, b.T, t.w)
	}
	for i := range t.w {
		t.w[i] /= float64(B)
	}
	ps := t.net.Params()
	ps.ZeroGrad(t.net.Backend())
	var loss float64
	if t.cfg.StepPass != nil {
		var err error
		if loss, err = t.cfg.StepPass(s, b, t.w, t.mse); err != nil {
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
	t.step, t.norm, t.lr = s, norm, lr
	t.lossSum += loss
	t.lossN++
	if t.cfg.Progress != nil {
		el := time.Since(t.start)
		t.cfg.Progress(Progress{Step: s, Steps: t.cfg.Steps, Loss: loss, Elapsed: el, StepsPerSec: float64(s-t.startAt) / el.Seconds()})
	}
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
				c[r] = weighting.Weight(t.cfg.Strategy, t.cfg.Target, t.cfg.Schedule.SNR(tt)) / float64(n)
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

func (t *Trainer) record() error {
	m := t.Evaluate()
	if t.lossN > 0 {
		m.Loss = t.lossSum / float64(t.lossN)
	}
	t.lossSum, t.lossN = 0, 0
	m.GradNorm, m.LR = t.norm, t.lr
	m.Elapsed = time.Since(t.start)
	m.StepsPerSec = float64(t.step-t.startAt) / m.Elapsed.Seconds()
	if t.cfg.Metrics == nil {
		return nil
	}
	line, _ := m.MarshalJSON()
	if _, err := t.cfg.Metrics.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("diffusion: writing metrics: %w", err)
	}
	return nil
}

// CheckpointPath returns the checkpoint file of a run directory.
func CheckpointPath(dir string) string { return filepath.Join(dir, "checkpoint.bin") }

// Run trains until the configured number of steps, writing metrics,
// calling the callback and writing checkpoints as configured. If ctx is
// cancelled it writes a checkpoint of the last completed step and returns
// ctx.Err(). A failing step returns its error without writing a
// checkpoint, so the last good one stays.
func (t *Trainer) Run(ctx context.Context) error {
	t.start, t.startAt = time.Now(), t.step
	c := t.cfg
	for t.step < c.Steps {
		if err := ctx.Err(); err != nil {
			if c.CheckpointDir != "" {
				if serr := t.Checkpoint().Save(CheckpointPath(c.CheckpointDir)); serr != nil {
					return errors.Join(err, serr)
				}
			}
			return err
		}
		if err := t.StepOnce(); err != nil {
			return err
		}
		s := t.step
		if s%c.LogEvery == 0 || s == c.Steps {
			if err := t.record(); err != nil {
				return err
			}
		}
		if c.Callback != nil && s%c.CallbackEvery == 0 {
			if err := c.Callback(t); err != nil {
				return fmt.Errorf("diffusion: callback at step %d: %w", s, err)
			}
		}
		if c.CheckpointDir != "" && ((c.CheckpointEvery > 0 && s%c.CheckpointEvery == 0) || s == c.Steps) {
			if err := t.Checkpoint().Save(CheckpointPath(c.CheckpointDir)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Train builds a Trainer and runs it: the one-call form of NewTrainer and
// Run.
func Train(ctx context.Context, net nn.Network, train, heldOut Dataset, cfg TrainConfig) (*Trainer, error) {
	t, err := NewTrainer(net, train, heldOut, cfg)
	if err != nil {
		return nil, err
	}
	return t, t.Run(ctx)
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
