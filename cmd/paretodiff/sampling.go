package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/sampler"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
)

// Random streams of sample and eval: every draw comes from
// rand.NewPCG(--seed, stream), so each set is reproducible on its own and
// independent of the others.
const (
	streamSamples     = 0 // the sampler's noise
	streamTruth       = 1 // fresh ground-truth toy points
	streamTruth2      = 2 // a second ground-truth set: the noise floor
	streamProjections = 3 // SWD's random directions
	streamReal        = 4 // real MNIST training images: FD's reference
)

// samplingOptions are the flags that sample and eval share: which model,
// which sampler, how many samples.
type samplingOptions struct {
	checkpoint, sampler, mnistDir, progress string
	clipX0                                  string
	steps, n                                int
	seed                                    uint64
	ema, untrained                          bool
	device                                  string // --device, see openDevice
}

func (o *samplingOptions) addFlags(f *pflag.FlagSet, n int) {
	f.StringVar(&o.checkpoint, "checkpoint", "", "run folder (written by train, conflict, demo or reproduce), or a checkpoint.bin (required)")
	f.StringVar(&o.sampler, "sampler", "heun", "sampler (see above)")
	f.IntVar(&o.steps, "steps", 0, fmt.Sprintf("sampler steps (0: the sampler's default: ddpm T, ddim %d, heun %d, flow-euler %d, flow-heun %d)", sampler.DefaultDDIMSteps, sampler.DefaultHeunSteps, sampler.DefaultFlowEulerSteps, sampler.DefaultFlowHeunSteps))
	f.IntVar(&o.n, "n", n, "number of samples")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the samples (and of ground-truth and reference sets)")
	f.BoolVar(&o.ema, "ema", true, "use the EMA weights (--ema=false: the raw weights)")
	f.BoolVar(&o.untrained, "untrained", false, "use the checkpoint's network at its initial weights (the run's seed): an untrained baseline")
	f.StringVar(&o.mnistDir, "mnist-dir", "", "folder with the MNIST IDX files (default: the GoMNIST module in the Go module cache, or $"+data.MNISTEnv+")")
	f.StringVar(&o.clipX0, "clip-x0", "auto", "clip every x̂0 to [−c, c]: auto (the data's range), off, or c > 0")
	f.StringVar(&o.device, "device", "cpu", deviceHelp)
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none")
}

// samplerHelp is the sampler part of sample's and eval's help.
var samplerHelp = `By default (--clip-x0 auto) every x̂0 the sampler forms is clipped to the
data's range, as DDPM's clip_denoised: [−1, 1] for MNIST, ±(the largest
|coordinate| of 10000 ground-truth points) for toy data, 1.785 for
8gaussians. Without it an ε-prediction model's x̂0 = (x_t − σ ε̂)/α at the first
step, where α is 5e-5 on the cosine schedule, multiplies the model's error by
2·10⁴ and the samples of DDIM and Heun blow up. --clip-x0 off turns it off.

Samplers (--sampler):
  ` + strings.ReplaceAll(sampler.Help, "\n", "\n  ")

// model is a checkpoint ready to sample from.
type model struct {
	path string
	ck   *diffusion.Checkpoint
	be   nn.Backend // where the network runs (and eval's classifier)
	// data is the training data's spec from the checkpoint ("toy:NAME" or
	// "mnist"); toy is set for toy data.
	data  string
	toy   *data.Toy
	sched *diffusion.Schedule
	den   diffusion.Denoiser
	smp   sampler.Sampler
	set   sampler.Settings
	// weights is "ema", "raw" or "init" (--untrained).
	weights string
	evals   int // denoiser calls per sample
}

// isMNIST reports whether the model generates MNIST digits.
func (m *model) isMNIST() bool { return m.data == "mnist" }

// open checks the shared flags and loads the checkpoint; every error is
// bad input (exit 2).
func (o *samplingOptions) open(minN int, log io.Writer) (*model, error) {
	smp, err := o.check(minN)
	if err != nil {
		return nil, err
	}
	r, err := run.Open(o.checkpoint)
	if err != nil {
		return nil, usagef("--checkpoint: %v", err)
	}
	ck, err := r.Checkpoint()
	if err != nil {
		return nil, usagef("--checkpoint: %v", err)
	}
	m := &model{path: r.CheckpointPath(), ck: ck, data: ck.Config.Data, smp: smp}
	if err := m.openData(); err != nil {
		return nil, err
	}
	if m.set.ClipX0, err = o.clip(m); err != nil {
		return nil, err
	}
	if m.sched, _, err = ck.Config.ScheduleAndTarget(); err != nil {
		return nil, usagef("--checkpoint: %v", err)
	}
	m.set.Steps = o.steps
	if m.evals, err = smp.Evaluations(m.sched, &m.set); err != nil {
		return nil, usagef("--sampler/--steps: %v", err)
	}
	if m.be, err = openDevice(o.device, log); err != nil {
		return nil, err
	}
	if err := o.denoiser(m); err != nil {
		return nil, err
	}
	return m, nil
}

// check validates the flags of sampling and parses the sampler.
func (o *samplingOptions) check(minN int) (sampler.Sampler, error) {
	if o.checkpoint == "" {
		return nil, usagef("--checkpoint: give a run folder written by train")
	}
	if o.n < minN {
		return nil, usagef("--n must be ≥ %d, got %d", minN, o.n)
	}
	if o.steps < 0 {
		return nil, usagef("--steps must be ≥ 0, got %d", o.steps)
	}
	switch o.progress {
	case "auto", "bar", "lines", "none":
	default:
		return nil, usagef("--progress %q: want auto, bar, lines or none", o.progress)
	}
	smp, err := sampler.Parse(o.sampler)
	if err != nil {
		return nil, usagef("--sampler: %v", err)
	}
	return smp, nil
}

