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
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/jsondiff"
	"github.com/paretodiff/paretodiff/weighting"
)

// TrainSpec is the serialisable form of a TrainConfig: everything that
// determines the training trajectory but the network and the step count, as
// files hold it. A resumed run must have the same.
type TrainSpec struct {
	Data         string         `json:"data"`          // data.Open spec of the training data
	Schedule     string         `json:"schedule"`      // schedule name (NewSchedule)
	T            int            `json:"T"`             // number of timesteps
	ZeroTerminal bool           `json:"zero_terminal"` // rescaled to zero terminal SNR
	Target       string         `json:"target"`        // "eps", "x0", "v" or "flow"
	Weighting    string         `json:"weighting"`     // weighting.Parse spec: a closed form or an online weighting
	Density      string         `json:"density"`       // weighting.ParseDensity spec
	Batch        int            `json:"batch"`         // examples per step
	Seed         uint64         `json:"seed"`          // seed of every random stream
	EvalSize     int            `json:"eval_size"`     // held-out examples per range
	Optim        nn.OptimConfig `json:"optim"`         // with defaults filled in
}

// TrainSpecOf returns the serialisable form of a configuration (defaults
// filled in).
func TrainSpecOf(c TrainConfig) TrainSpec {
	c = c.withDefaults()
	return TrainSpec{
		Data: c.Data, Schedule: c.Schedule.Name(), T: c.Schedule.T(), ZeroTerminal: c.Schedule.IsZeroTerminal(),
		Target: c.Target.String(), Weighting: c.Weighting.String(), Density: c.Density.String(),
		Batch: c.Batch, Seed: c.Seed, EvalSize: c.EvalSize, Optim: c.Optim,
	}
}

// ScheduleAndTarget parses the schedule and the target alone: all that a
// reader of a trained model needs (no weighting registry). A target the
// schedule refuses (Schedule.CheckTarget) is an error here, so that no file
// makes a reader panic.
func (r TrainSpec) ScheduleAndTarget() (*Schedule, weighting.Target, error) {
	s, err := NewSchedule(r.Schedule, r.T, r.ZeroTerminal)
	if err != nil {
		return nil, 0, err
	}
	target, err := weighting.ParseTarget(r.Target)
	if err != nil {
		return nil, 0, err
	}
	if err := s.CheckTarget(target); err != nil {
		return nil, 0, err
	}
	return s, target, nil
}

// TrainConfig parses the names back into a TrainConfig (with Steps zero).
// An online weighting's spec parses only where the package that registers
// its family is linked in (package conflict for "pareto:…").
func (r TrainSpec) TrainConfig() (TrainConfig, error) {
	s, target, err := r.ScheduleAndTarget()
	if err != nil {
		return TrainConfig{}, err
	}
	w, err := weighting.Parse(r.Weighting)
	if err != nil {
		return TrainConfig{}, err
	}
	density, err := weighting.ParseDensity(r.Density, r.T, s.LogSNRs())
	if err != nil {
		return TrainConfig{}, err
	}
	return TrainConfig{
		Data: r.Data, Schedule: s, Target: target, Weighting: w, Density: density,
		Batch: r.Batch, Seed: r.Seed, EvalSize: r.EvalSize, Optim: r.Optim,
	}, nil
}

// Diff names the fields in which two run configurations differ, with both
// values ("weighting: "min-snr:5" vs "snr"").
func (r TrainSpec) Diff(o TrainSpec) []string {
	var out []string
	for _, d := range jsondiff.Fields(r, o) {
		out = append(out, d.String())
	}
	return out
}

// Checkpoint is the complete state of a training run after Step steps:
// network architecture and parameters, AdamW moments, EMA weights, the
// training random generator's state, the run configuration, the metrics
// window and the state of a weighting with state (StatePass), so that
// a resumed run continues exactly as the uninterrupted one (bit for bit on
// the CPU backend).
type Checkpoint struct {
	// Step is the number of steps taken.
	Step int `json:"step"`
	// Steps is the step count the run was configured to reach.
	Steps int `json:"steps"`
	// Spec is the network's architecture and Layout its parameters' layout.
	Spec   nn.Spec     `json:"spec"`
	Layout []nn.Layout `json:"layout"`
	// Config is the run configuration a resume must match: data,
	// schedule, target, weighting (an online weighting's own spec, such as
	// "pareto:fw,…"), density, batch, seed, held-out size, optimiser.
	Config TrainSpec `json:"config"`
	// RNG is the training generator's rand.PCG state (MarshalBinary).
	RNG []byte `json:"rng"`
	// LossSum and LossN are the metrics window since the last record.
	LossSum float64 `json:"loss_sum"`
	LossN   int     `json:"loss_n"`
	// GradNorm and LR are the last step's.
	GradNorm float64 `json:"grad_norm"`
	LR       float64 `json:"lr"`
	// PassState is the state of the run's StatePass (package learned's u
	// and its optimiser moments, package conflict's online weighting);
	// absent for closed forms. Readers before it ignore the key: they
	// resume an online Pareto run as they always did (solving afresh), and
	// do not know the weightings whose state it needs.
	PassState json.RawMessage `json:"pass_state,omitempty"`
	// Params, M, V and EMA are (P) each, in Layout's order.
	Params, M, V, EMA []float32 `json:"-"`
}

