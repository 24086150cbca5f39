package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func init() { register(newTrainCmd) }

// trainOptions are the train command's flags. The ones in trajectoryFlags
// fix the training run and are stored in the checkpoint; --resume takes
// them from there.
type trainOptions struct {
	data, mnistDir, model, act string
	width, depth, hidden       int
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

	// densitySet records that --density was given (the pareto weighting
	// otherwise stratifies the batch over its bins).
	densitySet bool
	// online is the --weighting pareto:… weighting, bound to the trainer.
	online *conflict.Online
	// Hooks for commands built on train (conflict): setup edits the
	// training configuration, started runs once the trainer exists (before
	// the first step), and both may be nil.
	setup   func(cfg *diffusion.TrainConfig)
	started func(tr *diffusion.Trainer) error
}

// trajectoryFlags are the flags a resumed run takes from its checkpoint.
var trajectoryFlags = []string{"data", "model", "width", "depth", "hidden", "act", "skip", "sigma-data", "target", "weighting", "density",
	"schedule", "T", "zero-terminal", "batch", "lr", "warmup", "weight-decay", "clip", "ema", "seed", "eval-size"}

func newTrainCmd() *cobra.Command {
	o := &trainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a diffusion denoiser with any loss weighting, with checkpoints and a metrics log",
		Long: `train trains a ResMLP denoiser on toy 2-D data or MNIST with the chosen prediction
target and loss weighting, on the CPU or an NVIDIA GPU (--device cuda). Each step draws a batch, noises it at timesteps
from --density, weighs each example's loss by --weighting (stated on the x0 loss and
converted to the target, as in the weights command) and takes an AdamW step with
linear warm-up, gradient clipping and an EMA of the weights.

Input skips (--skip, --sigma-data). Write the target as a·x0 + b·ε (b = 1 for eps,
α_t for v, 0 for x0). Its noise part b·ε has full rank, and read off x_t it needs the
gain b/σ_t, which grows without bound as t → 0; a ResMLP whose trunk is narrower
than the data (MNIST: 256 < 784) can supply neither, and the noise it leaves in x̂0
comes out of the sampler as speckle. So the network's output gets two skips from x_t:
a fixed c·x_t, c = b·σ_t/(α_t²σ_d² + σ_t²) (EDM's c_skip on the noise part, for
data of standard deviation σ_d = --sigma-data), and a learned g·S(x_t), S a D×D
layer that starts at zero, g = b/σ_t − c (exact where the data has no variance).
The network still predicts the target. auto: both on for MNIST with --target eps
or v (σ_d = 0.5), off otherwise (x0 has no noise part; toy data is 2-D).

It writes to --out: checkpoint.bin (every --checkpoint-every steps, at the end and on
interrupt; written atomically), metrics.jsonl (one JSON object every --log-every steps:
step, weighted training loss, held-out weighted loss, the unweighted x0-MSE on fixed
held-out batches in the timestep ranges [0,100), [200,300), [600,700), [800,900)
scaled to T, gradient norm, learning rate, speed) and config.json.

--resume continues the run in --out from its checkpoint up to --steps; the run's
settings come from the checkpoint, and on the same device the result is bit-identical
to an uninterrupted run (a run may continue on another device; its numbers then differ
by float32 rounding). A non-finite loss stops training with an error naming the step;
the last good checkpoint stays.

Data: ` + strings.ReplaceAll(data.SpecHelp, "\n", "\n      ") + `

Weighting strategies:
` + weighting.StrategyHelp + `
` + conflict.OnlineHelp,
		Example: `  paretodiff train --data toy:8gaussians --steps 8000 --width 128 --out runs/toy
  paretodiff train --data mnist --target v --weighting min-snr:5 --steps 10000 --out runs/mnist
  paretodiff train --data mnist --device cuda --steps 20000 --out runs/mnist-gpu
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
	f.StringVar(&o.model, "model", "resmlp", "network: resmlp")
	f.IntVar(&o.width, "width", 256, "ResMLP trunk width")
	f.IntVar(&o.depth, "depth", 3, "ResMLP residual blocks")
	f.IntVar(&o.hidden, "hidden", 0, "ResMLP block inner width (0: 2×width)")
	f.StringVar(&o.act, "act", "silu", "activation: silu or gelu")
	f.StringVar(&o.skip, "skip", "auto", "learned input skip (a D×D Linear with gain b/σ − c; see above): on, off or auto (on for MNIST with --target eps or v)")
	f.StringVar(&o.sigmaData, "sigma-data", "auto", "σ_d of the fixed input skip c·x_t (0: none; see above), or auto (0.5 for MNIST with --target eps or v, else 0)")
	f.StringVar(&o.target, "target", "eps", "prediction target: eps, x0 or v")
	f.StringVar(&o.weighting, "weighting", "min-snr:5", "loss weighting strategy, or pareto:METHOD,... (see above)")
	f.StringVar(&o.density, "density", "uniform", "timestep density: uniform, stratified:K, logit-normal:m,s, edm-lognormal:Pmean,Pstd")
	f.StringVar(&o.schedule, "schedule", "cosine", "noise schedule: cosine, linear or scaled-linear")
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
	f.StringVar(&o.out, "out", "", "run folder for checkpoint.bin, metrics.jsonl and config.json (required)")
	addDeviceFlag(cmd, &o.device)
	f.BoolVar(&o.resume, "resume", false, "continue the run in --out from its checkpoint")
	f.IntVar(&o.checkpointEvery, "checkpoint-every", 1000, "write a checkpoint every N steps (0: only at the end)")
	f.IntVar(&o.logEvery, "log-every", 100, "write a metrics record (and a progress line) every N steps")
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none")
}

func (o *trainOptions) run(ctx context.Context, cmd *cobra.Command, stdout, stderr io.Writer) error {
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
	o.densitySet = cmd.Flags().Changed("density")
	ckPath := diffusion.CheckpointPath(o.out)
	var ck *diffusion.Checkpoint
	if o.resume {
		var err error
		if ck, err = diffusion.LoadCheckpoint(ckPath); err != nil {
			return usagef("--resume: %v", err)
		}
		if err := o.fromCheckpoint(ck, cmd); err != nil {
			return err
		}
		if ck.Step >= o.steps {
			return usagef("--resume: the run in %s is already at step %d; give --steps above it", o.out, ck.Step)
		}
	} else if _, err := os.Stat(ckPath); err == nil {
		return usagef("--out %s already holds a checkpoint: add --resume to continue it or choose another folder", o.out)
	}

	be, err := openDevice(o.device, stderr)
	if err != nil {
		return err
	}
	train, heldOut, err := data.Open(o.data, o.mnistDir)
	if err != nil {
		if strings.HasPrefix(o.data, "mnist") {
			return failure(err)
		}
		return usagef("--data: %v", err)
	}
	cfg, spec, err := o.config(train.Dim())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return usagef("--out: %v", err)
	}
	removeStaleTemps(o.out)

	// The metrics log: kept up to the checkpoint's step on resume.
	metricsPath := filepath.Join(o.out, "metrics.jsonl")
	if ck != nil {
		if err := truncateMetrics(metricsPath, ck.Step); err != nil {
			return err
		}
	} else if err := os.WriteFile(metricsPath, nil, 0o644); err != nil {
		return usagef("--out: %v", err)
	}
	mf, err := os.OpenFile(metricsPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return failure(err)
	}
	defer mf.Close()
	cfg.Metrics = mf
	if err := o.writeConfig(spec); err != nil {
		return failure(err)
	}
	from := 0
	if ck != nil {
		from = ck.Step
	}
	prog := newTrainProgress(o.progress, stderr, from, o.steps, o.logEvery)
	cfg.Progress = prog.update

	var tr *diffusion.Trainer
	if ck != nil {
		tr, err = diffusion.ResumeTrainer(ck, be, train, heldOut, cfg)
	} else {
		var net *nn.ResMLP
		if net, err = nn.InitResMLP(be, *spec.ResMLP, o.seed); err == nil {
			tr, err = diffusion.NewTrainer(net, train, heldOut, cfg)
		}
	}
	if err != nil {
		return usagef("%v", err)
	}
	if o.online != nil {
		if err := o.online.Bind(tr); err != nil {
			return usagef("--weighting: %v", err)
		}
	}
	if o.started != nil {
		if err := o.started(tr); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	start := time.Now()
	err = tr.Run(ctx)
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return failure(fmt.Errorf("interrupted at step %d; the checkpoint in %s is saved, continue with --resume", tr.Step(), o.out))
	}
	if err != nil && o.online != nil && o.online.Err() != nil {
		return failure(o.online.Err())
	}
	if err != nil {
		return failure(err)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "trained steps %d–%d in %s (%.1f steps/s); checkpoint %s, metrics %s\n",
		from+1, tr.Step(), el.Round(time.Millisecond), float64(tr.Step()-from)/el.Seconds(), ckPath, metricsPath)
	return nil
}

// config turns the flags into a training configuration and a network spec.
func (o *trainOptions) config(dim int) (diffusion.TrainConfig, nn.Spec, error) {
	var cfg diffusion.TrainConfig
	if o.model != "resmlp" {
		return cfg, nn.Spec{}, usagef("--model %q: want resmlp", o.model)
	}
	act, err := nn.ParseActivation(o.act)
	if err != nil {
		return cfg, nn.Spec{}, usagef("--act: %v", err)
	}
	rc := nn.ResMLPConfig{Dim: dim, Width: o.width, Depth: o.depth, Hidden: o.hidden, Act: act}
	if o.width < 1 || o.depth < 1 || o.hidden < 0 {
		return cfg, nn.Spec{}, usagef("--width and --depth must be ≥ 1 and --hidden ≥ 0")
	}
	sched, err := diffusion.NewSchedule(o.schedule, o.T, o.zeroTerminal)
	if err != nil {
		return cfg, nn.Spec{}, usagef("--schedule/--T: %v", err)
	}
	target, err := weighting.ParseTarget(o.target)
	if err != nil {
		return cfg, nn.Spec{}, usagef("--target: %v", err)
	}
	if rc.SigmaData, rc.Skip, err = resolvePrecond(o.skip, o.sigmaData, o.data, target); err != nil {
		return cfg, nn.Spec{}, err
	}
	rc = rc.WithDefaults()
	var strategy weighting.Strategy
	o.online = nil
	if strings.HasPrefix(strings.TrimSpace(o.weighting), "pareto") {
		oc, err := conflict.ParseOnline(o.weighting, sched)
		if err != nil {
			return cfg, nn.Spec{}, usagef("--weighting: %v", err)
		}
		if o.online, err = conflict.NewOnline(oc); err != nil {
			return cfg, nn.Spec{}, usagef("--weighting: %v", err)
		}
		if !o.densitySet && oc.EqualTBins() {
			// Stratify the batch over the weighting's bins.
			o.density = weighting.Stratified{Steps: o.T, K: oc.Bins.K()}.String()
		}
	} else if strategy, err = weighting.Parse(o.weighting); err != nil {
		return cfg, nn.Spec{}, usagef("--weighting: %v", err)
	}
	density, err := weighting.ParseDensity(o.density, o.T, sched.LogSNRs())
	if err != nil {
		return cfg, nn.Spec{}, usagef("--density: %v", err)
	}
	if o.batch < 1 || o.evalSize < 1 {
		return cfg, nn.Spec{}, usagef("--batch and --eval-size must be ≥ 1")
	}
	optim := nn.OptimConfig{LR: o.lr, Warmup: o.warmup, WeightDecay: o.weightDecay, ClipNorm: o.clip, EMADecay: o.ema}
	if err := optim.WithDefaults().Validate(); err != nil {
		return cfg, nn.Spec{}, usagef("optimiser flags: %v", err)
	}
	cfg = diffusion.TrainConfig{
		Schedule: sched, Target: target, Strategy: strategy, Density: density,
		Steps: o.steps, Batch: o.batch, Optim: optim, Seed: o.seed, EvalSize: o.evalSize,
		LogEvery: o.logEvery, CheckpointDir: o.out, CheckpointEvery: o.checkpointEvery,
		Meta: map[string]string{"data": o.data, "model": o.model},
	}
	if o.online != nil {
		// The checkpoint's strategy is "constant"; the spec lives in Meta.
		o.online.Attach(&cfg)
		cfg.Meta["weighting"] = o.online.Config().String()
	}
	if o.setup != nil {
		o.setup(&cfg)
	}
	return cfg, nn.Spec{Kind: "resmlp", ResMLP: &rc}, nil
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

// fromCheckpoint sets the trajectory flags from a checkpoint; a flag given
// explicitly with another value is an error.
func (o *trainOptions) fromCheckpoint(ck *diffusion.Checkpoint, cmd *cobra.Command) error {
	c := ck.Config
	if ck.Spec.ResMLP == nil {
		return usagef("--resume: the checkpoint holds a %q network, not resmlp", ck.Spec.Kind)
	}
	m := ck.Spec.ResMLP
	want := map[string]string{
		"data": ck.Meta["data"], "model": ck.Spec.Kind, "width": strconv.Itoa(m.Width), "depth": strconv.Itoa(m.Depth),
		"hidden": strconv.Itoa(m.Hidden), "act": m.Act.String(), "skip": onOff(m.Skip), "sigma-data": fmtFlagFloat(m.SigmaData),
		"target": c.Target, "weighting": c.Strategy,
		"density": c.Density, "schedule": c.Schedule, "T": strconv.Itoa(c.T), "zero-terminal": strconv.FormatBool(c.ZeroTerminal),
		"batch": strconv.Itoa(c.Batch), "lr": fmtFlagFloat(c.Optim.LR), "warmup": strconv.Itoa(c.Optim.Warmup),
		"weight-decay": fmtFlagFloat(c.Optim.WeightDecay), "clip": fmtFlagFloat(c.Optim.ClipNorm), "ema": fmtFlagFloat(c.Optim.EMADecay),
		"seed": strconv.FormatUint(c.Seed, 10), "eval-size": strconv.Itoa(c.EvalSize),
	}
	if w := ck.Meta["weighting"]; w != "" {
		want["weighting"] = w // an online (pareto) weighting
	}
	for _, name := range trajectoryFlags {
		fl := cmd.Flags().Lookup(name)
		if fl.Changed && !sameFlagValue(fl.Value.String(), want[name]) && !(name == "weighting" && sameOnline(fl.Value.String(), want[name], c)) &&
			!(name == "skip" && sameFlagValue(normOnOff(fl.Value.String()), want[name])) {
			return usagef("--%s %s differs from the checkpoint's %s; a resumed run keeps its settings", name, fl.Value.String(), want[name])
		}
		if name == "hidden" && want[name] == strconv.Itoa(2*m.Width) {
			continue // the default, 0, means the same
		}
		if err := fl.Value.Set(want[name]); err != nil {
			return usagef("--resume: checkpoint value %q of --%s: %v", want[name], name, err)
		}
	}
	return nil
}

// sameOnline reports whether two pareto weighting specs mean the same
// (their canonical forms agree under the run's schedule).
func sameOnline(a, b string, c diffusion.RunConfig) bool {
	sched, err := diffusion.NewSchedule(c.Schedule, c.T, c.ZeroTerminal)
	if err != nil {
		return false
	}
	x, errA := conflict.ParseOnline(a, sched)
	y, errB := conflict.ParseOnline(b, sched)
	return errA == nil && errB == nil && x.String() == y.String()
}

// normOnOff maps true/false to on/off.
func normOnOff(s string) string {
	switch s {
	case "true":
		return "on"
	case "false":
		return "off"
	}
	return s
}

func fmtFlagFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func sameFlagValue(a, b string) bool {
	if a == b {
		return true
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	return errA == nil && errB == nil && x == y
}

// writeConfig writes config.json: the flags of the run, for people.
func (o *trainOptions) writeConfig(spec nn.Spec) error {
	doc := map[string]any{
		"data": o.data, "model": spec, "skip": onOff(spec.ResMLP.Skip), "sigma_data": spec.ResMLP.SigmaData, "target": o.target, "weighting": o.weighting, "density": o.density,
		"schedule": o.schedule, "T": o.T, "zero_terminal": o.zeroTerminal, "steps": o.steps, "batch": o.batch,
		"lr": o.lr, "warmup": o.warmup, "weight_decay": o.weightDecay, "clip": o.clip, "ema": o.ema,
		"seed": o.seed, "eval_size": o.evalSize, "device": o.device,
	}
	return atomicfile.WriteJSON(filepath.Join(o.out, "config.json"), doc)
}

// truncateMetrics keeps the records up to step (those a killed run wrote
// after its last checkpoint are recomputed by the resumed run). A last line
// without its newline was cut short by the kill and is dropped; any other
// line that is not a record is bad input (exit 2), named by file and line.
func truncateMetrics(path string, step int) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return failure(err)
	}
	var kept bytes.Buffer
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Step == nil {
			if i == len(lines)-1 && !bytes.HasSuffix(line, []byte("\n")) {
				continue // a line cut short by the kill
			}
			return usagef("--resume: %s line %d is not a metrics record", path, i+1)
		}
		if *rec.Step <= step {
			kept.Write(bytes.TrimSuffix(line, []byte("\n")))
			kept.WriteByte('\n')
		}
	}
	return failure(atomicfile.WriteBytes(path, kept.Bytes()))
}

// removeStaleTemps deletes temporary files an interrupted atomic write left.
func removeStaleTemps(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, p := range stale {
		os.Remove(p)
	}
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

func (p *trainProgress) update(pr diffusion.Progress) {
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
