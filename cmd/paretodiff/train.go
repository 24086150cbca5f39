package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func init() { register(newTrainCmd) }

// trainOptions are the train command's flags. The flags of trajectoryFlags
// fix the run (its run.Spec); --resume takes them from the run folder.
type trainOptions struct {
	data, mnistDir             string
	net                        netOptions
	skip, sigmaData            string // "auto" or a value; see resolvePrecond
	target, weighting, density string
	schedule                   string
	T                          int
	zeroTerminal               bool
	steps, batch               int
	lr, weightDecay, clip, ema float64
	warmup                     int
	seed                       uint64
	evalSize                   int
	out, device                string
	resume                     bool
	checkpointEvery, logEvery  int
	progress                   string
}

// trajectoryFlags are the flags that set a field of the run's spec, with
// that field; a resumed run takes every one not given from its folder.
var trajectoryFlags = []struct {
	name  string
	field func(s *run.Spec) any // a pointer to the field
}{
	{"data", func(s *run.Spec) any { return &s.Train.Data }},
	{"model", func(s *run.Spec) any { return &s.Net.Kind }},
	{"width", netField(func(c *nn.ResMLPConfig) any { return &c.Width }, func(c *nn.DiTConfig) any { return &c.Width })},
	{"depth", netField(func(c *nn.ResMLPConfig) any { return &c.Depth }, func(c *nn.DiTConfig) any { return &c.Depth })},
	{"hidden", netField(func(c *nn.ResMLPConfig) any { return &c.Hidden }, nil)},
	{"act", netField(func(c *nn.ResMLPConfig) any { return &c.Act }, nil)},
	{"patch", netField(nil, func(c *nn.DiTConfig) any { return &c.Patch })},
	{"heads", netField(nil, func(c *nn.DiTConfig) any { return &c.Heads })},
	{"mlp-ratio", netField(nil, func(c *nn.DiTConfig) any { return &c.MLPRatio })},
	{"learned-pos", netField(nil, func(c *nn.DiTConfig) any { return &c.LearnedPos })},
	{"skip", netField(func(c *nn.ResMLPConfig) any { return &c.Skip }, func(c *nn.DiTConfig) any { return &c.Skip })},
	{"sigma-data", netField(func(c *nn.ResMLPConfig) any { return &c.SigmaData }, func(c *nn.DiTConfig) any { return &c.SigmaData })},
	{"target", func(s *run.Spec) any { return &s.Train.Target }},
	{"weighting", func(s *run.Spec) any { return &s.Train.Weighting }},
	{"density", func(s *run.Spec) any { return &s.Train.Density }},
	{"schedule", func(s *run.Spec) any { return &s.Train.Schedule }},
	{"T", func(s *run.Spec) any { return &s.Train.T }},
	{"zero-terminal", func(s *run.Spec) any { return &s.Train.ZeroTerminal }},
	{"batch", func(s *run.Spec) any { return &s.Train.Batch }},
	{"lr", func(s *run.Spec) any { return &s.Train.Optim.LR }},
	{"warmup", func(s *run.Spec) any { return &s.Train.Optim.Warmup }},
	{"weight-decay", func(s *run.Spec) any { return &s.Train.Optim.WeightDecay }},
	{"clip", func(s *run.Spec) any { return &s.Train.Optim.ClipNorm }},
	{"ema", func(s *run.Spec) any { return &s.Train.Optim.EMADecay }},
	{"seed", func(s *run.Spec) any { return &s.Train.Seed }},
	{"eval-size", func(s *run.Spec) any { return &s.Train.EvalSize }},
	{"log-every", func(s *run.Spec) any { return &s.Eval.Every }},
}

// specFields maps a spec field (run.FieldError.Field) to the flags that set
// it, for messages.
var specFields = map[string]string{
	"train.data": "--data", "train.schedule": "--schedule/--T", "train.target": "--target", "train.weighting": "--weighting",
	"train.density": "--density", "train.batch": "--batch/--eval-size", "train.optim": "optimiser flags", "net": "--model",
	"steps": "--steps", "eval.every": "--log-every",
}

// specError turns an error of run.Spec.Normalize into a usage error that
// names the flags of the field.
func specError(err error) error {
	var fe *run.FieldError
	if errors.As(err, &fe) {
		if flag, ok := specFields[fe.Field]; ok {
			return usagef("%s: %v", flag, fe.Err)
		}
	}
	return usagef("%v", err)
}

