package diffusion

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"reflect"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/weighting"
)

// RunConfig is the part of a TrainConfig that determines the training
// trajectory, in a form that files hold. A resumed run must have the same.
type RunConfig struct {
	Schedule     string         `json:"schedule"`      // schedule name (NewSchedule)
	T            int            `json:"T"`             // number of timesteps
	ZeroTerminal bool           `json:"zero_terminal"` // rescaled to zero terminal SNR
	Target       string         `json:"target"`        // "eps", "x0" or "v"
	Strategy     string         `json:"strategy"`      // weighting.Parse spec
	Density      string         `json:"density"`       // weighting.ParseDensity spec
	Batch        int            `json:"batch"`         // examples per step
	Seed         uint64         `json:"seed"`          // seed of every random stream
	EvalSize     int            `json:"eval_size"`     // held-out examples per range
	Optim        nn.OptimConfig `json:"optim"`         // with defaults filled in
}

func runConfigOf(c TrainConfig) RunConfig {
	return RunConfig{
		Schedule: c.Schedule.Name(), T: c.Schedule.T(), ZeroTerminal: c.Schedule.IsZeroTerminal(),
		Target: c.Target.String(), Strategy: c.Strategy.String(), Density: c.Density.String(),
		Batch: c.Batch, Seed: c.Seed, EvalSize: c.EvalSize, Optim: c.Optim,
	}
}

// TrainConfig parses the names back into a TrainConfig (with Steps and the
// logging, checkpoint and callback fields zero).
func (r RunConfig) TrainConfig() (TrainConfig, error) {
	s, err := NewSchedule(r.Schedule, r.T, r.ZeroTerminal)
	if err != nil {
		return TrainConfig{}, err
	}
	target, err := weighting.ParseTarget(r.Target)
	if err != nil {
		return TrainConfig{}, err
	}
	strategy, err := weighting.Parse(r.Strategy)
	if err != nil {
		return TrainConfig{}, err
	}
	density, err := weighting.ParseDensity(r.Density, r.T, s.LogSNRs())
	if err != nil {
		return TrainConfig{}, err
	}
	return TrainConfig{
		Schedule: s, Target: target, Strategy: strategy, Density: density,
		Batch: r.Batch, Seed: r.Seed, EvalSize: r.EvalSize, Optim: r.Optim,
	}, nil
}

// Checkpoint is the complete state of a training run after Step steps:
// network architecture and parameters, AdamW moments, EMA weights, the
// training random generator's state, the run configuration, and the metrics
// window, so that a resumed run continues exactly as the uninterrupted one
// (bit for bit on the CPU backend).
type Checkpoint struct {
	// Step is the number of steps taken.
	Step int `json:"step"`
	// Steps is the step count the run was configured to reach.
	Steps int `json:"steps"`
	// Spec is the network's architecture and Layout its parameters' layout.
	Spec   nn.Spec     `json:"spec"`
	Layout []nn.Layout `json:"layout"`
	// Config is the run configuration a resume must match.
	Config RunConfig `json:"config"`
	// RNG is the training generator's rand.PCG state (MarshalBinary).
	RNG []byte `json:"rng"`
	// LossSum and LossN are the metrics window since the last record.
	LossSum float64 `json:"loss_sum"`
	LossN   int     `json:"loss_n"`
	// GradNorm and LR are the last step's.
	GradNorm float64 `json:"grad_norm"`
	LR       float64 `json:"lr"`
	// Meta is TrainConfig.Meta (the CLI's data spec and model name).
	Meta map[string]string `json:"meta,omitempty"`
	// Params, M, V and EMA are (P) each, in Layout's order.
	Params, M, V, EMA []float32 `json:"-"`
}

// checkpointMagic starts every checkpoint file; its last byte is the format
// version: '1', or '2' for a network with input skips (nn.ResMLPConfig's
// SigmaData or Skip). The layout is the same; the version only makes
// readers that predate the skips refuse such a file (they would otherwise
// drop the skip fields of its header and sample a different function).
// LoadCheckpoint reads both.
const (
	checkpointMagic   = "PDIFFCK1"
	checkpointMagicV2 = "PDIFFCK2"
)