// openData opens the toy distribution the model was trained on (MNIST is
// read only where it is needed).
func (m *model) openData() error {
	switch name, arg, _ := strings.Cut(m.data, ":"); name {
	case "toy":
		var err error
		if m.toy, err = data.NewToy(arg); err != nil {
			return usagef("--checkpoint: %v", err)
		}
	case "mnist":
	default:
		return usagef("--checkpoint: the checkpoint does not say which data it was trained on (data %q)", m.data)
	}
	return nil
}

// clip is the bound of --clip-x0 (0: off).
func (o *samplingOptions) clip(m *model) (float64, error) {
	switch o.clipX0 {
	case "auto":
		return m.dataRange(), nil
	case "off", "0":
		return 0, nil
	}
	c, err := strconv.ParseFloat(o.clipX0, 64)
	if err != nil || !(c > 0) || math.IsInf(c, 0) {
		return 0, usagef("--clip-x0 %q: want auto, off or a positive number", o.clipX0)
	}
	return c, nil
}

// denoiser builds the model's denoiser: the checkpoint's EMA or raw
// weights, or with --untrained its network at the run's initial weights.
func (o *samplingOptions) denoiser(m *model) error {
	ck := m.ck
	if o.untrained {
		m.weights = "init"
		net, err := nn.BuildSeeded(m.be, ck.Spec, ck.Config.Seed)
		if err != nil {
			return usagef("--checkpoint: %v", err)
		}
		target, err := weighting.ParseTarget(ck.Config.Target)
		if err != nil {
			return usagef("--checkpoint: %v", err)
		}
		m.den = diffusion.NewNetDenoiser(net, target, m.sched)
		return nil
	}
	m.weights = "raw"
	if o.ema {
		m.weights = "ema"
	}
	den, err := ck.Denoiser(m.be, o.ema)
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	m.den = den
	return nil
}

// clipDraws is the number of ground-truth points whose largest |coordinate|
// is the toy data's range for --clip-x0 auto; clipStream their stream.
const (
	clipDraws  = 10000
	clipStream = 99
)

// dataRange is the bound c of --clip-x0 auto: every coordinate of the data
// lies in [−c, c]. MNIST pixels are in [−1, 1]; for toy data it is the
// largest |coordinate| of clipDraws ground-truth points (seeded, so the
// same for every call).
func (m *model) dataRange() float64 {
	if m.toy == nil {
		return 1
	}
	x := m.truth(clipDraws, 0, clipStream)
	c := 0.0
	for _, v := range x {
		c = max(c, math.Abs(float64(v)))
	}
	return c
}

// describe says in words what the model is, for output lines.
func (m *model) describe() string {
	w := map[string]string{"ema": "EMA weights", "raw": "raw weights", "init": "initial (untrained) weights"}[m.weights]
	return fmt.Sprintf("%s of step %d (%s), sampler %s, %d denoiser calls per sample", w, m.ck.Step, m.data, m.smp, m.evals)
}

// draw generates n samples (n, D) with the seed's sample stream, showing
// progress on w.
func (m *model) draw(n int, seed uint64, progress string, w io.Writer) ([]float32, error) {
	x := make([]float32, n*m.den.Dim())
	set := m.set
	p := newCountProgress(progress, w, "sample")
	p.perSample = m.evals
	set.Progress = p.update
	err := m.smp.Sample(x, m.den, m.sched, rand.New(rand.NewPCG(seed, streamSamples)), &set)
	p.finish()
	if err != nil {
		return nil, failure(err)
	}
	return x, nil
}

// truth draws n fresh ground-truth points of the model's toy data from the
// given stream of the seed.
func (m *model) truth(n int, seed, stream uint64) []float32 {
	x := make([]float32, n*m.toy.Dim())
	m.toy.Sample(rand.New(rand.NewPCG(seed, stream)), x)
	return x
}

// countProgress shows a count of work done as a bar on a terminal, or a line
// at every tenth otherwise.
type countProgress struct {
	mode  string
	label string
	// perSample is the number of denoiser calls per sample (what eval's
	// JSON calls evaluations); the sampler calls the denoiser on batches of
	// rows, so a run of N samples makes perSample × ⌈N/batch⌉ calls.
	perSample int
	w         io.Writer
	bar       *progressbar.ProgressBar
	next      int
	start     time.Time
}

func newCountProgress(mode string, w io.Writer, label string) *countProgress {
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				mode = "bar"
			}
		}
	}
	return &countProgress{mode: mode, label: label, w: w, start: time.Now()}
}

func (p *countProgress) update(done, total int) {
	switch p.mode {
	case "bar":
		if p.bar == nil {
			p.bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.label+" ("+p.calls(total)+")"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("calls"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionSetWidth(30))
		}
		p.bar.Set(done)
	case "lines":
		if done*10 >= p.next*total {
			el := time.Since(p.start)
			eta := time.Duration(float64(el) * float64(total-done) / float64(max(done, 1)))
			fmt.Fprintf(p.w, "%s: %d/%d denoiser calls (%s)  %s elapsed  ETA %s\n", p.label, done, total, p.calls(total), el.Round(time.Second), eta.Round(time.Second))
			p.next = done*10/total + 1
		}
	}
}

// calls says how the total count of calls is made: "34 per sample × 4
// batches".
func (p *countProgress) calls(total int) string {
	if p.perSample <= 0 {
		return "in all"
	}
	batches := total / p.perSample
	if batches == 1 {
		return fmt.Sprintf("%d per sample × 1 batch", p.perSample)
	}
	return fmt.Sprintf("%d per sample × %d batches", p.perSample, batches)
}

func (p *countProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