func newTrainCmd() *cobra.Command {
	o := &trainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a diffusion denoiser with any loss weighting, with checkpoints and a metrics log",
		Long: `train trains a ResMLP or DiT denoiser on toy 2-D data or MNIST with the chosen prediction
target and loss weighting, on the CPU or an NVIDIA GPU (--device cuda). Each step draws a batch, noises it at timesteps
from --density, weighs each example's loss by --weighting (stated on the x0 loss and
converted to the target, as in the weights command) and takes an AdamW step with
linear warm-up, gradient clipping and an EMA of the weights.

Networks (--model): resmlp, a residual MLP of --depth blocks on a trunk of --width
(default 256 and 3; --hidden, --act); dit, a DiT (Peebles & Xie 2023: the image cut into
--patch × --patch patches, one token each, 2-D sin-cos positions or --learned-pos, --depth
transformer blocks of --heads attention heads and an MLP of --mlp-ratio × --width, every
block conditioned on t by adaLN-Zero), small enough for MNIST on a CPU (patch 4, width 64,
depth 4, heads 4, mlp ratio 4); dit-s, DiT-S/2's transformer (patch 2, width 384, depth 12,
heads 6), for a GPU. The size flags given replace the preset's; a flag of the other
network is refused. A DiT needs image data (mnist: one channel of 28×28).

Input skips (--skip, --sigma-data). Write the target as a·x0 + b·ε (b = 1 for eps
and flow, α_t for v, 0 for x0). Its noise part b·ε has full rank, and read off x_t it needs the
gain b/σ_t, which grows without bound as t → 0; a ResMLP whose trunk is narrower
than the data (MNIST: 256 < 784) can supply neither, and the noise it leaves in x̂0
comes out of the sampler as speckle. So the network's output gets two skips from x_t:
a fixed c·x_t, c = b·σ_t/(α_t²σ_d² + σ_t²) (EDM's c_skip on the noise part, for
data of standard deviation σ_d = --sigma-data), and a learned g·S(x_t), S a D×D
layer that starts at zero, g = b/σ_t − c (exact where the data has no variance).
The network (either kind) still predicts the target. auto: both on for MNIST with --target eps,
v or flow (σ_d = 0.5), off otherwise (x0 has no noise part; toy data is 2-D).

Flow matching (--schedule flow, --target flow): x_t = (1 − t)·x0 + t·ε on the flow
times t = (i + 1)/T of the timesteps i = 0..T−1 (t = 1 is pure noise), optionally
shifted as SD3 does (--schedule flow:shift=3: t' = s·t/(1 + (s − 1)·t)); the network
predicts the velocity u = ε − x0, and a weighting stated on the x0 loss is w_x0·t² on
the velocity loss (min-snr:5 is min(SNR, 5)·t², SNR = ((1 − t)/t)²). SD3's timestep
densities are --density logit-normal:m,s and mode:s. v-prediction is refused there
(use flow); sample with flow-euler, flow-heun or heun.

--out is a run folder (package run), the same kind that conflict, demo and the
reproductions write and that sample, eval and conflict --checkpoint read:
spec.json (every setting of the run, written once), checkpoint.bin (every
--checkpoint-every steps, at the end and on interrupt), metrics.jsonl (one JSON object
every --log-every steps: step, weighted training loss, held-out weighted loss, the
unweighted x0-MSE on fixed held-out batches in the timestep ranges [0,100), [200,300),
[600,700), [800,900) scaled to T, gradient norm, learning rate, speed), progress.json
and, once the run reaches --steps, done.json. Every file is replaced atomically. A run
with --weighting learned[:…] also gets learned.csv, learned.png and learned.md: its
learned effective weights per timestep bin over training next to the closed forms
constant, snr, min-snr:5 and max-snr:1 (and, from the conflict command, next to the
Pareto weights of its probes at the same steps).

Ctrl-C or SIGTERM (a preempted Slurm or Kubernetes job) writes the checkpoint and exits
with status 130 or 143. --resume continues the run in --out from its checkpoint up to
--steps; its settings come from spec.json (a flag given with another value is an
error), and on the same device the result is bit-identical to an uninterrupted run (a
run may continue on another device; its numbers then differ by float32 rounding). A
non-finite loss stops training with an error naming the step; the last good checkpoint
stays.

Data: ` + strings.ReplaceAll(data.SpecHelp, "\n", "\n      ") + `

Weightings (--weighting):
` + weighting.Help(false),
		Example: `  paretodiff train --data toy:8gaussians --steps 8000 --width 128 --out runs/toy
  paretodiff train --data mnist --target v --weighting min-snr:5 --steps 10000 --out runs/mnist
  paretodiff train --data mnist --model dit --target v --steps 5000 --out runs/mnist-dit
  paretodiff train --data mnist --model dit-s --device cuda --steps 50000 --out runs/mnist-dit-s
  paretodiff train --data mnist --device cuda --steps 20000 --out runs/mnist-gpu
  paretodiff train --data mnist --schedule flow --target flow --density logit-normal:0,1 --out runs/mnist-flow
  paretodiff train --out runs/mnist --resume --steps 20000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd)
	return cmd
}

// addFlags registers the training flags (shared with the conflict
// command).
func (o *trainOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "toy:8gaussians", "training data: toy:8gaussians, toy:swissroll, toy:checkerboard, toy:moons or mnist")
	f.StringVar(&o.mnistDir, "mnist-dir", "", "folder with the MNIST IDX files (default: the GoMNIST module in the Go module cache, or $"+data.MNISTEnv+")")
	o.net.addFlags(f)
	f.StringVar(&o.skip, "skip", "auto", "learned input skip (a D×D Linear with gain b/σ − c; see above): on, off or auto (on for MNIST with --target eps, v or flow)")
	f.StringVar(&o.sigmaData, "sigma-data", "auto", "σ_d of the fixed input skip c·x_t (0: none; see above), or auto (0.5 for MNIST with --target eps, v or flow, else 0)")
	f.StringVar(&o.target, "target", "eps", "prediction target: eps, x0, v or flow (the flow-matching velocity ε − x0)")
	f.StringVar(&o.weighting, "weighting", "min-snr:5", "loss weighting: a closed form, pareto:METHOD,... or learned[:...] (see above)")
	f.StringVar(&o.density, "density", "auto", "timestep density: uniform, stratified:K, logit-normal:m,s, mode:s, edm-lognormal:Pmean,Pstd, or auto (uniform; stratified over a pareto weighting's equal bins)")
	f.StringVar(&o.schedule, "schedule", "cosine", "noise schedule: cosine, linear, scaled-linear, or flow[:shift=S] (rectified flow, x_t = (1 − t)·x0 + t·ε)")
	f.IntVar(&o.T, "T", 1000, "number of diffusion timesteps")
	f.BoolVar(&o.zeroTerminal, "zero-terminal", false, "rescale the schedule to zero terminal SNR")
	f.IntVar(&o.steps, "steps", 5000, "train up to this many steps")
	f.IntVar(&o.batch, "batch", 128, "examples per step")
	f.Float64Var(&o.lr, "lr", 1e-3, "peak AdamW learning rate")
	f.IntVar(&o.warmup, "warmup", 100, "linear learning-rate warm-up steps")
	f.Float64Var(&o.weightDecay, "weight-decay", 0, "AdamW decoupled weight decay (Linear weights only)")
	f.Float64Var(&o.clip, "clip", 1, "clip the gradient to this global norm (0: off)")
	f.Float64Var(&o.ema, "ema", 0.9999, "EMA decay of the weights (with warm-up min(decay, (1+s)/(10+s)))")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of weights, batches and held-out data")
	f.IntVar(&o.evalSize, "eval-size", 256, "held-out examples per timestep range in the metrics")
	f.StringVar(&o.out, "out", "", "run folder (spec.json, checkpoint.bin, metrics.jsonl, ...; required)")
	addDeviceFlag(cmd, &o.device)
	f.BoolVar(&o.resume, "resume", false, "continue the run in --out from its checkpoint")
	f.IntVar(&o.checkpointEvery, "checkpoint-every", 1000, "write a checkpoint every N steps (0: only at the end)")
	f.IntVar(&o.logEvery, "log-every", 100, "write a metrics record (and a progress line) every N steps")
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none")
}

func (o *trainOptions) run(ctx context.Context, cmd *cobra.Command, stdout, stderr io.Writer) error {
	spec, err := o.spec(cmd)
	if err != nil {
		return err
	}
	return o.train(ctx, spec, stdout, stderr, run.Options{})
}

// check validates the flags that are not part of the spec.
func (o *trainOptions) check() error {
	if o.out == "" {
		return usagef("--out: give a run folder")
	}
	if o.steps < 1 {
		return usagef("--steps must be ≥ 1, got %d", o.steps)
	}
	if o.logEvery < 1 || o.checkpointEvery < 0 {
		return usagef("--log-every must be ≥ 1 and --checkpoint-every ≥ 0")
	}
	switch o.progress {
	case "auto", "bar", "lines", "none":
	default:
		return usagef("--progress %q: want auto, bar, lines or none", o.progress)
	}
	return nil
}

// spec turns the flags into the run's spec: a new run's from the flags, or
// with --resume the stored run's, every flag given explicitly checked
// against it.
func (o *trainOptions) spec(cmd *cobra.Command) (run.Spec, error) {
	if err := o.check(); err != nil {
		return run.Spec{}, err
	}
	var prev *run.Run
	if o.resume {
		var err error
		if prev, err = run.Open(o.out); err != nil {
			return run.Spec{}, usagef("--resume: %v", err)
		}
		// auto input skips follow the run's data and target.
		if !cmd.Flags().Changed("data") {
			o.data = prev.Spec.Train.Data
		}
		if !cmd.Flags().Changed("target") {
			o.target = prev.Spec.Train.Target
		}
		// The network's kind and sizes are the run's too.
		if prevModel := modelOf(prev.Spec.Net); !cmd.Flags().Changed("model") {
			o.net.model = prevModel
		} else if kind, err := o.net.kind(); err == nil && kind != prevModel {
			return run.Spec{}, usagef("--model %s differs from the run's %s; a resumed run keeps its settings", o.net.model, prevModel)
		}
	}
	var base *nn.Spec
	if prev != nil {
		base = &prev.Spec.Net
	}
	fromFlags, err := o.specFromFlags(cmd.Flags().Changed, base)
	if err != nil || prev == nil {
		return fromFlags, err
	}
	// The stored spec with the flags given applied, normalised, must be
	// the stored spec.
	merged := prev.Spec
	merged.Net = copyNet(prev.Spec.Net)
	for _, tf := range trajectoryFlags {
		if cmd.Flags().Changed(tf.name) {
			reflect.ValueOf(tf.field(&merged)).Elem().Set(reflect.ValueOf(tf.field(&fromFlags)).Elem())
		}
	}
	if merged, err = merged.Normalize(); err != nil {
		return run.Spec{}, specError(err)
	}
	for _, tf := range trajectoryFlags {
		if !cmd.Flags().Changed(tf.name) {
			continue
		}
		got, asked := reflect.ValueOf(tf.field(&prev.Spec)).Elem().Interface(), reflect.ValueOf(tf.field(&merged)).Elem().Interface()
		if !reflect.DeepEqual(got, asked) {
			f := cmd.Flags().Lookup(tf.name)
			had := flagValue(got)
			if f.Value.Type() == "bool" { // as the flag writes it, not as --skip
				had = fmt.Sprint(got)
			}
			return run.Spec{}, usagef("--%s %s differs from the run's %s; a resumed run keeps its settings", tf.name, f.Value, had)
		}
	}
	if prev.Step >= o.steps {
		return run.Spec{}, usagef("--resume: the run in %s is already at step %d; give --steps above it", o.out, prev.Step)
	}
	merged.Steps = o.steps
	return merged, nil
}

// flagValue writes a spec value as its flag takes it.
func flagValue(v any) string {
	switch x := v.(type) {
	case bool:
		return onOff(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// specFromFlags is the spec the flags describe (not yet normalised);
// changed reports the flags given, and base is the resumed run's network
// (nil for a new run), which the network flags given change.
func (o *trainOptions) specFromFlags(changed func(string) bool, base *nn.Spec) (run.Spec, error) {
	if _, err := o.net.kind(); err != nil {
		return run.Spec{}, err
	}
	target, err := weighting.ParseTarget(o.target)
	if err != nil {
		return run.Spec{}, usagef("--target: %v", err)
	}
	sigmaData, skip, err := resolvePrecond(o.skip, o.sigmaData, o.data, target)
	if err != nil {
		return run.Spec{}, err
	}
	net, err := o.net.spec(changed, base, sigmaData, skip)
	if err != nil {
		return run.Spec{}, err
	}
	spec := run.Spec{
		Net: net,
		Train: diffusion.TrainSpec{
			Data: o.data, Schedule: o.schedule, T: o.T, ZeroTerminal: o.zeroTerminal, Target: o.target,
			Weighting: o.weighting, Density: o.density, Batch: o.batch, Seed: o.seed, EvalSize: o.evalSize,
			Optim: nn.OptimConfig{LR: o.lr, Warmup: o.warmup, WeightDecay: o.weightDecay, ClipNorm: o.clip, EMADecay: o.ema},
		},
		Steps: o.steps,
		Eval:  run.EvalSpec{Every: o.logEvery},
	}
	if o.batch < 1 || o.evalSize < 1 {
		return run.Spec{}, usagef("--batch and --eval-size must be ≥ 1")
	}
	if _, err := spec.Normalize(); err != nil {
		return run.Spec{}, specError(err)
	}
	return spec, nil
}

// train runs the spec in --out with the progress display, and reports; a
// learned weighting's run also gets its comparison (writeLearned). opt's
// callbacks are the caller's (conflict's); train adds the rest.
func (o *trainOptions) train(ctx context.Context, spec run.Spec, stdout, stderr io.Writer, opt run.Options) error {
	be, err := openDevice(o.device, stderr)
	if err != nil {
		return err
	}
	from := 0
	opt.Existing = run.Refuse
	if o.resume {
		opt.Existing = run.Resume
		if prev, err := run.Open(o.out); err == nil {
			from = prev.Step
		}
	}
	prog := newTrainProgress(o.progress, stderr, from, spec.Steps, o.logEvery)
	opt.Backend, opt.MNISTDir, opt.CheckpointEvery, opt.OnProgress = be, o.mnistDir, o.checkpointEvery, prog.update
	ctx, stop := run.NotifyContext(ctx)
	defer stop()
	start := time.Now()
	r, err := run.Train(ctx, o.out, spec, opt)
	prog.finish()
	if errors.Is(err, run.ErrExists) {
		return usagef("--out %s already holds a run: add --resume to continue it or choose another folder", o.out)
	}
	if err != nil {
		return workError(ctx, err)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "trained steps %d–%d in %s (%.1f steps/s); run folder %s (checkpoint %s, metrics %s)\n",
		from+1, r.Step, el.Round(time.Millisecond), float64(r.Step-from)/el.Seconds(), o.out, run.CheckpointFile, run.MetricsFile)
	return failure(writeLearned(stdout, r))
}

// resolvePrecond turns --skip and --sigma-data into the network's input
// skips; auto is diffusion.AutoPrecond (on for MNIST with an ε or v
// target).
func resolvePrecond(skip, sigmaData, dataSpec string, target weighting.Target) (float64, bool, error) {
	autoSD, auto := diffusion.AutoPrecond(dataSpec, target)
	var on bool
	switch skip {
	case "auto":
		on = auto
	case "on", "true":
		on = true
	case "off", "false":
	default:
		return 0, false, usagef("--skip %q: want on, off or auto", skip)
	}
	sd := 0.0
	if sigmaData == "auto" {
		sd = autoSD
	} else {
		v, err := strconv.ParseFloat(sigmaData, 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return 0, false, usagef("--sigma-data %q: want auto or a finite number ≥ 0", sigmaData)
		}
		sd = v
	}
	return sd, on, nil
}

// onOff writes a boolean flag value as --skip takes it.
func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// trainProgress shows progress as a bar on a terminal, or as a plain line
// every logEvery steps otherwise.
type trainProgress struct {
	bar      *progressbar.ProgressBar
	w        io.Writer
	lines    bool
	logEvery int
}

func newTrainProgress(mode string, w io.Writer, from, steps, logEvery int) *trainProgress {
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				mode = "bar"
			}
		}
	}
	p := &trainProgress{w: w, logEvery: logEvery, lines: mode == "lines"}
	if mode == "bar" {
		p.bar = progressbar.NewOptions(steps,
			progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("train"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("steps"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(), progressbar.OptionSetWidth(30))
		p.bar.Set(from)
	}
	return p
}

func (p *trainProgress) update(pr run.Progress) {
	switch {
	case p.bar != nil:
		p.bar.Describe(fmt.Sprintf("loss %.4g", pr.Loss))
		p.bar.Set(pr.Step)
	case p.lines && (pr.Step%p.logEvery == 0 || pr.Step == pr.Steps):
		eta := time.Duration(float64(pr.Steps-pr.Step) / pr.StepsPerSec * float64(time.Second))
		fmt.Fprintf(p.w, "step %d/%d  loss %.4g  %.1f steps/s  ETA %s\n", pr.Step, pr.Steps, pr.Loss, pr.StepsPerSec, eta.Round(time.Second))
	}
}

func (p *trainProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