// checkpointMagic starts every checkpoint file; its last byte is the format
// version. The binary layout of every version is the same; the version
// makes readers that predate a header change refuse the file:
//   - '1': the first release;
//   - '2': a network with input skips (nn.ResMLPConfig's SigmaData or
//     Skip), which version-1 readers would drop, sampling another function;
//   - '3': the data spec and the trained weighting in the run
//     configuration (version 1 and 2 files kept them in a "meta" map and
//     stored an online weighting as "constant"), written for every network.
//
// LoadCheckpoint reads all three and migrates the older headers.
const (
	checkpointMagic   = "PDIFFCK3"
	checkpointMagicV1 = "PDIFFCK1"
	checkpointMagicV2 = "PDIFFCK2"
)

// legacyMagic returns the version-1 or -2 magic a network needed before
// version 3.
func (c *Checkpoint) legacyMagic() string {
	if c.Spec.ResMLP != nil && c.Spec.ResMLP.Preconditioned() {
		return checkpointMagicV2
	}
	return checkpointMagicV1
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
	c := &Checkpoint{
		Step: t.step, Steps: t.cfg.Steps, Spec: t.net.Spec(), Layout: ps.Layout(), Config: TrainSpecOf(t.cfg),
		RNG: rng, LossSum: t.lossSum, LossN: t.lossN, GradNorm: t.norm, LR: t.lr,
		Params: get(ps.Flat), M: get(t.opt.M), V: get(t.opt.V), EMA: get(t.opt.EMA),
	}
	if p, ok := t.pass.(StatePass); ok {
		c.PassState = p.PassState()
	}
	return c
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
	stored := c.Config
	if tc, err := c.Config.TrainConfig(); err == nil {
		stored = TrainSpecOf(tc) // canonical specs: "pareto:fw,bins=4" as it reads back
	}
	if d := stored.Diff(TrainSpecOf(t.cfg)); len(d) > 0 {
		return fmt.Errorf("diffusion: the checkpoint's run configuration differs from this run's in %s", strings.Join(d, "; "))
	}
	if err := t.pcg.UnmarshalBinary(c.RNG); err != nil {
		return fmt.Errorf("diffusion: checkpoint random state: %w", err)
	}
	if p, ok := t.pass.(StatePass); ok {
		var state json.RawMessage
		if len(c.PassState) > 0 {
			state = c.PassState
		}
		if err := p.SetPassState(state); err != nil {
			return fmt.Errorf("diffusion: checkpoint weighting state: %w", err)
		}
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
	sched, target, err := c.Config.ScheduleAndTarget()
	if err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint: %w", err)
	}
	net, err := c.Network(be, ema)
	if err != nil {
		return nil, err
	}
	return NewNetDenoiser(net, target, sched), nil
}

// Save writes the checkpoint to path atomically (a temporary file in the
// same directory, synced, then renamed), so an interrupted write leaves the
// previous file intact. The format: the 8 bytes "PDIFFCK3", a little-endian
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
		buf := append(append([]byte(checkpointMagic), n[:]...), header...)
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

// migrateLegacyHeader fills the version-3 fields from a version-1 or -2
// header: the data spec and the model name were in "meta", the weighting
// in config.strategy, and an online weighting was stored as "constant"
// with its spec in meta.weighting.
func (c *Checkpoint) migrateLegacyHeader(header []byte) error {
	var old struct {
		Config struct {
			Strategy string `json:"strategy"`
		} `json:"config"`
		Meta map[string]string `json:"meta"`
	}
	if err := json.Unmarshal(header, &old); err != nil {
		return err
	}
	if d := old.Meta["data"]; d != "" {
		c.Config.Data = d
	}
	if old.Config.Strategy != "" {
		c.Config.Weighting = old.Config.Strategy
	}
	if w := old.Meta["weighting"]; w != "" {
		c.Config.Weighting = w
	}
	return nil
}

// ResumeTrainer restores a trainer from the checkpoint: it builds the
// checkpoint's network on be and a Trainer with the checkpoint's run
// configuration, training up to steps (0: the checkpoint's Steps), and sets
// its state to the checkpoint's.
func ResumeTrainer(c *Checkpoint, be nn.Backend, train, heldOut Dataset, steps int) (*Trainer, error) {
	rc, err := c.Config.TrainConfig()
	if err != nil {
		return nil, fmt.Errorf("diffusion: checkpoint configuration: %w", err)
	}
	rc.Steps = steps
	if rc.Steps == 0 {
		rc.Steps = c.Steps
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