// magic returns the format version the checkpoint needs.
func (c *Checkpoint) magic() string {
	if c.Spec.ResMLP != nil && c.Spec.ResMLP.Preconditioned() {
		return checkpointMagicV2
	}
	return checkpointMagic
}

// Checkpoint captures the trainer's state (downloading it from the backend).
func (t *Trainer) Checkpoint() *Checkpoint {
	be, ps := t.net.Backend(), t.net.Params()
	P := ps.Len()
	get := func(x nn.Tensor) []float32 {
		v := make([]float32, P)
		be.Download(v, x)
		return v
	}
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		panic(err) // PCG marshalling cannot fail
	}
	return &Checkpoint{
		Step: t.step, Steps: t.cfg.Steps, Spec: t.net.Spec(), Layout: ps.Layout(), Config: runConfigOf(t.cfg),
		RNG: rng, LossSum: t.lossSum, LossN: t.lossN, GradNorm: t.norm, LR: t.lr, Meta: t.cfg.Meta,
		Params: get(ps.Flat), M: get(t.opt.M), V: get(t.opt.V), EMA: get(t.opt.EMA),
	}
}

// Restore sets the trainer's state to the checkpoint's. The network's
// architecture and the run configuration must be the checkpoint's (only
// Steps and the logging, checkpoint and callback settings may differ).
func (t *Trainer) Restore(c *Checkpoint) error {
	if !reflect.DeepEqual(c.Spec, t.net.Spec()) {
		return fmt.Errorf("diffusion: checkpoint network %s differs from this run's %s", specString(c.Spec), specString(t.net.Spec()))
	}
	if !reflect.DeepEqual(c.Layout, t.net.Params().Layout()) {
		return errors.New("diffusion: checkpoint parameter layout differs from the network's")
	}
	if err := c.checkArrays(t.net.Params().Len()); err != nil {
		return fmt.Errorf("diffusion: checkpoint: %w", err)
	}
	if rc := runConfigOf(t.cfg); rc != c.Config {
		return fmt.Errorf("diffusion: checkpoint run configuration %s differs from this run's %s", jsonString(c.Config), jsonString(rc))
	}
	if err := t.pcg.UnmarshalBinary(c.RNG); err != nil {
		return fmt.Errorf("diffusion: checkpoint random state: %w", err)
	}
	be, ps := t.net.Backend(), t.net.Params()
	be.Upload(ps.Flat, c.Params)
	be.Upload(t.opt.M, c.M)
	be.Upload(t.opt.V, c.V)
	be.Upload(t.opt.EMA, c.EMA)
	t.opt.Step = c.Step
	t.step, t.lossSum, t.lossN, t.norm, t.lr = c.Step, c.LossSum, c.LossN, c.GradNorm, c.LR
	return nil
}

func specString(s nn.Spec) string { return jsonString(s) }

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Network builds the checkpoint's network on be holding its parameters, or
// its EMA weights if ema is set.
func (c *Checkpoint) Network(be nn.Backend, ema bool) (nn.Network, error) {
	if err := c.checkNetwork(); err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint: %w", err)
	}
	net, err := nn.Build(be, c.Spec)
	if err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint: %w", err)
	}
	if !reflect.DeepEqual(c.Layout, net.Params().Layout()) {
		return nil, errors.New("diffusion: checkpoint parameter layout differs from its network's")
	}
	if err := c.checkArrays(net.Params().Len()); err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint: %w", err)
	}
	if ema {
		be.Upload(net.Params().Flat, c.EMA)
	} else {
		be.Upload(net.Params().Flat, c.Params)
	}
	return net, nil
}

// Denoiser is Network wrapped as a Denoiser predicting the run's target
// under the run's schedule.
func (c *Checkpoint) Denoiser(be nn.Backend, ema bool) (*NetDenoiser, error) {
	rc, err := c.Config.TrainConfig()
	if err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint: %w", err)
	}
	net, err := c.Network(be, ema)
	if err != nil {
		return nil, err
	}
	return NewNetDenoiser(net, rc.Target, rc.Schedule), nil
}

// Save writes the checkpoint to path atomically (a temporary file in the
// same directory, synced, then renamed), so an interrupted write leaves the
// previous file intact. The format: the 8 bytes "PDIFFCK1", a little-endian
// uint32 header length, the JSON header, the four (P) float32 arrays
// Params, M, V, EMA little-endian, and a little-endian CRC-32 (IEEE) of
// everything before it.
func (c *Checkpoint) Save(path string) error {
	P := 0
	for _, l := range c.Layout {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		P += n
	}
	for _, a := range [][]float32{c.Params, c.M, c.V, c.EMA} {
		if len(a) != P {
			panic(fmt.Sprintf("diffusion: checkpoint arrays of %d values for a layout of %d", len(a), P))
		}
	}
	header, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("diffusion: checkpoint header: %w", err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		h := crc32.NewIEEE()
		mw := io.MultiWriter(w, h)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(header)))
		buf := append(append([]byte(c.magic()), n[:]...), header...)
		if _, err := mw.Write(buf); err != nil {
			return err
		}
		body := make([]byte, 4*P)
		for _, a := range [][]float32{c.Params, c.M, c.V, c.EMA} {
			for i, v := range a {
				binary.LittleEndian.PutUint32(body[4*i:], math.Float32bits(v))
			}
			if _, err := mw.Write(body); err != nil {
				return err
			}
		}
		binary.LittleEndian.PutUint32(n[:], h.Sum32())
		_, err := w.Write(n[:])
		return err
	})
}

// LoadCheckpoint reads a checkpoint written by Save, checking its magic,
// its CRC, that its arrays match its layout, that the layout is its
// network's, that nn.Build makes that network and that its run
// configuration parses. A file that fails a check is a *CheckpointError
// naming it; no file makes it panic.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := readCheckpointFile(path)
	if err != nil {
		return nil, err
	}
	c, err := decodeCheckpoint(raw)
	if err != nil {
		return nil, &CheckpointError{Path: path, Err: err}
	}
	return c, nil
}

// ResumeTrainer restores a trainer from the checkpoint: it builds the
// checkpoint's network on be and a Trainer with the checkpoint's run
// configuration, taking Steps (0: the checkpoint's) and the logging,
// checkpoint, callback, WeightFunc, StepPass and progress settings from
// cfg (whose other fields are ignored), and sets its state to the
// checkpoint's.
func ResumeTrainer(c *Checkpoint, be nn.Backend, train, heldOut Dataset, cfg TrainConfig) (*Trainer, error) {
	rc, err := c.Config.TrainConfig()
	if err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint configuration: %w", err)
	}
	rc.Steps, rc.LogEvery, rc.Metrics = cfg.Steps, cfg.LogEvery, cfg.Metrics
	if rc.Steps == 0 {
		rc.Steps = c.Steps
	}
	rc.CheckpointDir, rc.CheckpointEvery = cfg.CheckpointDir, cfg.CheckpointEvery
	rc.Callback, rc.CallbackEvery, rc.WeightFunc, rc.StepPass, rc.Progress, rc.Meta = cfg.Callback, cfg.CallbackEvery, cfg.WeightFunc, cfg.StepPass, cfg.Progress, cfg.Meta
	if rc.Meta == nil {
		rc.Meta = c.Meta
	}
	net, err := c.Network(be, false)
	if err != nil {
		return nil, err
	}
	t, err := NewTrainer(net, train, heldOut, rc)
	if err != nil {
		return nil, err
	}
	if err := t.Restore(c); err != nil {
		return nil, err
	}
	return t, nil
}
